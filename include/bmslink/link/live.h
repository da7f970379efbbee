// bmslink link: live CAN sources behind the frame-source seam — SocketCAN, SLCAN (Lawicel) serial
// adapters, and a capture replayed with its timing — chosen by an IFACE string:
//   socketcan:can0   slcan:/dev/ttyACM0[@115200]   waveshare:/dev/ttyUSB0   replay:site.log[@10]
// A live source is polled with a timeout, so whoever reads it keeps a clock of its own (alarms
// are raised by time, not by the next frame). Passive work (the bit-rate scan, diagnosis) needs
// listen-only mode: a source says whether the adapter confirmed it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "bmslink/can/frame_source.h"
#include "bmslink/core/error.h"

namespace bmslink::link {

struct LinkOptions {
  std::uint32_t bitrate_bps = 500000;  // 0: leave as configured (SocketCAN)
  bool listen_only = true;             // never acknowledge or transmit on the bus diagnosed
  bool timestamps = true;              // adapter timestamps where it has them
};

enum class Poll { kFrame, kTimeout, kEnded };

class LiveSource : public can::FrameSource {
 public:
  // Waits up to timeout_ms for a frame.
  virtual Poll poll(can::Frame& frame, int timeout_ms) = 0;
  // FrameSource: blocks until a frame or the end.
  bool next(can::Frame& frame) override;
  // The wall clock for live sources (frames are stamped on it), the capture's clock (scaled)
  // for replays.
  std::optional<std::int64_t> now_ns() const override = 0;
  // True when now_ns() is the system's wall clock, which can be stepped (see WallClockSteps).
  virtual bool wall_clock() const { return true; }
  // True when the adapter confirmed it does not acknowledge or transmit.
  virtual bool listen_only() const = 0;
  // The adapter's error/status flags seen so far (SLCAN F bits), 0 when unknown.
  virtual std::uint8_t status_flags() { return 0; }
  // "slcan /dev/ttyACM0 (V1013), 500 kbit/s, listen-only".
  virtual std::string describe() const = 0;
  // Why the source ended, when it did not end cleanly.
  virtual std::optional<Error> failure() const { return std::nullopt; }
};

// Steps of the wall clock: NTP setting the time on a gateway without a real-time clock, an
// operator's `date -s`. A live monitor times its alarms on the wall clock its frames carry; a
// step would raise a false silence (forward) or hide a real one (backward) unless the monitor's
// state is moved by the step. A step is the difference between how far the wall clock and the
// monotonic clock moved since the last look, when it exceeds kThresholdNs (NTP's slewing stays
// far below it).
class WallClockSteps {
 public:
  static constexpr std::int64_t kThresholdNs = 500'000'000;
  // Looks at both clocks now.
  std::optional<std::int64_t> observe();
  // The same with given clock readings (tests).
  std::optional<std::int64_t> observe(std::int64_t wall_ns, std::int64_t steady_ns);

 private:
  std::optional<std::int64_t> wall_ns_, steady_ns_;
};

// A SocketCAN can_frame as bmslink's Frame (id with its EFF/RTR/ERR flags, len, data).
can::Frame from_socketcan(std::uint32_t can_id, std::uint8_t len, const std::uint8_t* data);

// Opens an IFACE as above; errors say what was expected and how to fix permissions or modes.
Result<std::unique_ptr<LiveSource>> open_interface(std::string_view iface,
                                                   const LinkOptions& options = {});

}  // namespace bmslink::link
