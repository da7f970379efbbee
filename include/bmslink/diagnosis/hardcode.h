// bmslink diagnosis: the hardcode advisor. When all five layers are exhausted (about 4 h) and the
// customer needs power now: the static inverter settings that replace the BMS's dynamic limits,
// whether hardcoding is acceptable for this system (and which condition decides when it is
// between the field guide's two lists), what protection is lost, the maintenance it needs, the
// expected life and the acknowledgment the customer signs. LFP only: other chemistries are
// refused until a cited source gives their numbers. The cells in series come from the battery's
// entry in the knowledge base or from the technician, never from a default, and the settings never
// go beyond the maker's charge maximum or below its cut-off minimum.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bmslink/core/error.h"
#include "bmslink/diagnosis/devices.h"

namespace bmslink::diagnosis {

struct HardcodeInput {
  std::string chemistry = "lfp";
  std::optional<int> cells;  // cells in series, as the technician counted them
  std::string battery;       // a battery model the knowledge base knows ("Pylontech US3000C")
  double capacity_ah = 0;
  std::optional<double> kwh;                // else cells x 3.2 V nominal x Ah
  std::optional<double> c_rate;             // the usual current as a fraction of capacity
  std::optional<double> spread_mv;          // cell voltage spread
  std::optional<double> soc_low, soc_high;  // the SOC window used, %
  std::optional<bool> indoor;               // temperature-controlled indoors (false: outdoors)
  bool commercial = false;  // commercial/critical, warranty or insurance constraints
  // How errors name the inputs: the CLI's options ("--cells N") or a form's fields ("Cells in
  // series"), so a page never shows a command line.
  enum class Naming { kCli, kForm } naming = Naming::kCli;
};

enum class Acceptability { kAcceptable, kNotAcceptable, kDepends };
std::string_view acceptability_name(Acceptability a);  // "acceptable", "not_acceptable", "depends"

struct HardcodeAdvice {
  // Where the cell count came from: the battery's entry (its id) or the technician.
  int cells = 0;
  std::string battery;  // the knowledge-base entry, "" when the cells were typed
  std::string battery_name;
  std::optional<SourceClass> cells_source_class;
  std::vector<std::string> cells_sources;
  std::optional<double> charge_max_v, cutoff_min_v;  // the maker's limits, when known
  // Notes on the settings: a per-cell value held back to the maker's limit.
  std::vector<std::string> limited;
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

// What hardcoding gives up, the maintenance it needs and the life to expect, whatever the pack:
// for reports on a case hardcoded earlier.
struct HardcodeTerms {
  std::vector<std::string> lost_protection;
  std::string maintenance;
  std::string expected_life;
};
HardcodeTerms hardcode_terms();

// `kb` resolves `input.battery`; without it only `input.cells` can give the cell count. No cells
// and no known battery is an error (kInvalidArgument) that names both options.
Result<HardcodeAdvice> advise_hardcode(const HardcodeInput& input,
                                       const KnowledgeBase* kb = nullptr);
nlohmann::json hardcode_json(const HardcodeAdvice& advice);
std::string hardcode_text(const HardcodeAdvice& advice);

}  // namespace bmslink::diagnosis
