#include "bmslink/core/time_zone.h"

#include <chrono>
#include <cstdlib>

#include <date/tz.h>
#include <fmt/format.h>

namespace bmslink {
namespace {

using Ms = std::chrono::milliseconds;

const date::time_zone* zone_of(const void* z) { return static_cast<const date::time_zone*>(z); }

date::sys_time<Ms> to_sys(std::int64_t ns) {
  const std::int64_t ms = ns >= 0 ? ns / 1'000'000 : -((-ns + 999'999) / 1'000'000);
  return date::sys_time<Ms>{Ms{ms}};
}

struct Civil {
  int year = 1970;
  unsigned month = 1, day = 1;
  long long hours = 0, minutes = 0, seconds = 0, millis = 0;
};

Civil civil(date::local_time<Ms> t) {
  const auto day = date::floor<date::days>(t);
  const date::year_month_day ymd{day};
  const date::hh_mm_ss<Ms> tod{t - day};
  return {static_cast<int>(ymd.year()),
          static_cast<unsigned>(ymd.month()),
          static_cast<unsigned>(ymd.day()),
          tod.hours().count(),
          tod.minutes().count(),
          tod.seconds().count(),
          tod.subseconds().count()};
}

}  // namespace

TimeZone TimeZone::utc() { return TimeZone(nullptr); }

TimeZone TimeZone::local() {
  try {
    if (const char* tz = std::getenv("TZ"); tz != nullptr && *tz != '\0') {
      std::string_view name(tz);
      if (name.front() == ':') name.remove_prefix(1);
      if (auto z = named(name)) return *z;
    }
    const auto* z = date::current_zone();
    if (z == nullptr || z->name() == "UTC" || z->name() == "Etc/UTC") return utc();
    return TimeZone(z);
  } catch (const std::exception&) {
    return utc();  // no tz database or no /etc/localtime: UTC is what the machine means then
  }
}

Result<TimeZone> TimeZone::named(std::string_view name) {
  if (name == "UTC" || name == "utc" || name == "Etc/UTC" || name == "Z") return utc();
  if (name == "local") return local();
  try {
    return TimeZone(date::locate_zone(std::string(name)));
  } catch (const std::exception&) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("unknown time zone \"{}\": expected an IANA name such as "
                                  "Europe/Berlin or America/Chicago, \"UTC\" or \"local\"",
                                  name));
  }
}

std::string TimeZone::name() const { return is_utc() ? "UTC" : zone_of(zone_)->name(); }

std::int64_t TimeZone::offset_s(std::int64_t ns) const {
  if (is_utc()) return 0;
  return zone_of(zone_)->get_info(to_sys(ns)).offset.count();
}

std::string TimeZone::abbreviation(std::int64_t ns) const {
  if (is_utc()) return "UTC";
  return zone_of(zone_)->get_info(to_sys(ns)).abbrev;
}

std::string TimeZone::format(std::int64_t ns, int decimals) const {
  const auto t = to_sys(ns);
  const date::local_time<Ms> lt{t.time_since_epoch() + std::chrono::seconds{offset_s(ns)}};
  const Civil c = civil(lt);
  std::string frac;
  if (decimals > 0) {
    const int d = decimals > 3 ? 3 : decimals;
    long long v = c.millis;
    for (int i = d; i < 3; ++i) v /= 10;
    frac = fmt::format(".{:0{}d}", v, d);
  }
  return fmt::format("{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}{} {}", c.year, c.month, c.day,
                     c.hours, c.minutes, c.seconds, frac, abbreviation(ns));
}

std::string TimeZone::format_clock(std::int64_t ns, bool seconds) const {
  const auto t = to_sys(ns);
  const date::local_time<Ms> lt{t.time_since_epoch() + std::chrono::seconds{offset_s(ns)}};
  const Civil c = civil(lt);
  return seconds ? fmt::format("{:02d}:{:02d}:{:02d}", c.hours, c.minutes, c.seconds)
                 : fmt::format("{:02d}:{:02d}", c.hours, c.minutes);
}

}  // namespace bmslink
