// The live sources (private to link): each in its own file, opened by open_interface().
#pragma once

#include <memory>
#include <string>

#include "bmslink/link/live.h"

namespace bmslink::link {

// Realtime clock in ns (frame timestamps of live sources are absolute).
std::int64_t realtime_ns();
// Monotonic clock in ns that keeps counting through a suspend (CLOCK_BOOTTIME): the host side
// of the adapter clock and of WallClockSteps; never stepped.
std::int64_t steady_ns();

Result<std::unique_ptr<LiveSource>> open_slcan(const std::string& path, int baud,
                                               const LinkOptions& options);
Result<std::unique_ptr<LiveSource>> open_waveshare(const std::string& path,
                                                   const LinkOptions& options);
Result<std::unique_ptr<LiveSource>> open_replay(const std::string& path, double speed);
Result<std::unique_ptr<LiveSource>> open_socketcan(const std::string& ifname,
                                                   const LinkOptions& options);

}  // namespace bmslink::link
