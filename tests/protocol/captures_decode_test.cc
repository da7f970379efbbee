// Every real capture decodes, with the protocol identified from it, to physically plausible values
// — except where SOURCES.md says the capture itself is odd, which must then show.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "bmslink/protocol/builtin.h"
#include "bmslink/protocol/decoder.h"
#include "bmslink/protocol/identify.h"
#include "support/frames.h"

namespace bmslink::protocol {
namespace {

struct Range {
  const char* signal;
  double lo;
  double hi;
};

// LV packs (12-58 V class), SOC/SOH in percent, limits of a few hundred amps, -40..80 degC.
constexpr Range kPlausible[] = {
    {"charge_voltage_limit", 20, 65},
    {"discharge_voltage_limit", 20, 60},
    {"charge_current_limit", 0, 1000},
    {"discharge_current_limit", 0, 1000},
    {"soc", 0, 100},
    {"soh", 0, 100},
    {"pack_voltage", 20, 65},
    {"pack_current", -1000, 1000},
    {"pack_temperature", -40, 80},
    {"cell_min_voltage", 2.0, 4.3},
    {"cell_max_voltage", 2.0, 4.3},
    {"cell_min_temperature", -40, 80},
    {"cell_max_temperature", -40, 80},
};

std::vector<std::string> implausible(const std::string& file) {
  const auto r = test::read_file(test::data_path("captures/" + file));
  Identifier identifier;
  for (const auto& f : r->frames) identifier.add(f);
  const auto id = identifier.result();
  EXPECT_FALSE(id.protocol.empty()) << file;
  const auto db = builtin_database(id.protocol);
  EXPECT_TRUE(db) << file;
  const Decoder decoder(**db);
  std::vector<std::string> out;
  std::size_t decoded = 0;
  for (const auto& f : r->frames) {
    const auto* md = decoder.find(f.id, f.extended);
    if (md == nullptr) continue;
    ++decoded;
    std::vector<SignalValue> values(md->signal_count());
    std::array<char, 256> text{};
    md->decode(f, values, text);
    for (const auto& v : values) {
      if (!v.present) continue;
      for (const auto& range : kPlausible) {
        if (v.signal->name == range.signal && (v.value < range.lo || v.value > range.hi)) {
          out.push_back(fmt::format("{}={}", v.signal->name, v.value));
        }
      }
    }
  }
  EXPECT_GE(decoded * 2, r->frames.size()) << file << ": most frames should decode";
  return out;
}

TEST(RealCapturesDecode, HealthyCapturesArePlausible) {
  for (const char* file :
       {"powerforum_byd_victron_dump.log", "powerforum_pylontech_plonkster_dump.log",
        "pytes_victron_protocol_opendtu.log", "seplos_victron_gx_candump_a.log",
        "byd_lvs_victron_frames.txt", "ecoworthy_cubix100_pylon_v206.log",
        "pylontech_us5000_v12_vs_v13_setfirelabs.txt"}) {
    EXPECT_EQ(implausible(file), std::vector<std::string>{}) << file;
  }
}

TEST(RealCapturesDecode, KnownOddCapturesShowTheirOddity) {
  // diyBMS early emulation: negative discharge current limit (0xFF9C = -100 -> -10.0 A), twice.
  EXPECT_EQ(
      implausible("diybms_pylon_emulation_early.log"),
      (std::vector<std::string>{"discharge_current_limit=-10", "discharge_current_limit=-10"}));
  // setfirelabs US2000: 0x356 bytes "02 03 04 05" are illustrative -> 0x0504 = 128.4 degC.
  EXPECT_EQ(implausible("pylontech_us2000_sofar_setfirelabs.txt"),
            (std::vector<std::string>{"pack_temperature=128.4"}));
}

}  // namespace
}  // namespace bmslink::protocol
