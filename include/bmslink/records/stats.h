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

// `kb` maps the cases' models to families for the order's groups; null: the built-in one.
nlohmann::json compute_stats(const std::vector<Case>& cases,
                             const diagnosis::KnowledgeBase* kb = nullptr);

// Confirmed root causes per minute spent on each check, over the closed cases (the statistics'
// check_order table); empty under kMinClosedForOrder. Not what orders the checks: a check late in
// the order runs only where every earlier one passed, so its rate per run flatters it
// (case_history and diagnosis::check_order instead).
std::map<std::string, double> check_rates(const std::vector<Case>& cases);

// The closed cases counted for ordering the checks: their root causes and the check that
// confirmed each (diagnosis::check_order learns from it), for the company and per inverter
// family, battery family, pair of families and pair of models (`kb` maps models to families;
// null: the built-in knowledge base).
diagnosis::CaseHistory case_history(const std::vector<Case>& cases,
                                    const diagnosis::KnowledgeBase* kb = nullptr);

// Whether a case teaches the check order: closed, with a root cause that is not a note (an
// escalation without a cause does not count toward the 20).
bool teaches_order(const Case& c);
// A case that teaches the order added to `counts` (`sign` -1 takes it out again): its cause, and
// the check that settled it (the first that confirms the root cause, under its current id);
// other cases leave them as they are.
void count_case(diagnosis::CaseCounts& counts, const Case& c, int sign = 1);

// `history` without `c`, from the company's counts and each of its groups: a case being walked
// again is not its own evidence ("2 of its 3 solved cases" must not count this call).
void without_case(diagnosis::CaseHistory& history, const Case& c,
                  const diagnosis::KnowledgeBase* kb = nullptr);

// The company's own mix of calls by the check that settles them: each closed case with a root
// cause counts 1 for the check that confirmed it, or is split over its cause's checks in the
// catalogue's proportions when no check on record did.
std::map<std::string, double> company_mix(const std::vector<Case>& cases);

// Expected minutes to the confirmed cause per call, on the company's mix, under the order learned
// from its closed cases (each call in its own group's order, as the walk takes it) and under the
// field guide's: {closed_cases, learns, learned_minutes, guide_minutes, groups, known_bad_pairs}
// (minutes null without a closed case with a root cause). Part of compute_stats.
nlohmann::json order_minutes(const std::vector<Case>& cases,
                             const diagnosis::KnowledgeBase* kb = nullptr);

}  // namespace bmslink::records
