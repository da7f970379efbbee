#include <gtest/gtest.h>

#include "support/frames.h"

namespace bmslink::capture {
namespace {

using test::bytes;

TEST(Pasted, ReadsEveryForumShape) {
  const auto r = test::read_memory(
      "Old Pylontechs:\n"
      "ID: 351 Buffer: 14 2 C0 12 C0 12 C2 1\n"
      "0x355 1A 00 64 00\n"
      "356 4e 13 02 03 04 05\n"
      "Standard ID: 0x359       DLC: 7  Data: 0x00 0x00 0x00 0x00 0x0A 0x50 0x4E\n"
      "can0 35C#C000\n"
      "21:22:39.226 > [Pytes] Received CAN message: 0x35E - 50 59 54 45 53\n"
      "21:22:39.242 > [Pytes] chargeVoltageLimit: 52.799999 chargeCurrentLimit: 100.000000\n",
      {.format = Format::kPasted});
  ASSERT_EQ(r->frames.size(), 6u) << (r->sink.kept().empty()
                                          ? ""
                                          : format_diagnostic(r->sink.kept()[0]));
  EXPECT_EQ(r->stats.malformed, 0u);
  EXPECT_EQ(r->stats.ignored, 2u);
  EXPECT_EQ(r->frames[0].id, 0x351u);
  EXPECT_EQ(bytes(r->frames[0]),
            (std::vector<std::uint8_t>{0x14, 0x02, 0xC0, 0x12, 0xC0, 0x12, 0xC2, 0x01}));
  EXPECT_EQ(r->frames[1].id, 0x355u);
  EXPECT_EQ(r->frames[1].len, 4);
  EXPECT_EQ(r->frames[2].id, 0x356u);
  EXPECT_EQ(r->frames[2].len, 6);
  EXPECT_EQ(r->frames[3].id, 0x359u);
  EXPECT_EQ(r->frames[3].data[5], 0x50);
  EXPECT_EQ(r->frames[4].channel, "can0");
  EXPECT_EQ(r->frames[4].len, 2);
  // Nothing said when the first five were sent: no time is invented.
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(r->frames[i].time_kind, TimeKind::kNone);
  // A time of day is kept as a relative time: 21:22:39.226 after midnight.
  EXPECT_EQ(r->frames[5].time_kind, TimeKind::kRelative);
  EXPECT_EQ(r->frames[5].timestamp_ns,
            (21 * 3600 + 22 * 60 + 39) * 1'000'000'000LL + 226'000'000LL);
  EXPECT_EQ(r->frames[5].len, 5);
}

TEST(Pasted, ExtendedKeywordAndLongIdsAre29Bit) {
  const auto r = test::read_memory("Extended ID: 0x1806E5F4 DLC: 2 Data: 0x01 0x02\n",
                                   {.format = Format::kPasted});
  ASSERT_EQ(r->frames.size(), 1u);
  EXPECT_TRUE(r->frames[0].extended);
  EXPECT_EQ(r->frames[0].id, 0x1806E5F4u);
}

TEST(Pasted, DlcDisagreeingWithBytesIsMalformedNotGuessed) {
  const auto r = test::read_memory(
      "Standard ID: 0x351 DLC: 8 Data: 0x44 0x02\n"
      "ID: 351 Buffer: 14 ZZ\n"
      "ID: 351\n"
      "ID: 356 Buffer: 01\n",
      {.format = Format::kPasted});
  ASSERT_EQ(r->frames.size(), 1u);
  EXPECT_EQ(r->frames[0].id, 0x356u);
  EXPECT_EQ(r->stats.malformed, 3u);
}

TEST(Pasted, ProseWithNumbersInventsNoFrame) {
  const auto r = test::read_memory(
      "The inverter shows error 0x35 after 10 minutes\n"
      "Battery at 52.1 V, SOC 63 %\n"
      "I tried 500 and 250 kbit/s\n"
      "fwversion: v22.4 availableCapacity: 20.000000 Ah\n",
      {.format = Format::kPasted});
  EXPECT_TRUE(r->frames.empty());
  EXPECT_EQ(r->stats.malformed, 0u);
}

// Issue 8: a 4-digit id such as 0x0400 is an 11-bit id (it is <= 0x7FF); only 8 digits or a
// value above 0x7FF make it 29-bit.
TEST(Pasted, Issue8FourDigitIdsUpTo0x7FFAreStandard) {
  const auto r = test::read_memory(
      "Received CAN message: 0x0400 - 10 02\n"
      "Received CAN message: 0x041E - 01\n"
      "Received CAN message: 0x0800 - 01\n"
      "Received CAN message: 0x00000401 - 01\n",
      {.format = Format::kPasted});
  ASSERT_EQ(r->frames.size(), 4u);
  EXPECT_EQ(r->frames[0].id, 0x400u);
  EXPECT_FALSE(r->frames[0].extended);
  EXPECT_EQ(r->frames[1].id, 0x41Eu);
  EXPECT_FALSE(r->frames[1].extended);
  EXPECT_EQ(r->frames[2].id, 0x800u);  // above 0x7FF: only a 29-bit id can carry it
  EXPECT_TRUE(r->frames[2].extended);
  EXPECT_EQ(r->frames[3].id, 0x401u);  // 8 digits: written as a 29-bit id
  EXPECT_TRUE(r->frames[3].extended);
}

}  // namespace
}  // namespace bmslink::capture
