// The analyze JSON object: the contract of docs/json.md (keys are only ever added).

#include <algorithm>
#include <cmath>

#include "bmslink/report/analysis_report.h"

#include "bmslink/diagnosis/serialize.h"
#include "report/render_util.h"

namespace bmslink::report {
namespace {

using namespace detail;

json summary_json(const CaptureReport& r, const RenderOptions& options) {
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
  // Nothing wrong found, but too little to judge: not "healthy".
  if (verdict == "healthy" &&
      std::any_of(r.findings.begin(), r.findings.end(), [](const diagnosis::Finding& f) {
        return f.cause == diagnosis::Cause::kCaptureTooShort;
      }))
    verdict = "inconclusive";
  json uptime = {{"share", up.share ? json(round_to(*up.share, 1e-4)) : json(nullptr)},
                 {"seconds", up.seconds},
                 {"complete_seconds", up.complete_seconds},
                 {"set", json::array()},
                 {"timeout_s", static_cast<double>(up.timeout_ns) / 1e9},
                 {"dropouts", up.dropout_count},
                 {"longest_outage_s", static_cast<double>(up.longest_outage_ns) / 1e9},
                 {"not_judged", up.not_judged.empty() ? json(nullptr) : json(up.not_judged)}};
  for (auto id : up.set) uptime["set"].push_back(analysis::key_hex(id));
  // Several files as one capture: the time between files no file covers, and whether the
  // logger ran then (a silence of the bus) or it was not recorded.
  json file_gaps = json::array();
  for (const auto& g : e.file_gaps) {
    file_gaps.push_back({{"start_utc", iso_utc(g.start_ns)},
                         {"length_s", static_cast<double>(g.length_ns) / 1e9},
                         {"before", g.before},
                         {"after", g.after},
                         {"recorded", g.recorded}});
  }
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
      {"start_local", e.absolute_time && e.inventory.first_ns
                          ? json(options.tz.format(*e.inventory.first_ns))
                          : json(nullptr)},
      {"time_zone", options.tz.name()},
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
      {"bitrate_bps", e.bus.bitrate_bps},
      {"uptime", uptime},
      {"file_gaps", file_gaps},
      {"verdict", verdict},
      {"top_cause", diagnosis::cause_id(top.cause)},
      {"threads", r.run.threads_used}};
}

// The findings as diagnosis serialises them everywhere (the store keeps the same), with the
// labels a reader wants added: the layer's name, whether it is a note, the time in seconds, the
// score rounded.
json findings_json(const CaptureReport& r) {
  json out = diagnosis::findings_to_json(r.findings);
  for (std::size_t i = 0; i < r.findings.size() && i < out.size(); ++i) {
    const auto& f = r.findings[i];
    auto& j = out[i];
    j["layer_name"] = f.layer ? json(std::string(diagnosis::layer_name(*f.layer))) : json(nullptr);
    j["note"] = diagnosis::is_note(f.cause);
    j["score"] = round_to(f.score, 0.01);
    for (std::size_t k = 0; k < f.evidence.size() && k < j["evidence"].size(); ++k) {
      const auto& at = f.evidence[k].at_ns;
      j["evidence"][k]["t"] = at ? json(static_cast<double>(*at) / 1e9) : json(nullptr);
    }
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
      if (!s.min_label.empty() || !s.last_label.empty() || !s.max_label.empty()) {
        one["min_label"] = opt_str(s.min_label);
        one["last_label"] = opt_str(s.last_label);
        one["max_label"] = opt_str(s.max_label);
      }
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

namespace {

// The per-minute series the web console plots: start of each bin (seconds, as `t` elsewhere),
// frames, error frames, the BMS's values and limits, and which tracked ids were present.
json timeline_json(const analysis::Evidence& e) {
  json bins = json::array();
  std::uint64_t seen = 0;
  for (const auto& b : e.minutes) seen |= b.id_mask;
  std::vector<int> bits;
  json ids = json::array();
  for (int bit = 0; bit < 64; ++bit)
    if ((seen >> bit) & 1U) {
      bits.push_back(bit);
      ids.push_back(fmt::format("0x{:03X}", analysis::tracked_bit_id(bit)));
    }
  for (const auto& b : e.minutes) {
    json present = json::array();
    for (int bit : bits) present.push_back(((b.id_mask >> bit) & 1U) != 0);
    bins.push_back({{"t", static_cast<double>(b.start_ns) / 1e9},
                    {"frames", b.frames},
                    {"errors", b.errors},
                    {"voltage_v", opt(b.voltage_v)},
                    {"current_a", opt(b.current_a)},
                    {"temperature_c", opt(b.temperature_c)},
                    {"soc", opt(b.soc)},
                    {"ccl_a", opt(b.ccl_a)},
                    {"dcl_a", opt(b.dcl_a)},
                    {"present", present}});
  }
  return {{"width_s", e.minute_width_s}, {"ids", ids}, {"bins", bins}};
}

}  // namespace

json analysis_json(const CaptureReport& r, const RenderOptions& options) {
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
                   {"payload_changes", s.payload_changes},
                   {"per_cycle", s.per_cycle}});
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
          {"junk_lines", st.junk},
          {"backward_steps", inv.backward_steps},
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
          {"summary", summary_json(r, options)},
          {"findings", findings_json(r)},
          {"signals", signals_json(e)},
          {"timeline", timeline_json(e)}};
}

}  // namespace bmslink::report
