// bmslink records: statistics over cases, the JSON of `bmslink stats --json` (docs/records.md):
// counts by cause, layer and outcome, the yield of each layer, minutes per layer and per cause,
// the share solved within 15/30/50 minutes, and the check order the company's own records teach.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bmslink/diagnosis/cause.h"
#include "bmslink/records/case.h"

namespace bmslink::records {

// Cases with at least this many closed ones teach the check order (diagnose uses by_cause then).
constexpr std::size_t kMinClosedForOrder = 20;

nlohmann::json compute_stats(const std::vector<Case>& cases);

// The check order the closed cases teach: check id -> confirmed root causes per minute spent on
// it (infinite for a check that confirmed at no cost), what `diagnose` orders by in place of the
// field guide's likelihoods; empty under kMinClosedForOrder closed cases.
std::map<std::string, double> check_rates(const std::vector<Case>& cases);

// Root causes of the closed cases; empty under kMinClosedForOrder.
std::map<diagnosis::Cause, double> cause_weights(const std::vector<Case>& cases);

}  // namespace bmslink::records
