// bmslink can: the SLCAN (Lawicel) serial line protocol, both directions, as pure functions: what
// a host sends an adapter (open, close, bit rate, listen-only, timestamps, version, status) and
// what the adapter sends back (OK = CR, error = BEL, frames, version and status answers). The
// live driver (link) and the virtual adapter (sim) share it, so they cannot disagree.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "bmslink/can/frame.h"

namespace bmslink::can::slcan {

constexpr char kOk = '\r';
constexpr char kError = '\a';

// S0..S8: 10, 20, 50, 100, 125, 250, 500, 800, 1000 kbit/s.
std::optional<int> bitrate_code(std::uint32_t bitrate_bps);
std::optional<std::uint32_t> code_bitrate(int code);

// Status flags (F answer), Lawicel's bit meanings.
constexpr std::uint8_t kRxFull = 0x01, kTxFull = 0x02, kErrorWarning = 0x04, kOverrun = 0x08,
                       kErrorPassive = 0x20, kArbitrationLost = 0x40, kBusError = 0x80;

// A frame as an adapter sends it: "t3518<16 hex>\r", "T<8 hex id>...", "r"/"R" for remote
// frames; with timestamps on, 4 hex digits of milliseconds (0..59999) before the CR.
std::string encode_frame(const Frame& frame, std::optional<std::uint16_t> timestamp_ms = {});

// One line from an adapter, without its terminator.
struct Ok {};
struct Bell {};
struct Version {
  std::string text;  // "V1013" or "vSTM32..." as sent
};
struct Status {
  std::uint8_t flags = 0;
};
struct FrameLine {
  Frame frame;  // id, flags, len, data; no timestamp
  std::optional<std::uint16_t> timestamp_ms;
};
struct Unknown {
  std::string text;
};
using Line = std::variant<Ok, Bell, Version, Status, FrameLine, Unknown>;

// Splits an adapter's byte stream into lines: CR ends a line, BEL is a line of its own.
class LineSplitter {
 public:
  // Feeds bytes; call next() until it returns nullopt.
  void feed(std::string_view bytes) {
    // Lines already handed out are dropped once per feed, not once per line: a read of many
    // frames costs one move of its remainder.
    buffer_.erase(0, start_);
    start_ = 0;
    buffer_.append(bytes);
  }
  std::optional<Line> next();
  // Bytes without a terminator beyond this are a broken stream: dropped and counted.
  static constexpr std::size_t kMaxLine = 64;
  std::uint64_t dropped() const { return dropped_; }

 private:
  std::string buffer_;
  std::size_t start_ = 0;  // where the next line begins in buffer_
  std::uint64_t dropped_ = 0;
};

Line parse_line(std::string_view line);

// The host's commands, decoded (what the virtual adapter understands).
struct Command {
  enum class Kind {
    kOpen,
    kListenOnly,
    kClose,
    kBitrate,
    kVersion,
    kSerial,
    kStatus,
    kTimestamps,
    kMode,
    kTransmit,
    kUnknown
  } kind = Kind::kUnknown;
  int value = 0;  // S<n>, Z<n>, M<n>
  Frame frame;    // kTransmit
};
Command parse_command(std::string_view line);

}  // namespace bmslink::can::slcan
