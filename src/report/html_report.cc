// Charts are drawn straight into SVG path strings: a few hundred points per series (the minute
// bins are already bounded), so no plotting library and nothing for the browser to fetch.

#include <algorithm>
#include <cmath>
#include <iterator>

#include "bmslink/core/text.h"
#include "bmslink/report/analysis_report.h"
#include "report/render_util.h"

namespace bmslink::report {

using namespace detail;

namespace {

std::string esc(std::string_view s) { return html_escape(s); }

// Charts are drawn at about the size they show on a phone (360 units wide, text 15 units), so
// no label ends up under 12 px on a 375 px screen; on a laptop they grow to at most 480 px.
constexpr double kW = 360;
constexpr double kLeft = 50, kRight = 10, kTop = 24, kBottom = 36;
constexpr double kH = 184;
constexpr double kPlotW = kW - kLeft - kRight, kPlotH = kH - kTop - kBottom;

std::string num(double v) {
  const double a = std::fabs(v);
  if (a >= 100 || v == std::round(v)) return fmt::format("{:.0f}", v);
  if (a >= 10) return fmt::format("{:.1f}", v);
  return fmt::format("{:.2f}", v);
}

// Round tick steps for a time axis, in seconds.
constexpr std::int64_t kTimeSteps[] = {60,   120,   300,   600,   900,   1800,   3600,
                                       7200, 10800, 21600, 43200, 86400, 172800, 604800};

struct Axis {
  std::int64_t t0 = 0, t1 = 1;  // ns
  double x(std::int64_t t) const {
    return kLeft + static_cast<double>(t - t0) / static_cast<double>(t1 - t0) * kPlotW;
  }
};

// Ticks and labels of a time axis: clock times in the chosen zone for absolute captures, "+N
// min" for relative ones; at most 4 ticks so labels never collide at phone width.
std::string time_ticks(const analysis::Evidence& e, const Axis& ax, const TimeZone& tz) {
  const double span_s = static_cast<double>(ax.t1 - ax.t0) / 1e9;
  std::int64_t step = kTimeSteps[std::size(kTimeSteps) - 1];
  for (auto st : kTimeSteps) {
    if (span_s / static_cast<double>(st) <= 4.0) {
      step = st;
      break;
    }
  }
  std::string out;
  const bool absolute = e.absolute_time;
  const std::int64_t off = absolute ? tz.offset_s(ax.t0) : 0;
  const std::int64_t origin_s = absolute ? 0 : ax.t0 / 1'000'000'000;
  // First tick: the next multiple of the step in local time.
  const std::int64_t local0 = ax.t0 / 1'000'000'000 + off - origin_s;
  std::int64_t tick = (local0 / step + (local0 % step != 0 ? 1 : 0)) * step;
  for (int n = 0; n < 6; ++n, tick += step) {
    const std::int64_t ns = (tick - off + origin_s) * 1'000'000'000;
    if (ns > ax.t1) break;
    const double x = ax.x(ns);
    std::string label;
    if (!absolute) {
      label = step >= 3600 ? fmt::format("+{} h", tick / 3600) : fmt::format("+{} min", tick / 60);
    } else if (span_s > 86400 * 1.5) {
      label = tz.format(ns, 0).substr(5, 11);  // "11-24 17:00"
    } else {
      label = tz.format_clock(ns);
    }
    // Labels at the right edge end there instead of running off the chart.
    const char* anchor = x > kW - kRight - 22 ? "end" : "middle";
    out += fmt::format(
        "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" class=\"grid\"/>"
        "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"{5}\">{4}</text>",
        x, kTop, kTop + kPlotH + 4, kTop + kPlotH + 19, esc(label), anchor);
  }
  const std::string zone = absolute ? tz.abbreviation(ax.t0) : "from the start";
  out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"axis\">time ({})</text>",
                     kW - kRight, kH - 2, esc(zone));
  return out;
}

// Y ticks at the bottom, middle and top with the unit, and a zero line when zero is in range.
// Round tick values (1, 2, 2.5 or 5 times a power of ten) across [lo, hi], three to five of
// them, with a dashed zero line when zero is in range.
std::string value_ticks(double lo, double hi, const std::string& unit) {
  std::string out;
  auto y = [&](double v) { return kTop + kPlotH - (v - lo) / (hi - lo) * kPlotH; };
  const double raw_step = (hi - lo) / 3.0;
  const double power = std::pow(10.0, std::floor(std::log10(raw_step)));
  double step = power;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    step = m * power;
    if ((hi - lo) / step <= 4.0) break;
  }
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * step; v += step) {
    const double tick = std::fabs(v) < 1e-9 * step ? 0.0 : v;
    out += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" class=\"{5}\"/>"
        "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{6}</text>",
        kLeft, kLeft + kPlotW, y(tick), kLeft - 4, y(tick) + 5,
        tick == 0.0 && lo < 0 ? "zero" : "grid", esc(num(tick)));
  }
  out += fmt::format("<text x=\"2\" y=\"14\" class=\"axis\">{}</text>", esc(unit));
  return out;
}

std::string figure(const std::string& caption, double height, const std::string& body) {
  return fmt::format(
      "<figure><figcaption>{}</figcaption><svg viewBox=\"0 0 {} {}\" role=\"img\" "
      "aria-label=\"{}\">{}</svg></figure>\n",
      esc(caption), kW, height, esc(caption), body);
}

Axis time_axis(const analysis::Evidence& e) {
  Axis ax;
  ax.t0 = e.minutes.front().start_ns;
  ax.t1 = e.minutes.back().start_ns + static_cast<std::int64_t>(e.minute_width_s) * 1'000'000'000;
  if (ax.t1 <= ax.t0) ax.t1 = ax.t0 + 1;
  return ax;
}

// One series over time, with a time axis, value ticks with the unit and a zero line.
std::string line_chart(const analysis::Evidence& e, const TimeZone& tz, const std::string& title,
                       const std::string& unit,
                       const std::optional<double> analysis::MinuteBin::*field,
                       const char* colour) {
  std::vector<std::pair<std::int64_t, double>> pts;
  for (const auto& m : e.minutes) {
    if (const auto& v = m.*field)
      pts.emplace_back(m.start_ns + static_cast<std::int64_t>(e.minute_width_s) * 500'000'000, *v);
  }
  if (pts.size() < 2) return {};
  double lo = pts[0].second, hi = lo;
  for (auto [x, v] : pts) lo = std::min(lo, v), hi = std::max(hi, v);
  if (hi - lo < 1e-9) {
    lo -= 1;
    hi += 1;
  }
  const Axis ax = time_axis(e);
  std::string path;
  for (auto [t, v] : pts) {
    const double py = kTop + kPlotH - (v - lo) / (hi - lo) * kPlotH;
    path += fmt::format("{}{:.1f},{:.1f}", path.empty() ? "M" : " L", ax.x(t), py);
  }
  const std::string body =
      value_ticks(lo, hi, unit) + time_ticks(e, ax, tz) +
      fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\"/>", path,
                  colour);
  return figure(title, kH, body);
}

// The pack current against the BMS's limits (+CCL above, -DCL below): where the line leaves the
// band the inverter is not following the limits.
std::string limit_chart(const analysis::Evidence& e, const TimeZone& tz) {
  std::vector<std::pair<std::int64_t, double>> cur, ccl, dcl;
  const auto mid = static_cast<std::int64_t>(e.minute_width_s) * 500'000'000;
  for (const auto& m : e.minutes) {
    if (m.current_a) cur.emplace_back(m.start_ns + mid, *m.current_a);
    if (m.ccl_a) ccl.emplace_back(m.start_ns + mid, *m.ccl_a);
    if (m.dcl_a) dcl.emplace_back(m.start_ns + mid, -*m.dcl_a);
  }
  if (cur.size() < 2) return {};
  double lo = 0, hi = 0;
  for (const auto* series : {&cur, &ccl, &dcl})
    for (auto [t, v] : *series) lo = std::min(lo, v), hi = std::max(hi, v);
  if (hi - lo < 1e-9) hi = lo + 1;
  const Axis ax = time_axis(e);
  auto path = [&](const std::vector<std::pair<std::int64_t, double>>& pts) {
    std::string p;
    for (auto [t, v] : pts)
      p += fmt::format("{}{:.1f},{:.1f}", p.empty() ? "M" : " L", ax.x(t),
                       kTop + kPlotH - (v - lo) / (hi - lo) * kPlotH);
    return p;
  };
  std::string body = value_ticks(lo, hi, "A") + time_ticks(e, ax, tz);
  if (!ccl.empty())
    body += fmt::format(
        "<path d=\"{}\" fill=\"none\" stroke=\"#b03a2e\" stroke-width=\"1.6\" "
        "stroke-dasharray=\"6 3\"/>",
        path(ccl));
  if (!dcl.empty())
    body += fmt::format(
        "<path d=\"{}\" fill=\"none\" stroke=\"#b35900\" stroke-width=\"1.6\" "
        "stroke-dasharray=\"6 3\"/>",
        path(dcl));
  body += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"#1e7d45\" stroke-width=\"2\"/>",
                      path(cur));
  return figure(
      "Pack current (green, + charging) against the BMS's charge limit (red dashes) "
      "and discharge limit (orange dashes)",
      kH, body);
}

std::string presence_chart(const analysis::Evidence& e, const TimeZone& tz) {
  if (e.minutes.empty()) return {};
  std::uint64_t any = 0;
  for (const auto& m : e.minutes) any |= m.id_mask;
  std::vector<int> bits;
  for (int b = 0; b < 64; ++b)
    if (any & (std::uint64_t{1} << b)) bits.push_back(b);
  if (bits.empty()) return {};
  const double row = 18;
  const double h = static_cast<double>(bits.size()) * row + 40;
  const Axis ax = time_axis(e);
  const double w = kPlotW / static_cast<double>(e.minutes.size());
  std::string body;
  for (std::size_t r = 0; r < bits.size(); ++r) {
    const double y = static_cast<double>(r) * row + 4;
    body += fmt::format("<text x=\"2\" y=\"{:.0f}\">{}</text>", y + 12,
                        analysis::key_hex(analysis::tracked_bit_id(bits[r])));
    std::size_t i = 0;
    while (i < e.minutes.size()) {
      if (!(e.minutes[i].id_mask & (std::uint64_t{1} << bits[r]))) {
        ++i;
        continue;
      }
      std::size_t j = i;
      while (j < e.minutes.size() && (e.minutes[j].id_mask & (std::uint64_t{1} << bits[r]))) ++j;
      body += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.0f}\" width=\"{:.1f}\" height=\"{:.0f}\" fill=\"{}\"/>",
          kLeft + static_cast<double>(i) * w, y, std::max(0.5, static_cast<double>(j - i) * w),
          row - 5, bits[r] >= 40 ? "#b35900" : "#1f5f99");
      i = j;
    }
  }
  // The time axis under the rows.
  const double axis_top = static_cast<double>(bits.size()) * row;
  std::string ticks = time_ticks(e, ax, tz);
  body += fmt::format("<g transform=\"translate(0 {:.0f})\">{}</g>", axis_top - kTop - kPlotH + 4,
                      ticks);
  return figure(fmt::format("Ids present per {} s (blue BMS, orange inverter); gaps are silences",
                            e.minute_width_s),
                h, body);
}

// Bars of error frames per minute against bands of a variable.
std::string rate_bars(const std::vector<std::pair<double, double>>& rb, const std::string& title,
                      const std::string& unit, const std::string& per = "errors/min") {
  if (rb.empty()) return {};
  double top = 0;
  for (auto [a, r] : rb) top = std::max(top, r);
  if (top <= 0) top = 1;
  const double bw = kPlotW / static_cast<double>(rb.size());
  std::string body = value_ticks(0, top, per);
  const std::size_t every = rb.size() > 5 ? 2 : 1;  // labels that fit at phone width
  for (std::size_t i = 0; i < rb.size(); ++i) {
    const double bh = rb[i].second / top * kPlotH;
    const double x = kLeft + static_cast<double>(i) * bw;
    body += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"#b03a2e\"/>",
        x + 1.5, kTop + kPlotH - bh, std::max(1.0, bw - 3), bh);
    if (i % every == 0)
      body += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                          x + bw / 2, kTop + kPlotH + 19, esc(num(rb[i].first)));
  }
  body += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"axis\">{}</text>",
                      kW - kRight, kH - 2, esc(unit));
  return figure(title, kH, body);
}

std::string errors_over_time(const analysis::Evidence& e, const TimeZone& tz) {
  if (e.bus.error_frames == 0 || e.minutes.size() < 2) return {};
  std::uint32_t top = 1;
  for (const auto& m : e.minutes) top = std::max(top, m.errors);
  const Axis ax = time_axis(e);
  const double bw = kPlotW / static_cast<double>(e.minutes.size());
  std::string body = value_ticks(0, top, "errors") + time_ticks(e, ax, tz);
  for (std::size_t i = 0; i < e.minutes.size(); ++i) {
    if (e.minutes[i].errors == 0) continue;
    const double bh = static_cast<double>(e.minutes[i].errors) / top * kPlotH;
    body += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"#b03a2e\"/>",
        ax.x(e.minutes[i].start_ns), kTop + kPlotH - bh, std::max(0.8, bw), bh);
  }
  return figure(fmt::format("Error frames per {} s over time", e.minute_width_s), kH, body);
}

// Error frames by hour of the day in the chosen zone (the analysis counts them by UTC hour).
std::string errors_by_hour(const analysis::Evidence& e, const TimeZone& tz) {
  const auto& by = e.correlation.errors_by_hour;
  if (by.size() != 24 || !e.inventory.first_ns) return {};
  const std::int64_t off_h = tz.offset_s(*e.inventory.first_ns) / 3600;
  std::vector<std::pair<double, double>> local;
  for (int h = 0; h < 24; ++h) {
    const auto utc = static_cast<std::size_t>(((h - off_h) % 24 + 24) % 24);
    local.emplace_back(h, by[utc]);
  }
  return rate_bars(
      local,
      fmt::format("Error frames by hour of the day ({})", tz.abbreviation(*e.inventory.first_ns)),
      "hour", "error frames");
}

// The chart that supports a finding, drawn inside it.
std::string supporting_chart(const diagnosis::Finding& f, const analysis::Evidence& e,
                             const TimeZone& tz) {
  using diagnosis::Cause;
  const auto& c = e.correlation;
  switch (f.cause) {
    case Cause::kEmiPowerCorrelated:
      return rate_bars(c.rate_by_current, "Error frames per minute against |pack current|",
                       "|pack current| (A)");
    case Cause::kThermalOrTimePattern:
      return rate_bars(c.rate_by_temperature, "Error frames per minute against pack temperature",
                       "pack temperature (°C)") +
             errors_by_hour(e, tz);
    case Cause::kIntermittentDropouts:
      return presence_chart(e, tz);
    case Cause::kInverterProtocolMismatch:
      if (!e.limit_following.breaches.empty()) return limit_chart(e, tz);
      return {};
    default:
      return {};
  }
}

// Long signal names break after underscores instead of widening the table past a phone screen.
std::string breakable(const std::string& name) {
  std::string out;
  for (char c : esc(name)) {
    out += c;
    if (c == '_') out += "<wbr>";
  }
  return out;
}

}  // namespace

std::string analysis_html(const std::vector<CaptureReport>& reports, const RenderOptions& options) {
  const TimeZone& tz = options.tz;
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>bmslink capture analysis</title><style>"
      "body{font:16px/1.45 system-ui,sans-serif;max-width:820px;margin:0 auto;padding:8px "
      "12px;color:#111;background:#fff}"
      "h1{font-size:1.35em;margin:.4em 0}h2{font-size:1.15em;border-bottom:1px solid #999;"
      "overflow-wrap:anywhere}h3{font-size:1.05em}"
      ".fault{border-left:6px solid #b03a2e}.warning{border-left:6px solid #b35900}"
      ".info{border-left:6px solid #1f5f99}.finding{padding:.4em .8em;margin:.7em "
      "0;background:#f3f3f3}.finding ul{padding-left:1.1em;margin:.3em 0}"
      ".wrap{overflow-x:auto}table{border-collapse:collapse;font-size:14px}"
      "td,th{padding:3px 6px;text-align:right;vertical-align:top}"
      "td:first-child,th:first-child{text-align:left}tr:nth-child(even){background:#f3f3f3}"
      "svg{width:100%;max-width:480px;height:auto;display:block;font-size:15px;"
      "font-family:system-ui,sans-serif;background:#fafafa}"
      "svg text{fill:#222}svg .axis{fill:#444}svg .grid{stroke:#ddd;stroke-width:1}"
      "svg .zero{stroke:#555;stroke-width:1.2;stroke-dasharray:4 3}"
      "figure{margin:.8em 0}figcaption{font-size:14px;color:#333;margin-bottom:.2em}"
      "small{font-size:13px;color:#333}code{font-size:14px}"
      "@media print{.finding{break-inside:avoid}figure{break-inside:avoid}}</style></head><body>\n"
      "<h1>bmslink capture analysis</h1>\n";
  for (const auto& r : reports) {
    const auto& e = r.run.evidence;
    std::string start;
    if (e.absolute_time && e.inventory.first_ns)
      start = ", from " + when(e, *e.inventory.first_ns, tz);
    out += fmt::format(
        "<h2>{}</h2>\n<p>{} ({}); {} frames{}{}; {} error frames. Protocol: {}{}{}.</p>\n",
        esc(r.run.file), esc(capture::format_name(r.run.format)), esc(r.run.variant),
        e.inventory.frames,
        e.inventory.duration_s() ? fmt::format(" over {:.1f} s", *e.inventory.duration_s()) : "",
        esc(start), e.inventory.error_frames, esc(e.protocol.family),
        e.protocol.variant.empty() ? "" : " / " + esc(e.protocol.variant),
        e.protocol.manufacturer.empty() ? "" : ", " + esc(e.protocol.manufacturer));
    if (e.uptime.share) {
      std::string set;
      for (auto id : e.uptime.set) set += (set.empty() ? "" : " ") + analysis::key_hex(id);
      out += fmt::format(
          "<p>Complete BMS set ({}) in {:.2f} % of seconds; {} dropout(s) over the {:.0f} s "
          "timeout.</p>\n",
          esc(set), *e.uptime.share * 100, e.uptime.dropout_count,
          static_cast<double>(e.uptime.timeout_ns) / 1e9);
    } else if (!e.uptime.not_judged.empty()) {
      out += fmt::format("<p>Complete BMS set: not judged: {}.</p>\n", esc(e.uptime.not_judged));
    }
    out += "<h3>Findings</h3>\n";
    for (const auto& f : r.findings) {
      out += fmt::format("<div class=\"finding {}\"><b>{}</b> · {} · <code>{}</code><br>{}<ul>",
                         diagnosis::severity_name(f.severity),
                         esc(diagnosis::severity_name(f.severity)), esc(layer_text(f)),
                         esc(diagnosis::cause_id(f.cause)), esc(f.title));
      for (const auto& item : f.evidence) {
        out += "<li>" + esc(item.text);
        if (item.at_ns) out += " <small>(at " + esc(when(e, *item.at_ns, tz)) + ")</small>";
        out += "</li>";
      }
      out += "</ul>" + supporting_chart(f, e, tz) + "<i>Fix:</i> " + esc(f.fix) + "</div>\n";
    }
    if (e.minutes.size() >= 2) {
      out += "<h3>Timelines</h3>\n";
      out += line_chart(e, tz, "Pack voltage", "V", &analysis::MinuteBin::voltage_v, "#1f5f99");
      out += line_chart(e, tz, "Pack current (+ charging, − discharging)", "A",
                        &analysis::MinuteBin::current_a, "#1e7d45");
      out += line_chart(e, tz, "Pack temperature", "°C", &analysis::MinuteBin::temperature_c,
                        "#b03a2e");
      out += line_chart(e, tz, "State of charge", "%", &analysis::MinuteBin::soc, "#6c3483");
      out += presence_chart(e, tz);
      out += errors_over_time(e, tz);
    }
    if (!e.signals.empty()) {
      out +=
          "<h3>Signals</h3>\n<div class=\"wrap\"><table><tr><th>signal</th><th>id</th>"
          "<th>min</th><th>last</th><th>max</th></tr>\n";
      for (const auto& s : e.signals) {
        const std::string name = breakable(signal_label(e.signals, s));
        if (s.unit == "ascii") {
          out += fmt::format("<tr><td>{}</td><td>{}</td><td colspan=\"3\">\"{}\"</td></tr>\n", name,
                             analysis::key_hex(s.key), esc(s.text));
        } else {
          const std::string unit = s.unit.empty() ? "" : " " + s.unit;
          auto cell = [&](double v, const std::string& label) {
            return esc(label.empty() ? value_text(v, label) + unit : label);
          };
          out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                             name, analysis::key_hex(s.key), cell(s.min, s.min_label),
                             cell(s.last, s.last_label), cell(s.max, s.max_label));
        }
      }
      out += "</table></div>\n";
    }
  }
  out += "</body></html>\n";
  return out;
}

}  // namespace bmslink::report
