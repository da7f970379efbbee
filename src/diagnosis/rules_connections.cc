// Layer 2 (physical connections) as a capture shows it: nobody acknowledges, or errors that no
// other rule explains.

#include <fmt/format.h>

#include "diagnosis/rules.h"

namespace bmslink::diagnosis::detail {

void rule_no_ack(const Evidence& e, Findings& r) {
  const auto& ack = e.ack;
  const auto& t = e.timing;
  const std::uint64_t data = e.inventory.data_frames;
  const bool repeats = ack.back_to_back >= 20 && ack.back_to_back * 20 >= data;
  // Occasional no-ACK errors while the inverter answers mean a disturbed bus, not a deaf one.
  const bool ack_errors =
      ack.no_ack_errors >= 5 && (t.inverter_frames == 0 || ack.no_ack_errors * 100 >= t.bms_frames);
  if (!repeats && !ack_errors) return;
  auto& f = r.add(Cause::kNoAck, Severity::kFault, 0.93,
                  "Frames are not acknowledged: the BMS keeps re-sending",
                  "Nothing on the bus receives the BMS: check the inverter is powered and its "
                  "CAN port enabled, CAN-H/CAN-L are not swapped, the RJ45 pinout matches both "
                  "ends (pins 4/5 usual) and the bus is terminated (60 Ω across H-L, power off).");
  if (ack.back_to_back > 0) {
    f.evidence.push_back(
        {fmt::format("{} back-to-back retransmissions, longest run {} of {}", ack.back_to_back,
                     ack.longest_repeat_run + 1, hex(ack.repeated_id)),
         ack.first_repeat_ns,
         {hex(ack.repeated_id)},
         ack.back_to_back});
  }
  if (ack.no_ack_errors > 0)
    f.evidence.push_back({fmt::format("{} no-ACK error frames", ack.no_ack_errors),
                          e.bus.first_error_ns,
                          {},
                          ack.no_ack_errors});
}

void rule_bus_errors(const Evidence& e, Findings& r) {
  const auto& bus = e.bus;
  const bool explained = r.has(Cause::kBitrateMismatch) || r.has(Cause::kNoAck) ||
                         r.has(Cause::kCanIdConflict) || r.has(Cause::kEmiPowerCorrelated) ||
                         r.has(Cause::kThermalOrTimePattern);
  if (bus.error_frames == 0 || explained || e.inventory.data_frames == 0) return;
  const bool heavy = bus.bus_off > 0 || bus.error_passive > 0 || bus.errors_per_minute >= 10;
  if (!heavy && bus.error_frames < 3) return;
  auto& f = r.add(
      Cause::kBusErrors, heavy ? Severity::kFault : Severity::kWarning, heavy ? 0.6 : 0.35,
      heavy ? "Bus errors drive a controller error-passive or bus-off" : "Occasional bus errors",
      "Measure termination with both ends powered off (60 Ω between CAN-H and "
      "CAN-L; 120 Ω = one resistor missing, 40 Ω = one too many), re-torque the "
      "terminals, reseat the connectors and check the cable is 120 Ω twisted pair.");
  f.evidence.push_back(
      {fmt::format("{} error frames ({:.2f} per minute)", bus.error_frames, bus.errors_per_minute),
       bus.first_error_ns,
       {},
       bus.error_frames});
  std::string kinds;
  for (const auto& [k, n] : bus.by_kind)
    kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", k, n);
  if (!kinds.empty()) f.evidence.push_back({kinds, std::nullopt, {}, std::nullopt});
  if (bus.max_rec || bus.max_tec)
    f.evidence.push_back({fmt::format("error counters up to TEC {} / REC {}",
                                      bus.max_tec.value_or(0), bus.max_rec.value_or(0)),
                          std::nullopt,
                          {},
                          std::nullopt});
}

}  // namespace bmslink::diagnosis::detail
