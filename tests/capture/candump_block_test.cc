#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "bmslink/capture/reader.h"
#include "support/frames.h"

namespace bmslink::capture {
namespace {

std::vector<can::Frame> bulk(std::string_view text, CollectingSink& sink, std::uint64_t first_line,
                             ReaderStats* stats = nullptr) {
  std::vector<can::Frame> out;
  const auto st = read_candump_log_block(text, "blk", first_line, sink,
                                         [&](const can::Frame& f) { out.push_back(f); });
  if (stats != nullptr) *stats = st;
  return out;
}

TEST(BulkCandumpLog, GivesTheGeneralReadersFramesForTheSample) {
  std::ifstream in(test::data_path("../../data/samples/pylontech_session.log"));
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const auto general = test::read_memory(text, {Format::kCandumpLog});
  CollectingSink sink;
  ReaderStats st;
  const auto frames = bulk(text, sink, 1, &st);
  ASSERT_EQ(frames.size(), 6318u);
  ASSERT_EQ(frames.size(), general->frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i)
    ASSERT_TRUE(can::same_frame(frames[i], general->frames[i])) << i;
  EXPECT_EQ(st.lines, 6318u);
  EXPECT_EQ(sink.total(), 0u);
}

// Issue 20: the fuzzer found text behind an FF FE mark read as UTF-16 by the general reader and
// as bytes by the bulk path. Both now ask one function how a text starts.
TEST(BulkCandumpLog, ReadsByteOrderMarksAsTheGeneralReaderDoes) {
  const std::string line = "(1700000000.000000) can0 351#1402\n";
  std::string utf16le("\xFF\xFE", 2), utf16be("\xFE\xFF", 2);
  for (char c : line) {
    utf16le += c;
    utf16le += '\0';
    utf16be += '\0';
    utf16be += c;
  }
  for (const std::string& text : {"\xEF\xBB\xBF" + line, utf16le, utf16be}) {
    CollectingSink sink;
    ReaderStats st;
    const auto frames = bulk(text, sink, 1, &st);
    ASSERT_EQ(frames.size(), 1u) << text.size();
    EXPECT_EQ(frames[0].id, 0x351u);
    EXPECT_EQ(frames[0].timestamp_ns, 1'700'000'000'000'000'000LL);
    EXPECT_EQ(st.lines, 1u);
    EXPECT_EQ(sink.total(), 0u);
  }
  // Inside a file (a block after the first), the bytes are the text as they are.
  CollectingSink sink;
  std::vector<can::Frame> inside;
  read_candump_log_block(
      "\xEF\xBB\xBF" + line, "blk", 7, sink, [&](const can::Frame& f) { inside.push_back(f); },
      BlockStart::kInsideText);
  EXPECT_TRUE(inside.empty());
  EXPECT_EQ(sink.total(), 1u);
}

TEST(BulkCandumpLog, ParsesTheCanonicalLineByHand) {
  CollectingSink sink;
  // 0x18FF50E5 is 29-bit (8 digits); 1764000000.117475 s = 1764000000117475000 ns.
  const auto f =
      bulk("(1764000000.117475) can0 351#1402E803E803E001\n(1764000000.200000) vcan1 18FF50E5#01\n",
           sink, 1);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].timestamp_ns, 1764000000117475000);
  EXPECT_EQ(f[0].time_kind, TimeKind::kAbsolute);
  EXPECT_EQ(f[0].id, 0x351u);
  EXPECT_FALSE(f[0].extended);
  EXPECT_EQ(f[0].len, 8);
  EXPECT_EQ(f[0].data[0], 0x14);
  EXPECT_EQ(f[0].data[7], 0x01);
  EXPECT_EQ(f[0].channel, "can0");
  EXPECT_EQ(f[1].id, 0x18FF50E5u);
  EXPECT_TRUE(f[1].extended);
  EXPECT_EQ(f[1].len, 1);
  EXPECT_EQ(f[1].channel, "vcan1");
}

TEST(BulkCandumpLog, NamesMalformedLinesCountingFromFirstLine) {
  CollectingSink sink;
  ReaderStats st;
  const auto f = bulk(
      "(1.000000) can0 351#11\n(2.000000) can0 E30#11\n(3.000000) can0 351#XY\r\n(4.0) can0 351#22 "
      "R\n",
      sink, 1001, &st);
  ASSERT_EQ(f.size(), 2u);  // the first and the last (direction flag via the general parser)
  EXPECT_EQ(f[1].direction, can::Direction::kRx);
  EXPECT_EQ(f[0].time_kind, TimeKind::kRelative);
  ASSERT_EQ(sink.kept().size(), 2u);
  EXPECT_EQ(sink.kept()[0].line, 1002u);
  EXPECT_NE(sink.kept()[0].reason.find("0x7FF"), std::string::npos);
  EXPECT_EQ(sink.kept()[1].line, 1003u);
  EXPECT_EQ(sink.kept()[1].file, "blk");
  EXPECT_EQ(st.malformed, 2u);
  EXPECT_EQ(st.lines, 4u);
}

}  // namespace
}  // namespace bmslink::capture
