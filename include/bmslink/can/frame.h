// bmslink can: the frame model every reader produces and every analyzer consumes.
//
// One Frame type covers classic CAN and CAN FD, 11- and 29-bit identifiers, remote frames and
// error frames. Error frames keep the SocketCAN representation (class bits in `id`, details in
// `data[0..7]`, see error_frame.h) whatever format they came from, so one decoder serves all.
// Plain value type; no allocation for channel names up to 15 characters (small-string storage).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "bmslink/core/time.h"

namespace bmslink::can {

constexpr std::uint32_t kStandardIdMask = 0x7FF;
constexpr std::uint32_t kExtendedIdMask = 0x1FFFFFFF;
constexpr std::size_t kMaxClassicLen = 8;
constexpr std::size_t kMaxFdLen = 64;

// SocketCAN's flag bits in a 32-bit can_id (linux/can.h); the candump log format uses them.
constexpr std::uint32_t kEffFlag = 0x80000000U;
constexpr std::uint32_t kRtrFlag = 0x40000000U;
constexpr std::uint32_t kErrFlag = 0x20000000U;

enum class Direction : std::uint8_t { kUnknown, kRx, kTx };

struct Frame {
  std::int64_t timestamp_ns = 0;  // meaning given by time_kind
  TimeKind time_kind = TimeKind::kNone;
  std::uint32_t id = 0;  // without flag bits; for error frames the SocketCAN error class bits
  std::uint8_t len = 0;  // payload bytes in data
  std::uint8_t dlc = 0;  // the DLC code on the wire (0..15); for classic frames may exceed 8
  bool extended = false;
  bool rtr = false;
  bool error = false;
  bool fd = false;
  bool brs = false;  // FD bit-rate switch
  bool esi = false;  // FD error state indicator
  Direction direction = Direction::kUnknown;
  std::string channel;  // "can0", "1", ""; empty when the source did not say
  std::array<std::uint8_t, kMaxFdLen> data{};

  std::span<const std::uint8_t> payload() const { return {data.data(), len}; }
  bool has_timestamp() const { return time_kind != TimeKind::kNone; }
};

// CAN FD length <-> DLC code (ISO 11898-1: 12, 16, 20, 24, 32, 48, 64 above 8).
std::uint8_t fd_dlc_to_len(std::uint8_t dlc);
// Smallest DLC code whose length is >= len; 0xFF when len > 64.
std::uint8_t len_to_fd_dlc(std::size_t len);
// True when len is one of the lengths an FD frame can carry.
bool is_valid_fd_len(std::size_t len);

// The can_id a SocketCAN socket would carry: id plus EFF/RTR/ERR flags.
std::uint32_t socketcan_id(const Frame& frame);

// Field-by-field equality, ignoring bytes of data beyond len.
bool same_frame(const Frame& a, const Frame& b);

// Bits the frame occupies on the wire at one bit rate, including an average bit-stuffing
// allowance and the interframe space: the unit of bus load. FD data phases are counted at the
// arbitration rate (an upper bound). Error frames count as a 6-bit flag plus delimiter and space.
inline std::uint32_t wire_bits(const Frame& f) {
  if (f.error) return 6 + 8 + 3;
  // SOF..CRC is the stuffed region: 34 bits + data (11-bit id) or 54 bits + data (29-bit).
  const std::uint32_t data_bits = f.rtr ? 0U : 8U * f.len;
  const std::uint32_t stuffed = (f.extended ? 54U : 34U) + data_bits;
  // One stuff bit per 5 equal bits is the worst case; real payloads average about a tenth.
  return stuffed + stuffed / 10 + 13;  // + CRC delimiter, ACK slot and delimiter, EOF, IFS
}

// "0x351" / "0x18FF50E5" style identifier text used in JSON and reports.
std::string id_hex(const Frame& frame);

}  // namespace bmslink::can
