#include "bmslink/can/waveshare.h"

#include <array>

namespace bmslink::can::waveshare {
namespace {

constexpr std::array<std::uint32_t, 12> kSpeeds = {1000000, 800000, 500000, 400000, 250000, 200000,
                                                   125000,  100000, 50000,  20000,  10000,  5000};

std::uint8_t byte(const std::string& s, std::size_t i) { return static_cast<std::uint8_t>(s[i]); }

}  // namespace

std::optional<std::uint8_t> speed_code(std::uint32_t bitrate_bps) {
  for (std::size_t i = 0; i < kSpeeds.size(); ++i)
    if (kSpeeds[i] == bitrate_bps) return static_cast<std::uint8_t>(i + 1);
  return std::nullopt;
}

std::optional<std::uint32_t> code_speed(std::uint8_t code) {
  if (code < 1 || code > kSpeeds.size()) return std::nullopt;
  return kSpeeds[code - 1U];
}

std::string settings_packet(std::uint8_t speed, bool silent, bool extended_filter) {
  std::string p(kSettingsSize, '\0');
  p[0] = static_cast<char>(0xAA);
  p[1] = static_cast<char>(0x55);
  p[2] = static_cast<char>(0x12);  // variable-length protocol
  p[3] = static_cast<char>(speed);
  p[4] = static_cast<char>(extended_filter ? 2 : 1);
  // Filter 0 and mask 0: every frame.
  p[13] = static_cast<char>(silent ? 2 : 0);
  p[14] = static_cast<char>(1);  // automatic retransmission (ignored in silent mode)
  unsigned sum = 0;
  for (std::size_t i = 2; i < kSettingsSize - 1; ++i) sum += static_cast<std::uint8_t>(p[i]);
  p[kSettingsSize - 1] = static_cast<char>(sum & 0xFF);
  return p;
}

std::string encode_frame(const Frame& f) {
  std::string out;
  const std::uint8_t len = f.len > 8 ? 8 : f.len;
  const std::uint8_t dlc = f.rtr ? static_cast<std::uint8_t>(f.dlc > 8 ? 8 : f.dlc) : len;
  out += static_cast<char>(0xAA);
  out += static_cast<char>(0xC0 | (f.extended ? 0x20 : 0) | (f.rtr ? 0x10 : 0) | dlc);
  const int id_bytes = f.extended ? 4 : 2;
  for (int i = 0; i < id_bytes; ++i) out += static_cast<char>((f.id >> (8 * i)) & 0xFF);
  if (!f.rtr)
    for (std::uint8_t i = 0; i < len; ++i) out += static_cast<char>(f.data[i]);
  out += static_cast<char>(0x55);
  return out;
}

std::optional<Item> StreamParser::next() {
  for (;;) {
    // Resynchronise at the next 0xAA.
    std::size_t start = 0;
    while (start < buffer_.size() && byte(buffer_, start) != 0xAA) ++start;
    if (start > 0) {
      skipped_ += start;
      buffer_.erase(0, start);
    }
    if (buffer_.size() < 2) return std::nullopt;
    const std::uint8_t second = byte(buffer_, 1);
    if (second == 0x55) {
      if (buffer_.size() < kSettingsSize) return std::nullopt;
      Settings s;
      unsigned sum = 0;
      for (std::size_t i = 2; i < kSettingsSize - 1; ++i) sum += byte(buffer_, i);
      s.checksum_ok = (sum & 0xFF) == byte(buffer_, kSettingsSize - 1);
      s.bitrate_bps = code_speed(byte(buffer_, 3)).value_or(0);
      s.mode = byte(buffer_, 13);
      buffer_.erase(0, kSettingsSize);
      return s;
    }
    if ((second & 0xC0) != 0xC0) {
      ++skipped_;
      buffer_.erase(0, 1);
      continue;
    }
    const bool extended = (second & 0x20) != 0;
    const bool remote = (second & 0x10) != 0;
    const std::uint8_t dlc = second & 0x0F;
    if (dlc > 8) {
      ++skipped_;
      buffer_.erase(0, 1);
      continue;
    }
    const std::size_t id_bytes = extended ? 4 : 2;
    const std::size_t data = remote ? 0 : dlc;
    const std::size_t total = 2 + id_bytes + data + 1;
    if (buffer_.size() < total) return std::nullopt;
    if (byte(buffer_, total - 1) != 0x55) {  // not a frame after all: look further
      ++skipped_;
      buffer_.erase(0, 1);
      continue;
    }
    Frame f;
    for (std::size_t i = 0; i < id_bytes; ++i)
      f.id |= static_cast<std::uint32_t>(byte(buffer_, 2 + i)) << (8 * i);
    f.extended = extended;
    f.rtr = remote;
    f.dlc = dlc;
    f.len = static_cast<std::uint8_t>(data);
    for (std::size_t i = 0; i < data; ++i) f.data[i] = byte(buffer_, 2 + id_bytes + i);
    buffer_.erase(0, total);
    if (f.id > (extended ? kExtendedIdMask : kStandardIdMask)) {
      ++skipped_;
      continue;
    }
    return f;
  }
}

}  // namespace bmslink::can::waveshare
