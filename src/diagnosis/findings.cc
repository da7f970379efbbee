// Thresholds here are deliberately conservative: a wrong "fault" sends an installer up a ladder
// for nothing, so a rule fires only when the evidence would convince an engineer reading the
// capture, and says so with numbers.

#include "bmslink/diagnosis/findings.h"

#include <algorithm>

#include <fmt/format.h>

#include "diagnosis/rules.h"

namespace bmslink::diagnosis {
namespace detail {

Finding& Findings::add(Cause cause, Severity severity, double score, std::string title,
                       std::string fix) {
  Finding f;
  f.cause = cause;
  f.layer = cause_layer(cause);
  f.severity = severity;
  f.score = std::clamp(score, 0.0, 1.0);
  f.title = std::move(title);
  f.fix = std::move(fix);
  out_.push_back(std::move(f));
  return out_.back();
}

bool Findings::has(Cause cause) const {
  return std::any_of(out_.begin(), out_.end(), [&](const Finding& f) {
    return f.cause == cause && f.severity == Severity::kFault;
  });
}

std::string hex(std::uint32_t key) { return analysis::key_hex(key); }

std::vector<std::string> hex_all(const std::vector<std::uint32_t>& keys, std::size_t max) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < keys.size() && i < max; ++i) out.push_back(hex(keys[i]));
  return out;
}

std::string seconds(std::int64_t ns) {
  return fmt::format("{:.1f} s", static_cast<double>(ns) / 1e9);
}

bool long_enough(const Evidence& e) { return e.timed && e.duration_s >= 5.0; }

}  // namespace detail

void sort_findings(std::vector<Finding>& out) {
  std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
    if (a.severity != b.severity) return a.severity < b.severity;
    return a.score > b.score;
  });
}

std::vector<Finding> diagnose_capture(const analysis::Evidence& e) {
  using namespace detail;
  Findings r;
  rule_bitrate_mismatch(e, r);
  rule_bms_silent(e, r);
  rule_unknown_protocol(e, r);
  rule_no_ack(e, r);
  rule_inverter_protocol_mismatch(e, r);
  rule_limits_ignored(e, r);
  rule_can_id_conflict(e, r);
  rule_endianness_mismatch(e, r);
  rule_scaling_mismatch(e, r);
  rule_invalid_values(e, r);
  rule_missing_required_frames(e, r);
  rule_environment_patterns(e, r);
  rule_intermittent_dropouts(e, r);
  rule_bus_errors(e, r);
  rule_bms_protection_active(e, r);
  rule_capture_too_short(e, r);
  rule_timestamps_backwards(e, r);
  std::vector<Finding> out = r.take();
  const bool any = std::any_of(out.begin(), out.end(),
                               [](const Finding& f) { return f.severity != Severity::kInfo; });
  // "Healthy" only where there was enough to judge; otherwise the capture_too_short note says so.
  if (!any && !too_short_to_judge(e)) out.insert(out.begin(), healthy_finding(e));
  sort_findings(out);
  return out;
}

}  // namespace bmslink::diagnosis
