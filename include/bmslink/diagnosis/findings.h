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
#include "bmslink/diagnosis/cause.h"

namespace bmslink::diagnosis {

struct EvidenceItem {
  std::string text;
  std::optional<std::int64_t> at_ns;  // when it was seen (capture clock)
  std::vector<std::string> ids;       // "0x351"
  std::optional<std::uint64_t> count;
};

struct Finding {
  Cause cause = Cause::kHealthy;
  std::optional<Layer> layer;  // the cause's layer
  Severity severity = Severity::kInfo;
  double score = 0.0;  // 0..1: how strongly the evidence points to this cause
  std::string title;
  std::vector<EvidenceItem> evidence;
  std::string fix;
};

// Every rule over the Evidence (rules_*.cc, one function per cause, grouped by layer), sorted.
std::vector<Finding> diagnose_capture(const analysis::Evidence& evidence);

// Faults before warnings before notes, then the stronger first (stable).
void sort_findings(std::vector<Finding>& findings);

}  // namespace bmslink::diagnosis
