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

// An adapter's frame timestamps (Z1: milliseconds 0..59999, wrapping every minute) turned into
// absolute times. The host's clock says when a frame was read, which can be long after it was on
// the bus (a busy host, an fsync on an SD card, USB batching); the adapter's clock says how far
// apart frames were. A frame's time is the adapter's elapsed time plus an offset to the host's
// clock: the offset follows the earliest-arriving frame at once (a frame cannot be read before it
// was on the bus) and otherwise rises by at most kSlewPpm of the elapsed time (an adapter crystal
// slower than the host's), so late reads do not pull times later. Minute wraps are resolved with
// the host's elapsed time. An adapter whose clock jumps (a reset) re-anchors on the host: at once
// when it runs ahead by more than kReanchorNs, after kBehindNs of reads that stay that far behind
// (a stalled host reads late only in a burst).
class AdapterClock {
 public:
  static constexpr std::int64_t kWrapMs = 60000;
  static constexpr std::int64_t kSlewPpm = 500;
  static constexpr std::int64_t kReanchorNs = 1'000'000'000;
  static constexpr std::int64_t kBehindNs = 2'000'000'000;
  // The time of a frame stamped adapter_ms by the adapter and read at host_ns; never later than
  // host_ns and never earlier than the previous frame's time.
  std::int64_t stamp(std::uint16_t adapter_ms, std::int64_t host_ns);
  std::uint64_t reanchors() const { return reanchors_; }

 private:
  bool started_ = false;
  std::uint16_t last_ms_ = 0;
  std::int64_t last_host_ns_ = 0;
  std::int64_t adapter_ns_ = 0;  // adapter time since the first frame, unwrapped
  std::int64_t offset_ns_ = 0;   // host time minus adapter time
  std::int64_t last_ns_ = 0;
  std::optional<std::int64_t> behind_since_ns_;  // host time of the first read far behind
  std::uint64_t reanchors_ = 0;
};

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
