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
  auto& f = r.add(Cause::kBmsProtectionActive, refusing ? Severity::kFault : Severity::kWarning,
                  refusing ? 0.7 : 0.35,
                  refusing ? "Communication works; the BMS reports a protection and refuses"
                           : "Communication works; the BMS reports alarms or requests",
                  "Not a link fault: read the BMS's alarm (cell voltage, temperature, current) "
                  "in its app or display, fix that condition (charge a flat pack, let it cool "
                  "or warm, reduce current) and the inverter resumes on its own.");
  for (std::size_t i = 0; i < e.state.active.size() && i < 8; ++i) {
    const auto& a = e.state.active[i];
    f.evidence.push_back({fmt::format("{} {} ({}) in {} frames", hex(a.key), a.signal,
                                      analysis::state_level_name(a.level), a.frames),
                          a.first_ns,
                          {hex(a.key)},
                          a.frames});
  }
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
