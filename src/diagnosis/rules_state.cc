// No layer: the link works and the battery says why it refuses; or nothing is wrong.

#include <fmt/format.h>

#include "diagnosis/rules.h"

namespace bmslink::diagnosis::detail {

using analysis::StateLevel;

void rule_bms_protection_active(const Evidence& e, Findings& r) {
  if (e.state.active.empty()) return;
  bool refusing = false;
  for (const auto& a : e.state.active) {
    if (a.level == StateLevel::kProtection || a.level == StateLevel::kDisabled ||
        (a.level == StateLevel::kAlarm && a.key == 0x35A))
      refusing = true;
  }
  // The BMS refused, but the inverter charged anyway: the protocol-setting finding says so, and
  // "the inverter resumes on its own" would be wrong. The refusal stays as a warning beside it.
  bool ignored = false;
  for (const auto& b : e.limit_following.breaches)
    ignored |= b.kind == analysis::LimitBreachKind::kChargeWhileDisabled;
  ignored = ignored && r.has(Cause::kInverterProtocolMismatch);
  if (ignored) refusing = false;
  auto& f = r.add(Cause::kBmsProtectionActive, refusing ? Severity::kFault : Severity::kWarning,
                  refusing ? 0.7 : 0.35,
                  ignored    ? "The BMS disabled charging at times; the inverter charged anyway"
                  : refusing ? "Communication works; the BMS reports a protection and refuses"
                             : "Communication works; the BMS reports alarms or requests",
                  ignored ? std::string("The BMS's refusal is right to send; that the inverter "
                                        "ignored it is the protocol-setting finding above. Fix "
                                        "that first, then read the BMS's alarm in its app.")
                          : std::string("Not a link fault: read the BMS's alarm (cell voltage, "
                                        "temperature, current) in its app or display, fix that "
                                        "condition (charge a flat pack, let it cool or warm, "
                                        "reduce current) and the inverter resumes on its own."));
  for (std::size_t i = 0; i < e.state.active.size() && i < 8; ++i) {
    const auto& a = e.state.active[i];
    f.evidence.push_back({fmt::format("{} {} ({}) in {} frames", hex(a.key), a.signal,
                                      analysis::state_level_name(a.level), a.frames),
                          a.first_ns,
                          {hex(a.key)},
                          a.frames});
  }
}

// Too little to call a system healthy: no timestamps (a paste), under 10 s, or under 5 BMS
// cycles. Periods, dropouts, uptime, bus load and layer-4 patterns need time.
bool too_short_to_judge(const Evidence& e) {
  // Cycles count only where the BMS talks: a long capture of a silent BMS is long enough to say so.
  return !e.timed || e.duration_s < kJudgeMinSeconds ||
         (e.timing.bms_frames > 0 && e.bursts_seen < kJudgeMinCycles);
}

void rule_capture_too_short(const Evidence& e, Findings& r) {
  if (!too_short_to_judge(e)) return;
  auto& f = r.add(Cause::kCaptureTooShort, Severity::kInfo, 0.3,
                  e.timed ? "Too short to judge the link"
                          : "No timestamps: the link cannot be judged from this capture",
                  "Capture at least 60 s with timestamps (candump -l, or the adapter's log "
                  "with time) to judge periods, dropouts and uptime; 24 h to verify a fix.");
  if (!e.timed) {
    f.evidence.push_back({fmt::format("{} of {} frames carry no timestamp: periods, dropouts, "
                                      "uptime, bus load and talkers cannot be measured",
                                      e.inventory.untimed_frames, e.inventory.frames),
                          std::nullopt,
                          {},
                          e.inventory.untimed_frames});
  } else {
    f.evidence.push_back(
        {fmt::format("{:.1f} s and {} BMS cycle(s) (at least {:.0f} s and {} cycles "
                     "are needed)",
                     e.duration_s, e.bursts_seen, kJudgeMinSeconds, kJudgeMinCycles),
         std::nullopt,
         {},
         e.bursts_seen});
  }
}

void rule_timestamps_backwards(const Evidence& e, Findings& r) {
  const auto& inv = e.inventory;
  if (inv.backward_steps == 0) return;
  auto& f = r.add(Cause::kTimestampsBackwards, Severity::kInfo, 0.3,
                  "Timestamps run backwards: joined or re-sorted captures",
                  "Analyse each capture on its own, or join them in time order (sort by "
                  "timestamp); periods and gaps are measured only within each piece here.");
  f.evidence.push_back(
      {fmt::format("time steps back {} time(s), by up to {:.3f} s", inv.backward_steps,
                   static_cast<double>(inv.largest_backward_ns) / 1e9),
       inv.first_backward_ns,
       {},
       inv.backward_steps});
}

Finding healthy_finding(const Evidence& e) {
  Finding h;
  h.cause = Cause::kHealthy;
  h.severity = Severity::kInfo;
  h.score = 1.0;
  h.title = "Nothing wrong found";
  h.fix =
      "No action needed. To verify a fix, capture 24 h: the BMS set should be complete in "
      "100 % of seconds with no error frames.";
  h.evidence.push_back(
      {fmt::format("{} frames, {} error frames", e.inventory.frames, e.bus.error_frames),
       std::nullopt,
       {},
       e.inventory.frames});
  if (e.uptime.share)
    h.evidence.push_back(
        {fmt::format("complete BMS set in {:.2f} % of seconds", *e.uptime.share * 100),
         std::nullopt,
         {},
         e.uptime.complete_seconds});
  return h;
}

}  // namespace bmslink::diagnosis::detail
