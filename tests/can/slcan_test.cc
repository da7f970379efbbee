// The SLCAN line protocol both ways, on hand-written lines from the Lawicel documentation's
// examples and the dialects the adapters speak.
#include "bmslink/can/slcan.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace bmslink::can::slcan {
namespace {

TEST(Slcan, BitRateCodesAreLawicels) {
  EXPECT_EQ(bitrate_code(10000), 0);
  EXPECT_EQ(bitrate_code(125000), 4);
  EXPECT_EQ(bitrate_code(500000), 6);
  EXPECT_EQ(bitrate_code(1000000), 8);
  EXPECT_FALSE(bitrate_code(83333));
  EXPECT_EQ(code_bitrate(5), 250000U);
  EXPECT_FALSE(code_bitrate(9));
}

TEST(Slcan, FramesEncodeAsAnAdapterSendsThem) {
  Frame f;
  f.id = 0x351;
  f.len = 8;
  f.dlc = 8;
  const std::uint8_t d[] = {0x14, 0x02, 0xE8, 0x03, 0xE8, 0x03, 0xE0, 0x01};
  std::copy(std::begin(d), std::end(d), f.data.begin());
  EXPECT_EQ(encode_frame(f), "t35181402E803E803E001\r");
  EXPECT_EQ(encode_frame(f, std::uint16_t{0x1234}), "t35181402E803E803E0011234\r");
  Frame e;
  e.id = 0x18FF50E5;
  e.extended = true;
  e.len = 2;
  e.data[0] = 0xAB;
  e.data[1] = 0x01;
  EXPECT_EQ(encode_frame(e), "T18FF50E52AB01\r");
  Frame r;
  r.id = 0x123;
  r.rtr = true;
  r.dlc = 4;
  EXPECT_EQ(encode_frame(r), "r1234\r");
}

TEST(Slcan, LinesFromAnAdapterAreSplitAndRead) {
  LineSplitter s;
  s.feed("V1013\r\rt3550\r\a");
  s.feed("t35181402E803E803E0011234\rF20\rT18FF50E52AB01\r\nxyz\r");
  auto v = s.next();
  ASSERT_TRUE(v);
  EXPECT_EQ(std::get<Version>(*v).text, "V1013");
  EXPECT_TRUE(std::holds_alternative<Ok>(*s.next()));
  const auto empty = std::get<FrameLine>(*s.next());
  EXPECT_EQ(empty.frame.id, 0x355U);
  EXPECT_EQ(empty.frame.len, 0);
  EXPECT_TRUE(std::holds_alternative<Bell>(*s.next()));
  const auto f = std::get<FrameLine>(*s.next());
  EXPECT_EQ(f.frame.id, 0x351U);
  EXPECT_EQ(f.frame.data[7], 0x01);
  EXPECT_EQ(f.timestamp_ms, 0x1234);
  EXPECT_EQ(std::get<Status>(*s.next()).flags, kErrorPassive);
  const auto x = std::get<FrameLine>(*s.next());
  EXPECT_TRUE(x.frame.extended);
  EXPECT_EQ(x.frame.id, 0x18FF50E5U);
  EXPECT_EQ(std::get<Unknown>(*s.next()).text, "xyz");
  EXPECT_FALSE(s.next());
}

TEST(Slcan, BrokenLinesAreUnknownNotFrames) {
  for (const char* bad : {"t35", "t3519", "t3518zz", "t8001", "T2000000000", "t351214"}) {
    EXPECT_TRUE(std::holds_alternative<Unknown>(parse_line(bad))) << bad;
  }
  LineSplitter s;
  s.feed(std::string(200, 'A'));
  EXPECT_FALSE(s.next());
  EXPECT_EQ(s.dropped(), 1U);
}

TEST(Slcan, CommandsAreUnderstood) {
  using K = Command::Kind;
  EXPECT_EQ(parse_command("S6").kind, K::kBitrate);
  EXPECT_EQ(parse_command("S6").value, 6);
  EXPECT_EQ(parse_command("L").kind, K::kListenOnly);
  EXPECT_EQ(parse_command("M1").kind, K::kMode);
  EXPECT_EQ(parse_command("Z1").value, 1);
  EXPECT_EQ(parse_command("t1232ABCD").kind, K::kTransmit);
  EXPECT_EQ(parse_command("S").kind, K::kUnknown);
  EXPECT_EQ(parse_command("O1").kind, K::kUnknown);
}

// Adapter timestamps. Times in the comments are milliseconds after T0; the expected values are
// worked out by hand from the rule in slcan.h (offset follows the earliest read at once, rises by
// at most 500 ppm of the elapsed time otherwise).
constexpr std::int64_t kT0 = 1'000'000'000'000;  // 1000 s, in ns
constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kUs = 1'000;

TEST(AdapterClock, LateReadsKeepTheBusSpacing) {
  // Frames on the bus every 100 ms, stamped 5000, 5100, ... by the adapter; read 0.3, 2.0, 0.8,
  // 250 (a busy host), 150, 50, 0.5 and 1.1 ms after they were sent.
  const double late_ms[] = {0.3, 2.0, 0.8, 250, 150, 50, 0.5, 1.1};
  // Offsets: 0.3; then +0.05 per 100 ms while reads are later (0.35, 0.40, 0.45, 0.50, 0.55);
  // the read 0.5 ms late pulls it to 0.5; then 0.55.
  const std::int64_t want_us[] = {300, 350, 400, 450, 500, 550, 500, 550};
  AdapterClock clock;
  for (int n = 0; n < 8; ++n) {
    const auto host = kT0 + n * 100 * kMs + static_cast<std::int64_t>(late_ms[n] * 1000) * kUs;
    const auto t = clock.stamp(static_cast<std::uint16_t>(5000 + 100 * n), host);
    EXPECT_EQ(t, kT0 + n * 100 * kMs + want_us[n] * kUs) << "frame " << n;
    EXPECT_LE(t, host);
  }
  EXPECT_EQ(clock.reanchors(), 0U);
}

TEST(AdapterClock, MinuteWrapsAndLongSilencesAreUnwrapped) {
  AdapterClock wrap;
  wrap.stamp(59950, kT0);
  EXPECT_EQ(wrap.stamp(50, kT0 + 100 * kMs), kT0 + 100 * kMs);
  // 10000 then 10100 ms, but read 60.1 s and then a further 120.1 s apart: the adapter's clock
  // went round once and then twice.
  AdapterClock silence;
  silence.stamp(10000, kT0);
  EXPECT_EQ(silence.stamp(10100, kT0 + 60100 * kMs), kT0 + 60100 * kMs);
  EXPECT_EQ(silence.stamp(10200, kT0 + 180200 * kMs), kT0 + 180200 * kMs);
  EXPECT_EQ(silence.reanchors(), 0U);
}

TEST(AdapterClock, AnAdapterFasterThanTheHostNeverStampsTheFuture) {
  AdapterClock clock;
  clock.stamp(1000, kT0);
  // The adapter says 150 ms passed, the host read the frame 100 ms later: the read time wins.
  EXPECT_EQ(clock.stamp(1150, kT0 + 100 * kMs), kT0 + 100 * kMs);
  // The next frame keeps the adapter's spacing from there, read 3 ms late: the offset rises by
  // 500 ppm of 100 ms.
  EXPECT_EQ(clock.stamp(1250, kT0 + 203 * kMs), kT0 + 200 * kMs + 50 * kUs);
}

TEST(AdapterClock, ASlowCrystalIsFollowedForAnHour) {
  // The adapter's clock runs 100 ppm slow; a frame every 10 ms for an hour, read at once. Without
  // the slew the times would fall 360 ms behind the host's by the end.
  AdapterClock clock;
  std::int64_t worst_ns = 0;
  for (std::int64_t n = 0; n < 360000; ++n) {
    const std::int64_t host = kT0 + n * 10 * kMs;
    const std::int64_t adapter_ms = (n * 10 * 9999 / 10000) % 60000;
    const auto t = clock.stamp(static_cast<std::uint16_t>(adapter_ms), host);
    ASSERT_LE(t, host) << "frame " << n;
    worst_ns = std::max(worst_ns, host - t);
  }
  EXPECT_LT(worst_ns, 2 * kMs);
  EXPECT_EQ(clock.reanchors(), 0U);
}

TEST(AdapterClock, AResetAdapterStartsAgainFromTheHost) {
  AdapterClock clock;
  clock.stamp(30000, kT0);
  // Reset: its clock restarts at 0 and stamps 5 ms, read 200 ms after the last frame.
  EXPECT_EQ(clock.stamp(5, kT0 + 200 * kMs), kT0 + 200 * kMs);
  EXPECT_EQ(clock.reanchors(), 1U);
  // From the new anchor on, the adapter's spacing again (read 1 ms late: +50 us of slew).
  EXPECT_EQ(clock.stamp(105, kT0 + 301 * kMs), kT0 + 300 * kMs + 50 * kUs);
}

TEST(AdapterClock, AStalledHostKeepsTheBusTimes) {
  // A frame every 100 ms. The host stalls (an fsync, a swap storm): frames 1..29 are all read in a
  // burst 3 s after T0, n us apart; from frame 30 on they are read 1 ms after they were sent.
  AdapterClock clock;
  clock.stamp(0, kT0);
  for (int n = 1; n < 40; ++n) {
    const std::int64_t bus = kT0 + n * 100 * kMs;
    const std::int64_t host = n < 30 ? kT0 + 3000 * kMs + n * kUs : bus + kMs;
    const auto t = clock.stamp(static_cast<std::uint16_t>(100 * n), host);
    // In the burst the offset may rise by 500 ppm of each 100 ms step (50 us); the first read on
    // time pulls it back to the 1 ms latency.
    EXPECT_EQ(t, n < 30 ? bus + n * 50 * kUs : bus + kMs) << "frame " << n;
  }
  EXPECT_EQ(clock.reanchors(), 0U);
}

TEST(AdapterClock, AnAdapterClockThatFellBackIsLeftAfterTwoSeconds) {
  // The adapter stamps 100 at T0, then restarts: 5 s later it stamps 1000, 1100, ... while the
  // frames are read on time every 100 ms. Its clock now says 4.1 s less than the host's.
  AdapterClock clock;
  clock.stamp(100, kT0);
  for (int n = 0; n <= 30; ++n) {
    const std::int64_t host = kT0 + 5000 * kMs + n * 100 * kMs;
    const auto t = clock.stamp(static_cast<std::uint16_t>(1000 + 100 * n), host);
    EXPECT_LE(t, host);
    // Reads stay 4.1 s behind from 5000 ms on: at 7000 ms (n = 20) it starts again from the host.
    if (n >= 20) {
      EXPECT_EQ(t, host) << "frame " << n;
    }
  }
  EXPECT_EQ(clock.reanchors(), 1U);
}

}  // namespace
}  // namespace bmslink::can::slcan
