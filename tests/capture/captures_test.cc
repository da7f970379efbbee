// Every real capture in tests/data/captures (provenance in SOURCES.md there) reads with the right
// frames. Expected values are taken from the capture text itself, byte by byte.
#include <gtest/gtest.h>

#include "support/frames.h"

namespace bmslink::capture {
namespace {

using test::bytes;
using B = std::vector<std::uint8_t>;

std::unique_ptr<test::ReadAll> capture(const char* name) {
  auto r = test::read_file(test::data_path(std::string("captures/") + name));
  EXPECT_FALSE(r->open_error) << (r->open_error ? r->open_error->message : "");
  EXPECT_EQ(r->stats.malformed, 0u) << name;
  return r;
}

TEST(RealCaptures, DiybmsEmulationKeepsTheNegativeDischargeLimitBytes) {
  const auto r = capture("diybms_pylon_emulation_early.log");
  EXPECT_EQ(r->format, Format::kPasted);
  ASSERT_EQ(r->frames.size(), 7u);
  EXPECT_EQ(r->frames[0].id, 0x351u);
  EXPECT_EQ(bytes(r->frames[0]), (B{0x44, 0x02, 0x64, 0x00, 0x9C, 0xFF, 0x3F, 0x02}));
  EXPECT_EQ(r->frames[1].len, 6);
  EXPECT_EQ(bytes(r->frames[3]), B(8, 0));
  EXPECT_FALSE(r->frames[0].has_timestamp());
}

TEST(RealCaptures, EcoWorthyCandumpConsole) {
  const auto r = capture("ecoworthy_cubix100_pylon_v206.log");
  EXPECT_EQ(r->format, Format::kCandumpConsole);
  ASSERT_EQ(r->frames.size(), 16u);
  EXPECT_EQ(r->frames[0].channel, "can0");
  EXPECT_EQ(bytes(r->frames[0]), (B{0x48, 0x02, 0xD0, 0x07, 0xD0, 0x07, 0xC0, 0x01}));
  EXPECT_EQ(r->frames[15].id, 0x379u);
  EXPECT_EQ(r->frames[15].data[0], 0xC8);
}

TEST(RealCaptures, PowerforumBydVictronHasInverterFrameFirst) {
  const auto r = capture("powerforum_byd_victron_dump.log");
  ASSERT_EQ(r->frames.size(), 7u);
  EXPECT_EQ(r->frames[0].id, 0x305u);
  EXPECT_EQ(r->frames[2].len, 6);  // 0x355 [6]
  EXPECT_EQ(bytes(r->frames[4]), (B{0xA8, 0x82, 0x82, 0x02, 0xA8, 0x82, 0x82, 0x02}));
}

TEST(RealCaptures, PlonksterPylontechShortFramesOnCan1) {
  const auto r = capture("powerforum_pylontech_plonkster_dump.log");
  ASSERT_EQ(r->frames.size(), 6u);
  EXPECT_EQ(r->frames[0].channel, "can1");
  EXPECT_EQ(r->frames[0].len, 6);
  EXPECT_EQ(r->frames[1].len, 4);
  EXPECT_EQ(bytes(r->frames[4]), (B{0xC0, 0x00}));
}

TEST(RealCaptures, PytesOpenDtuLogTakesFramesAndSkipsDecodeLines) {
  const auto r = capture("pytes_victron_protocol_opendtu.log");
  EXPECT_EQ(r->format, Format::kPasted);
  ASSERT_EQ(r->frames.size(), 7u);
  EXPECT_EQ(r->stats.ignored, 7u);
  EXPECT_EQ(r->frames[0].id, 0x351u);
  EXPECT_EQ(bytes(r->frames[4]), (B{0x50, 0x59, 0x54, 0x45, 0x53}));  // "PYTES", 5 bytes
  EXPECT_EQ(r->frames[6].id, 0x360u);
  EXPECT_EQ(r->frames[6].len, 1);
  // 21:22:39.226 -> 21:22:39.324: 98 ms apart.
  EXPECT_EQ(r->frames[1].timestamp_ns - r->frames[0].timestamp_ns, 98'000'000);
}

TEST(RealCaptures, SeplosVictronGxCandump) {
  const auto r = capture("seplos_victron_gx_candump_a.log");
  ASSERT_EQ(r->frames.size(), 28u);
  EXPECT_EQ(r->frames[0].channel, "can8");
  EXPECT_EQ(r->frames[13].id, 0x305u);
  EXPECT_EQ(bytes(r->frames[14]), (B{0x12, 0x34, 0x56, 0x78, 0x56, 0x49, 0x43, 0x00}));
  EXPECT_EQ(r->frames[27].id, 0x376u);
}

TEST(RealCaptures, BydTableTranscription) {
  const auto r = capture("byd_lvs_victron_frames.txt");
  ASSERT_EQ(r->frames.size(), 21u);
  EXPECT_EQ(r->frames[0].id, 0x305u);
  EXPECT_EQ(bytes(r->frames[3]), (B{0x48, 0x02, 0x00, 0x05, 0x00, 0x05, 0xAE, 0x01}));
  EXPECT_EQ(r->frames[20].id, 0x382u);
}

TEST(RealCaptures, SetfirelabsUs2000Burst) {
  const auto r = capture("pylontech_us2000_sofar_setfirelabs.txt");
  ASSERT_EQ(r->frames.size(), 6u);
  EXPECT_EQ(bytes(r->frames[0]), (B{0x14, 0x02, 0x74, 0x0E, 0x74, 0x0E, 0xCC, 0x01}));
  EXPECT_EQ(bytes(r->frames[2]), (B{0x4E, 0x13, 0x02, 0x03, 0x04, 0x05}));
  EXPECT_EQ(r->frames[3].len, 7);
}

TEST(RealCaptures, SetfirelabsUs5000UnpaddedBytes) {
  const auto r = capture("pylontech_us5000_v12_vs_v13_setfirelabs.txt");
  ASSERT_EQ(r->frames.size(), 12u);
  EXPECT_EQ(r->stats.ignored, 2u);  // "Old Pylontechs:", "New Pylontechs:"
  EXPECT_EQ(bytes(r->frames[0]), (B{0x14, 0x02, 0xC0, 0x12, 0xC0, 0x12, 0xC2, 0x01}));
  EXPECT_EQ(r->frames[7].len, 6);  // V1.3 0x355 grew to 6 bytes
  EXPECT_EQ(bytes(r->frames[11]), (B{0x4C, 0x49, 0x01, 0x03, 0x3C, 0x02, 0xAA, 0x00}));
}

}  // namespace
}  // namespace bmslink::capture
