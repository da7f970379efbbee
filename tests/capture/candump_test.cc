#include <gtest/gtest.h>

#include "bmslink/can/error_frame.h"
#include "support/frames.h"

namespace bmslink::capture {
namespace {

using test::bytes;
using test::read_memory;

TEST(CandumpLog, ReadsClassicExtendedRemoteErrorAndFd) {
  const auto r = read_memory(
      "(1700000000.123456) can0 351#1402740E740ECC01\n"
      "(1700000000.200000) can0 18FF50E5#0102\n"
      "(1700000000.300000) can1 123#R\n"
      "(1700000000.300500) can1 123#R4\n"
      "(1700000000.400000) can0 20000080#0000000000000000\n"
      "(1700000000.500000) can0 321##1001122334455667788990011\n"
      "(1700000000.600000) can0 7FF#1122334455667788_C\n");
  ASSERT_EQ(r->format, Format::kCandumpLog);
  ASSERT_EQ(r->frames.size(), 7u);
  const auto& a = r->frames[0];
  EXPECT_EQ(a.id, 0x351u);
  EXPECT_FALSE(a.extended);
  EXPECT_EQ(a.timestamp_ns, 1'700'000'000'123'456'000LL);
  EXPECT_EQ(a.time_kind, TimeKind::kAbsolute);
  EXPECT_EQ(a.channel, "can0");
  EXPECT_EQ(bytes(a), (std::vector<std::uint8_t>{0x14, 0x02, 0x74, 0x0E, 0x74, 0x0E, 0xCC, 0x01}));
  EXPECT_TRUE(r->frames[1].extended);
  EXPECT_EQ(r->frames[1].id, 0x18FF50E5u);
  EXPECT_TRUE(r->frames[2].rtr);
  EXPECT_EQ(r->frames[2].len, 0);
  EXPECT_EQ(r->frames[3].dlc, 4);
  EXPECT_TRUE(r->frames[4].error);
  EXPECT_EQ(r->frames[4].id, 0x80u);
  const auto& fd = r->frames[5];
  EXPECT_TRUE(fd.fd);
  EXPECT_TRUE(fd.brs);
  EXPECT_FALSE(fd.esi);
  EXPECT_EQ(fd.len, 12);
  EXPECT_EQ(fd.dlc, 9);
  EXPECT_EQ(r->frames[6].dlc, 0xC);
  EXPECT_EQ(r->frames[6].len, 8);
  EXPECT_EQ(r->stats.malformed, 0u);
}

TEST(CandumpLog, ErrorFlagWithoutBusErrorBitIsStillAnErrorFrame) {
  // python-can 4.1 reads this as a data frame with id 0x4 (see bench/PEERS notes); it is a
  // controller error frame: RX warning, rxerr = 96.
  const auto r = read_memory("(1.0) can0 20000004#0004000000000060\n(2.0) can0 351#00\n");
  ASSERT_EQ(r->frames.size(), 2u);
  EXPECT_TRUE(r->frames[0].error);
  EXPECT_EQ(r->frames[0].id, 0x004u);
  EXPECT_EQ(r->frames[0].time_kind, TimeKind::kRelative);
}

TEST(CandumpLog, ReadsDirectionFlag) {
  const auto r = read_memory("(1700000000.1) can0 351#00 T\n(1700000000.2) can0 351#00 R\n");
  ASSERT_EQ(r->frames.size(), 2u);
  EXPECT_EQ(r->frames[0].direction, can::Direction::kTx);
  EXPECT_EQ(r->frames[1].direction, can::Direction::kRx);
}

TEST(CandumpLog, SkipsMalformedLineAndCountsIt) {
  const auto r = read_memory(
      "(1700000000.1) can0 351#1402\n"
      "(1700000000.2) can0 351#14G2\n"                // bad hex
      "(1700000000.3) can0 35#14\n"                   // 2-digit id
      "(1700000000.4) can0 351#112233445566778899\n"  // 9 bytes classic
      "(1700000000.5) can0 800#00\n"                  // 11-bit id above 0x7FF
      "(1700000000.6) can0 351#123\n"                 // odd nibble count
      "(1700000000.7) can0 356#0102\n");
  ASSERT_EQ(r->frames.size(), 2u);
  EXPECT_EQ(r->stats.malformed, 5u);
  ASSERT_GE(r->sink.kept().size(), 1u);
  EXPECT_EQ(r->sink.kept()[0].file, "mem");
  EXPECT_EQ(r->sink.kept()[0].line, 2u);
  EXPECT_NE(r->sink.kept()[0].reason.find("hex"), std::string::npos);
  EXPECT_EQ(r->frames[1].id, 0x356u);
}

TEST(CandumpConsole, ReadsPlainAndAbsoluteTimestampLines) {
  const auto r = read_memory(
      "  can8  373   [8]  BB 0C C5 0C 26 01 28 01\n"
      "  can8  305   [8]  00 00 00 00 00 00 00 00\n");
  ASSERT_EQ(r->format, Format::kCandumpConsole);
  ASSERT_EQ(r->frames.size(), 2u);
  EXPECT_EQ(r->frames[0].time_kind, TimeKind::kNone);
  EXPECT_EQ(r->frames[0].channel, "can8");
  EXPECT_EQ(r->frames[0].id, 0x373u);
  EXPECT_EQ(r->frames[0].data[0], 0xBB);

  const auto a = read_memory(" (1700000000.500000)  can0  351   [4]  14 02 74 0E\n");
  ASSERT_EQ(a->frames.size(), 1u);
  EXPECT_EQ(a->frames[0].timestamp_ns, 1'700'000'000'500'000'000LL);
  EXPECT_EQ(a->frames[0].time_kind, TimeKind::kAbsolute);
}

TEST(CandumpConsole, DateTimestampsAreAbsolute) {
  // -tA: 2023-11-14 22:13:20.25 UTC = 1700000000.25
  const auto r = read_memory("(2023-11-14 22:13:20.250000)  can0  351   [1]  14\n");
  ASSERT_EQ(r->frames.size(), 1u);
  EXPECT_EQ(r->frames[0].timestamp_ns, 1'700'000'000'250'000'000LL);
}

TEST(CandumpConsole, DeltaTimestampsAccumulate) {
  // -td: each value is the gap to the previous frame; a smaller value after a larger one gives
  // it away in the first lines.
  const auto r = read_memory(
      " (000.000000)  can0  351   [1]  01\n"
      " (000.500000)  can0  355   [1]  02\n"
      " (000.000300)  can0  356   [1]  03\n"
      " (000.499700)  can0  351   [1]  04\n");
  ASSERT_EQ(r->frames.size(), 4u);
  EXPECT_EQ(r->frames[2].timestamp_ns, 500'300'000);
  EXPECT_EQ(r->frames[3].timestamp_ns, 1'000'000'000);
  EXPECT_NE(r->variant.find("delta"), std::string::npos);
}

TEST(CandumpConsole, ZeroBasedTimestampsStayAsWritten) {
  const auto r = read_memory(
      " (000.000000)  can0  351   [1]  01\n"
      " (000.500000)  can0  355   [1]  02\n"
      " (001.000000)  can0  351   [1]  03\n");
  ASSERT_EQ(r->frames.size(), 3u);
  EXPECT_EQ(r->frames[2].timestamp_ns, 1'000'000'000);
  EXPECT_EQ(r->frames[2].time_kind, TimeKind::kRelative);
}

TEST(CandumpConsole, ExtraInfoAsciiRemoteErrorAndFd) {
  const auto r = read_memory(
      " (1700000000.000001)  can0  TX - -  351   [2]  14 02   '..'\n"
      " (1700000000.000002)  can0  RX B -  123  [12]  01 02 03 04 05 06 07 08 09 0A 0B 0C\n"
      " (1700000000.000003)  can0  7FF   [3]  remote request\n"
      " (1700000000.000004)  can0  20000080   [8]  00 00 00 00 00 00 00 00   ERRORFRAME\n"
      "\tbus-error\n");
  ASSERT_EQ(r->frames.size(), 4u) << (r->sink.kept().empty()
                                          ? ""
                                          : format_diagnostic(r->sink.kept()[0]));
  EXPECT_EQ(r->frames[0].direction, can::Direction::kTx);
  EXPECT_TRUE(r->frames[1].fd);
  EXPECT_TRUE(r->frames[1].brs);
  EXPECT_EQ(r->frames[1].len, 12);
  EXPECT_TRUE(r->frames[2].rtr);
  EXPECT_EQ(r->frames[2].dlc, 3);
  EXPECT_TRUE(r->frames[3].error);
  EXPECT_EQ(r->stats.malformed, 0u);
}

TEST(CandumpConsole, FewerBytesThanLengthIsMalformed) {
  const auto r = read_memory("  can0  351   [8]  14 02\n  can0  351   [2]  14 02\n");
  EXPECT_EQ(r->frames.size(), 1u);
  EXPECT_EQ(r->stats.malformed, 1u);
}

TEST(CandumpConsole, ReadsBatteryEmulatorLogsWithUnpaddedBytes) {
  const auto r = read_memory(
      "(12.345) RX0 351 [8] 14 2 74 E 74 E CC 1\n"
      "(12.350) TX1 305 [8] 0 0 0 0 0 0 0 0\n");
  ASSERT_EQ(r->frames.size(), 2u);
  EXPECT_EQ(r->frames[0].direction, can::Direction::kRx);
  EXPECT_EQ(r->frames[0].channel, "0");
  EXPECT_EQ(r->frames[0].data[1], 0x02);
  EXPECT_EQ(r->frames[1].direction, can::Direction::kTx);
  EXPECT_EQ(r->frames[1].timestamp_ns, 12'350'000'000LL);
}

}  // namespace
}  // namespace bmslink::capture

namespace bmslink::capture {
namespace {

// Found by fuzzing: a far-future time summed with a capture offset overflowed int64.
TEST(CandumpLog, TimestampOutsideTheRepresentableRangeIsMalformed) {
  const auto r = test::read_memory("(9999999999999.0) can0 351#00\n(1700000000.0) can0 351#01\n");
  ASSERT_EQ(r->frames.size(), 1u);
  EXPECT_EQ(r->stats.malformed, 1u);
}

TEST(CandumpConsole, DateBeforeTheEpochIsMalformed) {
  const auto r = test::read_memory(
      "(1011-11-14 22:13:21.250000)  can0  351   [1]  00\n  can0  351   [1]  01\n",
      {.format = Format::kCandumpConsole});
  EXPECT_EQ(r->frames.size(), 1u);
  EXPECT_EQ(r->stats.malformed, 1u);
}

}  // namespace
}  // namespace bmslink::capture
