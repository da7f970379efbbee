#include "capture/line_source.h"

#include <cstring>

#include <gtest/gtest.h>

namespace bmslink::capture::detail {
namespace {

std::vector<std::string> all_lines(std::string_view text, std::size_t buffer,
                                   std::vector<bool>* long_flags = nullptr) {
  LineSource src(std::make_unique<MemorySource>(text), buffer);
  std::vector<std::string> out;
  std::string_view line;
  bool too_long = false;
  while (src.next_line(line, too_long)) {
    out.emplace_back(line);
    if (long_flags) long_flags->push_back(too_long);
  }
  return out;
}

TEST(LineSource, SplitsOnLfAndCrLfAndKeepsLastLineWithoutNewline) {
  EXPECT_EQ(all_lines("a\r\nb\n\nc", 64), (std::vector<std::string>{"a", "b", "", "c"}));
}

TEST(LineSource, LinesCrossingBufferRefillsStayWhole) {
  std::string text;
  for (int i = 0; i < 200; ++i) text += "line" + std::to_string(i) + "\n";
  const auto lines = all_lines(text, 16);
  ASSERT_EQ(lines.size(), 200u);
  EXPECT_EQ(lines[123], "line123");
}

TEST(LineSource, OverLongLineIsCutOnceAndTheRestSkipped) {
  const std::string text = "ok\n" + std::string(100, 'x') + "\nnext\n";
  std::vector<bool> flags;
  const auto lines = all_lines(text, 16, &flags);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "ok");
  EXPECT_TRUE(flags[1]);
  EXPECT_EQ(lines[1].size(), 16u);
  EXPECT_EQ(lines[2], "next");
}

TEST(LineSource, HeadDoesNotConsume) {
  LineSource src(std::make_unique<MemorySource>("x\ny\n"), 64);
  EXPECT_EQ(src.head(), "x\ny\n");
  EXPECT_TRUE(src.head_is_everything());
  std::string_view line;
  bool too_long = false;
  ASSERT_TRUE(src.next_line(line, too_long));
  EXPECT_EQ(line, "x");
  EXPECT_EQ(src.line_number(), 1u);
}

// A pipe that hands out one line per read, like candump at a few frames per second.
class LineAtATimeSource final : public ByteSource {
 public:
  explicit LineAtATimeSource(int lines) : remaining_(lines) {}
  std::ptrdiff_t read(char* out, std::size_t n) override {
    ++reads;
    if (remaining_-- <= 0 || n < 4) return 0;
    std::memcpy(out, "abc\n", 4);
    return 4;
  }
  int reads = 0;

 private:
  int remaining_;
};

TEST(LineSource, HeadStopsReadingOnceEnoughLinesArrived) {
  auto source = std::make_unique<LineAtATimeSource>(1000);
  auto* raw = source.get();
  LineSource src(std::move(source), 4096);
  EXPECT_EQ(src.head(3, 4096).size(), 12u);
  EXPECT_EQ(raw->reads, 3);
  EXPECT_FALSE(src.head_is_everything());
}

}  // namespace
}  // namespace bmslink::capture::detail
