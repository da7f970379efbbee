#include <gtest/gtest.h>

#include "support/frames.h"

namespace bmslink::capture {
namespace {

TEST(CsvReader, ReadsGvretNativeExport) {
  const auto r = test::read_memory(
      "Time Stamp,ID,Extended,Dir,Bus,LEN,D1,D2,D3,D4,D5,D6,D7,D8\n"
      "166064000,00000351,false,Rx,0,8,14,02,74,0E,74,0E,CC,01,\n"
      "166065000,18FF50E5,true,Tx,1,2,01,02,\n");
  ASSERT_EQ(r->format, Format::kCsv);
  ASSERT_EQ(r->frames.size(), 2u);
  EXPECT_EQ(r->frames[0].timestamp_ns, 166'064'000'000LL);
  EXPECT_EQ(r->frames[0].time_kind, TimeKind::kRelative);
  EXPECT_EQ(r->frames[0].id, 0x351u);
  EXPECT_EQ(r->frames[0].data[6], 0xCC);
  EXPECT_EQ(r->frames[0].channel, "0");
  EXPECT_TRUE(r->frames[1].extended);
  EXPECT_EQ(r->frames[1].direction, can::Direction::kTx);
}

TEST(CsvReader, ReadsOldExportWithoutDirAndEpochTimes) {
  const auto r = test::read_memory(
      "Time Stamp,ID,Extended,Bus,LEN,D1,D2,D3,D4,D5,D6,D7,D8\n"
      "1700000000123456,351,false,0,2,14,02\n");
  ASSERT_EQ(r->frames.size(), 1u);
  EXPECT_EQ(r->frames[0].time_kind, TimeKind::kAbsolute);
  EXPECT_EQ(r->frames[0].timestamp_ns, 1'700'000'000'123'456'000LL);
  EXPECT_EQ(r->frames[0].len, 2);
}

TEST(CsvReader, LenBeyondColumnsIsMalformed) {
  const auto r = test::read_memory(
      "Time Stamp,ID,Extended,Dir,Bus,LEN,D1,D2,D3,D4,D5,D6,D7,D8\n"
      "1,351,false,Rx,0,8,14,02\n"
      "2,351,maybe,Rx,0,1,14\n"
      "3,351,false,Rx,0,1,14\n");
  EXPECT_EQ(r->frames.size(), 1u);
  EXPECT_EQ(r->stats.malformed, 2u);
}

TEST(CsvReader, ReadsPythonCanLayoutWithBase64Data) {
  // "FAJ0Dg==" is base64 for 14 02 74 0E.
  const auto r = test::read_memory(
      "timestamp,arbitration_id,extended,remote,error,dlc,data\n"
      "1700000000.123456,0x351,0,0,0,4,FAJ0Dg==\n"
      "1700000000.2,0x18ff50e5,1,0,0,0,\n"
      "1700000000.3,0x123,0,1,0,3,\n");
  ASSERT_EQ(r->format, Format::kCsv);
  EXPECT_EQ(r->variant, "python-can CSV");
  ASSERT_EQ(r->frames.size(), 3u);
  EXPECT_EQ(r->frames[0].timestamp_ns, 1'700'000'000'123'456'000LL);
  EXPECT_EQ(test::bytes(r->frames[0]), (std::vector<std::uint8_t>{0x14, 0x02, 0x74, 0x0E}));
  EXPECT_TRUE(r->frames[1].extended);
  EXPECT_EQ(r->frames[1].len, 0);
  EXPECT_TRUE(r->frames[2].rtr);
  EXPECT_EQ(r->frames[2].dlc, 3);
}

}  // namespace
}  // namespace bmslink::capture

namespace bmslink::capture {
namespace {

// Found by fuzzing: a python-can row flagged both error and remote became an impossible frame.
TEST(CsvReader, PythonCanRowThatIsBothErrorAndRemoteIsMalformed) {
  const auto r = test::read_memory(
      "timestamp,arbitration_id,extended,remote,error,dlc,data\n"
      "1.0,0x80,0,1,1,0,\n"
      "2.0,0x351,0,0,0,1,AQ==\n");
  ASSERT_EQ(r->frames.size(), 1u);
  EXPECT_EQ(r->stats.malformed, 1u);
}

}  // namespace
}  // namespace bmslink::capture
