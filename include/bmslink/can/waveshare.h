// bmslink can: the Waveshare USB-CAN-A serial protocol (CH340, 2 Mbaud), both directions, as
// pure functions. Frames use the "variable length" protocol: 0xAA, a type byte (0xC0 | 0x20 for
// a 29-bit id | 0x10 for a remote frame | the DLC), the id little-endian (2 or 4 bytes), the
// data, 0x55. Settings are a fixed 20-byte packet: 0xAA 0x55 0x12, the speed code, the frame type,
// filter and mask (4 bytes each), the mode (0 normal, 1 loopback, 2 silent, 3 silent loopback),
// auto-retransmission, 4 reserved bytes and a checksum (the low byte of the sum of bytes 2..18).
// The adapter answers nothing to its settings, so listen-only can be asked for but not confirmed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "bmslink/can/frame.h"

namespace bmslink::can::waveshare {

constexpr int kBaud = 2000000;
constexpr std::size_t kSettingsSize = 20;

// 1 = 1 Mbit/s, 2 = 800k, 3 = 500k, 4 = 400k, 5 = 250k, 6 = 200k, 7 = 125k, 8 = 100k, 9 = 50k,
// 10 = 20k, 11 = 10k, 12 = 5k.
std::optional<std::uint8_t> speed_code(std::uint32_t bitrate_bps);
std::optional<std::uint32_t> code_speed(std::uint8_t code);

std::string settings_packet(std::uint8_t speed, bool silent, bool extended_filter = false);
std::string encode_frame(const Frame& frame);

struct Settings {
  std::uint32_t bitrate_bps = 0;
  std::uint8_t mode = 0;  // 0 normal, 1 loopback, 2 silent, 3 silent loopback
  bool checksum_ok = false;
};
using Item = std::variant<Frame, Settings>;

// Splits a byte stream into frames and settings packets; bytes that start neither are skipped and
// counted (a stream joined mid-frame resynchronises at the next 0xAA).
class StreamParser {
 public:
  void feed(std::string_view bytes) { buffer_.append(bytes); }
  std::optional<Item> next();
  std::uint64_t skipped() const { return skipped_; }

 private:
  std::string buffer_;
  std::uint64_t skipped_ = 0;
};

}  // namespace bmslink::can::waveshare
