#include "bmslink/core/time_zone.h"

#include <gtest/gtest.h>

namespace bmslink {
namespace {

// 2025-11-24 16:00:32.879 UTC = 1764000032.879 s (20416 days * 86400 + 16 h + 32.879 s).
constexpr std::int64_t kNov = 1'764'000'032'879'000'000;
// 2025-07-01 12:00:00 UTC = 20270 days * 86400 + 12 h = 1751371200 s.
constexpr std::int64_t kJul = 1'751'371'200'000'000'000;

TEST(TimeZone, UtcFormatsTheInstantAsIs) {
  const auto z = TimeZone::utc();
  EXPECT_TRUE(z.is_utc());
  EXPECT_EQ(z.format(kNov), "2025-11-24 16:00:32.879 UTC");
  EXPECT_EQ(z.format(kNov, 0), "2025-11-24 16:00:32 UTC");
  EXPECT_EQ(z.format_clock(kNov), "16:00");
}

TEST(TimeZone, NamedZonesFollowDaylightSaving) {
  auto berlin = TimeZone::named("Europe/Berlin");
  ASSERT_TRUE(berlin) << berlin.error().message;
  // CET (+1 h) in November, CEST (+2 h) in July.
  EXPECT_EQ(berlin->format(kNov), "2025-11-24 17:00:32.879 CET");
  EXPECT_EQ(berlin->offset_s(kNov), 3600);
  EXPECT_EQ(berlin->format(kJul, 0), "2025-07-01 14:00:00 CEST");
  auto chicago = TimeZone::named("America/Chicago");
  ASSERT_TRUE(chicago);
  // CST (-6 h): 10:00 the same day.
  EXPECT_EQ(chicago->format_clock(kNov, true), "10:00:32");
  EXPECT_EQ(chicago->abbreviation(kNov), "CST");
}

TEST(TimeZone, UnknownNameIsAClearError) {
  auto bad = TimeZone::named("Mars/Olympus_Mons");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("Mars/Olympus_Mons"), std::string::npos);
  EXPECT_NE(bad.error().message.find("Europe/Berlin"), std::string::npos);
  EXPECT_TRUE(TimeZone::named("UTC")->is_utc());
}

TEST(TimeZone, BeforeTheEpochRoundsDown) {
  // -1 ms is 1969-12-31 23:59:59.999 UTC.
  EXPECT_EQ(TimeZone::utc().format(-1'000'000), "1969-12-31 23:59:59.999 UTC");
}

}  // namespace
}  // namespace bmslink
