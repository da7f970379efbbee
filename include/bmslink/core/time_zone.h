// bmslink core: the time zone absolute capture times are shown in. An installer reads local
// time ("the errors start at 06:40"), a battery engineer abroad reads UTC; reports show both.
// Backed by the system's tz database (/usr/share/zoneinfo); thread-safe once created.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "bmslink/core/error.h"

namespace bmslink {

class TimeZone {
 public:
  static TimeZone utc();
  // The machine's zone (TZ, else /etc/localtime); UTC when neither names one.
  static TimeZone local();
  // An IANA name ("Europe/Berlin", "America/Chicago"), "UTC" or "local".
  static Result<TimeZone> named(std::string_view name);

  bool is_utc() const { return zone_ == nullptr; }
  std::string name() const;
  // Offset from UTC at that instant, in seconds (daylight saving included).
  std::int64_t offset_s(std::int64_t ns) const;
  // "2025-11-24 17:00:32.879 CET" (`decimals` 0-3 digits of the second).
  std::string format(std::int64_t ns, int decimals = 3) const;
  // "17:00" (or "17:00:32" with seconds): for chart ticks.
  std::string format_clock(std::int64_t ns, bool seconds = false) const;
  // The zone's abbreviation at that instant ("CET", "CEST", "UTC").
  std::string abbreviation(std::int64_t ns) const;

 private:
  explicit TimeZone(const void* zone) : zone_(zone) {}
  const void* zone_ = nullptr;  // a date::time_zone of the system database; null is UTC
};

}  // namespace bmslink
