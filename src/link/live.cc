#include "bmslink/link/live.h"

#include <time.h>

#include <chrono>
#include <cstdlib>

#include <fmt/format.h>

#include "link/sources.h"

namespace bmslink::link {

std::int64_t realtime_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t steady_ns() {
  // CLOCK_BOOTTIME, not steady_clock's CLOCK_MONOTONIC: it keeps counting while the machine is
  // suspended, so a laptop waking up is not taken for a step of the wall clock (which would
  // move the monitor's times and hide a silence that really lasted the whole suspend).
  timespec ts{};
  ::clock_gettime(CLOCK_BOOTTIME, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::optional<std::int64_t> WallClockSteps::observe() {
  return observe(realtime_ns(), steady_ns());
}

std::optional<std::int64_t> WallClockSteps::observe(std::int64_t wall_ns, std::int64_t steady_ns) {
  std::optional<std::int64_t> step;
  if (wall_ns_ && steady_ns_) {
    const std::int64_t d = (wall_ns - *wall_ns_) - (steady_ns - *steady_ns_);
    if (d > kThresholdNs || d < -kThresholdNs) step = d;
  }
  // Measured from here on either way: NTP's slewing never adds up to a step.
  wall_ns_ = wall_ns;
  steady_ns_ = steady_ns;
  return step;
}

bool LiveSource::next(can::Frame& frame) {
  for (;;) {
    switch (poll(frame, 1000)) {
      case Poll::kFrame:
        return true;
      case Poll::kEnded:
        return false;
      case Poll::kTimeout:
        break;
    }
  }
}

Result<std::unique_ptr<LiveSource>> open_interface(std::string_view iface,
                                                   const LinkOptions& options) {
  const auto colon = iface.find(':');
  if (colon == std::string_view::npos)
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{}: expected socketcan:IFNAME, slcan:/dev/ttyACM0[@BAUD], "
                                  "waveshare:/dev/ttyUSB0 or replay:FILE[@SPEED]",
                                  iface));
  const std::string kind(iface.substr(0, colon));
  std::string rest(iface.substr(colon + 1));
  std::string suffix;
  if (const auto at = rest.rfind('@'); at != std::string::npos && kind != "socketcan") {
    suffix = rest.substr(at + 1);
    rest = rest.substr(0, at);
  }
  if (rest.empty())
    return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: nothing after ':'", iface));
  auto number = [&](double fallback) -> std::optional<double> {
    if (suffix.empty()) return fallback;
    char* end = nullptr;
    const double v = std::strtod(suffix.c_str(), &end);
    if (*end != '\0' || !(v > 0)) return std::nullopt;
    return v;
  };
  if (kind == "slcan") {
    const auto baud = number(115200);
    if (!baud)
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: expected @BAUD as a number, e.g. @115200", iface));
    return open_slcan(rest, static_cast<int>(*baud), options);
  }
  if (kind == "replay") {
    const auto speed = number(1.0);
    if (!speed)
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: expected @SPEED as a number, e.g. @10", iface));
    return open_replay(rest, *speed);
  }
  if (kind == "socketcan") return open_socketcan(rest, options);
  if (kind == "waveshare") return open_waveshare(rest, options);
  return make_error(
      ErrorCode::kInvalidArgument,
      fmt::format("{}: unknown interface kind \"{}\" (socketcan, slcan, waveshare, replay)", iface,
                  kind));
}

}  // namespace bmslink::link
