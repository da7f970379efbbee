// The guided-diagnosis commands of the CLI (guided_cmd.cc).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bmslink/diagnosis/checks.h"
#include "bmslink/diagnosis/devices.h"
#include "bmslink/diagnosis/guided.h"
#include "bmslink/diagnosis/hardcode.h"

namespace bmslink::app {

struct GuidedArgs {
  std::string answers;  // answers file (read; and saved to in interactive mode)
  std::string capture;
  std::string save;
  bool json = false;
  bool interactive = false;               // force the prompts even without a terminal
  std::vector<std::string> check_files;   // the user's own catalogue files
  std::vector<std::string> device_files;  // the user's own knowledge-base files
  std::string case_id;                    // record the session in this case (resumable)
  std::string db;  // records store for --case and for the company's own check order
};

struct HardcodeArgs {
  std::string chemistry = "lfp";
  std::optional<int> cells;
  std::string battery;
  double capacity_ah = 0;
  std::optional<double> kwh, c_rate, spread_mv;
  std::string soc_window;
  bool indoor = false, outdoor = false, commercial = false, json = false;
};

int cmd_diagnose(const GuidedArgs& args);
int cmd_hardcode(const HardcodeArgs& args);
int cmd_devices(const GuidedArgs& args, const std::string& query);

}  // namespace bmslink::app
