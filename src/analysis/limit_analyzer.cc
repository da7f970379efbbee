#include "analysis/limit_analyzer.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include <fmt/format.h>

namespace bmslink::analysis::detail {
namespace {

using L = LimitFollowingEvidence;

// A reading that stays in force for kLimitStaleS seconds after it was last sent.
struct Held {
  float value = kNoReading;
  std::int64_t at = 0;
  void take(float v, std::int64_t s) {
    if (!std::isnan(v)) {
      value = v;
      at = s;
    }
  }
  std::optional<double> at_second(std::int64_t s) const {
    if (std::isnan(value) || s - at > L::kLimitStaleS) return std::nullopt;
    return static_cast<double>(value);
  }
};

// A stretch bridges up to this many seconds without a reading (a late 0x356), no more: an hour
// without readings is not "over the limit for an hour".
constexpr std::int64_t kBridgeS = 5;

struct Stretch {
  LimitBreach breach;
  std::int64_t run_start = -1;    // second the current stretch began, -1: none
  std::int64_t run_last = -1;     // last second over in it
  std::uint64_t run_seconds = 0;  // seconds over in it (the bridged ones do not count)
  double worst_over = -1.0;

  void over(std::int64_t s, std::int64_t base, double current, double limit) {
    if (run_start < 0 || s - run_last > kBridgeS + 1) {
      run_start = s;
      run_seconds = 0;
    }
    run_last = s;
    ++run_seconds;
    ++breach.seconds;
    if (run_seconds > breach.longest_s) {
      breach.longest_s = run_seconds;
      breach.longest_start_ns = (base + run_start) * kNsPerS;
    }
    if (current - limit > worst_over) {
      worst_over = current - limit;
      breach.worst_current_a = current;
      breach.limit_a = limit;
      breach.worst_ns = (base + s) * kNsPerS;
    }
  }
  void within() {
    run_start = run_last = -1;
    run_seconds = 0;
  }
};

double d(float v) { return static_cast<double>(v); }

double tolerance(double limit) { return std::max(L::kToleranceA, L::kToleranceShare * limit); }

}  // namespace

LimitFollowingEvidence limit_following(const TimeBins& bins) {
  LimitFollowingEvidence out;
  if (!bins.base_second()) return out;
  const std::int64_t base = *bins.base_second();
  Held ccl, dcl, enable;
  std::array<Stretch, 3> st;
  st[0].breach.kind = LimitBreachKind::kChargeOverLimit;
  st[1].breach.kind = LimitBreachKind::kDischargeOverLimit;
  st[2].breach.kind = LimitBreachKind::kChargeWhileDisabled;
  const auto& b = bins.bins();
  for (std::size_t i = 0; i < b.size(); ++i) {
    const auto s = static_cast<std::int64_t>(i);
    const SecondBin& bin = b[i];
    ccl.take(bin.ccl_a, s);
    dcl.take(bin.dcl_a, s);
    if (bin.charge_enable != 0xFF) enable.take(bin.charge_enable, s);
    if (std::isnan(bin.current_a)) continue;
    const double current = d(bin.current_a);
    const auto c = ccl.at_second(s);
    const auto d = dcl.at_second(s);
    const auto en = enable.at_second(s);
    if (!c && !d && !en) continue;
    ++out.judged_seconds;
    const bool disabled = en && *en == 0;
    // Charging while disabled is the stronger statement; such a second is not also counted
    // against the charge limit (which is then usually 0 as well).
    if (disabled && current > L::kToleranceA) {
      st[2].over(s, base, current, 0.0);
    } else {
      st[2].within();
    }
    // A negative limit is invalid_values, and inverters ignore it (fact sheet): not judged here.
    if (!disabled && c && *c >= 0 && current > *c + tolerance(*c)) {
      st[0].over(s, base, current, *c);
    } else {
      st[0].within();
    }
    if (d && *d >= 0 && current < 0 && -current > *d + tolerance(*d)) {
      st[1].over(s, base, -current, *d);
    } else {
      st[1].within();
    }
  }
  for (const auto& x : st) {
    if (x.breach.seconds > 0) out.breaches.push_back(x.breach);
  }
  return out;
}

std::vector<PlausibilityIssue> limit_plausibility(const TimeBins& bins, const ValueScales& scales) {
  std::vector<PlausibilityIssue> out;
  if (!bins.base_second()) return out;
  const auto& b = bins.bins();
  // DVL at or above the pack voltage: the inverter may not discharge at all. Near empty the pack
  // sits at the DVL legitimately, so seconds under 15 % SOC do not count.
  std::uint64_t dvl_judged = 0, dvl_over = 0;
  double dvl_at = 0, pack_at_dvl = 0;
  // CVL below the pack voltage while charging is requested (enabled, limit above 0).
  std::uint64_t cvl_judged = 0, cvl_under = 0;
  double cvl_at = 0, pack_at_cvl = 0;
  // Jumps: a voltage limit that moves by more than 15 % between consecutive readings (a pack's
  // limits move by a few percent at most, e.g. 55.2 -> 53.6 V float), and current-limit spikes:
  // one reading away from both neighbours by more than half while they agree (0 excluded:
  // protection legitimately drops a limit to zero).
  std::uint64_t v_jumps = 0, i_spikes = 0;
  std::string first_jump, first_spike;
  Held enable, ccl;
  struct Prev {
    double value = 0;
    std::int64_t at = -1;
  };
  Prev cvl_prev, dvl_prev;
  std::array<std::vector<std::pair<std::int64_t, double>>, 2> series;  // ccl, dcl readings
  for (std::size_t i = 0; i < b.size(); ++i) {
    const auto s = static_cast<std::int64_t>(i);
    const SecondBin& bin = b[i];
    if (bin.charge_enable != 0xFF) enable.take(bin.charge_enable, s);
    ccl.take(bin.ccl_a, s);
    if (!std::isnan(bin.ccl_a)) series[0].emplace_back(s, bin.ccl_a);
    if (!std::isnan(bin.dcl_a)) series[1].emplace_back(s, bin.dcl_a);
    const float cvl_v = static_cast<float>(d(bin.cvl_v) * scales.cvl);
    const float dvl_v = static_cast<float>(d(bin.dvl_v) * scales.dvl);
    const float voltage_v = static_cast<float>(d(bin.voltage_v) * scales.pack_v);
    for (auto [v, prev, name] : {std::tuple{cvl_v, &cvl_prev, "charge_voltage_limit"},
                                 std::tuple{dvl_v, &dvl_prev, "discharge_voltage_limit"}}) {
      if (std::isnan(v)) continue;
      if (prev->at >= 0 && s - prev->at <= 5 && prev->value > 0 && v > 0) {
        const double lo = std::min(prev->value, d(v)), hi = std::max(prev->value, d(v));
        if (hi - lo > 0.15 * lo) {
          if (v_jumps++ == 0)
            first_jump = fmt::format("{} {:.1f} V -> {:.1f} V within {} s", name, prev->value, d(v),
                                     s - prev->at);
        }
      }
      *prev = {d(v), s};
    }
    if (std::isnan(voltage_v) || voltage_v < 5) continue;
    const double pack = d(voltage_v);
    const bool soc_known = bin.soc != 0xFF;
    if (!std::isnan(dvl_v) && dvl_v > 0 && (!soc_known || bin.soc >= 15)) {
      ++dvl_judged;
      if (static_cast<double>(dvl_v) >= pack) {
        if (dvl_over++ == 0) {
          dvl_at = d(dvl_v);
          pack_at_dvl = pack;
        }
      }
    }
    const auto en = enable.at_second(s);
    const auto c = ccl.at_second(s);
    // Charging requested and happening: after a step down to float voltage the pack sits above
    // the new CVL at rest for a while, which is no fault.
    const bool requested = (!en || *en != 0) && c && *c > 0;
    const bool charging = !std::isnan(bin.current_a) && d(bin.current_a) > 2.0;
    if (!std::isnan(cvl_v) && cvl_v > 0 && requested && charging) {
      ++cvl_judged;
      if (pack - static_cast<double>(cvl_v) > std::max(0.5, 0.01 * pack)) {
        if (cvl_under++ == 0) {
          cvl_at = d(cvl_v);
          pack_at_cvl = pack;
        }
      }
    }
  }
  for (std::size_t k = 0; k < 2; ++k) {
    const auto& x = series[k];
    for (std::size_t i = 1; i + 1 < x.size(); ++i) {
      const double a = x[i - 1].second, v = x[i].second, c = x[i + 1].second;
      if (a == 0 || v == 0 || c == 0) continue;
      if (x[i + 1].first - x[i - 1].first > 10) continue;
      const bool neighbours_agree = std::abs(a - c) <= 0.1 * std::max(std::abs(a), std::abs(c));
      const double ref = (std::abs(a) + std::abs(c)) / 2;
      if (neighbours_agree && std::abs(v - a) > 0.5 * ref && std::abs(v - c) > 0.5 * ref) {
        if (i_spikes++ == 0)
          first_spike =
              fmt::format("{} {:.1f} A between {:.1f} A and {:.1f} A",
                          k == 0 ? "charge_current_limit" : "discharge_current_limit", v, a, c);
      }
    }
  }
  using K = PlausibilityKind;
  // Persistent, not one second at a turning point: 10 s or a tenth of the judged seconds.
  auto persistent = [](std::uint64_t n, std::uint64_t judged) {
    return n >= 10 || (judged > 0 && n * 10 >= judged && n >= 1 && judged < 100);
  };
  if (persistent(dvl_over, dvl_judged)) {
    out.push_back({K::kInvalid, "discharge_voltage_limit",
                   fmt::format("discharge voltage limit {:.1f} V is at or above the pack voltage "
                               "{:.2f} V (in {} of {} s): the inverter would stop discharging at "
                               "once",
                               dvl_at, pack_at_dvl, dvl_over, dvl_judged),
                   true});
  }
  if (persistent(cvl_under, cvl_judged)) {
    out.push_back({K::kInvalid, "charge_voltage_limit",
                   fmt::format("charge voltage limit {:.1f} V is below the pack voltage {:.2f} V "
                               "while charging is requested (in {} of {} s)",
                               cvl_at, pack_at_cvl, cvl_under, cvl_judged),
                   true});
  }
  if (v_jumps > 0) {
    out.push_back(
        {K::kInvalid, "0x351",
         fmt::format("voltage limits jump implausibly {} time(s), first {}", v_jumps, first_jump),
         true});
  }
  if (i_spikes > 0) {
    out.push_back({K::kInvalid, "0x351",
                   fmt::format("current limits spike for a single reading {} time(s), first {}",
                               i_spikes, first_spike),
                   false});
  }
  return out;
}

std::vector<PlausibilityIssue> limit_snapshot(const std::vector<SignalStats>& signals,
                                              const ValueScales& scales) {
  std::vector<PlausibilityIssue> out;
  auto last = [&signals, &scales](std::string_view name) -> std::optional<double> {
    const double k = name == "pack_voltage"              ? scales.pack_v
                     : name == "charge_voltage_limit"    ? scales.cvl
                     : name == "discharge_voltage_limit" ? scales.dvl
                                                         : 1.0;
    for (const auto& x : signals)
      if (x.name == name && x.count > 0) return x.last * k;
    return std::nullopt;
  };
  const auto pack = last("pack_voltage");
  if (!pack || *pack < 5) return out;
  const auto soc = last("soc");
  if (const auto dvl = last("discharge_voltage_limit");
      dvl && *dvl > 0 && *dvl >= *pack && (!soc || *soc >= 15)) {
    out.push_back({PlausibilityKind::kInvalid, "discharge_voltage_limit",
                   fmt::format("discharge voltage limit {:.1f} V is at or above the pack voltage "
                               "{:.2f} V: the inverter would stop discharging at once",
                               *dvl, *pack),
                   true});
  }
  const auto cvl = last("charge_voltage_limit");
  const auto ccl = last("charge_current_limit");
  const auto enable = last("charge_enable");
  const auto current = last("pack_current");
  if (cvl && *cvl > 0 && ccl && *ccl > 0 && (!enable || *enable != 0) && current &&
      *current > 2.0 && *pack - *cvl > std::max(0.5, 0.01 * *pack)) {
    out.push_back({PlausibilityKind::kInvalid, "charge_voltage_limit",
                   fmt::format("charge voltage limit {:.1f} V is below the pack voltage {:.2f} V "
                               "while charging is requested",
                               *cvl, *pack),
                   true});
  }
  return out;
}

}  // namespace bmslink::analysis::detail
