// The service-record commands of the CLI (records_cmd.cc).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bmslink/records/case.h"
#include "bmslink/records/store.h"

namespace bmslink::app {

struct CaseArgs {
  std::string action;  // new, list, show, update, close, delete, export, import
  std::string db;
  std::vector<std::string> ids;
  std::string file;    // import
  std::string output;  // export
  bool json = false, jsonl = false;
  std::string since, installer;
  // new / update / close
  std::string id, site, customer, address, bms_model, bms_firmware, inverter_model,
      inverter_firmware, symptom, root_cause, fix, notes, outcome, acknowledged_by;
  std::optional<int> layer;
  std::optional<double> uptime_share, hours, energy_kwh;
  std::optional<int> bms_count;
  std::vector<std::string> minutes;    // LAYER=MINUTES
  std::vector<std::string> hardcoded;  // SETTING=VALUE, or "none"
};

struct StatsArgs {
  std::string db, since, installer, output;
  bool json = false, html = false;
};

struct ReportArgs {
  std::string db, id, kind, output;  // kind: technician, customer, acknowledgment
  std::string format;                // html, md; empty: from the output's extension, else md
};

struct CompatArgs {
  std::string db, format = "text", output;
};

int cmd_case(const CaseArgs& args);
int cmd_compat(const CompatArgs& args);
int cmd_stats(const StatsArgs& args);
int cmd_report(const ReportArgs& args);

}  // namespace bmslink::app
