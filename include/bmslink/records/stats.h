// bmslink records: statistics over cases, the JSON of `bmslink stats --json` (docs/records.md):
// counts by cause, layer and outcome, the yield of each layer, minutes per layer and per cause,
// the share solved within 15/30/50 minutes, and the check order the company's own records teach.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bmslink/diagnosis/cause.h"
#include "bmslink/diagnosis/order.h"
#include "bmslink/records/case.h"

namespace bmslink::records {

// Cases with at least this many closed ones teach the check order (diagnose uses by_cause then).
constexpr std::size_t kMinClosedForOrder = diagnosis::kMinClosedToLearn;

nlohmann::json compute_stats(const std::vector<Case>& cases);

// Confirmed root causes per minute spent on each check, over the closed cases (the statistics'
// check_order table); empty under kMinClosedForOrder. Not what orders the checks: a check late in
// the order runs only where every earlier one passed, so its rate per run flatters it
// (case_history and diagnosis::check_order instead).
std::map<std::string, double> check_rates(const std::vector<Case>& cases);

// The closed cases counted for ordering the checks: their root causes and the check that
// confirmed each (diagnosis::check_order learns from it).
diagnosis::CaseHistory case_history(const std::vector<Case>& cases);

// The company's own mix of calls by the check that settles them: each closed case with a root
// cause counts 1 for the check that confirmed it, or is split over its cause's checks in the
// catalogue's proportions when no check on record did.
std::map<std::string, double> company_mix(const std::vector<Case>& cases);

// Expected minutes to the confirmed cause per call, on the company's mix, under the order learned
// from its closed cases and under the field guide's: {closed_cases, learns, learned_minutes,
// guide_minutes} (minutes null without a closed case with a root cause). Part of compute_stats.
nlohmann::json order_minutes(const std::vector<Case>& cases);

}  // namespace bmslink::records
