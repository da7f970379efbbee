#include <gtest/gtest.h>

#include "support/frames.h"

namespace bmslink::capture {
namespace {

TEST(Sniff, PicksTheFormatFromContentNotName) {
  EXPECT_EQ(test::read_memory("(1700000000.1) can0 351#00\n")->format, Format::kCandumpLog);
  EXPECT_EQ(test::read_memory("  can0  351   [1]  00\n")->format, Format::kCandumpConsole);
  EXPECT_EQ(test::read_memory("base hex timestamps absolute\n 1.0 1 351 Rx d 1 00\n")->format,
            Format::kVectorAsc);
  EXPECT_EQ(test::read_memory(";$FILEVERSION=1.1\n     1)      1.0  Rx  0351  1  00\n")->format,
            Format::kPeakTrc);
  EXPECT_EQ(
      test::read_memory("Time Stamp,ID,Extended,Dir,Bus,LEN,D1\n1,351,false,Rx,0,1,00\n")->format,
      Format::kCsv);
  EXPECT_EQ(test::read_memory("ID: 351 Buffer: 14 2\n")->format, Format::kPasted);
}

TEST(Sniff, NothingRecognisedNamesEveryFormatTried) {
  const auto r = test::read_memory("hello\nthis is not a capture\n");
  ASSERT_TRUE(r->open_error);
  EXPECT_EQ(r->open_error->code, ErrorCode::kUnknownFormat);
  for (const char* name : {"candump-log", "candump", "asc", "trc", "csv", "pcap", "pasted"}) {
    EXPECT_NE(r->open_error->message.find(name), std::string::npos) << name;
  }
}

TEST(Sniff, EmptyInputIsAnError) {
  const auto r = test::read_memory("");
  ASSERT_TRUE(r->open_error);
  EXPECT_NE(r->open_error->message.find("empty"), std::string::npos);
}

TEST(Sniff, BinaryGarbageIsAnErrorNotACrash) {
  std::string junk;
  for (int i = 0; i < 5000; ++i) junk += static_cast<char>((i * 131 + 7) % 256);
  const auto r = test::read_memory(junk);
  EXPECT_TRUE(r->open_error || r->frames.empty());
}

TEST(Sniff, KnownBinaryFormatsSayWhatToDo) {
  // A BLF cut inside its header: named as BLF, with what is missing.
  const auto blf =
      test::read_memory(std::string("LOGG\x90\x00\x00\x00", 8) + std::string(20, '\0'));
  ASSERT_TRUE(blf->open_error);
  EXPECT_NE(blf->open_error->message.find("BLF file header cut short"), std::string::npos);
  // A whole BLF header with nothing after it: a BLF without frames.
  const auto empty_blf =
      test::read_memory(std::string("LOGG\x90\x00\x00\x00", 8) + std::string(136, '\0'));
  EXPECT_FALSE(empty_blf->open_error);
  EXPECT_EQ(empty_blf->format, Format::kBlf);
  EXPECT_TRUE(empty_blf->frames.empty());
  const auto gz = test::read_memory(std::string("\x1f\x8b\x08\x00", 4) + "rest");
  ASSERT_TRUE(gz->open_error);
  EXPECT_NE(gz->open_error->message.find("gunzip"), std::string::npos);
}

TEST(Sniff, OneEndlessLineIsAnErrorNotAHang) {
  const auto r = test::read_memory(std::string(300 * 1024, 'A'));
  ASSERT_TRUE(r->open_error);
  EXPECT_NE(r->open_error->message.find("no complete line"), std::string::npos);
}

TEST(Sniff, MissingFileNamesThePath) {
  const auto r = test::read_file("/nonexistent/capture.log");
  ASSERT_TRUE(r->open_error);
  EXPECT_NE(r->open_error->message.find("/nonexistent/capture.log"), std::string::npos);
}

TEST(Sniff, MalformedLinesLaterInTheFileDoNotChangeTheFormat) {
  std::string text;
  for (int i = 0; i < 50; ++i)
    text += "(1700000000." + std::to_string(100000 + i) + ") can0 351#00\n";
  text += "garbage line\n(1700000001.0) can0 351#01\n";
  const auto r = test::read_memory(text);
  EXPECT_EQ(r->frames.size(), 51u);
  EXPECT_EQ(r->stats.malformed, 1u);
  EXPECT_EQ(r->sink.kept().at(0).line, 51u);
}

}  // namespace
}  // namespace bmslink::capture
