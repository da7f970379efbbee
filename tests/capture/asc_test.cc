#include <gtest/gtest.h>

#include "support/frames.h"

namespace bmslink::capture {
namespace {

constexpr std::string_view kHexAbsolute =
    "date Tue Nov 14 10:13:20.000 pm 2023\n"
    "base hex  timestamps absolute\n"
    "internal events logged\n"
    "// version 9.0.0\n"
    "Begin Triggerblock Tue Nov 14 10:13:20.000 pm 2023\n"
    "   0.000000 Start of measurement\n"
    "   0.117844 1  351             Rx   d 8 14 02 E8 03 E8 03 E0 01  Length = 240000 BitCount = "
    "125 ID = 849\n"
    "   0.120000 1  18FF50E5x       Tx   d 2 01 02\n"
    "   0.130000 2  123             Rx   r 4\n"
    "   0.140000 1  ErrorFrame\n"
    "   0.150000 CANFD   1 Rx      321  SomeMessage  1 0 9 12 01 02 03 04 05 06 07 08 09 0A 0B 0C  "
    "0 0 3000 0 0 0 0 0\n"
    "   0.160000 1  Statistic: D 0 R 0 XD 0 XR 0 E 0 O 0 B 0.00%\n"
    "End TriggerBlock\n";

TEST(VectorAsc, ReadsHexAbsoluteWithDateHeader) {
  const auto r = test::read_memory(kHexAbsolute);
  ASSERT_EQ(r->format, Format::kVectorAsc);
  ASSERT_EQ(r->frames.size(), 5u) << (r->sink.kept().empty()
                                          ? ""
                                          : format_diagnostic(r->sink.kept()[0]));
  // 10:13:20 pm on 2023-11-14 (read as UTC) is 1700000000.
  const auto& a = r->frames[0];
  EXPECT_EQ(a.timestamp_ns, 1'700'000'000'117'844'000LL);
  EXPECT_EQ(a.time_kind, TimeKind::kAbsolute);
  EXPECT_EQ(a.id, 0x351u);
  EXPECT_EQ(a.len, 8);
  EXPECT_EQ(a.data[7], 0x01);
  EXPECT_EQ(a.direction, can::Direction::kRx);
  EXPECT_EQ(a.channel, "1");
  EXPECT_TRUE(r->frames[1].extended);
  EXPECT_EQ(r->frames[1].direction, can::Direction::kTx);
  EXPECT_TRUE(r->frames[2].rtr);
  EXPECT_EQ(r->frames[2].dlc, 4);
  EXPECT_EQ(r->frames[2].channel, "2");
  EXPECT_TRUE(r->frames[3].error);
  const auto& fd = r->frames[4];
  EXPECT_TRUE(fd.fd);
  EXPECT_TRUE(fd.brs);
  EXPECT_EQ(fd.len, 12);
  EXPECT_EQ(fd.data[11], 0x0C);
  EXPECT_EQ(r->stats.malformed, 0u);
}

TEST(VectorAsc, ReadsDecimalBaseAndRelativeTimestamps) {
  const auto r = test::read_memory(
      "date Tue Nov 14 22:13:20 2023\n"
      "base dec  timestamps relative\n"
      "no internal events logged\n"
      "   0.100000 1  849             Rx   d 2 20 2\n"
      "   0.250000 1  849             Rx   d 2 255 0\n");
  ASSERT_EQ(r->frames.size(), 2u);
  EXPECT_EQ(r->frames[0].id, 0x351u);
  EXPECT_EQ(r->frames[0].data[0], 0x14);
  EXPECT_EQ(r->frames[1].data[0], 0xFF);
  // Relative: 0.1 after start, then 0.25 after the previous event.
  EXPECT_EQ(r->frames[1].timestamp_ns, 1'700'000'000'350'000'000LL);
}

TEST(VectorAsc, WithoutDateTimesAreRelative) {
  const auto r = test::read_memory("base hex timestamps absolute\n   1.5 1  351  Rx   d 1 AA\n");
  ASSERT_EQ(r->frames.size(), 1u);
  EXPECT_EQ(r->frames[0].time_kind, TimeKind::kRelative);
  EXPECT_EQ(r->frames[0].timestamp_ns, 1'500'000'000);
}

TEST(VectorAsc, TruncatedDataIsMalformed) {
  const auto r = test::read_memory(
      "base hex timestamps absolute\n   1.0 1  351  Rx   d 8 AA BB\n   2.0 1  351  Rx   d 1 AA\n");
  EXPECT_EQ(r->frames.size(), 1u);
  EXPECT_EQ(r->stats.malformed, 1u);
  EXPECT_EQ(r->sink.kept().at(0).line, 2u);
}

TEST(VectorAsc, ClassicFrameOnFdChannelKeepsClassicWhenEdlIsClear) {
  const auto r = test::read_memory(
      "base hex timestamps absolute\n"
      "   1.0 CANFD   1 Rx      351                                   0 0 8  8 01 02 03 04 05 06 "
      "07 08        0    0        0        0        0        0        0        0\n");
  ASSERT_EQ(r->frames.size(), 1u);
  EXPECT_FALSE(r->frames[0].fd);
  EXPECT_EQ(r->frames[0].len, 8);
}

}  // namespace
}  // namespace bmslink::capture
