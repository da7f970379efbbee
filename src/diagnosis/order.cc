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

std::map<std::string, double> check_probabilities(const CheckCatalogue& catalogue,
                                                  const CaseHistory& history) {
  // The field guide's calls per cause (the catalogue's likelihoods), and each check's part of
  // its cause: likelihood + 1, so a check the table does not count still has a part.
  std::map<Cause, double> guide, parts;
  for (const auto& c : catalogue.checks()) {
    if (c.confirms == Cause::kHealthy || is_note(c.confirms)) continue;
    guide[c.confirms] += c.likelihood;
    parts[c.confirms] += c.likelihood + 1;
  }
  double guide_total = 0, cases = 0;
  for (auto& [cause, calls] : guide) {
    if (calls <= 0) calls = kUnseenCauseCalls;
    guide_total += calls;
    if (const auto it = history.causes.find(cause); it != history.causes.end()) cases += it->second;
  }
  // Confirmations under each check's current id (records may name a check by a former id).
  std::map<std::string, double> by_check;
  std::map<Cause, double> confirmed;  // root causes confirmed by some check, per cause
  for (const auto& [id, n] : history.confirmed_by) {
    const Check* c = catalogue.find(id);
    if (c == nullptr || guide.count(c->confirms) == 0) continue;
    by_check[c->id] += n;
    confirmed[c->confirms] += n;
  }
  std::map<std::string, double> out;
  for (const auto& c : catalogue.checks()) {
    const auto g = guide.find(c.confirms);
    if (g == guide.end()) continue;
    const double prior_share = g->second / guide_total;  // of all calls
    const auto n = history.causes.find(c.confirms);
    const double p_cause =
        ((n == history.causes.end() ? 0.0 : n->second) + kPriorCalls * prior_share) /
        (cases + kPriorCalls);
    // Within the cause: the company's confirmations by this check, shrunk toward the
    // catalogue's split with the weight the guide gives the cause.
    const double weight = kPriorCalls * prior_share;
    const auto m = by_check.find(c.id);
    const auto mc = confirmed.find(c.confirms);
    const double share = ((m == by_check.end() ? 0.0 : m->second) +
                          weight * (c.likelihood + 1) / parts[c.confirms]) /
                         ((mc == confirmed.end() ? 0.0 : mc->second) + weight);
    out[c.id] = p_cause * share;
  }
  return out;
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

std::vector<const Check*> check_order(const CheckCatalogue& catalogue, const CaseHistory& history,
                                      OrderMode requested, OrderBasis* basis) {
  const bool learn = requested == OrderMode::kLearned && history.closed >= kMinClosedToLearn;
  if (basis != nullptr) {
    *basis = OrderBasis{};
    basis->closed = history.closed;
    basis->mode = learn ? OrderMode::kLearned : OrderMode::kGuide;
    basis->requested = requested;
  }
  std::vector<const Check*> guide = guide_order(catalogue);
  if (!learn) return guide;
  const auto p = check_probabilities(catalogue, history);
  std::map<const Check*, std::size_t> rank;
  for (std::size_t i = 0; i < guide.size(); ++i) rank[guide[i]] = i;
  auto per_minute = [&](const Check* c) {
    if (costless(*c)) return std::numeric_limits<double>::infinity();
    const auto it = p.find(c->id);
    return (it == p.end() ? 0.0 : it->second) / c->minutes;
  };
  std::vector<const Check*> out = guide;
  std::stable_sort(out.begin(), out.end(), [&](const Check* a, const Check* b) {
    const double pa = per_minute(a), pb = per_minute(b);
    if (pa != pb) return pa > pb;
    return rank[a] < rank[b];
  });
  if (basis != nullptr) basis->probability = p;
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
