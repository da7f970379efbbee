#include "bmslink/diagnosis/order.h"

#include <algorithm>
#include <limits>
#include <set>

namespace bmslink::diagnosis {
namespace {

// A cause the field guide's table never met gets half a call: unlikely, not impossible, so a
// company's own cases can still raise it.
constexpr double kUnseenCauseCalls = 0.5;

bool costless(const Check& c) { return c.capture_only || c.minutes <= 0; }

// The order `sorted` gives, with each check moved after the checks it needs (which keep their
// own places); a need the catalogue does not hold is ignored.
std::vector<const Check*> keep_needs(const CheckCatalogue& catalogue,
                                     std::vector<const Check*> sorted) {
  std::vector<const Check*> out;
  std::set<std::string> placed;
  std::vector<const Check*> waiting;
  auto ready = [&](const Check* c) {
    return std::all_of(c->needs.begin(), c->needs.end(), [&](const std::string& id) {
      const Check* n = catalogue.find(id);
      return n == nullptr || n == c || placed.count(n->id) != 0;
    });
  };
  auto place = [&](const Check* c) {
    out.push_back(c);
    placed.insert(c->id);
    // Whatever waited on it, in its sorted place among the waiting.
    for (bool moved = true; moved;) {
      moved = false;
      for (auto it = waiting.begin(); it != waiting.end(); ++it) {
        if (ready(*it)) {
          const Check* w = *it;
          waiting.erase(it);
          out.push_back(w);
          placed.insert(w->id);
          moved = true;
          break;
        }
      }
    }
  };
  for (const Check* c : sorted) {
    if (ready(c)) {
      place(c);
    } else {
      waiting.push_back(c);
    }
  }
  // Needs in a loop: the rest in sorted order rather than never.
  for (const Check* c : waiting) out.push_back(c);
  return out;
}

}  // namespace

std::string_view order_mode_name(OrderMode mode) {
  return mode == OrderMode::kGuide ? "guide" : "learned";
}

std::optional<OrderMode> parse_order_mode(std::string_view name) {
  if (name == "guide") return OrderMode::kGuide;
  if (name == "learned") return OrderMode::kLearned;
  return std::nullopt;
}

std::string model_key(std::string_view model) {
  std::string out;
  for (char c : model) {
    // Control characters as spaces, as shown_model shows them: a model typed as "\x00" is none.
    if (c == ' ' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      if (!out.empty() && out.back() != ' ') out += ' ';
      continue;
    }
    out += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string shown_model(std::string_view model) {
  std::string out;
  for (char ch : model) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u == 0x7f || ch == ' ') {
      if (!out.empty() && out.back() != ' ') out += ' ';
      continue;
    }
    out += ch;
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > kShownModelBytes) {
    std::size_t cut = kShownModelBytes;
    // Not inside a UTF-8 character: back to the byte that starts one.
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    out += "…";
  }
  return out;
}

std::string family_key(const DeviceInfo* entry, std::string_view model) {
  if (entry != nullptr) return entry->id;
  return model_key(model);
}

// A separator no model_key or entry id holds (both are printable text).
std::string pair_key(std::string_view inverter, std::string_view battery) {
  return std::string(inverter) + '\x1f' + std::string(battery);
}

CallDevices call_devices(const KnowledgeBase& kb, std::string_view inverter_model,
                         std::string_view battery_model) {
  CallDevices d;
  const DeviceInfo* inverter =
      model_key(inverter_model).empty() ? nullptr : kb.find_inverter(inverter_model);
  const DeviceInfo* battery =
      model_key(battery_model).empty() ? nullptr : kb.find_battery(battery_model);
  d.inverter_family = family_key(inverter, inverter_model);
  d.battery_family = family_key(battery, battery_model);
  d.inverter_model = model_key(inverter_model);
  d.battery_model = model_key(battery_model);
  d.inverter_model_name = shown_model(inverter_model);
  d.battery_model_name = shown_model(battery_model);
  auto name = [](const DeviceInfo* e, std::string_view typed) {
    return e != nullptr ? e->brand + " " + e->family : shown_model(typed);
  };
  d.inverter_family_name = name(inverter, inverter_model);
  d.battery_family_name = name(battery, battery_model);
  return d;
}

std::string_view group_kind_name(GroupKind kind) {
  switch (kind) {
    case GroupKind::kInverterFamily:
      return "inverter_family";
    case GroupKind::kBatteryFamily:
      return "battery_family";
    case GroupKind::kPair:
      return "pair";
    case GroupKind::kCompany:
      break;
  }
  return "company";
}

bool of_the_pair(Cause cause) {
  const auto layer = cause_layer(cause);
  return !is_note(cause) && layer &&
         (*layer == Layer::kConfiguration || *layer == Layer::kProtocol);
}

std::optional<KnownBad> known_bad(const CheckCatalogue& catalogue, const CaseCounts& pair) {
  const std::pair<const Cause, double>* top = nullptr;
  for (const auto& entry : pair.causes)
    if (of_the_pair(entry.first) && (top == nullptr || entry.second > top->second)) top = &entry;
  if (top == nullptr || top->second < static_cast<double>(kKnownBadCases)) return std::nullopt;
  const auto cases = static_cast<std::size_t>(top->second);
  if (cases < kKnownBadCases || 2 * cases <= pair.closed) return std::nullopt;
  KnownBad out{top->first, cases, pair.closed, {}, {}};
  // The answerable check that settled this cause most often (records may hold former ids; a
  // check may have confirmed it through what a capture showed, and is still asked first).
  double most = 0;
  if (const auto it = pair.settled_by.find(out.cause); it != pair.settled_by.end()) {
    for (const auto& [id, n] : it->second) {
      const Check* c = catalogue.find(id);
      if (c == nullptr || c->capture_only || n <= most) continue;
      most = n;
      out.check = c->id;
    }
  }
  if (!out.check.empty()) {
    out.checks.push_back(out.check);
  } else {
    for (const auto& c : catalogue.checks())
      if (c.confirms == out.cause && !c.capture_only) out.checks.push_back(c.id);
  }
  if (out.checks.empty()) return std::nullopt;
  // What they need comes with them (the firmware after the protocol setting, both first).
  for (std::size_t i = 0; i < out.checks.size(); ++i) {
    const Check* c = catalogue.find(out.checks[i]);
    if (c == nullptr) continue;
    for (const auto& need : c->needs) {
      const Check* n = catalogue.find(need);
      if (n != nullptr && !n->capture_only &&
          std::find(out.checks.begin(), out.checks.end(), n->id) == out.checks.end())
        out.checks.push_back(n->id);
    }
  }
  return out;
}

namespace {

// The field guide's table as check probabilities: each cause's calls (the catalogue's
// likelihoods; half a call for a cause the table never met) split over its checks as likelihood
// + 1, so a check the table does not count still has a part.
std::map<std::string, double> guide_probabilities(const CheckCatalogue& catalogue) {
  std::map<Cause, double> guide, parts;
  for (const auto& c : catalogue.checks()) {
    if (c.confirms == Cause::kHealthy || is_note(c.confirms)) continue;
    guide[c.confirms] += c.likelihood;
    parts[c.confirms] += c.likelihood + 1;
  }
  double total = 0;
  for (auto& [cause, calls] : guide) {
    if (calls <= 0) calls = kUnseenCauseCalls;
    total += calls;
  }
  std::map<std::string, double> out;
  for (const auto& c : catalogue.checks()) {
    const auto g = guide.find(c.confirms);
    if (g == guide.end()) continue;
    out[c.id] = g->second / total * (c.likelihood + 1) / parts[c.confirms];
  }
  return out;
}

}  // namespace

std::map<std::string, double> shrink_toward(const CheckCatalogue& catalogue,
                                            const std::map<std::string, double>& prior,
                                            const CaseCounts& counts, double prior_cases) {
  // The prior per cause: the sum of its checks'.
  std::map<Cause, double> prior_cause;
  for (const auto& [id, q] : prior)
    if (const Check* c = catalogue.find(id)) prior_cause[c->confirms] += q;
  double cases = 0;
  for (const auto& [cause, q] : prior_cause)
    if (const auto it = counts.causes.find(cause); it != counts.causes.end()) cases += it->second;
  // Confirmations under each check's current id (records may name a check by a former id).
  std::map<std::string, double> by_check;
  std::map<Cause, double> confirmed;  // root causes confirmed by some check, per cause
  for (const auto& [id, n] : counts.confirmed_by) {
    const Check* c = catalogue.find(id);
    if (c == nullptr || prior_cause.count(c->confirms) == 0) continue;
    by_check[c->id] += n;
    confirmed[c->confirms] += n;
  }
  auto at = [](const auto& map, const auto& key) {
    const auto it = map.find(key);
    return it == map.end() ? 0.0 : it->second;
  };
  std::map<std::string, double> out;
  for (const auto& [id, q] : prior) {
    const Check* c = catalogue.find(id);
    if (c == nullptr) continue;
    const double q_cause = prior_cause[c->confirms];
    const double p_cause =
        (at(counts.causes, c->confirms) + prior_cases * q_cause) / (cases + prior_cases);
    // Within the cause: the cases' confirmations by this check, shrunk toward the prior's split
    // with the weight the prior gives the cause.
    const double weight = prior_cases * q_cause;
    const double below = at(confirmed, c->confirms) + weight;
    const double share = below > 0 ? (at(by_check, c->id) + prior_cases * q) / below : 0.0;
    out[c->id] = p_cause * share;
  }
  return out;
}

std::map<std::string, double> check_probabilities(const CheckCatalogue& catalogue,
                                                  const CaseCounts& history) {
  return shrink_toward(catalogue, guide_probabilities(catalogue), history, kPriorCalls);
}

std::vector<const Check*> guide_order(const CheckCatalogue& catalogue) {
  std::vector<const Check*> out;
  for (const auto& c : catalogue.checks()) out.push_back(&c);
  // Capture-only checks cost nothing once a capture exists: first in their layer.
  auto per_minute = [](const Check& c) {
    return costless(c) ? std::numeric_limits<double>::infinity() : c.likelihood / c.minutes;
  };
  std::stable_sort(out.begin(), out.end(), [&](const Check* a, const Check* b) {
    if (a->layer != b->layer) return a->layer < b->layer;
    return per_minute(*a) > per_minute(*b);
  });
  return keep_needs(catalogue, std::move(out));
}

namespace {

const CaseCounts* group_of(const std::map<std::string, CaseCounts>& groups,
                           const std::string& key) {
  if (key.empty()) return nullptr;
  const auto it = groups.find(key);
  return it == groups.end() ? nullptr : &it->second;
}

bool enough(const CaseCounts* g) { return g != nullptr && g->closed >= kMinClosedToLearn; }

}  // namespace

std::vector<const Check*> check_order(const CheckCatalogue& catalogue, const CaseHistory& history,
                                      OrderMode requested, OrderBasis* basis,
                                      const CallDevices* call) {
  const bool learn = requested == OrderMode::kLearned && history.closed >= kMinClosedToLearn;
  OrderBasis local;
  OrderBasis& b = basis != nullptr ? *basis : local;
  b = OrderBasis{};
  b.closed = history.closed;
  b.group_closed = history.closed;
  b.mode = learn ? OrderMode::kLearned : OrderMode::kGuide;
  b.requested = requested;
  std::vector<const Check*> guide = guide_order(catalogue);
  if (!learn) return guide;
  auto p = check_probabilities(catalogue, history);
  // The call's most specific group with enough closed cases: its pair of families, else the
  // larger of its inverter family and battery family (the inverter's on a tie). Its own cases
  // shrunk toward the company's probabilities, as the company's are toward the guide's.
  std::set<std::string> first;  // a known-bad pair's checks
  if (call != nullptr) {
    const CaseCounts* group = nullptr;
    const bool both = !call->inverter_family.empty() && !call->battery_family.empty();
    if (const auto* pair = both ? group_of(history.family_pairs,
                                           pair_key(call->inverter_family, call->battery_family))
                                : nullptr;
        enough(pair)) {
      group = pair;
      b.group = GroupKind::kPair;
      b.group_name = call->inverter_family_name + " with " + call->battery_family_name;
    } else {
      const auto* inverter = group_of(history.inverter_families, call->inverter_family);
      const auto* battery = group_of(history.battery_families, call->battery_family);
      if (enough(battery) && (!enough(inverter) || battery->closed > inverter->closed)) {
        group = battery;
        b.group = GroupKind::kBatteryFamily;
        b.group_name = call->battery_family_name;
      } else if (enough(inverter)) {
        group = inverter;
        b.group = GroupKind::kInverterFamily;
        b.group_name = call->inverter_family_name;
      }
    }
    if (group != nullptr) {
      p = shrink_toward(catalogue, p, *group, kPriorCalls);
      b.group_closed = group->closed;
    }
    // A known-bad pair of models: the check that settled its cause (else every check of that
    // cause an answer decides), and what it needs, cost nothing to try first: the records have
    // all but decided it.
    const bool models = !call->inverter_model.empty() && !call->battery_model.empty();
    if (const auto* pair = models ? group_of(history.model_pairs,
                                             pair_key(call->inverter_model, call->battery_model))
                                  : nullptr) {
      if (auto bad = known_bad(catalogue, *pair)) {
        first.insert(bad->checks.begin(), bad->checks.end());
        b.known_bad = std::move(bad);
        b.known_bad_pair = pair->name.empty()
                               ? call->inverter_model_name + " with " + call->battery_model_name
                               : pair->name;
      }
    }
  }
  std::map<const Check*, std::size_t> rank;
  for (std::size_t i = 0; i < guide.size(); ++i) rank[guide[i]] = i;
  // Costless checks first (a capture's), then a known-bad pair's, then probability per minute.
  auto tier = [&](const Check* c) { return costless(*c) ? 0 : first.count(c->id) != 0 ? 1 : 2; };
  auto per_minute = [&](const Check* c) {
    const auto it = p.find(c->id);
    return (it == p.end() ? 0.0 : it->second) / c->minutes;
  };
  std::vector<const Check*> out = guide;
  std::stable_sort(out.begin(), out.end(), [&](const Check* x, const Check* y) {
    if (tier(x) != tier(y)) return tier(x) < tier(y);
    if (tier(x) != 0) {
      const double px = per_minute(x), py = per_minute(y);
      if (px != py) return px > py;
    }
    return rank[x] < rank[y];
  });
  b.probability = std::move(p);
  return keep_needs(catalogue, std::move(out));
}

double expected_minutes(const std::vector<const Check*>& order,
                        const std::map<std::string, double>& weight) {
  double total = 0, sum = 0, elapsed = 0;
  for (const Check* c : order) {
    if (!costless(*c)) elapsed += c->minutes;
    const auto it = weight.find(c->id);
    if (it == weight.end() || it->second <= 0) continue;
    sum += it->second * elapsed;
    total += it->second;
  }
  return total > 0 ? sum / total : 0.0;
}

}  // namespace bmslink::diagnosis
