// bmslink diagnosis: from a capture's Evidence to findings in the five-layer vocabulary.
//
// Each rule reads Evidence only (never frames) and names a cause of the catalogue
// (ARCHITECTURE.md): its layer, how severe, how strongly the evidence points there, what was
// seen (times, ids, counts) and the fix an installer can carry out. Findings come back most
// likely first: faults before warnings before notes, then by strength. A capture where no rule
// fires gets the single finding `healthy`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bmslink/analysis/evidence.h"

namespace bmslink::diagnosis {

enum class Severity : std::uint8_t { kFault, kWarning, kInfo };
std::string_view severity_name(Severity severity);  // "fault", "warning", "info"

struct CauseInfo {
  std::string_view id;
  std::optional<int> layer;  // 1 configuration .. 5 protocol/firmware; none for state/healthy
  std::string_view name;
};
// The catalogue in ARCHITECTURE.md plus `bus_errors`; nullptr for an unknown id.
const CauseInfo* find_cause(std::string_view id);
const std::vector<CauseInfo>& cause_catalogue();

struct EvidenceItem {
  std::string text;
  std::optional<std::int64_t> at_ns;  // when it was seen (capture clock)
  std::vector<std::string> ids;       // "0x351"
  std::optional<std::uint64_t> count;
};

struct Finding {
  std::string cause;
  std::optional<int> layer;
  Severity severity = Severity::kInfo;
  double score = 0.0;  // 0..1: how strongly the evidence points to this cause
  std::string title;
  std::vector<EvidenceItem> evidence;
  std::string fix;
};

std::vector<Finding> diagnose_capture(const analysis::Evidence& evidence);

}  // namespace bmslink::diagnosis
