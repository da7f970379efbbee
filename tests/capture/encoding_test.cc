// Files as people save them: Notepad's byte-order mark, PowerShell's UTF-16 and boot output
// before the first frame must not cost a frame or the format.
#include <gtest/gtest.h>

#include "support/frames.h"

namespace bmslink::capture {
namespace {

// Two frames as candump -l writes them; 0x351 comes first and only once.
constexpr std::string_view kLog =
    "(1700000000.000000) can0 351#1402E803E8031E01\n"
    "(1700000000.100000) can0 355#5F00640000000000\n";

std::string utf16(std::string_view ascii, bool little_endian, bool mark) {
  std::string out;
  if (mark) out += little_endian ? "\xFF\xFE" : "\xFE\xFF";
  for (char c : ascii) {
    if (little_endian) {
      out += c;
      out += '\0';
    } else {
      out += '\0';
      out += c;
    }
  }
  return out;
}

std::string crlf(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

void expect_both_frames(const test::ReadAll& r) {
  ASSERT_FALSE(r.open_error) << r.open_error->message;
  ASSERT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.frames[0].id, 0x351u);
  EXPECT_EQ(r.frames[0].timestamp_ns, 1'700'000'000'000'000'000);
  EXPECT_EQ(test::bytes(r.frames[0]),
            (std::vector<std::uint8_t>{0x14, 0x02, 0xE8, 0x03, 0xE8, 0x03, 0x1E, 0x01}));
  EXPECT_EQ(r.frames[1].id, 0x355u);
  EXPECT_EQ(r.stats.malformed, 0u);
  EXPECT_EQ(r.sink.total(), 0u);
  EXPECT_EQ(r.format, Format::kCandumpLog);
}

TEST(Encoding, Utf8ByteOrderMarkKeepsTheFirstFrame) {
  const auto r = test::read_memory("\xEF\xBB\xBF" + std::string(kLog));
  expect_both_frames(*r);
  EXPECT_NE(r->variant.find("UTF-8 with BOM"), std::string::npos) << r->variant;
}

TEST(Encoding, PowerShellUtf16LittleEndianWithMarkAndCrlfIsRead) {
  const auto r = test::read_memory(utf16(crlf(kLog), true, true));
  expect_both_frames(*r);
  EXPECT_NE(r->variant.find("UTF-16LE converted"), std::string::npos) << r->variant;
}

TEST(Encoding, Utf16WithoutMarkIsRecognisedByItsNulBytes) {
  expect_both_frames(*test::read_memory(utf16(kLog, true, false)));
  expect_both_frames(*test::read_memory(utf16(kLog, false, false)));
  expect_both_frames(*test::read_memory(utf16(kLog, false, true)));
}

TEST(Encoding, Utf16FileOnDiskAndOddTrailingByteDoNotCrash) {
  // A UTF-16 file cut mid-character: the odd byte becomes U+FFFD on a line of its own, which
  // is then a malformed line, named.
  auto text = utf16(kLog, true, true) + "(";
  const auto r = test::read_memory(text);
  ASSERT_FALSE(r->open_error);
  EXPECT_EQ(r->frames.size(), 2u);
  EXPECT_EQ(r->stats.malformed, 1u);
}

TEST(Encoding, NonAsciiTextInUtf16BecomesUtf8) {
  // A note typed above the frames with "°" and a character outside the BMP (surrogate pair):
  // the line is not a frame, and its excerpt shows the UTF-8 bytes (escaped).
  std::string text = "\xFF\xFE";
  for (char c : std::string_view("; temp ")) text += {c, '\0'};
  text += {'\xB0', '\0'};                    // U+00B0 degree sign
  text += {'\x3D', '\xD8', '\x0B', '\xDD'};  // U+1F50B battery, as a surrogate pair
  text += {'\n', '\0'};
  for (char c : kLog) text += {c, '\0'};
  const auto r = test::read_memory(text);
  ASSERT_EQ(r->frames.size(), 2u);
  ASSERT_EQ(r->sink.total(), 1u);
  EXPECT_EQ(r->sink.kept().front().line, 1u);
  EXPECT_NE(r->sink.kept().front().excerpt.find(R"(; temp \xc2\xb0\xf0\x9f\x94\x8b)"),
            std::string::npos)
      << r->sink.kept().front().excerpt;
}

// Boot output of a gateway before candump started: ~90 KiB and 1200 lines, more than the
// first sniffing window holds.
std::string boot_noise(int lines) {
  std::string out;
  for (int i = 0; i < lines; ++i) {
    out += "[    " + std::to_string(i) + ".000000] usb 1-1: new full-speed USB device number " +
           std::to_string(i % 7) + " using xhci_hcd, firmware 2.3\n";
  }
  return out;
}

TEST(Encoding, LongBootNoiseBeforeTheFramesIsSkippedAndReportedOnce) {
  const std::string noise = boot_noise(1200);
  ASSERT_GT(noise.size(), 64u * 1024);
  const auto r = test::read_memory(noise + std::string(kLog));
  ASSERT_FALSE(r->open_error) << r->open_error->message;
  ASSERT_EQ(r->frames.size(), 2u);
  EXPECT_EQ(r->frames[0].id, 0x351u);
  EXPECT_EQ(r->format, Format::kCandumpLog);
  EXPECT_EQ(r->stats.junk, 1200u);
  EXPECT_EQ(r->stats.lines, 1202u);
  ASSERT_EQ(r->sink.total(), 1u);
  const auto& d = r->sink.kept().front();
  EXPECT_EQ(d.line, 1u);
  EXPECT_NE(d.reason.find("lines 1-1200"), std::string::npos) << d.reason;
  EXPECT_NE(d.excerpt.find("usb 1-1"), std::string::npos) << d.excerpt;
}

TEST(Encoding, MalformedLineAfterJunkKeepsItsTrueLineNumber) {
  const auto r =
      test::read_memory(boot_noise(1200) + std::string(kLog) + "(1700000000.2) can0 351#1\n");
  ASSERT_FALSE(r->open_error);
  ASSERT_EQ(r->sink.total(), 2u);
  EXPECT_EQ(r->sink.kept().back().line, 1203u);
}

TEST(Encoding, JunkWithoutAnyFrameNamesHowFarItLooked) {
  const auto r = test::read_memory(boot_noise(3000));
  ASSERT_TRUE(r->open_error);
  EXPECT_NE(r->open_error->message.find("first 3000 lines"), std::string::npos)
      << r->open_error->message;
}

}  // namespace
}  // namespace bmslink::capture
