// bmslink diagnosis: the hardcode advisor. When all five layers are exhausted (about 4 h) and the
// customer needs power now: the static inverter settings that replace the BMS's dynamic limits,
// whether hardcoding is acceptable for this system (and which condition decides when it is
// between the field guide's two lists), what protection is lost, the maintenance it needs, the
// expected life and the acknowledgment the customer signs. LFP only: other chemistries are
// refused until a cited source gives their numbers.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bmslink/core/error.h"

namespace bmslink::diagnosis {

struct HardcodeInput {
  std::string chemistry = "lfp";
  int cells = 16;
  double capacity_ah = 0;
  std::optional<double> kwh;                // else cells x 3.2 V nominal x Ah
  std::optional<double> c_rate;             // the usual current as a fraction of capacity
  std::optional<double> spread_mv;          // cell voltage spread
  std::optional<double> soc_low, soc_high;  // the SOC window used, %
  std::optional<bool> indoor;               // temperature-controlled indoors (false: outdoors)
  bool commercial = false;  // commercial/critical, warranty or insurance constraints
};

enum class Acceptability { kAcceptable, kNotAcceptable, kDepends };
std::string_view acceptability_name(Acceptability a);  // "acceptable", "not_acceptable", "depends"

struct HardcodeAdvice {
  // Static settings.
  double charge_voltage_v = 0, cutoff_voltage_v = 0;
  double charge_v_per_cell = 0, cutoff_v_per_cell = 0;
  double current_low_a = 0, current_high_a = 0;  // charge and discharge, 0.3-0.5 C
  double kwh = 0;
  bool kwh_estimated = false;
  Acceptability verdict = Acceptability::kDepends;
  std::vector<std::string> against;   // conditions that rule it out
  std::vector<std::string> for_it;    // conditions of the acceptable list that hold
  std::vector<std::string> deciding;  // between the lists: what decides
  std::vector<std::string> lost_protection;
  std::string maintenance;
  std::string expected_life;
  std::string acknowledgment;  // the text the customer signs
};

Result<HardcodeAdvice> advise_hardcode(const HardcodeInput& input);
nlohmann::json hardcode_json(const HardcodeAdvice& advice);
std::string hardcode_text(const HardcodeAdvice& advice);

}  // namespace bmslink::diagnosis
