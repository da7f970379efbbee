// The SLCAN line protocol both ways, on hand-written lines from the Lawicel documentation's
// examples and the dialects the adapters speak.
#include "bmslink/can/slcan.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace bmslink::can::slcan
