// Expected identities come from the captures' provenance (tests/data/captures/SOURCES.md) and the
// fact sheet's fingerprints, not from the identifier.
#include "bmslink/protocol/identify.h"

#include <gtest/gtest.h>

#include "support/frames.h"

namespace bmslink::protocol {
namespace {

Identification identify_file(const std::string& name) {
  const auto r = test::read_file(test::data_path("captures/" + name));
  EXPECT_FALSE(r->open_error);
  Identifier id;
  for (const auto& f : r->frames) id.add(f);
  return id.result();
}

Identification identify_text(std::string_view text) {
  const auto r = test::read_memory(text);
  EXPECT_FALSE(r->open_error) << (r->open_error ? r->open_error->message : "");
  Identifier id;
  for (const auto& f : r->frames) id.add(f);
  return id.result();
}

struct Expected {
  const char* file;
  const char* variant;
  const char* manufacturer;
  const char* inverter;
};

TEST(Identify, EveryRealCaptureGetsItsProtocol) {
  const Expected cases[] = {
      {"pylontech_us2000_sofar_setfirelabs.txt", "pylon-1.2", "PYLON", ""},
      {"powerforum_pylontech_plonkster_dump.log", "pylon-1.2", "PYLON", ""},
      {"diybms_pylon_emulation_early.log", "pylon-1.2", "PYLON", ""},
      {"ecoworthy_cubix100_pylon_v206.log", "pylon-1.3", "PYLON", ""},  // "Pylon CAN V2.0.6"
      {"pylontech_us5000_v12_vs_v13_setfirelabs.txt", "pylon-1.3", "PYLON", ""},
      {"seplos_victron_gx_candump_a.log", "victron", "SHEnergy", "victron-gx"},
      {"pytes_victron_protocol_opendtu.log", "victron", "PYTES", ""},
      {"byd_lvs_victron_frames.txt", "byd-lvs", "BYD", "victron-gx"},
      {"powerforum_byd_victron_dump.log", "sma", "BYD", "pylon-heartbeat"},  // SMA frame set
  };
  for (const auto& c : cases) {
    const auto id = identify_file(c.file);
    EXPECT_EQ(id.family, "pylon-lv") << c.file;
    EXPECT_EQ(id.variant, c.variant) << c.file;
    EXPECT_EQ(id.manufacturer, c.manufacturer) << c.file;
    EXPECT_EQ(id.inverter, c.inverter) << c.file;
    EXPECT_GE(id.confidence, 0.8) << c.file;
    EXPECT_FALSE(id.reasons.empty()) << c.file;
  }
}

TEST(Identify, BydProductNameAndNegativeDischargeLimitAreReported) {
  EXPECT_EQ(identify_file("byd_lvs_victron_frames.txt").product, "PREMIUM");
  const auto diy = identify_file("diybms_pylon_emulation_early.log");
  bool flagged = false;
  for (const auto& a : diy.ambiguities)
    flagged = flagged || a.find("negative") != std::string::npos;
  EXPECT_TRUE(flagged);
}

TEST(Identify, SingleUntimedBurstIsEnough) {
  const auto id = identify_text(
      "351 14 02 74 0E 74 0E CC 01\n355 1A 00 64 00\n356 4E 13 02 03 04 05\n"
      "359 00 00 00 00 0A 50 4E\n35C C0 00\n35E 50 59 4C 4F 4E 20 20 20\n");
  EXPECT_EQ(id.variant, "pylon-1.2");
  EXPECT_EQ(id.protocol, "pylon_lv_1_2");
}

TEST(Identify, CoreIdsOnlyLeaveTheVariantOpen) {
  const auto id = identify_text("351 14 02 74 0E 74 0E CC 01\n356 4E 13 02 03 04 05\n");
  EXPECT_EQ(id.family, "pylon-lv");
  EXPECT_EQ(id.variant, "");
  EXPECT_LT(id.confidence, 0.5);
}

TEST(Identify, NeighbourProtocolsByIdRange) {
  EXPECT_EQ(
      identify_text("(1.0) can0 00004210#0102\n(1.1) can0 00004220#0102\n(1.2) can0 00004200#00\n")
          .family,
      "pylon-hv");
  EXPECT_EQ(identify_text("(1.0) can0 110#0102\n(1.1) can0 150#0102\n(1.2) can0 1D0#00\n").family,
            "byd-hvs");
  EXPECT_EQ(identify_text("(1.0) can0 400#01\n(1.1) can0 401#02\n(1.2) can0 41E#03\n").family,
            "pytes-native");
  // RV-C DGN 0x1FFFB (battery status 4) from source 0x42: priority 6 -> 0x19FFFB42.
  EXPECT_EQ(identify_text("(1.0) can0 19FFFB42#0102\n(1.1) can0 19FEC942#0102\n").family, "rv-c");
  EXPECT_EQ(identify_text("(1.0) can0 18F00400#0102\n(1.1) can0 18FEF100#0102\n").family, "j1939");
  EXPECT_EQ(identify_text("(1.0) can0 123#0102\n(1.1) can0 124#0102\n").family, "unknown");
}

// Issue 8: a Pytes battery speaking its native protocol, pasted from a serial log with 4-digit ids,
// is the Pytes family, not J1939 with PGN 0.
TEST(Identify, Issue8PastedPytesNativeWithFourDigitIds) {
  const auto id = identify_text(
      "21:22:39.226 > [Pytes] Received CAN message: 0x0400 - 10 02 00 00\n"
      "21:22:39.236 > [Pytes] Received CAN message: 0x0401 - 01 02\n"
      "21:22:39.246 > [Pytes] Received CAN message: 0x041E - 03\n");
  EXPECT_EQ(id.family, "pytes-native");
}

TEST(Identify, SmaSunnyIslandIsToldFromThePylonHeartbeat) {
  const auto id = identify_text(
      "351 14 02 74 0E 74 0E CC 01\n355 1A 00 64 00\n356 4E 13 02 03 04 05\n"
      "300 01 02 03 04 05 06 07 08\n301 01 02 03 04 05 06 07 08\n305 12 02 34 00 00 00 00 00\n");
  EXPECT_EQ(id.inverter, "sma-sunny-island");
  EXPECT_EQ(id.variant, "sma");
}

}  // namespace
}  // namespace bmslink::protocol
