// bmslink can: meaning of an error frame.
//
// Error frames are stored the way SocketCAN delivers them (linux/can/error.h): class bits in the
// identifier, details in the eight data bytes. decode_error_frame turns that into named facts an
// analyzer can count: no ACK, bus-off, error-passive/-warning states, the kind and location of a
// protocol violation, controller problems and the TEC/REC counters. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bmslink/can/frame.h"

namespace bmslink::can {

// Error class bits (can_id of an error frame, without kErrFlag).
namespace err {
constexpr std::uint32_t kTxTimeout = 0x001;
constexpr std::uint32_t kLostArbitration = 0x002;
constexpr std::uint32_t kController = 0x004;
constexpr std::uint32_t kProtocol = 0x008;
constexpr std::uint32_t kTransceiver = 0x010;
constexpr std::uint32_t kNoAck = 0x020;
constexpr std::uint32_t kBusOff = 0x040;
constexpr std::uint32_t kBusError = 0x080;
constexpr std::uint32_t kRestarted = 0x100;
constexpr std::uint32_t kCounters = 0x200;

// data[1], controller status.
constexpr std::uint8_t kCtrlRxOverflow = 0x01;
constexpr std::uint8_t kCtrlTxOverflow = 0x02;
constexpr std::uint8_t kCtrlRxWarning = 0x04;
constexpr std::uint8_t kCtrlTxWarning = 0x08;
constexpr std::uint8_t kCtrlRxPassive = 0x10;
constexpr std::uint8_t kCtrlTxPassive = 0x20;
constexpr std::uint8_t kCtrlActive = 0x40;

// data[2], protocol violation kind.
constexpr std::uint8_t kProtBit = 0x01;
constexpr std::uint8_t kProtForm = 0x02;
constexpr std::uint8_t kProtStuff = 0x04;
constexpr std::uint8_t kProtBit0 = 0x08;
constexpr std::uint8_t kProtBit1 = 0x10;
constexpr std::uint8_t kProtOverload = 0x20;
constexpr std::uint8_t kProtActive = 0x40;
constexpr std::uint8_t kProtTx = 0x80;

// data[3], where in the frame the violation happened (selected codes).
constexpr std::uint8_t kLocCrcSequence = 0x08;
constexpr std::uint8_t kLocData = 0x0A;
constexpr std::uint8_t kLocAckSlot = 0x19;
constexpr std::uint8_t kLocAckDelimiter = 0x1B;
}  // namespace err

// Kinds of protocol violation (data[2]), one name table: violation_name().
enum class Violation : std::uint8_t { kBit, kForm, kStuff, kBit0, kBit1, kOverload, kActive, kTx };
inline constexpr std::size_t kViolationCount = 8;
std::string_view violation_name(Violation violation);  // "bit", "form", "stuff", ...

struct ErrorFrameInfo {
  bool tx_timeout = false;
  bool lost_arbitration = false;
  bool no_ack = false;
  bool bus_off = false;
  bool bus_error = false;
  bool restarted = false;
  // Controller state flags (data[1]).
  bool rx_overflow = false;
  bool tx_overflow = false;
  bool rx_warning = false;
  bool tx_warning = false;
  bool rx_passive = false;
  bool tx_passive = false;
  bool back_to_active = false;
  // Protocol violation (data[2], data[3]) when the class says so.
  bool protocol_violation = false;
  std::uint8_t violations = 0;               // bit (1 << Violation) per kind set
  std::vector<std::string> violation_kinds;  // the same, named: "bit", "form", "stuff", ...
  std::string violation_location;            // "ack slot", "data field", ... or ""
  std::string transceiver;                   // "CANH no wire", ... or ""
  std::optional<std::uint8_t> tx_error_counter;
  std::optional<std::uint8_t> rx_error_counter;

  bool has(Violation v) const { return (violations >> static_cast<unsigned>(v)) & 1U; }
  // A bit, form or stuff error (bit0/bit1 included): what a receiver at the wrong bit rate sees.
  bool bit_level_violation() const {
    constexpr std::uint8_t kMask = (1U << static_cast<unsigned>(Violation::kBit)) |
                                   (1U << static_cast<unsigned>(Violation::kForm)) |
                                   (1U << static_cast<unsigned>(Violation::kStuff)) |
                                   (1U << static_cast<unsigned>(Violation::kBit0)) |
                                   (1U << static_cast<unsigned>(Violation::kBit1));
    return (violations & kMask) != 0;
  }

  // Short words for every fact set, in a fixed order ("no-ack", "bus-off", "rx-passive", ...).
  std::vector<std::string> summary() const;
};

// Decodes an error frame; for a frame without `error` set returns an empty info.
ErrorFrameInfo decode_error_frame(const Frame& frame);

// Error frame with only the given class bits and details; used by readers of formats that name
// the error rather than carry SocketCAN bytes (ASC "ErrorFrame", PEAK TRC error records).
Frame make_error_frame(std::uint32_t class_bits, std::array<std::uint8_t, 8> details);

}  // namespace bmslink::can
