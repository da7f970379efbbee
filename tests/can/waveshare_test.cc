// The Waveshare USB-CAN-A protocol on vectors worked out by hand from its manual's frame layout.
#include "bmslink/can/waveshare.h"

#include <gtest/gtest.h>

namespace bmslink::can::waveshare {
namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int v : b) s += static_cast<char>(v);
  return s;
}

TEST(Waveshare, FramesAreAaTypeIdLittleEndianData55) {
  Frame f;
  f.id = 0x123;
  f.len = 8;
  for (int i = 0; i < 8; ++i)
    f.data[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(0x11 * (i + 1));
  // 0xC0 | DLC 8 = 0xC8; id 0x123 as 23 01.
  EXPECT_EQ(encode_frame(f),
            bytes({0xAA, 0xC8, 0x23, 0x01, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x55}));
  f.extended = true;
  f.id = 0x01234567;
  EXPECT_EQ(encode_frame(f).substr(0, 6), bytes({0xAA, 0xE8, 0x67, 0x45, 0x23, 0x01}));
}

TEST(Waveshare, SettingsCarryRateModeAndChecksum) {
  const auto p = settings_packet(*speed_code(500000), true);
  ASSERT_EQ(p.size(), kSettingsSize);
  EXPECT_EQ(static_cast<std::uint8_t>(p[3]), 3);   // 500 kbit/s
  EXPECT_EQ(static_cast<std::uint8_t>(p[13]), 2);  // silent
  // 0x12 + 3 + 1 (standard frames) + 2 (silent) + 1 (retransmission) = 0x19.
  EXPECT_EQ(static_cast<std::uint8_t>(p[19]), 0x19);
  StreamParser parser;
  parser.feed(p);
  const auto s = std::get<Settings>(*parser.next());
  EXPECT_TRUE(s.checksum_ok);
  EXPECT_EQ(s.bitrate_bps, 500000U);
  EXPECT_EQ(s.mode, 2);
}

TEST(Waveshare, AStreamJoinedMidFrameResynchronises) {
  StreamParser parser;
  parser.feed(bytes(
      {0x44, 0x55, 0x66, 0xAA, 0xC2, 0x51, 0x03, 0x01, 0x02, 0x55, 0xAA, 0xD0, 0x05, 0x03, 0x55}));
  const auto f = std::get<Frame>(*parser.next());
  EXPECT_EQ(f.id, 0x351U);
  EXPECT_EQ(f.len, 2);
  EXPECT_EQ(f.data[1], 0x02);
  const auto r = std::get<Frame>(*parser.next());
  EXPECT_TRUE(r.rtr);
  EXPECT_EQ(r.id, 0x305U);
  EXPECT_FALSE(parser.next());
  EXPECT_EQ(parser.skipped(), 3U);
}

}  // namespace
}  // namespace bmslink::can::waveshare
