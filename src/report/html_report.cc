// Charts are drawn straight into SVG path strings: a few hundred points per series (the minute
// bins are already bounded), so no plotting library and nothing for the browser to fetch.

#include <algorithm>
#include <cmath>
#include <iterator>

#include "bmslink/report/analysis_report.h"
#include "report/render_util.h"

namespace bmslink::report {

using namespace detail;

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
                         esc(diagnosis::cause_id(f.cause)), esc(f.title));
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
