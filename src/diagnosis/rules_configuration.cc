// Layer 1 (configuration) as a capture shows it: bit rate, who talks, one id from two senders.

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "diagnosis/rules.h"

namespace bmslink::diagnosis::detail {

// A receiver at the wrong rate sees nothing but stuff/form/bit errors.
void rule_bitrate_mismatch(const Evidence& e, Findings& r) {
  const auto& bus = e.bus;
  const std::uint64_t data = e.inventory.data_frames;
  const bool only_errors = data == 0;
  const bool mostly_violations =
      bus.protocol_violations * 2 >= bus.error_frames && data * 4 < bus.error_frames;
  if (bus.error_frames < 3 || !(only_errors || mostly_violations)) return;
  auto& f = r.add(Cause::kBitrateMismatch, Severity::kFault, only_errors ? 0.97 : 0.85,
                  only_errors ? "Only error frames on the bus: the bit rates do not match"
                              : "Error frames outnumber valid frames: bit rate mismatch likely",
                  "Set the BMS, the inverter and the analyzer to the same bit rate; Pylon LV, "
                  "SMA and Victron BMS-Can use 500 kbit/s (REC/Victron VE.Can and some Emus "
                  "units 250 kbit/s). Power-cycle both after changing it.");
  f.evidence.push_back(
      {fmt::format("{} error frames, {} valid data frames", bus.error_frames, data),
       bus.first_error_ns,
       {},
       bus.error_frames});
  f.evidence.push_back(
      {fmt::format("{} protocol violations (stuff/form/bit)", bus.protocol_violations),
       std::nullopt,
       {},
       bus.protocol_violations});
}

void rule_bms_silent(const Evidence& e, Findings& r) {
  const auto& t = e.timing;
  if (!(t.bms_frames == 0 && t.inverter_frames > 0 && t.other_frames == 0)) return;
  auto& f = r.add(Cause::kBmsSilent, Severity::kFault, 0.92, "The inverter talks, the BMS does not",
                  "Enable the BMS's CAN output (BMS app or DIP switches: CAN, not RS485), plug "
                  "the cable into the battery's CAN port (not RS485 / link port) and check the "
                  "master battery's address.");
  f.evidence.push_back({fmt::format("{} inverter frames ({}), no BMS frame", t.inverter_frames,
                                    fmt::join(hex_all(t.inverter_ids), " ")),
                        std::nullopt, hex_all(t.inverter_ids), t.inverter_frames});
}

// The inverter never answers although the BMS is heard.
void rule_inverter_protocol_mismatch(const Evidence& e, Findings& r) {
  const auto& t = e.timing;
  if (!(t.bms_frames > 0 && t.inverter_frames == 0) || r.has(Cause::kNoAck) ||
      r.has(Cause::kBitrateMismatch))
    return;
  if (long_enough(e)) {
    auto& f =
        r.add(Cause::kInverterProtocolMismatch, Severity::kFault, 0.78,
              "The BMS talks, the inverter never answers (no 0x305)",
              "Set the inverter's battery type to the BMS's CAN protocol (e.g. \"Pylontech CAN\", "
              "not generic lithium or \"LFP-CAN\"), enable BMS communication on the inverter and "
              "restart it.");
    f.evidence.push_back(
        {fmt::format("{} BMS frames over {:.0f} s, no inverter frame", t.bms_frames, e.duration_s),
         e.inventory.first_ns, hex_all(t.bms_ids), t.bms_frames});
    if (!e.ack.ack_visible) {
      f.evidence.push_back(
          {"This capture cannot show whether the inverter acknowledges: if the "
           "adapter was not listen-only it acknowledged the BMS itself",
           std::nullopt,
           {},
           std::nullopt});
    }
    return;
  }
  auto& f =
      r.add(Cause::kNoInverterInExcerpt, Severity::kInfo, 0.2, "No inverter frames in this excerpt",
            "Capture at least 10 s with timestamps to see whether the inverter answers.");
  f.evidence.push_back(
      {e.timed ? fmt::format("{} BMS frames in {:.1f} s (under 5 s)", t.bms_frames, e.duration_s)
               : fmt::format("{} BMS frames without timestamps", t.bms_frames),
       std::nullopt,
       {},
       t.bms_frames});
}

// The field guide: on the wrong protocol setting the inverter "establishes a connection but ignores
// all dynamic limits and operates purely on measured voltage". Seen as pack current beyond the
// BMS's limit (plus tolerance) for longer than an inverter needs to settle.
void rule_limits_ignored(const Evidence& e, Findings& r) {
  using LF = analysis::LimitFollowingEvidence;
  const auto& lf = e.limit_following;
  std::vector<const analysis::LimitBreach*> persistent;
  for (const auto& b : lf.breaches)
    if (b.longest_s >= LF::kPersistS) persistent.push_back(&b);
  if (persistent.empty() || e.timing.inverter_frames == 0) return;
  auto& f = r.add(Cause::kInverterProtocolMismatch, Severity::kFault, 0.8,
                  "The inverter talks but ignores the BMS's current limits",
                  "Set the inverter's battery type to the BMS's CAN protocol (e.g. \"Pylontech "
                  "CAN\"; generic lithium or lead-acid settings run on voltage alone), check the "
                  "inverter's own current limits are not overriding the BMS, restart it, and "
                  "capture again: the pack current must stay within 0x351's limits.");
  for (const auto* b : persistent) {
    std::string what;
    switch (b->kind) {
      case analysis::LimitBreachKind::kChargeOverLimit:
        what = fmt::format("charging at up to {:.1f} A against a charge current limit of {:.1f} A",
                           b->worst_current_a, b->limit_a);
        break;
      case analysis::LimitBreachKind::kDischargeOverLimit:
        what = fmt::format(
            "discharging at up to {:.1f} A against a discharge current limit of {:.1f} A",
            b->worst_current_a, b->limit_a);
        break;
      case analysis::LimitBreachKind::kChargeWhileDisabled:
        what = fmt::format("charging at up to {:.1f} A while 0x35C says charge disabled",
                           b->worst_current_a);
        break;
    }
    const std::string tolerance =
        b->kind == analysis::LimitBreachKind::kChargeWhileDisabled
            ? fmt::format("anything over {:.0f} A counts", LF::kToleranceA)
            : fmt::format("{:.1f} A beyond it; tolerance {:.0f} A or {:.0f} % of the limit",
                          b->worst_current_a - b->limit_a, LF::kToleranceA,
                          LF::kToleranceShare * 100);
    f.evidence.push_back(
        {fmt::format("{} ({}), {} s in all, the longest stretch {} s from the time shown", what,
                     tolerance, b->seconds, b->longest_s),
         b->longest_start_ns,
         {b->kind == analysis::LimitBreachKind::kChargeWhileDisabled ? "0x35C" : "0x351", "0x356"},
         b->seconds});
  }
  f.evidence.push_back({fmt::format("the inverter talks ({} frames), so the link is up: it reads "
                                    "the limits and does not follow them",
                                    e.timing.inverter_frames),
                        std::nullopt, hex_all(e.timing.inverter_ids), e.timing.inverter_frames});
}

void rule_can_id_conflict(const Evidence& e, Findings& r) {
  if (e.conflicts.empty()) return;
  std::vector<std::string> ids;
  for (const auto& c : e.conflicts) ids.push_back(hex(c.key));
  auto& f = r.add(Cause::kCanIdConflict, Severity::kFault, 0.88,
                  fmt::format("{} sent by two transmitters", fmt::join(ids, ", ")),
                  "Two devices use the same ids: give each battery its own address/id base "
                  "(master/slave DIP switches, link cable between packs rather than each pack "
                  "on the inverter bus) or remove the second transmitter.");
  for (const auto& c : e.conflicts) {
    f.evidence.push_back({fmt::format("{} arrives {:.1f}x per cycle, its payload alternating "
                                      "between two streams in {:.0f} % of frames",
                                      hex(c.key), c.rate_ratio, c.alternation * 100),
                          std::nullopt,
                          {hex(c.key)},
                          std::nullopt});
  }
  const auto& first = e.conflicts.front();
  if (first.doubled_ids.size() > e.conflicts.size()) {
    f.evidence.push_back(
        {fmt::format("{} ids arrive twice per cycle ({}): the second sender repeats the whole "
                     "set, most with the same payload",
                     first.doubled_ids.size(), fmt::join(hex_all(first.doubled_ids), " ")),
         std::nullopt, hex_all(first.doubled_ids), first.doubled_ids.size()});
  }
  std::uint64_t errors = first.doubled_errors_after;
  if (first.doubled_ids.empty())
    for (const auto& c : e.conflicts) errors += c.errors_after;
  if (errors > 0) {
    f.evidence.push_back(
        {fmt::format("{} of the capture's {} error frames come right behind these ids: the two "
                     "senders collide",
                     errors, e.bus.error_frames),
         std::nullopt, first.doubled_ids.empty() ? ids : hex_all(first.doubled_ids), errors});
  }
}

}  // namespace bmslink::diagnosis::detail
