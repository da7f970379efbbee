#include "bmslink/core/time.h"

#include <gtest/gtest.h>

namespace bmslink {
namespace {

TEST(ParseSeconds, KeepsMicrosecondsExactly) {
  // 1700000000.123456 s as a double would lose the last digit; integers must not.
  EXPECT_EQ(parse_seconds_ns("1700000000.123456"), 1'700'000'000'123'456'000LL);
  EXPECT_EQ(parse_seconds_ns("0.000001"), 1000);
  EXPECT_EQ(parse_seconds_ns("12"), 12'000'000'000LL);
  EXPECT_EQ(parse_seconds_ns("1.123456789123"), 1'123'456'789LL);  // beyond ns: truncated
}

TEST(ParseSeconds, RejectsWhatIsNotADecimal) {
  EXPECT_FALSE(parse_seconds_ns(""));
  EXPECT_FALSE(parse_seconds_ns("."));
  EXPECT_FALSE(parse_seconds_ns("1.2.3"));
  EXPECT_FALSE(parse_seconds_ns("12a"));
  EXPECT_FALSE(parse_seconds_ns("99999999999999999999"));  // would overflow int64 ns
}

TEST(ParseMilliseconds, ReadsPeakTraceOffsets) {
  EXPECT_EQ(parse_milliseconds_ns("1059.9"), 1'059'900'000LL);
  EXPECT_EQ(parse_milliseconds_ns("1841"), 1'841'000'000LL);
  EXPECT_EQ(parse_milliseconds_ns("0.123"), 123'000LL);
}

TEST(DaysFromCivil, MatchesKnownDates) {
  EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
  EXPECT_EQ(days_from_civil(2000, 3, 1), 11017);
  // 2023-11-14 22:13:20 UTC is 1700000000 s: day 19675.
  EXPECT_EQ(days_from_civil(2023, 11, 14), 19675);
}

TEST(FormatSeconds, PadsFractionAndKeepsSign) {
  EXPECT_EQ(format_seconds(1'700'000'000'000'001'000LL), "1700000000.000001");
  EXPECT_EQ(format_seconds(-1'500'000'000LL, 3), "-1.500");
  EXPECT_EQ(format_seconds(5, 9), "0.000000005");
}

}  // namespace
}  // namespace bmslink

namespace bmslink {
namespace {
TEST(ParseDuration, AWholeNumberWithAUnitOrSeconds) {
  EXPECT_EQ(parse_duration_s("90s"), 90);
  EXPECT_EQ(parse_duration_s("15m"), 900);
  EXPECT_EQ(parse_duration_s("12h"), 43'200);
  EXPECT_EQ(parse_duration_s("7d"), 604'800);
  EXPECT_EQ(parse_duration_s("0"), 0);
  EXPECT_EQ(parse_duration_s("3600"), 3600);
  for (const char* bad : {"", "d", "7 d", "-1d", "1.5h", "7w", "h7", "99999999999999d"})
    EXPECT_FALSE(parse_duration_s(bad)) << bad;
  EXPECT_EQ(parse_duration_s("36500d"), 36500LL * 86400);
  EXPECT_FALSE(parse_duration_s("36501d")) << "over a hundred years";
}
}  // namespace
}  // namespace bmslink
