// bmslink diagnosis: the order of the checks, learned across layers from a company's closed
// cases. A check's probability is the share of calls whose root cause it confirms: the company's
// root causes shrunk toward the field guide's 100-call table, times the check's part in confirming
// its cause, shrunk toward the catalogue's split. Checks go by probability per minute, the order
// that minimises the expected time to one cause; checks that cost nothing come first and a check
// never comes before those it names in `needs`. With fewer than kMinClosedToLearn closed cases, or
// on request, the field guide's fixed order (layer by layer) stands.
//
// Where the records allow, the probabilities are those of the call's own group (its pair of
// inverter and battery families, else its inverter family or battery family) shrunk toward the
// company's. A pair of models whose closed cases mostly ended on one cause (a known-bad pair of
// the compatibility matrix) has that cause's check taken first, as a capture's checks are.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bmslink/diagnosis/cause.h"
#include "bmslink/diagnosis/checks.h"
#include "bmslink/diagnosis/devices.h"

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

// Closed cases, counted: how many, their root causes, and for each check how many of those root
// causes it confirmed (a case whose cause no check confirmed counts for its cause only).
struct CaseCounts {
  std::size_t closed = 0;
  std::map<Cause, double> causes;
  std::map<std::string, double> confirmed_by;  // check id -> root causes it confirmed
  // The same per root cause: cause -> check id -> cases it settled (a known-bad pair's check).
  std::map<Cause, std::map<std::string, double>> settled_by;
  std::string name;  // a pair of models: "Sofar ME3000SP with Dyness B4850", as first recorded
};

// The company's closed cases, and the same counts per group of calls: by inverter family and by
// battery family (family_key), by pair of families (pair_key of the two), and by pair of models
// as the compatibility matrix groups them (pair_key of the two model_keys).
struct CaseHistory : CaseCounts {
  std::map<std::string, CaseCounts> inverter_families, battery_families, family_pairs, model_pairs;
};

// A model as installers type it, grouped: trimmed, lower case, runs of spaces (and control
// characters) as one space.
std::string model_key(std::string_view model);
// A typed model as a reason or a list shows it: runs of spaces, line breaks and control
// characters as one space, trimmed, and cut at kShownModelBytes (on a character boundary, "…").
constexpr std::size_t kShownModelBytes = 60;
std::string shown_model(std::string_view model);
// The family a typed model belongs to: the knowledge base's entry id ("deye-lv"), else the model
// itself (model_key), so a device the knowledge base does not know still forms a group; "" for
// an empty model.
std::string family_key(const DeviceInfo* entry, std::string_view model);
std::string pair_key(std::string_view inverter, std::string_view battery);

// The devices of the call being diagnosed, as the groups key them, with names to show.
struct CallDevices {
  std::string inverter_family, battery_family;            // family_key
  std::string inverter_model, battery_model;              // model_key
  std::string inverter_family_name, battery_family_name;  // "Deye LV hybrids", or as typed
  std::string inverter_model_name, battery_model_name;    // as typed
};
CallDevices call_devices(const KnowledgeBase& kb, std::string_view inverter_model,
                         std::string_view battery_model);

enum class GroupKind : std::uint8_t { kCompany, kInverterFamily, kBatteryFamily, kPair };
std::string_view group_kind_name(GroupKind kind);

// A pair of models is known bad when at least kKnownBadCases of its closed cases, and more than
// half of them, ended on one root cause that belongs to the pair of devices: a configuration or
// a protocol/firmware cause (of_the_pair). A termination, a crimp or a cable belongs to the site,
// however often a pair's sites had one.
constexpr std::size_t kKnownBadCases = 2;
bool of_the_pair(Cause cause);
struct KnownBad {
  Cause cause = Cause::kHealthy;
  std::size_t cases = 0;   // closed cases of the pair that ended on `cause`
  std::size_t closed = 0;  // closed cases of the pair (with a root cause)
  // The check that settled `cause` most often among those an answer decides (current id); ""
  // when none on record did, and then every answerable check that confirms the cause.
  std::string check;
  std::vector<std::string> checks;  // taken first: `check` or those, and what they need
};
// Null when the pair is not known bad, or when no answer can decide its cause (a capture's
// checks already come first).
std::optional<KnownBad> known_bad(const CheckCatalogue& catalogue, const CaseCounts& pair);

// The probability that each check (by id) confirms the call's root cause, before any answer.
// Sums to 1 over the checks that confirm a cause. An empty history gives the field guide's.
std::map<std::string, double> check_probabilities(const CheckCatalogue& catalogue,
                                                  const CaseCounts& history);

// `counts` shrunk toward `prior` (check probabilities, as above) with the weight of `prior_cases`
// closed cases: per cause, then per check within its cause. check_probabilities is this with the
// field guide's table as the prior and kPriorCalls as its weight.
std::map<std::string, double> shrink_toward(const CheckCatalogue& catalogue,
                                            const std::map<std::string, double>& prior,
                                            const CaseCounts& counts, double prior_cases);

// Why the order is what it is, for the technician.
struct OrderBasis {
  OrderMode mode = OrderMode::kGuide;         // what was used (kGuide under kMinClosedToLearn)
  OrderMode requested = OrderMode::kLearned;  // what was asked for
  std::size_t closed = 0;
  std::map<std::string, double> probability;  // check_probabilities(); empty in guide mode
  // The group whose probabilities ordered the checks (kCompany unless a group of the call's had
  // kMinClosedToLearn closed cases), its name to show and its closed cases.
  GroupKind group = GroupKind::kCompany;
  std::string group_name;
  std::size_t group_closed = 0;
  // The call's pair of models, known bad: its checks were taken first.
  std::optional<KnownBad> known_bad;
  std::string known_bad_pair;  // "Sofar ME3000SP with Dyness B4850", as first recorded
};

// The checks in the order they are taken. kLearned with enough closed cases: probability per
// minute across layers (ties in the guide's order), with the probabilities of the call's most
// specific group that has enough closed cases, and a known-bad pair's checks first; otherwise
// the guide's order: layer, then the field guide's likelihood per minute. Either way costless
// checks lead, and `needs` is kept. `call` null: the company's probabilities.
std::vector<const Check*> check_order(const CheckCatalogue& catalogue, const CaseHistory& history,
                                      OrderMode requested, OrderBasis* basis = nullptr,
                                      const CallDevices* call = nullptr);

// The field guide's fixed order (check_order with OrderMode::kGuide).
std::vector<const Check*> guide_order(const CheckCatalogue& catalogue);

// Expected minutes to the check that confirms the cause, walking `order` on answers alone:
// `weight` gives each check's share of the calls it confirms (normalised here); checks decided
// only by a capture cost nothing. 0 when no weight is positive.
double expected_minutes(const std::vector<const Check*>& order,
                        const std::map<std::string, double>& weight);

}  // namespace bmslink::diagnosis
