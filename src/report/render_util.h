// Helpers shared by the text, JSON and HTML renderers of an analysis.
#pragma once

#include <chrono>
#include <cmath>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bmslink/core/time.h"
#include "bmslink/report/analysis_report.h"

namespace bmslink::report::detail {

using nlohmann::json;

inline json opt(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }
inline json opt_str(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }
inline double round_to(double v, double step) { return std::round(v / step) * step; }

inline std::string time_kind_name(TimeKind k) {
  return k == TimeKind::kAbsolute ? "absolute" : k == TimeKind::kRelative ? "relative" : "none";
}

inline std::string opt_ms(const std::optional<double>& v, int decimals = 1) {
  return v ? fmt::format("{:.{}f}", *v, decimals) : "-";
}

// "layer 2 — physical connections"; "note" for statements about the capture; "state" for the
// BMS's own state (protection) and healthy.
inline std::string layer_text(const diagnosis::Finding& f) {
  if (f.layer)
    return fmt::format("layer {} \u2014 {}", diagnosis::layer_number(*f.layer),
                       diagnosis::layer_name(*f.layer));
  return diagnosis::is_note(f.cause) ? "note" : "state";
}

// A signal's display name, qualified by its message id when another message has a signal of the
// same name (two "soc" rows must not read as one signal).
inline std::string signal_label(const std::vector<analysis::SignalStats>& all,
                                const analysis::SignalStats& s) {
  for (const auto& o : all)
    if (&o != &s && o.name == s.name && o.key != s.key)
      return fmt::format("{} ({})", s.name, analysis::key_hex(s.key));
  return s.name;
}

// "1000.4", or "1000.4 (2x)" for an id that comes several times per cycle.
inline std::string period_text(const analysis::IdStats& s) {
  if (!s.period_ms) return "-";
  if (s.per_cycle > 1) return fmt::format("{:.1f} ({}x)", *s.period_ms, s.per_cycle);
  return fmt::format("{:.1f}", *s.period_ms);
}

// A value, or its value-table name.
inline std::string value_text(double v, const std::string& label) {
  return label.empty() ? fmt::format("{}", v) : label;
}

// "2025-11-24 16:00:32.879 UTC" for absolute capture times.
inline std::string iso_utc(std::int64_t ns) {
  using namespace std::chrono;
  const std::int64_t ms = ns >= 0 ? ns / 1'000'000 : -((-ns + 999'999) / 1'000'000);
  const sys_time<milliseconds> tp{milliseconds{ms}};
  const auto day = floor<days>(tp);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> tod{tp - day};
  return fmt::format("{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}.{:03d} UTC",
                     static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                     static_cast<unsigned>(ymd.day()), tod.hours().count(), tod.minutes().count(),
                     tod.seconds().count(), tod.subseconds().count());
}

inline std::string when(const analysis::Evidence& e, std::int64_t ns,
                        const TimeZone& tz = TimeZone::utc()) {
  if (e.absolute_time) {
    if (tz.is_utc()) return tz.format(ns);
    return fmt::format("{} = {} UTC", tz.format(ns), TimeZone::utc().format_clock(ns, true));
  }
  if (e.inventory.first_ns)
    return fmt::format("+{:.3f} s", static_cast<double>(ns - *e.inventory.first_ns) / 1e9);
  return format_seconds(ns, 3);
}

}  // namespace bmslink::report::detail
