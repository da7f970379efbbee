#include <gtest/gtest.h>

#include "bmslink/can/error_frame.h"
#include "support/frames.h"

namespace bmslink::capture {
namespace {

void put32le(std::string& s, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void put32be(std::string& s, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}
void put16le(std::string& s, std::uint16_t v) {
  s += static_cast<char>(v & 0xFF);
  s += static_cast<char>(v >> 8);
}
void put16be(std::string& s, std::uint16_t v) {
  s += static_cast<char>(v >> 8);
  s += static_cast<char>(v & 0xFF);
}

std::string global_header(std::uint32_t link, bool nanos = false) {
  std::string s;
  put32le(s, nanos ? 0xA1B23C4D : 0xA1B2C3D4);
  put16le(s, 2);
  put16le(s, 4);
  put32le(s, 0);
  put32le(s, 0);
  put32le(s, 65535);
  put32le(s, link);
  return s;
}

// One record: SocketCAN frame with the id in network order (LINKTYPE_CAN_SOCKETCAN).
std::string can_record(std::uint32_t sec, std::uint32_t frac, std::uint32_t can_id,
                       std::vector<std::uint8_t> data, std::uint8_t flags = 0, bool fd = false,
                       std::size_t captured = SIZE_MAX) {
  std::string body;
  put32be(body, can_id);
  body += static_cast<char>(data.size());
  body += static_cast<char>(flags);
  body += '\0';
  body += '\0';
  for (auto b : data) body += static_cast<char>(b);
  body.resize(fd ? 72 : 16, '\0');
  if (captured < body.size()) body.resize(captured);
  std::string s;
  put32le(s, sec);
  put32le(s, frac);
  put32le(s, static_cast<std::uint32_t>(body.size()));
  put32le(s, static_cast<std::uint32_t>(body.size()));
  return s + body;
}

TEST(Pcap, ReadsSocketcanLinkTypeWithIdInNetworkOrder) {
  std::string file = global_header(227);
  file += can_record(1700000000, 123456, 0x351, {0x14, 0x02, 0x74, 0x0E});
  file += can_record(1700000000, 200000, 0x98FF50E5, {0x01});
  file += can_record(1700000000, 300000, 0x20000020, {0, 0, 0, 0, 0, 0, 0, 0});
  file += can_record(1700000000, 400000, 0x40000123, {});
  file += can_record(1700000000, 500000, 0x321, std::vector<std::uint8_t>(12, 0xAB), 0x05, true);
  const auto r = test::read_memory(file);
  ASSERT_EQ(r->format, Format::kPcap);
  ASSERT_EQ(r->frames.size(), 5u);
  EXPECT_EQ(r->frames[0].id, 0x351u);
  EXPECT_EQ(r->frames[0].timestamp_ns, 1'700'000'000'123'456'000LL);
  EXPECT_EQ(r->frames[0].len, 4);
  EXPECT_TRUE(r->frames[1].extended);
  EXPECT_EQ(r->frames[1].id, 0x18FF50E5u);
  EXPECT_TRUE(can::decode_error_frame(r->frames[2]).no_ack);
  EXPECT_TRUE(r->frames[3].rtr);
  EXPECT_TRUE(r->frames[4].fd);
  EXPECT_TRUE(r->frames[4].brs);
  EXPECT_EQ(r->frames[4].len, 12);
}

TEST(Pcap, NanosecondFilesKeepNanoseconds) {
  std::string file = global_header(227, true);
  file += can_record(1700000000, 123456789, 0x351, {0x01});
  const auto r = test::read_memory(file);
  ASSERT_EQ(r->frames.size(), 1u);
  EXPECT_EQ(r->frames[0].timestamp_ns, 1'700'000'000'123'456'789LL);
}

TEST(Pcap, LinuxCookedCaptureHasIdInHostOrder) {
  std::string file = global_header(113);
  std::string body;
  put16be(body, 0);    // packet type
  put16be(body, 280);  // ARPHRD_CAN
  put16be(body, 0);
  body.append(8, '\0');
  put16be(body, 0x000C);  // CAN
  put32le(body, 0x351);   // host (little-endian) order in "any" captures
  body += '\x02';
  body.append(3, '\0');
  body += '\x14';
  body += '\x02';
  body.append(6, '\0');
  std::string rec;
  put32le(rec, 1700000000);
  put32le(rec, 0);
  put32le(rec, static_cast<std::uint32_t>(body.size()));
  put32le(rec, static_cast<std::uint32_t>(body.size()));
  file += rec + body;
  const auto r = test::read_memory(file);
  ASSERT_EQ(r->frames.size(), 1u);
  EXPECT_EQ(r->frames[0].id, 0x351u);
  EXPECT_EQ(r->frames[0].data[1], 0x02);
}

TEST(Pcap, BadRecordsAreReportedAndSkipped) {
  std::string file = global_header(227);
  file += can_record(1, 0, 0x351, {0x01});
  file += can_record(2, 0, 0x351, {0x01}, 0, false, 6);  // shorter than the frame header
  std::string bad_len = can_record(3, 0, 0x351, {0x01});
  bad_len[16 + 4] = 9;  // classic frame claiming 9 bytes
  file += bad_len;
  file += can_record(4, 0, 0x356, {0x02});
  const auto r = test::read_memory(file);
  ASSERT_EQ(r->frames.size(), 2u);
  EXPECT_EQ(r->frames[1].id, 0x356u);
  EXPECT_EQ(r->stats.malformed, 2u);
  EXPECT_NE(r->sink.kept().at(0).reason.find("record 2"), std::string::npos);
}

TEST(Pcap, TruncatedFileKeepsFramesReadSoFar) {
  std::string file = global_header(227);
  file += can_record(1, 0, 0x351, {0x01});
  file += can_record(2, 0, 0x355, {0x02});
  file.resize(file.size() - 5);
  const auto r = test::read_memory(file);
  EXPECT_EQ(r->frames.size(), 1u);
}

TEST(Pcap, OtherLinkTypesAreRefusedWithTheReason) {
  const auto r = test::read_memory(global_header(1));  // Ethernet
  ASSERT_TRUE(r->open_error);
  EXPECT_NE(r->open_error->message.find("link type 1"), std::string::npos);
}

}  // namespace
}  // namespace bmslink::capture

namespace bmslink::capture {
namespace {

// Found by fuzzing: an error-flagged id in an FD-sized record became a 64-byte error frame.
TEST(Pcap, ErrorFlagInFdRecordIsMalformed) {
  std::string file = global_header(227);
  file += can_record(1, 0, 0x20000080, std::vector<std::uint8_t>(16, 0), 0x04, true);
  file += can_record(2, 0, 0x351, {0x01});
  const auto r = test::read_memory(file);
  ASSERT_EQ(r->frames.size(), 1u);
  EXPECT_EQ(r->stats.malformed, 1u);
}

}  // namespace
}  // namespace bmslink::capture
