#include "bmslink/can/error_frame.h"

#include <array>

namespace bmslink::can {
namespace {

std::string location_name(std::uint8_t code) {
  switch (code) {
    case 0x03:
      return "start of frame";
    case 0x02:
      return "id bits 28-21";
    case 0x06:
      return "id bits 20-18";
    case 0x04:
      return "substitute rtr";
    case 0x05:
      return "identifier extension";
    case 0x07:
      return "id bits 17-13";
    case 0x0F:
      return "id bits 12-5";
    case 0x0E:
      return "id bits 4-0";
    case 0x0C:
      return "rtr";
    case 0x0D:
      return "reserved bit 1";
    case 0x09:
      return "reserved bit 0";
    case 0x0B:
      return "dlc";
    case 0x0A:
      return "data field";
    case 0x08:
      return "crc sequence";
    case 0x18:
      return "crc delimiter";
    case 0x19:
      return "ack slot";
    case 0x1B:
      return "ack delimiter";
    case 0x1A:
      return "end of frame";
    case 0x12:
      return "intermission";
    default:
      return "";
  }
}

std::string transceiver_name(std::uint8_t code) {
  switch (code) {
    case 0x04:
      return "CANH no wire";
    case 0x05:
      return "CANH short to battery";
    case 0x06:
      return "CANH short to VCC";
    case 0x07:
      return "CANH short to GND";
    case 0x40:
      return "CANL no wire";
    case 0x50:
      return "CANL short to battery";
    case 0x60:
      return "CANL short to VCC";
    case 0x70:
      return "CANL short to GND";
    case 0x80:
      return "CANL short to CANH";
    default:
      return "";
  }
}

}  // namespace

std::string_view violation_name(Violation v) {
  static constexpr std::array<std::string_view, kViolationCount> kNames = {
      "bit", "form", "stuff", "bit0", "bit1", "overload", "active", "tx"};
  return kNames[static_cast<std::size_t>(v)];
}

ErrorFrameInfo decode_error_frame(const Frame& frame) {
  ErrorFrameInfo info;
  if (!frame.error) return info;
  const std::uint32_t cls = frame.id;
  const auto& d = frame.data;
  info.tx_timeout = (cls & err::kTxTimeout) != 0;
  info.lost_arbitration = (cls & err::kLostArbitration) != 0;
  info.no_ack = (cls & err::kNoAck) != 0;
  info.bus_off = (cls & err::kBusOff) != 0;
  info.bus_error = (cls & err::kBusError) != 0;
  info.restarted = (cls & err::kRestarted) != 0;
  if (cls & err::kController) {
    info.rx_overflow = (d[1] & err::kCtrlRxOverflow) != 0;
    info.tx_overflow = (d[1] & err::kCtrlTxOverflow) != 0;
    info.rx_warning = (d[1] & err::kCtrlRxWarning) != 0;
    info.tx_warning = (d[1] & err::kCtrlTxWarning) != 0;
    info.rx_passive = (d[1] & err::kCtrlRxPassive) != 0;
    info.tx_passive = (d[1] & err::kCtrlTxPassive) != 0;
    info.back_to_active = (d[1] & err::kCtrlActive) != 0;
  }
  if (cls & err::kProtocol) {
    info.protocol_violation = true;
    // The kernel's data[2] bits are in the order of Violation.
    static_assert(err::kProtBit == 1U << static_cast<unsigned>(Violation::kBit) &&
                  err::kProtStuff == 1U << static_cast<unsigned>(Violation::kStuff) &&
                  err::kProtTx == 1U << static_cast<unsigned>(Violation::kTx));
    info.violations = d[2];
    for (std::size_t k = 0; k < kViolationCount; ++k) {
      const auto v = static_cast<Violation>(k);
      if (info.has(v)) info.violation_kinds.emplace_back(violation_name(v));
    }
    info.violation_location = location_name(d[3]);
  }
  if (cls & err::kTransceiver) info.transceiver = transceiver_name(d[4]);
  // Drivers filled data[6..7] on controller state changes long before CAN_ERR_CNT existed.
  if ((cls & err::kCounters) || (cls & err::kController)) {
    info.tx_error_counter = d[6];
    info.rx_error_counter = d[7];
  }
  return info;
}

std::vector<std::string> ErrorFrameInfo::summary() const {
  std::vector<std::string> out;
  if (no_ack) out.emplace_back("no-ack");
  if (bus_off) out.emplace_back("bus-off");
  if (tx_passive) out.emplace_back("tx-passive");
  if (rx_passive) out.emplace_back("rx-passive");
  if (tx_warning) out.emplace_back("tx-warning");
  if (rx_warning) out.emplace_back("rx-warning");
  if (back_to_active) out.emplace_back("back-to-active");
  if (rx_overflow) out.emplace_back("rx-overflow");
  if (tx_overflow) out.emplace_back("tx-overflow");
  if (protocol_violation) {
    std::string p = "protocol-violation";
    for (const auto& k : violation_kinds) p += ":" + k;
    if (!violation_location.empty()) p += "@" + violation_location;
    out.push_back(std::move(p));
  }
  if (!transceiver.empty()) out.push_back("transceiver:" + transceiver);
  if (lost_arbitration) out.emplace_back("lost-arbitration");
  if (tx_timeout) out.emplace_back("tx-timeout");
  if (restarted) out.emplace_back("restarted");
  if (bus_error) out.emplace_back("bus-error");
  return out;
}

Frame make_error_frame(std::uint32_t class_bits, std::array<std::uint8_t, 8> details) {
  Frame f;
  f.error = true;
  f.id = class_bits & kExtendedIdMask;
  f.len = 8;
  f.dlc = 8;
  std::copy(details.begin(), details.end(), f.data.begin());
  return f;
}

}  // namespace bmslink::can
