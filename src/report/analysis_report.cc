// Charts are drawn straight into SVG path strings: a few hundred points per series (the minute
// bins are already bounded), so no plotting library and nothing for the browser to fetch.

#include "bmslink/report/analysis_report.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iterator>

#include <fmt/format.h>

#include "bmslink/core/time.h"

namespace bmslink::report {
namespace {

using nlohmann::json;

json opt(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }
json opt_str(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }
double round_to(double v, double step) { return std::round(v / step) * step; }

std::string time_kind_name(TimeKind k) {
  return k == TimeKind::kAbsolute ? "absolute" : k == TimeKind::kRelative ? "relative" : "none";
}

std::string opt_ms(const std::optional<double>& v, int decimals = 1) {
  return v ? fmt::format("{:.{}f}", *v, decimals) : "-";
}

std::string layer_text(const std::optional<int>& layer) {
  return layer ? fmt::format("layer {}", *layer) : std::string("state");
}

// "2025-11-24 16:00:32.879 UTC" for absolute capture times.
std::string iso_utc(std::int64_t ns) {
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

std::string when(const analysis::Evidence& e, std::int64_t ns) {
  if (e.absolute_time) return iso_utc(ns);
  if (e.inventory.first_ns)
    return fmt::format("+{:.3f} s", static_cast<double>(ns - *e.inventory.first_ns) / 1e9);
  return format_seconds(ns, 3);
}

json summary_json(const CaptureReport& r) {
  const auto& e = r.run.evidence;
  const auto& up = e.uptime;
  const auto& top = r.findings.front();
  std::string verdict = "healthy";
  for (const auto& f : r.findings) {
    if (f.severity == diagnosis::Severity::kFault) {
      verdict = "fault";
      break;
    }
    if (f.severity == diagnosis::Severity::kWarning) verdict = "warning";
  }
  json uptime = {{"share", up.share ? json(round_to(*up.share, 1e-4)) : json(nullptr)},
                 {"seconds", up.seconds},
                 {"complete_seconds", up.complete_seconds},
                 {"set", json::array()},
                 {"timeout_s", static_cast<double>(up.timeout_ns) / 1e9},
                 {"dropouts", up.dropout_count},
                 {"longest_outage_s", static_cast<double>(up.longest_outage_ns) / 1e9}};
  for (auto id : up.set) uptime["set"].push_back(analysis::key_hex(id));
  return {
      {"frames", e.inventory.frames},
      {"data_frames", e.inventory.data_frames},
      {"error_frames", e.inventory.error_frames},
      {"time", time_kind_name(e.inventory.time_kind)},
      {"start", e.absolute_time && e.inventory.first_ns
                    ? json(static_cast<double>(*e.inventory.first_ns) / 1e9)
                    : json(nullptr)},
      {"start_utc", e.absolute_time && e.inventory.first_ns ? json(iso_utc(*e.inventory.first_ns))
                                                            : json(nullptr)},
      {"duration_s", opt(e.inventory.duration_s())},
      {"bms_frames", e.timing.bms_frames},
      {"inverter_frames", e.timing.inverter_frames},
      {"other_frames", e.timing.other_frames},
      {"talking", e.timing.bms_frames > 0 && e.timing.inverter_frames > 0 ? "both"
                  : e.timing.bms_frames > 0                               ? "bms"
                  : e.timing.inverter_frames > 0                          ? "inverter"
                                                                          : "neither"},
      {"errors_per_minute", round_to(e.bus.errors_per_minute, 1e-3)},
      {"peak_errors_per_minute", opt(e.bus.peak_errors_per_minute)},
      {"ack_visible", e.ack.ack_visible},
      {"bus_load_peak", e.bus.bus_load ? json(round_to(*e.bus.bus_load, 1e-4)) : json(nullptr)},
      {"bus_load_mean",
       e.bus.mean_bus_load ? json(round_to(*e.bus.mean_bus_load, 1e-4)) : json(nullptr)},
      {"uptime", uptime},
      {"verdict", verdict},
      {"top_cause", top.cause},
      {"threads", r.run.threads_used}};
}

json findings_json(const CaptureReport& r) {
  json out = json::array();
  for (const auto& f : r.findings) {
    json ev = json::array();
    for (const auto& item : f.evidence) {
      ev.push_back(
          {{"text", item.text},
           {"t", item.at_ns ? json(static_cast<double>(*item.at_ns) / 1e9) : json(nullptr)},
           {"ids", item.ids},
           {"count", item.count ? json(*item.count) : json(nullptr)}});
    }
    out.push_back({{"cause", f.cause},
                   {"layer", f.layer ? json(*f.layer) : json(nullptr)},
                   {"severity", std::string(diagnosis::severity_name(f.severity))},
                   {"score", round_to(f.score, 0.01)},
                   {"title", f.title},
                   {"evidence", ev},
                   {"fix", f.fix}});
  }
  return out;
}

json signals_json(const analysis::Evidence& e) {
  json out = json::array();
  for (const auto& s : e.signals) {
    json one = {{"name", s.name}, {"id", analysis::key_hex(s.key)}, {"count", s.count}};
    if (s.unit == "ascii") {
      one["text"] = s.text;
    } else {
      one["unit"] = opt_str(s.unit);
      one["min"] = s.min;
      one["last"] = s.last;
      one["max"] = s.max;
    }
    out.push_back(std::move(one));
  }
  return out;
}

}  // namespace

json identification_json(const protocol::Identification& id) {
  return {{"family", id.family},
          {"variant", opt_str(id.variant)},
          {"manufacturer", opt_str(id.manufacturer)},
          {"product", opt_str(id.product)},
          {"inverter", opt_str(id.inverter)},
          {"confidence", std::round(id.confidence * 100.0) / 100.0},
          {"reasons", id.reasons},
          {"ambiguities", id.ambiguities},
          {"protocol", opt_str(id.protocol)}};
}

json analysis_json(const CaptureReport& r) {
  const auto& e = r.run.evidence;
  const auto& inv = e.inventory;
  json ids = json::array();
  for (const auto& s : inv.ids) {
    ids.push_back({{"id", analysis::key_hex(s.extended ? (s.id | can::kEffFlag) : s.id)},
                   {"ext", s.extended},
                   {"count", s.count},
                   {"period_ms", opt(s.period_ms)},
                   {"jitter_ms", opt(s.jitter_ms)},
                   {"max_gap_ms", opt(s.max_gap_ms)},
                   {"min_len", s.min_len},
                   {"max_len", s.max_len},
                   {"payload_changes", s.payload_changes}});
  }
  json talkers = json::array();
  for (const auto& t : inv.talkers) {
    json members = json::array();
    for (auto k : t.ids) members.push_back(analysis::key_hex(k));
    talkers.push_back({{"ids", members},
                       {"period_ms", opt(t.period_ms)},
                       {"burst_span_ms", opt(t.burst_span_ms)}});
  }
  const auto& st = r.run.stats;
  return {{"file", r.run.file},
          {"format", std::string(capture::format_name(r.run.format))},
          {"variant", r.run.variant},
          {"lines", st.lines},
          {"malformed", st.malformed},
          {"frames", inv.frames},
          {"data_frames", inv.data_frames},
          {"remote_frames", inv.remote_frames},
          {"error_frames", inv.error_frames},
          {"fd_frames", inv.fd_frames},
          {"extended_frames", inv.extended_frames},
          {"untimed_frames", inv.untimed_frames},
          {"time", time_kind_name(inv.time_kind)},
          {"duration_s", opt(inv.duration_s())},
          {"errors", inv.errors},
          {"channels", inv.channels},
          {"ids", ids},
          {"talkers", talkers},
          {"protocol", identification_json(e.protocol)},
          {"summary", summary_json(r)},
          {"findings", findings_json(r)},
          {"signals", signals_json(e)}};
}

std::string analysis_text(const CaptureReport& r) {
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
  }
  fmt::format_to(it,
                 "  {} frames {}: {} data, {} remote, {} error, {} CAN FD, {} with 29-bit ids\n",
                 inv.frames, span, inv.data_frames, inv.remote_frames, inv.error_frames,
                 inv.fd_frames, inv.extended_frames);
  if (r.run.stats.malformed > 0)
    fmt::format_to(it, "  {} malformed line(s) skipped\n", r.run.stats.malformed);
  fmt::format_to(
      it, "  protocol: {}{}{} (confidence {:.2f}){}\n", protocol.family,
      protocol.variant.empty() ? "" : " / " + protocol.variant,
      protocol.manufacturer.empty() ? ""
                                    : fmt::format(", manufacturer \"{}\"", protocol.manufacturer),
      protocol.confidence, protocol.inverter.empty() ? "" : ", inverter " + protocol.inverter);
  if (e.uptime.share) {
    fmt::format_to(it,
                   "  uptime: complete BMS set in {:.2f} % of {} s; {} dropout(s) over {:.0f} s; "
                   "longest silence {:.1f} s\n",
                   *e.uptime.share * 100, e.uptime.seconds, e.uptime.dropout_count,
                   static_cast<double>(e.uptime.timeout_ns) / 1e9,
                   static_cast<double>(e.uptime.longest_outage_ns) / 1e9);
  }
  if (e.bus.bus_load) {
    fmt::format_to(it,
                   "  bus load at 500 kbit/s: mean {:.1f} %, busiest second {:.1f} %; {:.2f} error "
                   "frames/min\n",
                   e.bus.mean_bus_load.value_or(0) * 100, *e.bus.bus_load * 100,
                   e.bus.errors_per_minute);
  }

  fmt::format_to(it, "\n  findings, most likely first:\n");
  int n = 1;
  for (const auto& f : r.findings) {
    std::string sev(diagnosis::severity_name(f.severity));
    std::transform(sev.begin(), sev.end(), sev.begin(),
                   [](char c) { return static_cast<char>(std::toupper(c)); });
    fmt::format_to(it, "  {}. {:<7} {:<8} {}: {}\n", n++, sev, layer_text(f.layer), f.cause,
                   f.title);
    for (const auto& item : f.evidence) {
      fmt::format_to(it, "       - {}{}\n", item.text,
                     item.at_ns ? fmt::format(" (at {})", when(e, *item.at_ns)) : "");
    }
    fmt::format_to(it, "       fix: {}\n", f.fix);
  }

  if (!e.signals.empty()) {
    fmt::format_to(it, "\n  {:<36} {:>6} {:>10} {:>10} {:>10}  {}\n", "signal", "id", "min", "last",
                   "max", "unit");
    for (const auto& s : e.signals) {
      if (s.unit == "ascii") {
        fmt::format_to(it, "  {:<36} {:>6} {:>32}\n", s.name, analysis::key_hex(s.key),
                       fmt::format("\"{}\"", s.text));
      } else {
        fmt::format_to(it, "  {:<36} {:>6} {:>10} {:>10} {:>10}  {}\n", s.name,
                       analysis::key_hex(s.key), s.min, s.last, s.max, s.unit);
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
                   opt_ms(s.period_ms), opt_ms(s.jitter_ms, 2), opt_ms(s.max_gap_ms), len,
                   s.payload_changes);
  }
  if (inv.ids_beyond_cap > 0)
    fmt::format_to(it, "  ... and {} frames of further ids\n", inv.ids_beyond_cap);
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

namespace {

std::string esc(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t')
          out += ' ';
        else
          out += c;
    }
  }
  return out;
}

constexpr int kW = 760, kH = 140, kPad = 40;

// One series over the capture's minutes as an SVG polyline with min/max labels.
std::string line_chart(const analysis::Evidence& e, const std::string& title,
                       const std::string& unit,
                       const std::optional<double> analysis::MinuteBin::*field,
                       const char* colour) {
  std::vector<std::pair<double, double>> pts;
  for (std::size_t i = 0; i < e.minutes.size(); ++i) {
    if (const auto& v = e.minutes[i].*field) pts.emplace_back(static_cast<double>(i), *v);
  }
  if (pts.size() < 2) return {};
  double lo = pts[0].second, hi = lo;
  for (auto [x, y] : pts) lo = std::min(lo, y), hi = std::max(hi, y);
  if (hi - lo < 1e-9) hi = lo + 1;
  const double xmax = std::max(1.0, static_cast<double>(e.minutes.size() - 1));
  std::string path;
  for (auto [x, y] : pts) {
    const double px = kPad + x / xmax * (kW - 2 * kPad);
    const double py = kH - 20 - (y - lo) / (hi - lo) * (kH - 40);
    path += fmt::format("{}{:.1f},{:.1f}", path.empty() ? "M" : " L", px, py);
  }
  return fmt::format(
      "<figure><figcaption>{}</figcaption><svg viewBox=\"0 0 {} {}\" role=\"img\" "
      "aria-label=\"{}\"><rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#fafafa\"/>"
      "<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"/>"
      "<text x=\"2\" y=\"24\">{:.1f} {}</text><text x=\"2\" y=\"{}\">{:.1f} "
      "{}</text></svg></figure>\n",
      esc(title), kW, kH, esc(title), kW, kH, path, colour, hi, esc(unit), kH - 20, lo, esc(unit));
}

std::string presence_chart(const analysis::Evidence& e) {
  if (e.minutes.empty()) return {};
  std::uint64_t any = 0;
  for (const auto& m : e.minutes) any |= m.id_mask;
  std::vector<int> bits;
  for (int b = 0; b < 64; ++b)
    if (any & (std::uint64_t{1} << b)) bits.push_back(b);
  if (bits.empty()) return {};
  const int row = 14;
  const int h = static_cast<int>(bits.size()) * row + 10;
  const double w = static_cast<double>(kW - 2 * kPad) / static_cast<double>(e.minutes.size());
  std::string body;
  for (std::size_t r = 0; r < bits.size(); ++r) {
    const auto y = static_cast<int>(r) * row + 4;
    body += fmt::format("<text x=\"2\" y=\"{}\">{}</text>", y + 10,
                        analysis::key_hex(analysis::tracked_bit_id(bits[r])));
    // Merge runs of present minutes into one rectangle.
    std::size_t i = 0;
    while (i < e.minutes.size()) {
      if (!(e.minutes[i].id_mask & (std::uint64_t{1} << bits[r]))) {
        ++i;
        continue;
      }
      std::size_t j = i;
      while (j < e.minutes.size() && (e.minutes[j].id_mask & (std::uint64_t{1} << bits[r]))) ++j;
      body += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"/>",
          kPad + static_cast<double>(i) * w, y, std::max(0.5, static_cast<double>(j - i) * w),
          row - 3, bits[r] >= 40 ? "#d9822b" : "#2b7bb9");
      i = j;
    }
  }
  return fmt::format(
      "<figure><figcaption>Ids present per {} s (blue BMS, orange inverter); gaps are "
      "silences</figcaption><svg viewBox=\"0 0 {} {}\">{}</svg></figure>\n",
      e.minute_width_s, kW, h, body);
}

std::string error_charts(const analysis::Evidence& e) {
  std::string out;
  const auto& rb = e.correlation.rate_by_current;
  if (!rb.empty() && e.bus.error_frames > 0) {
    double top = 0;
    for (auto [a, r] : rb) top = std::max(top, r);
    if (top <= 0) top = 1;
    const double bw = static_cast<double>(kW - 2 * kPad) / static_cast<double>(rb.size());
    std::string bars;
    for (std::size_t i = 0; i < rb.size(); ++i) {
      const double bh = rb[i].second / top * (kH - 40);
      bars += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
          "fill=\"#c0392b\"/><text x=\"{:.1f}\" y=\"{}\">{:.0f} A</text>",
          kPad + static_cast<double>(i) * bw + 2, kH - 20 - bh, bw - 4, bh,
          kPad + static_cast<double>(i) * bw + 4, kH - 5, rb[i].first);
    }
    out += fmt::format(
        "<figure><figcaption>Error frames per minute by |pack current| (top {:.2f}/min)"
        "</figcaption><svg viewBox=\"0 0 {} {}\">{}</svg></figure>\n",
        top, kW, kH, bars);
  }
  if (e.bus.error_frames > 0 && e.minutes.size() >= 2) {
    std::uint32_t top = 1;
    for (const auto& m : e.minutes) top = std::max(top, m.errors);
    const double bw = static_cast<double>(kW - 2 * kPad) / static_cast<double>(e.minutes.size());
    std::string bars;
    for (std::size_t i = 0; i < e.minutes.size(); ++i) {
      if (e.minutes[i].errors == 0) continue;
      const double bh = static_cast<double>(e.minutes[i].errors) / top * (kH - 40);
      bars += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"#c0392b\"/>",
          kPad + static_cast<double>(i) * bw, kH - 20 - bh, std::max(0.8, bw), bh);
    }
    out += fmt::format(
        "<figure><figcaption>Error frames over time (per {} s, peak {})</figcaption>"
        "<svg viewBox=\"0 0 {} {}\">{}</svg></figure>\n",
        e.minute_width_s, top, kW, kH, bars);
  }
  return out;
}

}  // namespace

std::string analysis_html(const std::vector<CaptureReport>& reports) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>bmslink capture analysis</title><style>"
      "body{font-family:system-ui,sans-serif;max-width:820px;margin:1em auto;padding:0 "
      "1em;color:#222}"
      "h1{font-size:1.4em}h2{font-size:1.15em;border-bottom:1px solid #ccc}"
      ".fault{border-left:6px solid #c0392b}.warning{border-left:6px solid #e67e22}"
      ".info{border-left:6px solid #2b7bb9}.finding{padding:.3em .8em;margin:.6em "
      "0;background:#f7f7f7}"
      "table{border-collapse:collapse;font-size:.85em}td,th{padding:2px 8px;text-align:right}"
      "td:first-child,th:first-child{text-align:left}svg{width:100%;height:auto;font-size:10px}"
      "figure{margin:.8em 0}figcaption{font-size:.85em;color:#555}"
      "@media print{.finding{break-inside:avoid}}</style></head><body>\n"
      "<h1>bmslink capture analysis</h1>\n";
  for (const auto& r : reports) {
    const auto& e = r.run.evidence;
    out += fmt::format(
        "<h2>{}</h2>\n<p>{} ({}); {} frames{}; {} error frames. Protocol: {}{}{}.</p>\n",
        esc(r.run.file), esc(capture::format_name(r.run.format)), esc(r.run.variant),
        e.inventory.frames,
        e.inventory.duration_s() ? fmt::format(" over {:.1f} s", *e.inventory.duration_s()) : "",
        e.inventory.error_frames, esc(e.protocol.family),
        e.protocol.variant.empty() ? "" : " / " + esc(e.protocol.variant),
        e.protocol.manufacturer.empty() ? "" : ", " + esc(e.protocol.manufacturer));
    if (e.uptime.share) {
      out += fmt::format(
          "<p>Complete BMS set in {:.2f} % of seconds; {} dropout(s) over the {:.0f} s "
          "timeout.</p>\n",
          *e.uptime.share * 100, e.uptime.dropout_count,
          static_cast<double>(e.uptime.timeout_ns) / 1e9);
    }
    out += "<h3>Findings</h3>\n";
    for (const auto& f : r.findings) {
      out += fmt::format("<div class=\"finding {}\"><b>{}</b> · {} · <code>{}</code><br>{}<ul>",
                         diagnosis::severity_name(f.severity),
                         esc(diagnosis::severity_name(f.severity)), esc(layer_text(f.layer)),
                         esc(f.cause), esc(f.title));
      for (const auto& item : f.evidence) {
        out += "<li>" + esc(item.text);
        if (item.at_ns) out += " <small>(at " + esc(when(e, *item.at_ns)) + ")</small>";
        out += "</li>";
      }
      out += "</ul><i>Fix:</i> " + esc(f.fix) + "</div>\n";
    }
    out += "<h3>Timelines</h3>\n";
    out += line_chart(e, "Pack voltage", "V", &analysis::MinuteBin::voltage_v, "#2b7bb9");
    out += line_chart(e, "Pack current", "A", &analysis::MinuteBin::current_a, "#27ae60");
    out += line_chart(e, "Pack temperature", "°C", &analysis::MinuteBin::temperature_c, "#c0392b");
    out += line_chart(e, "State of charge", "%", &analysis::MinuteBin::soc, "#8e44ad");
    out += presence_chart(e);
    out += error_charts(e);
    if (!e.signals.empty()) {
      out +=
          "<h3>Signals</h3>\n<table><tr><th>signal</th><th>id</th><th>min</th><th>last</th>"
          "<th>max</th><th>unit</th></tr>\n";
      for (const auto& s : e.signals) {
        if (s.unit == "ascii") {
          out +=
              fmt::format("<tr><td>{}</td><td>{}</td><td colspan=\"3\">\"{}\"</td><td></td></tr>\n",
                          esc(s.name), analysis::key_hex(s.key), esc(s.text));
        } else {
          out += fmt::format(
              "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
              esc(s.name), analysis::key_hex(s.key), s.min, s.last, s.max, esc(s.unit));
        }
      }
      out += "</table>\n";
    }
  }
  out += "</body></html>\n";
  return out;
}

}  // namespace bmslink::report
