// Layer 5 (protocol and firmware): a protocol the inverter does not speak, byte order, scaling,
// invalid values and missing frames.

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "diagnosis/rules.h"

namespace bmslink::diagnosis::detail {

using analysis::PlausibilityIssue;
using analysis::PlausibilityKind;

void rule_unknown_protocol(const Evidence& e, Findings& r) {
  const auto& t = e.timing;
  if (!(e.inventory.data_frames > 0 && t.bms_frames == 0 && t.other_frames > 0) ||
      r.has(Cause::kBitrateMismatch))
    return;
  const auto& p = e.protocol;
  const bool other_family = p.family != "unknown" && p.family != "pylon-lv" && !p.family.empty();
  auto& f =
      r.add(Cause::kUnknownProtocol, Severity::kFault, other_family ? 0.85 : 0.8,
            other_family ? fmt::format("The battery speaks {}, not the Pylon LV family", p.family)
                         : std::string("The traffic is not a known battery protocol"),
            "Select the battery's own protocol on the inverter if it supports it, or "
            "switch the BMS to its Pylontech/inverter CAN protocol (BMS app or DIP "
            "switches); check the compatibility list of both makers.");
  f.evidence.push_back({fmt::format("{} frames on ids outside the BMS and inverter sets: {}",
                                    t.other_frames, fmt::join(hex_all(t.other_ids, 8), " ")),
                        std::nullopt, hex_all(t.other_ids), t.other_frames});
  for (const auto& why : p.reasons) f.evidence.push_back({why, std::nullopt, {}, std::nullopt});
}

void rule_endianness_mismatch(const Evidence& e, Findings& r) {
  for (const auto& p : e.plausibility) {
    if (p.kind != PlausibilityKind::kEndianness) continue;
    auto& f = r.add(Cause::kEndiannessMismatch, Severity::kFault, 0.84,
                    "Values are plausible only read big-endian",
                    "The BMS (or its emulator) sends multi-byte values high byte first; Pylon LV, "
                    "SMA and Victron frames are little-endian. Update the BMS/bridge firmware or "
                    "fix its byte order.");
    f.evidence.push_back({p.detail, std::nullopt, {p.subject}, std::nullopt});
    return;
  }
}

void rule_scaling_mismatch(const Evidence& e, Findings& r) {
  for (const auto& p : e.plausibility) {
    if (p.kind != PlausibilityKind::kScaling) continue;
    auto& f = r.add(Cause::kScalingMismatch, Severity::kFault, 0.82,
                    "Values are plausible only at another scale",
                    "The BMS uses a different resolution than the protocol (0.1 V for limits, "
                    "0.01 V for pack voltage): fix the emulator/firmware scaling.");
    f.evidence.push_back({p.detail, std::nullopt, {p.subject}, std::nullopt});
    return;
  }
}

void rule_invalid_values(const Evidence& e, Findings& r) {
  std::vector<const PlausibilityIssue*> severe, mild;
  for (const auto& p : e.plausibility) {
    if (p.kind != PlausibilityKind::kInvalid) continue;
    (p.severe ? severe : mild).push_back(&p);
  }
  if (severe.empty() && mild.empty()) return;
  auto& f = r.add(Cause::kInvalidValues, severe.empty() ? Severity::kWarning : Severity::kFault,
                  severe.empty() ? 0.4 : 0.72,
                  severe.empty() ? "Implausible values in the BMS frames"
                                 : "The BMS sends invalid limits or values",
                  "Check the BMS settings (cell count, voltage limits) and update the BMS or "
                  "emulator firmware; inverters ignore or fault on values like these.");
  for (const auto* p : severe) f.evidence.push_back({p->detail, std::nullopt, {p->subject}, {}});
  for (const auto* p : mild) f.evidence.push_back({p->detail, std::nullopt, {p->subject}, {}});
}

void rule_missing_required_frames(const Evidence& e, Findings& r) {
  std::vector<const PlausibilityIssue*> missing;
  bool severe = false;
  for (const auto& p : e.plausibility) {
    if (p.kind != PlausibilityKind::kMissing) continue;
    missing.push_back(&p);
    severe |= p.severe;
  }
  if (missing.empty() || e.timing.bms_frames == 0) return;
  auto& f =
      r.add(Cause::kMissingRequiredFrames, severe ? Severity::kFault : Severity::kWarning,
            severe ? 0.66 : 0.3,
            severe ? "The BMS does not send the protocol's required frames"
                   : "Required frames not in this excerpt",
            e.uptime.set.empty()
                ? std::string("Select the full protocol in the BMS or update the emulator; "
                              "capture longer if this was a partial excerpt.")
                : fmt::format("Select the full protocol in the BMS ({} requires {}) or "
                              "update the emulator; capture longer if this was a partial "
                              "excerpt.",
                              e.protocol.variant.empty() ? e.protocol.family : e.protocol.variant,
                              fmt::join(hex_all(e.uptime.set), " ")));
  for (const auto* p : missing) f.evidence.push_back({p->detail, std::nullopt, {p->subject}, {}});
}

}  // namespace bmslink::diagnosis::detail
