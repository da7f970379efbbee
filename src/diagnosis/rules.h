// The capture rules, one function per cause, grouped by layer in rules_<layer>.cc. Each reads
// Evidence (and what earlier rules concluded, through Findings::has) and adds at most one finding.
// diagnose_capture() runs them in the order below: a later rule may defer to an earlier fault
// (errors explained by a bit-rate mismatch are not also "bus errors").
#pragma once

#include <string>
#include <vector>

#include "bmslink/analysis/evidence.h"
#include "bmslink/diagnosis/findings.h"

namespace bmslink::diagnosis::detail {

class Findings {
 public:
  Finding& add(Cause cause, Severity severity, double score, std::string title, std::string fix);
  // A fault of this cause was found.
  bool has(Cause cause) const;
  const std::vector<Finding>& all() const { return out_; }
  std::vector<Finding> take() { return std::move(out_); }

 private:
  std::vector<Finding> out_;
};

using analysis::Evidence;

// Layer 1: configuration.
void rule_bitrate_mismatch(const Evidence& e, Findings& f);
void rule_bms_silent(const Evidence& e, Findings& f);
void rule_inverter_protocol_mismatch(const Evidence& e, Findings& f);
void rule_limits_ignored(const Evidence& e, Findings& f);
void rule_can_id_conflict(const Evidence& e, Findings& f);
// Layer 2: physical connections.
void rule_no_ack(const Evidence& e, Findings& f);
void rule_bus_errors(const Evidence& e, Findings& f);
// Layer 4: electrical environment.
void rule_environment_patterns(const Evidence& e, Findings& f);  // EMI and thermal/time together
void rule_intermittent_dropouts(const Evidence& e, Findings& f);
// Layer 5: protocol and firmware.
void rule_unknown_protocol(const Evidence& e, Findings& f);
void rule_endianness_mismatch(const Evidence& e, Findings& f);
void rule_scaling_mismatch(const Evidence& e, Findings& f);
void rule_invalid_values(const Evidence& e, Findings& f);
void rule_missing_required_frames(const Evidence& e, Findings& f);
// No layer: the link works, the battery refuses.
void rule_bms_protection_active(const Evidence& e, Findings& f);
// Added when no fault or warning was found.
Finding healthy_finding(const Evidence& e);

// Helpers shared by the rule files.
std::string hex(std::uint32_t key);
std::vector<std::string> hex_all(const std::vector<std::uint32_t>& keys, std::size_t max = 12);
std::string seconds(std::int64_t ns);
// Long enough to expect several BMS cycles and inverter answers (1 s each).
bool long_enough(const Evidence& e);
constexpr double kJudgeMinSeconds = 10.0;
constexpr std::uint64_t kJudgeMinCycles = 5;
bool too_short_to_judge(const Evidence& e);
void rule_capture_too_short(const Evidence& e, Findings& f);
void rule_timestamps_backwards(const Evidence& e, Findings& f);

}  // namespace bmslink::diagnosis::detail
