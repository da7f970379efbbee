// bmslink core: timestamps.
//
// Frames carry nanoseconds in an int64 (good for ±292 years around the epoch). What the number
// means is a TimeKind: an absolute Unix time, a time relative to an unknown origin (start of the
// capture, time of day without a date), or absent when the source had none. Absent time is never
// invented.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bmslink {

enum class TimeKind : std::uint8_t { kNone, kAbsolute, kRelative };

constexpr std::int64_t kNsPerSecond = 1'000'000'000;

// Every timestamp a reader hands out lies within ±4e18 ns (about ±126 years around the origin),
// so the difference of any two is still an int64. Readers report anything outside as malformed.
constexpr std::int64_t kMaxTimestampNs = 4'000'000'000'000'000'000LL;
inline bool timestamp_in_range(std::int64_t ns) {
  return ns >= -kMaxTimestampNs && ns <= kMaxTimestampNs;
}

// Parses a decimal number of seconds ("1700000000.123456", "0.5", "12") into ns without going
// through floating point, so microsecond stamps survive exactly. Rejects anything else.
std::optional<std::int64_t> parse_seconds_ns(std::string_view text);

// Same for milliseconds ("1059.9" -> 1'059'900'000 ns).
std::optional<std::int64_t> parse_milliseconds_ns(std::string_view text);

// A span as people write it on a command line: a whole number with a unit, "90s", "15m",
// "12h", "7d" (a bare number is seconds). nullopt for anything else or beyond 100 years.
std::optional<std::int64_t> parse_duration_s(std::string_view text);

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(int year, unsigned month, unsigned day);

// Formats ns as seconds with `decimals` digits ("1700000000.123456"); negative values keep a sign.
std::string format_seconds(std::int64_t ns, int decimals = 6);

}  // namespace bmslink
