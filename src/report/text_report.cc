// The analyze text for a terminal: capture, protocol, uptime, findings with evidence and fix,
// then the per-id table.

#include <algorithm>
#include <cctype>
#include <iterator>

#include "bmslink/report/analysis_report.h"
#include "report/render_util.h"

namespace bmslink::report {

using namespace detail;

namespace {

// "40 min 7 s", "2 h 5 min", "12.5 s".
std::string duration_words(std::int64_t ns) {
  const double s = static_cast<double>(ns) / 1e9;
  if (s < 60) return fmt::format("{:.1f} s", s);
  const auto whole = static_cast<std::int64_t>(s);
  if (whole < 3600) return fmt::format("{} min {} s", whole / 60, whole % 60);
  return fmt::format("{} h {} min", whole / 3600, whole / 60 % 60);
}

}  // namespace

std::string analysis_text(const CaptureReport& r, const RenderOptions& options) {
  const TimeZone& tz = options.tz;
  std::string out;
  auto it = std::back_inserter(out);
  const auto& e = r.run.evidence;
  const auto& inv = e.inventory;
  const auto& protocol = e.protocol;
  fmt::format_to(it, "{}: {} ({})\n", r.run.file, capture::format_name(r.run.format),
                 r.run.variant);
  std::string span = "(no timestamps)";
  if (const auto d = inv.duration_s()) {
    span = fmt::format("over {:.1f} s of {} time", *d, time_kind_name(inv.time_kind));
    if (e.absolute_time && inv.first_ns) span += ", from " + when(e, *inv.first_ns, tz);
  }
  fmt::format_to(it,
                 "  {} frames {}: {} data, {} remote, {} error, {} CAN FD, {} with 29-bit ids\n",
                 inv.frames, span, inv.data_frames, inv.remote_frames, inv.error_frames,
                 inv.fd_frames, inv.extended_frames);
  if (r.run.stats.junk > 0)
    fmt::format_to(it, "  {} line(s) before the first frame were not CAN frames; skipped\n",
                   r.run.stats.junk);
  if (r.run.stats.malformed > 0)
    fmt::format_to(it, "  {} malformed line(s) skipped\n", r.run.stats.malformed);
  fmt::format_to(
      it, "  protocol: {}{}{} (confidence {:.2f}){}\n", protocol.family,
      protocol.variant.empty() ? "" : " / " + protocol.variant,
      protocol.manufacturer.empty() ? ""
                                    : fmt::format(", manufacturer \"{}\"", protocol.manufacturer),
      protocol.confidence, protocol.inverter.empty() ? "" : ", inverter " + protocol.inverter);
  if (!e.uptime.share && !e.uptime.not_judged.empty())
    fmt::format_to(it, "  uptime: not judged: {}\n", e.uptime.not_judged);
  if (e.uptime.share) {
    std::string set;
    for (auto id : e.uptime.set) set += (set.empty() ? "" : " ") + analysis::key_hex(id);
    fmt::format_to(it,
                   "  uptime: complete BMS set ({}) in {:.2f} % of {} s; {} dropout(s) longer "
                   "than the {:.0f} s timeout; longest silence {:.1f} s\n",
                   set, *e.uptime.share * 100, e.uptime.seconds, e.uptime.dropout_count,
                   static_cast<double>(e.uptime.timeout_ns) / 1e9,
                   static_cast<double>(e.uptime.longest_outage_ns) / 1e9);
  }
  if (!e.file_gaps.empty()) {
    fmt::format_to(it, "  time between the files ({}):\n", e.file_gaps.size());
    std::size_t shown = 0;
    for (const auto& g : e.file_gaps) {
      if (++shown > 10) {
        fmt::format_to(it, "    ... and {} more (--json lists them all)\n",
                       e.file_gaps.size() - 10);
        break;
      }
      fmt::format_to(it, "    {} for {}: {} (after {}, before {})\n", tz.format(g.start_ns),
                     duration_words(g.length_ns),
                     g.recorded ? "the logger ran, the bus was silent"
                                : "not recorded, not counted as a BMS dropout",
                     g.before, g.after);
    }
  }
  if (e.bus.bus_load) {
    fmt::format_to(it,
                   "  bus load at {} kbit/s: mean {:.1f} %, busiest second {:.1f} %; {:.2f} error "
                   "frames/min\n",
                   e.bus.bitrate_bps / 1000, e.bus.mean_bus_load.value_or(0) * 100,
                   *e.bus.bus_load * 100, e.bus.errors_per_minute);
  }

  fmt::format_to(it, "\n  findings, most likely first:\n");
  int n = 1;
  for (const auto& f : r.findings) {
    std::string sev(diagnosis::severity_name(f.severity));
    std::transform(sev.begin(), sev.end(), sev.begin(),
                   [](char c) { return static_cast<char>(std::toupper(c)); });
    fmt::format_to(it, "  {}. {:<7} {}  {}: {}\n", n++, sev, layer_text(f),
                   diagnosis::cause_id(f.cause), f.title);
    for (const auto& item : f.evidence) {
      fmt::format_to(it, "       - {}{}\n", item.text,
                     item.at_ns ? fmt::format(" (at {})", when(e, *item.at_ns, tz)) : "");
    }
    fmt::format_to(it, "       fix: {}\n", f.fix);
  }

  if (!e.signals.empty()) {
    // Value columns wide enough for a value-table name ("not supported").
    fmt::format_to(it, "\n  {:<36} {:>6} {:>13} {:>13} {:>13}  {}\n", "signal", "id", "min", "last",
                   "max", "unit");
    for (const auto& s : e.signals) {
      const std::string name = signal_label(e.signals, s);
      if (s.unit == "ascii") {
        fmt::format_to(it, "  {:<36} {:>6} {:>41}\n", name, analysis::key_hex(s.key),
                       fmt::format("\"{}\"", s.text));
      } else {
        fmt::format_to(it, "  {:<36} {:>6} {:>13} {:>13} {:>13}  {}\n", name,
                       analysis::key_hex(s.key), value_text(s.min, s.min_label),
                       value_text(s.last, s.last_label), value_text(s.max, s.max_label), s.unit);
      }
    }
  }

  fmt::format_to(it, "\n  {:<12} {:>8} {:>11} {:>10} {:>11} {:>6} {:>8}\n", "id", "frames",
                 "period ms", "jitter ms", "max gap ms", "len", "changes");
  for (const auto& s : inv.ids) {
    const std::string len = s.min_len == s.max_len ? fmt::format("{}", s.min_len)
                                                   : fmt::format("{}-{}", s.min_len, s.max_len);
    fmt::format_to(it, "  {:<12} {:>8} {:>11} {:>10} {:>11} {:>6} {:>8}\n",
                   analysis::key_hex(s.extended ? (s.id | can::kEffFlag) : s.id), s.count,
                   period_text(s), opt_ms(s.jitter_ms, 2), opt_ms(s.max_gap_ms), len,
                   s.payload_changes);
  }
  if (inv.ids_beyond_cap > 0)
    fmt::format_to(it, "  ... and {} frames of further ids\n", inv.ids_beyond_cap);
  bool clustered = false;
  for (const auto& s : inv.ids) clustered |= s.per_cycle > 1;
  if (clustered)
    fmt::format_to(it,
                   "  (Nx): the id comes N times per cycle (a second sender or repeats); the "
                   "period is the cycle\n");
  if (inv.talkers.empty()) {
    if (!e.timed)
      fmt::format_to(it,
                     "\n  talkers: not grouped (ids are grouped by their timing; this "
                     "capture has none)\n");
    if (!inv.errors.empty()) {
      fmt::format_to(it, "\n  error frames by kind:\n");
      for (const auto& [kind, count] : inv.errors)
        fmt::format_to(it, "    {:<40} {}\n", kind, count);
    }
    return out;
  }
  fmt::format_to(it, "\n  talkers (ids that leave the bus together in bursts):\n");
  char label = 'A';
  for (const auto& t : inv.talkers) {
    std::string members;
    for (auto k : t.ids) members += (members.empty() ? "" : " ") + analysis::key_hex(k);
    std::string timing;
    if (t.period_ms) timing += fmt::format(", every {:.0f} ms", *t.period_ms);
    if (t.burst_span_ms) timing += fmt::format(", burst {:.1f} ms", *t.burst_span_ms);
    fmt::format_to(it, "    {}: {}{}\n", label, members, timing);
    label = label == 'Z' ? 'Z' : static_cast<char>(label + 1);
  }
  if (!inv.errors.empty()) {
    fmt::format_to(it, "\n  error frames by kind:\n");
    for (const auto& [kind, count] : inv.errors) fmt::format_to(it, "    {:<40} {}\n", kind, count);
  }
  return out;
}

}  // namespace bmslink::report
