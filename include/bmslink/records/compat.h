// bmslink records: the compatibility matrix. BMS model and firmware against inverter model and
// firmware, from the cases: how often the pair worked (fixed), failed (escalated) or was
// hardcoded, with the causes found, the time per layer and the fixes, and whether the pair is
// known bad; as JSON, CSV, or a Markdown post ready for a forum.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bmslink/diagnosis/order.h"
#include "bmslink/records/case.h"

namespace bmslink::records {

// One pair of models is one row: firmware is detail (installers type it in many ways, and a row
// per spelling splits what the office wants to know about the pair).
struct FirmwareCount {
  std::string bms_firmware, inverter_firmware;
  int worked = 0, failed = 0, hardcoded = 0, open = 0;
};

struct CompatRow {
  // The firmware fields list the distinct versions seen, ", "-separated ("" when none given).
  std::string bms_model, bms_firmware, inverter_model, inverter_firmware;
  std::vector<FirmwareCount> by_firmware;  // in the order first seen
  int worked = 0, failed = 0, hardcoded = 0, open = 0;
  std::map<std::string, int> causes;
  std::array<double, 5> minutes_by_layer{};  // mean over the pair's cases
  std::vector<std::string> fixes;            // of the fixed cases, distinct, in case order
  std::vector<std::string> symptoms;         // distinct, in case order
  // Most of the pair's solved cases ended on one cause of the pair of devices that an answer can
  // decide (diagnosis::known_bad): once the company's order is learned (20 closed cases), the walk
  // takes that cause's check first for this pair.
  std::optional<diagnosis::KnownBad> known_bad;
};

std::vector<CompatRow> compatibility(const std::vector<Case>& cases);
nlohmann::json compat_json(const std::vector<CompatRow>& rows);
std::string compat_csv(const std::vector<CompatRow>& rows);
std::string compat_markdown(const std::vector<CompatRow>& rows);

}  // namespace bmslink::records
