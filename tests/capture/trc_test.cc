#include <gtest/gtest.h>

#include "bmslink/can/error_frame.h"
#include "support/frames.h"

namespace bmslink::capture {
namespace {

TEST(PeakTrc, ReadsVersion10WithErrorAndWarningRows) {
  // Rows as in PEAK's own version 1.0 example.
  const auto r = test::read_memory(
      ";##########################################################################\n"
      ";   Start time: 11.09.2002 16:00:20.682\n"
      ";----+- ---+--- ----+--- + -+ -- -- ...\n"
      "     1)      1841  0001      8  00 00 00 00 00 00 00 00\n"
      "     2)      1842  0008      4  ERROR 00 19 08 08\n"
      "     3)      1843  FFFFFFFF  4  00 00 00 04 ------BUSLIGHT\n"
      "     4)      1844  0100      3  RTR\n");
  ASSERT_EQ(r->format, Format::kPeakTrc);
  ASSERT_EQ(r->frames.size(), 4u) << (r->sink.kept().empty()
                                          ? ""
                                          : format_diagnostic(r->sink.kept()[0]));
  EXPECT_EQ(r->frames[0].id, 0x001u);
  EXPECT_EQ(r->frames[0].timestamp_ns, 1'841'000'000LL);
  // Error type 8 (other) in the ACK slot (0x19), counters 8/8: a missing acknowledgement.
  const auto info = can::decode_error_frame(r->frames[1]);
  EXPECT_TRUE(r->frames[1].error);
  EXPECT_TRUE(info.no_ack);
  EXPECT_EQ(info.violation_location, "ack slot");
  EXPECT_EQ(*info.rx_error_counter, 8);
  const auto warn = can::decode_error_frame(r->frames[2]);
  EXPECT_TRUE(warn.rx_warning);
  EXPECT_TRUE(r->frames[3].rtr);
  EXPECT_EQ(r->frames[3].dlc, 3);
}

TEST(PeakTrc, ReadsVersion11WithStartTimeAndDirection) {
  // $STARTTIME 45244.9259259259 = 2023-11-14 22:13:20 UTC (45244 days after 1899-12-30).
  const auto r = test::read_memory(
      ";$FILEVERSION=1.1\n"
      ";$STARTTIME=45244.9259259259\n"
      ";   Message Number\n"
      "     1)      1059.9  Rx         0351  8  14 02 74 0E 74 0E CC 01\n"
      "     2)      7468.9  Tx         0000  8  RTR\n"
      "     3)      7470.0  Rx     18FF50E5  2  01 02\n");
  ASSERT_EQ(r->frames.size(), 3u);
  EXPECT_EQ(r->variant, "TRC 1.1");
  EXPECT_EQ(r->frames[0].time_kind, TimeKind::kAbsolute);
  // Within a millisecond of 1700000000 + 1.0599 s (the OLE value is rounded in the file).
  EXPECT_NEAR(static_cast<double>(r->frames[0].timestamp_ns - 1'700'000'001'059'900'000LL), 0.0,
              1e6);
  EXPECT_EQ(r->frames[1].direction, can::Direction::kTx);
  EXPECT_TRUE(r->frames[1].rtr);
  EXPECT_TRUE(r->frames[2].extended);
}

TEST(PeakTrc, ReadsVersion13WithBusAndReservedColumns) {
  const auto r = test::read_memory(
      ";$FILEVERSION=1.3\n"
      "     1)      1059.900 2  Rx         0351 -  2    14 02\n");
  ASSERT_EQ(r->frames.size(), 1u);
  EXPECT_EQ(r->frames[0].channel, "2");
  EXPECT_EQ(r->frames[0].id, 0x351u);
  EXPECT_EQ(r->frames[0].data[1], 0x02);
}

TEST(PeakTrc, ReadsVersion20RecordTypes) {
  const auto r = test::read_memory(
      ";$FILEVERSION=2.0\n"
      "      1      1059.900 DT     0351 Rx 8  14 02 74 0E 74 0E CC 01\n"
      "      2      1060.000 FB     0123 Rx 9  01 02 03 04 05 06 07 08 09 0A 0B 0C\n"
      "      3      1061.000 RR     0200 Tx 2\n"
      "      4      1062.000 ER          Rx 5  04 01 0A 10 00\n"
      "      5      1063.000 EV     User event text\n");
  ASSERT_EQ(r->frames.size(), 4u) << (r->sink.kept().empty()
                                          ? ""
                                          : format_diagnostic(r->sink.kept()[0]));
  EXPECT_TRUE(r->frames[1].fd);
  EXPECT_TRUE(r->frames[1].brs);
  EXPECT_EQ(r->frames[1].len, 12);  // DLC 9 in version 2.0 is 12 bytes
  EXPECT_TRUE(r->frames[2].rtr);
  const auto info = can::decode_error_frame(r->frames[3]);
  EXPECT_EQ(info.violation_kinds, std::vector<std::string>{"stuff"});
  EXPECT_EQ(info.violation_location, "data field");
  EXPECT_EQ(*info.rx_error_counter, 0x10);
}

TEST(PeakTrc, ReadsVersion21FollowingColumnsHeader) {
  const auto r = test::read_memory(
      ";$FILEVERSION=2.1\n"
      ";$STARTTIME=45244.9259259259\n"
      ";$COLUMNS=N,O,T,B,I,d,R,L,D\n"
      "      1      1059.900 DT 1      0351 Rx -  8    14 02 74 0E 74 0E CC 01\n"
      "      2      1060.900 EC 1           Rx -  2    60 00\n");
  ASSERT_EQ(r->frames.size(), 2u);
  EXPECT_EQ(r->frames[0].channel, "1");
  EXPECT_EQ(r->frames[0].data[2], 0x74);
  EXPECT_TRUE(r->frames[1].error);
  EXPECT_EQ(*can::decode_error_frame(r->frames[1]).rx_error_counter, 0x60);
}

TEST(PeakTrc, MissingDataBytesIsMalformed) {
  const auto r = test::read_memory(
      ";$FILEVERSION=1.1\n     1)      1.0  Rx  0351  8  14 02\n     2)      2.0  Rx  0351  1  "
      "14\n");
  EXPECT_EQ(r->frames.size(), 1u);
  EXPECT_EQ(r->stats.malformed, 1u);
}

// Issue 8: $COLUMNS says whether the length is a DLC ('L') or a byte count ('l'); CAN FD records
// with DLC 9-15 are read (DLC 9 = 12 bytes, 13 = 32 bytes, 15 = 64 bytes: ISO 11898-1 table).
TEST(PeakTrc, Issue8LengthColumnFollowsColumnsHeader) {
  std::string bytes12, bytes32;
  for (int i = 0; i < 12; ++i) bytes12 += " AA";
  for (int i = 0; i < 32; ++i) bytes32 += " 55";
  const auto dlc = test::read_memory(
      ";$FILEVERSION=2.1\n;$COLUMNS=N,O,T,B,I,d,R,L,D\n"
      "      1      1.000 FD 1      0123 Rx -  9   " +
      bytes12 + "\n      2      2.000 FB 1      0124 Rx -  13  " + bytes32 + "\n");
  ASSERT_EQ(dlc->frames.size(), 2u)
      << (dlc->sink.kept().empty() ? "" : format_diagnostic(dlc->sink.kept()[0]));
  EXPECT_EQ(dlc->stats.malformed, 0u);
  EXPECT_EQ(dlc->frames[0].len, 12);
  EXPECT_EQ(dlc->frames[0].dlc, 9);
  EXPECT_EQ(dlc->frames[1].len, 32);
  EXPECT_EQ(dlc->frames[1].data[31], 0x55);
  const auto count = test::read_memory(
      ";$FILEVERSION=2.1\n;$COLUMNS=N,O,T,B,I,d,R,l,D\n"
      "      1      1.000 FD 1      0123 Rx -  12  " +
      bytes12 + "\n");
  ASSERT_EQ(count->frames.size(), 1u);
  EXPECT_EQ(count->frames[0].len, 12);
  EXPECT_EQ(count->frames[0].dlc, 9);
  // 9 as a byte count is not a valid CAN FD length: reported, not guessed.
  const auto bad = test::read_memory(
      ";$FILEVERSION=2.1\n;$COLUMNS=N,O,T,B,I,d,R,l,D\n"
      "      1      1.000 DT 1      0351 Rx -  8   14 02 74 0E 74 0E CC 01\n"
      "      2      2.000 FD 1      0123 Rx -  9   " +
      bytes12 + "\n");
  EXPECT_EQ(bad->frames.size(), 1u);
  EXPECT_EQ(bad->stats.malformed, 1u);
}

// Issue 8: error-counter (EC), error (ER) and status (ST) records leave columns empty; with the
// whitespace collapsed they are still read from the end of the line (EC bytes: RX then TX count).
TEST(PeakTrc, Issue8StatusRecordsReadWithWhitespaceCollapsed) {
  const auto r = test::read_memory(
      ";$FILEVERSION=2.1\n"
      ";$COLUMNS=N,O,T,B,I,d,R,L,D\n"
      "1 1059.900 DT 1 0351 Rx - 8 14 02 74 0E 74 0E CC 01\n"
      "2 1060.900 EC 1 - 2 60 08\n"
      "3 1061.900 EC 1 2 61 09\n"
      "4 1062.900 ER 2 - 5 04 01 0A 10 00\n");
  ASSERT_EQ(r->frames.size(), 4u) << (r->sink.kept().empty()
                                          ? ""
                                          : format_diagnostic(r->sink.kept()[0]));
  EXPECT_EQ(r->stats.malformed, 0u);
  const auto ec = can::decode_error_frame(r->frames[1]);
  ASSERT_TRUE(ec.rx_error_counter);
  EXPECT_EQ(*ec.rx_error_counter, 0x60);
  EXPECT_EQ(*ec.tx_error_counter, 0x08);
  EXPECT_EQ(*can::decode_error_frame(r->frames[2]).rx_error_counter, 0x61);
  EXPECT_TRUE(r->frames[3].error);
  EXPECT_EQ(r->frames[3].channel, "2");
  // Offsets are in milliseconds: 1060.900 - 1059.900 = 1 ms after the data frame.
  EXPECT_EQ(r->frames[1].timestamp_ns - r->frames[0].timestamp_ns, 1'000'000);
  // Still malformed: a status record whose tail does not add up.
  const auto bad = test::read_memory(
      ";$FILEVERSION=2.1\n;$COLUMNS=N,O,T,B,I,d,R,L,D\n"
      "1 1059.900 DT 1 0351 Rx - 8 14 02 74 0E 74 0E CC 01\n"
      "2 1060.900 EC 1 - 5 60\n");
  EXPECT_EQ(bad->frames.size(), 1u);
  EXPECT_EQ(bad->stats.malformed, 1u);
}

}  // namespace
}  // namespace bmslink::capture
