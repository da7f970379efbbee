// bmslink diagnosis: the order of the checks, learned across layers from a company's closed
// cases. A check's probability is the share of calls whose root cause it confirms: the company's
// root causes shrunk toward the field guide's 100-call table, times the check's part in confirming
// its cause, shrunk toward the catalogue's split. Checks go by probability per minute, the order
// that minimises the expected time to one cause; checks that cost nothing come first and a check
// never comes before those it names in `needs`. With fewer than kMinClosedToLearn closed cases, or
// on request, the field guide's fixed order (layer by layer) stands.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "bmslink/diagnosis/cause.h"
#include "bmslink/diagnosis/checks.h"

namespace bmslink::diagnosis {

// A company needs this many closed cases before its own history orders the checks.
constexpr std::size_t kMinClosedToLearn = 20;
// What the field guide's table is worth against a company's own closed cases: as much as the 20
// that learning needs. At the start the guide and the company weigh alike; at 200 cases the guide
// is a tenth. (Worth its 100 calls, the guide would still hold a third at 200 cases, and a
// termination-heavy company would keep the guide's protocol-first habit: 0.65x of the guide's
// minutes instead of 0.63x, the optimum for its own mix being 0.63x.) The guide's table comes
// from other installers' calls; a company's own are the better evidence once it has them.
constexpr double kPriorCalls = static_cast<double>(kMinClosedToLearn);

enum class OrderMode : std::uint8_t { kLearned, kGuide };
std::string_view order_mode_name(OrderMode mode);
std::optional<OrderMode> parse_order_mode(std::string_view name);

// The closed cases, counted: how many, their root causes, and for each check how many of those
// root causes it confirmed (a case whose cause no check confirmed counts for its cause only).
struct CaseHistory {
  std::size_t closed = 0;
  std::map<Cause, double> causes;
  std::map<std::string, double> confirmed_by;  // check id -> root causes it confirmed
};

// The probability that each check (by id) confirms the call's root cause, before any answer.
// Sums to 1 over the checks that confirm a cause. An empty history gives the field guide's.
std::map<std::string, double> check_probabilities(const CheckCatalogue& catalogue,
                                                  const CaseHistory& history);

// Why the order is what it is, for the technician.
struct OrderBasis {
  OrderMode mode = OrderMode::kGuide;         // what was used (kGuide under kMinClosedToLearn)
  OrderMode requested = OrderMode::kLearned;  // what was asked for
  std::size_t closed = 0;
  std::map<std::string, double> probability;  // check_probabilities(); empty in guide mode
};

// The checks in the order they are taken. kLearned with enough closed cases: probability per
// minute across layers (ties in the guide's order); otherwise the guide's order: layer, then the
// field guide's likelihood per minute. Either way costless checks lead, and `needs` is kept.
std::vector<const Check*> check_order(const CheckCatalogue& catalogue, const CaseHistory& history,
                                      OrderMode requested, OrderBasis* basis = nullptr);

// The field guide's fixed order (check_order with OrderMode::kGuide).
std::vector<const Check*> guide_order(const CheckCatalogue& catalogue);

// Expected minutes to the check that confirms the cause, walking `order` on answers alone:
// `weight` gives each check's share of the calls it confirms (normalised here); checks decided
// only by a capture cost nothing. 0 when no weight is positive.
double expected_minutes(const std::vector<const Check*>& order,
                        const std::map<std::string, double>& weight);

}  // namespace bmslink::diagnosis
