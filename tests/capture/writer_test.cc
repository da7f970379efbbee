#include "bmslink/capture/writer.h"

#include <gtest/gtest.h>

#include "support/frames.h"

namespace bmslink::capture {
namespace {

std::string write_all(OutputFormat format, const std::vector<can::Frame>& frames,
                      std::uint64_t* untimed = nullptr) {
  char* buf = nullptr;
  std::size_t size = 0;
  std::FILE* out = open_memstream(&buf, &size);
  auto w = make_writer(format, out);
  for (const auto& f : frames) w->write(f);
  EXPECT_TRUE(w->finish());
  if (untimed) *untimed = w->untimed();
  std::fclose(out);
  std::string s(buf, size);
  std::free(buf);
  return s;
}

constexpr std::string_view kMixed =
    "(1700000000.117844) can0 351#1402E803E803E001\n"
    "(1700000000.200000) can0 18FF50E5#0102\n"
    "(1700000000.300000) can1 123#R4\n"
    "(1700000000.400000) can0 20000088#0000040A00000000\n"
    "(1700000000.500000) can0 321##1001122334455667788990011\n"
    "(1700000000.600000) can0 7FF#1122334455667788_C\n";

TEST(CandumpWriter, RoundTripsEveryFrameKindByteForByte) {
  const auto r = test::read_memory(kMixed);
  ASSERT_EQ(r->frames.size(), 6u);
  EXPECT_EQ(write_all(OutputFormat::kCandumpLog, r->frames), kMixed);
}

TEST(CandumpWriter, UntimedFramesAreWrittenAtZeroAndCounted) {
  const auto r = test::read_memory("0x351 14 02\n", {.format = Format::kPasted});
  std::uint64_t untimed = 0;
  EXPECT_EQ(write_all(OutputFormat::kCandumpLog, r->frames, &untimed),
            "(0000000000.000000) can0 351#1402\n");
  EXPECT_EQ(untimed, 1u);
}

TEST(AscWriter, RoundTripsThroughTheAscReader) {
  const auto r = test::read_memory(kMixed);
  const std::string asc = write_all(OutputFormat::kVectorAsc, r->frames);
  EXPECT_NE(asc.find("date Tue Nov 14 10:13:20.117 pm 2023"), std::string::npos) << asc;
  const auto back = test::read_memory(asc);
  ASSERT_EQ(back->format, Format::kVectorAsc);
  ASSERT_EQ(back->frames.size(), r->frames.size());
  for (std::size_t i = 0; i < r->frames.size(); ++i) {
    const auto& a = r->frames[i];
    const auto& b = back->frames[i];
    EXPECT_EQ(a.timestamp_ns, b.timestamp_ns) << i;
    EXPECT_EQ(a.error, b.error) << i;
    if (a.error) continue;  // ASC keeps that an error happened, not its class
    EXPECT_EQ(a.id, b.id) << i;
    EXPECT_EQ(a.extended, b.extended) << i;
    EXPECT_EQ(a.rtr, b.rtr) << i;
    EXPECT_EQ(a.fd, b.fd) << i;
    EXPECT_EQ(a.brs, b.brs) << i;
    EXPECT_EQ(a.dlc, b.dlc) << i;
    EXPECT_EQ(test::bytes(a), test::bytes(b)) << i;
  }
  EXPECT_EQ(back->frames[2].channel, "2");  // can1 was the second channel seen
}

TEST(AscWriter, EmptyCaptureStillMakesAValidFile) {
  const std::string asc = write_all(OutputFormat::kVectorAsc, {});
  EXPECT_NE(asc.find("Begin Triggerblock"), std::string::npos);
  EXPECT_NE(asc.find("End TriggerBlock"), std::string::npos);
}

}  // namespace
}  // namespace bmslink::capture
