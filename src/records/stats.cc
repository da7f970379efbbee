#include "bmslink/records/stats.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

#include "bmslink/diagnosis/checks.h"

namespace bmslink::records {
namespace {

using nlohmann::json;

json mean_median(std::vector<double> v) {
  if (v.empty()) return {{"mean", nullptr}, {"median", nullptr}, {"n", 0}};
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  const double median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
  return {{"mean", mean}, {"median", median}, {"n", n}};
}

// A failed check counts as confirming only when it confirms the case's root cause: a case may
// record other fails (a capture finding, a second problem) that did not settle it. Checks the
// catalogue does not know are taken at their word.
bool confirms_root(const CaseCheck& ch, const Case& c) {
  static const auto catalogue = diagnosis::CheckCatalogue::builtin();
  if (ch.verdict != diagnosis::Verdict::kFail) return false;
  if (!c.root_cause) return false;
  const auto* check = catalogue ? catalogue->find(ch.check) : nullptr;
  if (check == nullptr) return true;
  return check->confirms == *c.root_cause ||
         std::find(check->capture_confirms.begin(), check->capture_confirms.end(), *c.root_cause) !=
             check->capture_confirms.end();
}

struct CheckTally {
  std::size_t confirmed = 0;
  double minutes = 0;
  std::size_t done = 0;
};

// Confirmed causes per minute spent; a check that confirmed causes at no cost (decided by a
// capture) is infinitely cheap.
double rate(const CheckTally& t) {
  if (t.minutes > 0) return static_cast<double>(t.confirmed) / t.minutes;
  return t.confirmed > 0 ? std::numeric_limits<double>::infinity() : 0.0;
}

std::map<std::string, CheckTally> tally_checks(const std::vector<Case>& cases) {
  std::map<std::string, CheckTally> checks;
  for (const auto& c : cases)
    for (const auto& ch : c.checks) {
      auto& t = checks[ch.check];
      ++t.done;
      t.minutes += ch.minutes;
      if (confirms_root(ch, c)) ++t.confirmed;
    }
  return checks;
}

const diagnosis::KnowledgeBase& kb_or_builtin(const diagnosis::KnowledgeBase* kb) {
  if (kb != nullptr) return *kb;
  static const diagnosis::KnowledgeBase builtin = [] {
    auto k = diagnosis::KnowledgeBase::builtin();
    return k ? std::move(*k) : diagnosis::KnowledgeBase{};
  }();
  return builtin;
}

// The knowledge base's families for the cases' models, looked up once per spelling: a company's
// thousands of cases name a few dozen devices, and matching a model scans every entry.
class DeviceMemo {
 public:
  explicit DeviceMemo(const diagnosis::KnowledgeBase& kb) : kb_(kb) {}
  const diagnosis::CallDevices& of(const Case& c) {
    auto [it, added] = memo_.try_emplace(std::pair{c.inverter.model, c.bms.model});
    if (added) it->second = diagnosis::call_devices(kb_, c.inverter.model, c.bms.model);
    return it->second;
  }

 private:
  const diagnosis::KnowledgeBase& kb_;
  std::map<std::pair<std::string, std::string>, diagnosis::CallDevices> memo_;
};

// One case's part of the company's mix (company_mix).
void add_to_mix(std::map<std::string, double>& mix, const Case& c,
                const diagnosis::CheckCatalogue& catalogue) {
  const diagnosis::Check* settled = nullptr;
  for (const auto& ch : c.checks) {
    if (!confirms_root(ch, c)) continue;
    settled = catalogue.find(ch.check);
    break;
  }
  // Answers only, as the walk asks: a call a capture settled costs what the capture took, the
  // same in either order, and is left out.
  if (settled != nullptr) {
    if (!settled->capture_only) mix[settled->id] += 1;
    return;
  }
  // No check on record settled it: the catalogue's split of its cause over the checks answers
  // can decide.
  double parts = 0;
  for (const auto& k : catalogue.checks())
    if (k.confirms == *c.root_cause && !k.capture_only) parts += k.likelihood + 1;
  for (const auto& k : catalogue.checks())
    if (k.confirms == *c.root_cause && !k.capture_only && parts > 0)
      mix[k.id] += (k.likelihood + 1) / parts;
}

}  // namespace

json order_minutes(const std::vector<Case>& cases, const diagnosis::KnowledgeBase* kb_in) {
  static const auto catalogue = diagnosis::CheckCatalogue::builtin();
  const auto& kb = kb_or_builtin(kb_in);
  auto history = case_history(cases, &kb);
  const auto mix = company_mix(cases);
  const bool learns = history.closed >= diagnosis::kMinClosedToLearn;
  json out = {{"closed_cases", history.closed}, {"learns", learns},
              {"learned_minutes", nullptr},     {"guide_minutes", nullptr},
              {"groups", json::array()},        {"known_bad_pairs", json::array()}};
  if (!catalogue) return out;
  DeviceMemo devices(kb);
  // The pairs the walk now takes as known bad, as the next call on them would find them.
  std::map<std::string, std::pair<std::string, std::string>> typed;  // pair -> models as recorded
  for (const auto& c : cases) {
    if (!teaches_order(c)) continue;
    const auto& call = devices.of(c);
    typed.emplace(diagnosis::pair_key(call.inverter_model, call.battery_model),
                  std::pair{c.inverter.model, c.bms.model});
  }
  for (const auto& [key, pair] : history.model_pairs) {
    const auto bad = learns ? diagnosis::known_bad(*catalogue, pair) : std::nullopt;
    if (!bad) continue;
    const auto& [inverter, bms] = typed[key];
    out["known_bad_pairs"].push_back(
        {{"pair", pair.name},
         {"inverter_model", inverter},
         {"bms_model", bms},
         {"cause", std::string(diagnosis::cause_id(bad->cause))},
         {"check", bad->check.empty() ? json(nullptr) : json(bad->check)},
         {"cases", bad->cases},
         {"closed_cases", bad->closed}});
  }
  // Each call is ordered as the walk would order it: by its own group's probabilities where that
  // group has enough closed cases, its pair's known-bad check first. A pair is judged without the
  // call being walked (two bit-rate cases make a pair known bad; each alone would not), so the
  // saving is not the pair's own cases counted twice. Calls alike in all that share an order.
  struct Part {
    const Case* sample = nullptr;  // a case of the part, taken out of its pair when ordering
    std::map<std::string, double> mix;
  };
  std::map<std::string, Part> parts;
  for (const auto& c : cases) {
    if (!teaches_order(c)) continue;
    const auto& call = devices.of(c);
    const std::string pair = diagnosis::pair_key(call.inverter_model, call.battery_model);
    std::string judged;  // the known-bad verdict on the pair without this call
    if (const auto it = history.model_pairs.find(pair); it != history.model_pairs.end()) {
      count_case(it->second, c, -1);
      if (const auto bad = diagnosis::known_bad(*catalogue, it->second)) {
        judged = std::string(diagnosis::cause_id(bad->cause));
        for (const auto& id : bad->checks) judged += "," + id;
      }
      count_case(it->second, c, +1);
    }
    const std::string key = diagnosis::pair_key(
        diagnosis::pair_key(diagnosis::pair_key(call.inverter_family, call.battery_family), pair),
        judged);
    auto& part = parts[key];
    if (part.sample == nullptr) part.sample = &c;
    add_to_mix(part.mix, c, *catalogue);
  }
  if (mix.empty()) return out;
  double learned = 0, total = 0;
  std::set<std::string> groups_seen;
  for (const auto& [key, part] : parts) {
    double mass = 0;
    for (const auto& [id, w] : part.mix) mass += w;
    if (mass <= 0) continue;
    const auto& call = devices.of(*part.sample);
    auto* pair = [&]() -> diagnosis::CaseCounts* {
      const auto it =
          history.model_pairs.find(diagnosis::pair_key(call.inverter_model, call.battery_model));
      return it == history.model_pairs.end() ? nullptr : &it->second;
    }();
    if (pair != nullptr) count_case(*pair, *part.sample, -1);
    diagnosis::OrderBasis basis;
    const auto order =
        diagnosis::check_order(*catalogue, history, diagnosis::OrderMode::kLearned, &basis, &call);
    if (pair != nullptr) count_case(*pair, *part.sample, +1);
    learned += mass * diagnosis::expected_minutes(order, part.mix);
    total += mass;
    if (basis.group != diagnosis::GroupKind::kCompany &&
        groups_seen.insert(std::string(diagnosis::group_kind_name(basis.group)) + basis.group_name)
            .second)
      out["groups"].push_back({{"kind", std::string(diagnosis::group_kind_name(basis.group))},
                               {"name", basis.group_name},
                               {"closed_cases", basis.group_closed}});
  }
  const auto guide = diagnosis::guide_order(*catalogue);
  out["learned_minutes"] = total > 0 ? learned / total : 0.0;
  out["guide_minutes"] = diagnosis::expected_minutes(guide, mix);
  return out;
}

json compute_stats(const std::vector<Case>& cases, const diagnosis::KnowledgeBase* kb) {
  const double n = static_cast<double>(cases.size());
  json by_cause = json::object(), by_cause_closed = json::object(), by_cause_open = json::object();
  std::size_t closed_cases = 0;
  std::array<std::size_t, 5> by_layer{}, solved_layer{};
  std::map<std::string, std::size_t> outcomes;
  for (auto o : {Outcome::kFixed, Outcome::kHardcoded, Outcome::kEscalated, Outcome::kOpen})
    outcomes[std::string(outcome_name(o))] = 0;
  std::array<std::vector<double>, 5> minutes{};
  std::map<std::string, std::vector<double>> by_cause_minutes;
  std::map<int, std::size_t> within = {{15, 0}, {30, 0}, {50, 0}};
  for (const auto& c : cases) {
    // An open case's root cause is a working guess: counted apart from the closed cases'.
    const bool open = c.outcome == Outcome::kOpen;
    if (!open) ++closed_cases;
    if (c.root_cause) {
      const std::string id(diagnosis::cause_id(*c.root_cause));
      by_cause[id] = by_cause.value(id, 0) + 1;
      auto& part = open ? by_cause_open : by_cause_closed;
      part[id] = part.value(id, 0) + 1;
      by_cause_minutes[id].push_back(c.total_minutes());
    }
    if (c.layer) {
      ++by_layer[static_cast<std::size_t>(*c.layer - 1)];
      if (c.outcome == Outcome::kFixed) ++solved_layer[static_cast<std::size_t>(*c.layer - 1)];
    }
    ++outcomes[std::string(outcome_name(c.outcome))];
    for (std::size_t l = 0; l < 5; ++l) minutes[l].push_back(c.minutes_by_layer[l]);
    if (c.outcome == Outcome::kFixed)
      for (auto& [limit, count] : within)
        if (c.total_minutes() <= limit) ++count;
  }
  const auto checks = tally_checks(cases);
  json layers = json::object(), yield = json::object(), cumulative = json::object(),
       minutes_by_layer = json::object();
  double sum = 0;
  for (std::size_t l = 0; l < 5; ++l) {
    const std::string k = std::to_string(l + 1);
    layers[k] = by_layer[l];
    const double share = n > 0 ? static_cast<double>(solved_layer[l]) / n : 0.0;
    yield[k] = share;
    sum += share;
    cumulative[k] = sum;
    minutes_by_layer[k] = mean_median(minutes[l]);
  }
  json minutes_by_cause = json::object();
  for (auto& [cause, v] : by_cause_minutes) minutes_by_cause[cause] = mean_median(v);
  json solved = json::object();
  for (const auto& [limit, count] : within)
    solved[std::to_string(limit)] = n > 0 ? static_cast<double>(count) / n : 0.0;
  // Checks by confirmed causes per minute spent on them.
  std::vector<std::pair<std::string, CheckTally>> order(checks.begin(), checks.end());
  std::stable_sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
    if (rate(a.second) != rate(b.second)) return rate(a.second) > rate(b.second);
    return a.second.confirmed > b.second.confirmed;
  });
  json check_order = json::array();
  for (const auto& [id, t] : order)
    check_order.push_back(
        {{"check", id},
         {"confirmed", t.confirmed},
         {"done", t.done},
         {"minutes", t.minutes},
         {"confirmed_per_minute", std::isinf(rate(t)) ? json(nullptr) : json(rate(t))}});
  return {{"cases", cases.size()},
          {"by_cause", by_cause},
          {"closed_cases", closed_cases},
          {"by_cause_closed", by_cause_closed},
          {"by_cause_open", by_cause_open},
          {"by_layer", layers},
          {"layer_yield", yield},
          {"cumulative_yield", cumulative},
          {"minutes_by_layer", minutes_by_layer},
          {"minutes_by_cause", minutes_by_cause},
          {"solved_within_minutes", solved},
          {"outcomes", outcomes},
          {"check_order", check_order},
          {"order", order_minutes(cases, kb)}};
}

bool teaches_order(const Case& c) {
  return c.closed.has_value() && c.root_cause && !diagnosis::is_note(*c.root_cause);
}

void count_case(diagnosis::CaseCounts& h, const Case& c, int sign) {
  static const auto builtin = diagnosis::CheckCatalogue::builtin();
  const diagnosis::CheckCatalogue* catalogue = builtin ? &*builtin : nullptr;
  // Taking out a case never counted, or from nothing, would leave negative counts.
  if (!teaches_order(c) || (sign < 0 && h.closed == 0)) return;
  const double weight = sign < 0 ? -1.0 : 1.0;
  if (sign < 0) {
    --h.closed;
  } else {
    ++h.closed;
  }
  h.causes[*c.root_cause] += weight;
  for (const auto& ch : c.checks) {
    if (!confirms_root(ch, c)) continue;
    const auto* check = catalogue != nullptr ? catalogue->find(ch.check) : nullptr;
    const std::string id = check != nullptr ? check->id : ch.check;
    h.confirmed_by[id] += weight;
    h.settled_by[*c.root_cause][id] += weight;
    break;
  }
}

diagnosis::CaseHistory case_history(const std::vector<Case>& cases,
                                    const diagnosis::KnowledgeBase* kb_in) {
  const auto& kb = kb_or_builtin(kb_in);
  DeviceMemo devices(kb);
  diagnosis::CaseHistory h;
  for (const auto& c : cases) {
    // A closed case teaches the order only with its root cause (an escalation without one does
    // not count toward the 20).
    if (!teaches_order(c)) continue;
    count_case(h, c);
    // And the groups it belongs to, for the walk to take the call's own where it has enough.
    const auto& call = devices.of(c);
    if (!call.inverter_family.empty()) count_case(h.inverter_families[call.inverter_family], c);
    if (!call.battery_family.empty()) count_case(h.battery_families[call.battery_family], c);
    if (!call.inverter_family.empty() && !call.battery_family.empty())
      count_case(h.family_pairs[diagnosis::pair_key(call.inverter_family, call.battery_family)], c);
    if (!call.inverter_model.empty() && !call.battery_model.empty()) {
      auto& pair = h.model_pairs[diagnosis::pair_key(call.inverter_model, call.battery_model)];
      if (pair.name.empty())
        pair.name = diagnosis::shown_model(c.inverter.model) + " with " +
                    diagnosis::shown_model(c.bms.model);
      count_case(pair, c);
    }
  }
  return h;
}

void without_case(diagnosis::CaseHistory& h, const Case& c, const diagnosis::KnowledgeBase* kb) {
  if (!teaches_order(c)) return;
  const auto call = diagnosis::call_devices(kb_or_builtin(kb), c.inverter.model, c.bms.model);
  count_case(h, c, -1);
  auto take = [&](std::map<std::string, diagnosis::CaseCounts>& groups, const std::string& key) {
    if (const auto it = groups.find(key); it != groups.end()) count_case(it->second, c, -1);
  };
  take(h.inverter_families, call.inverter_family);
  take(h.battery_families, call.battery_family);
  take(h.family_pairs, diagnosis::pair_key(call.inverter_family, call.battery_family));
  take(h.model_pairs, diagnosis::pair_key(call.inverter_model, call.battery_model));
}

std::map<std::string, double> company_mix(const std::vector<Case>& cases) {
  static const auto catalogue = diagnosis::CheckCatalogue::builtin();
  std::map<std::string, double> mix;
  if (!catalogue) return mix;
  for (const auto& c : cases)
    if (teaches_order(c)) add_to_mix(mix, c, *catalogue);
  return mix;
}

std::map<std::string, double> check_rates(const std::vector<Case>& cases) {
  const auto closed = static_cast<std::size_t>(std::count_if(
      cases.begin(), cases.end(), [](const Case& c) { return c.closed.has_value(); }));
  if (closed < kMinClosedForOrder) return {};
  std::vector<Case> done;
  for (const auto& c : cases)
    if (c.closed) done.push_back(c);
  std::map<std::string, double> out;
  for (const auto& [id, t] : tally_checks(done)) out[id] = rate(t);
  return out;
}

}  // namespace bmslink::records
