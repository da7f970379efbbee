// Expected values are worked out by hand from the fact sheet and the real captures, not taken from
// the DBC files: e.g. 0x0214 = 532 -> 53.2 V at 0.1 V per bit.
#include "bmslink/protocol/decoder.h"

#include <random>

#include <gtest/gtest.h>

#include "bmslink/protocol/builtin.h"

namespace bmslink::protocol {
namespace {

can::Frame frame(std::uint32_t id, std::vector<std::uint8_t> bytes) {
  can::Frame f;
  f.id = id;
  f.len = static_cast<std::uint8_t>(bytes.size());
  f.dlc = f.len;
  std::copy(bytes.begin(), bytes.end(), f.data.begin());
  return f;
}

struct Decoded {
  std::map<std::string, SignalValue> by_name;
  std::array<char, 256> text{};
};

// Decodes one frame with a named built-in protocol; values by signal name. Text values point
// into `text`.
std::map<std::string, SignalValue> decode_with(const char* protocol, const can::Frame& f,
                                               std::array<char, 256>& text) {
  const auto db = builtin_database(protocol);
  EXPECT_TRUE(db);
  const Decoder decoder(**db);
  const auto* md = decoder.find(f.id, f.extended);
  EXPECT_NE(md, nullptr) << protocol;
  std::vector<SignalValue> values(md->signal_count());
  md->decode(f, values, text);
  std::map<std::string, SignalValue> out;
  for (const auto& v : values) out[v.signal->name] = v;
  return out;
}

std::unique_ptr<Decoded> decode(const can::Frame& f) {
  auto out = std::make_unique<Decoded>();
  out->by_name = decode_with("pylon_lv_1_2", f, out->text);
  return out;
}

double value(const Decoded& d, const std::string& name) {
  const auto& v = d.by_name.at(name);
  EXPECT_TRUE(v.present) << name;
  return v.value;
}

TEST(PylonLv12, LimitsFromSetfirelabsUs2000) {
  // 351 14 02 74 0E 74 0E CC 01: 0x0214=532, 0x0E74=3700, 0x01CC=460 (x0.1)
  const auto d = decode(frame(0x351, {0x14, 0x02, 0x74, 0x0E, 0x74, 0x0E, 0xCC, 0x01}));
  EXPECT_DOUBLE_EQ(value(*d, "charge_voltage_limit"), 53.2);
  EXPECT_DOUBLE_EQ(value(*d, "charge_current_limit"), 370.0);
  EXPECT_DOUBLE_EQ(value(*d, "discharge_current_limit"), 370.0);
  EXPECT_DOUBLE_EQ(value(*d, "discharge_voltage_limit"), 46.0);
}

TEST(PylonLv12, NegativeDischargeLimitOfTheEarlyDiybmsEmulation) {
  // 9C FF = 0xFF9C = -100 -> -10.0 A; 3F 02 = 575 -> 57.5 V
  const auto d = decode(frame(0x351, {0x44, 0x02, 0x64, 0x00, 0x9C, 0xFF, 0x3F, 0x02}));
  EXPECT_DOUBLE_EQ(value(*d, "charge_voltage_limit"), 58.0);
  EXPECT_DOUBLE_EQ(value(*d, "charge_current_limit"), 10.0);
  EXPECT_DOUBLE_EQ(value(*d, "discharge_current_limit"), -10.0);
  EXPECT_DOUBLE_EQ(value(*d, "discharge_voltage_limit"), 57.5);
}

TEST(PylonLv12, SixByteLimitsLeaveTheDischargeVoltageAbsent) {
  // plonkster: 14 02 50 02 C8 05 -> 53.2 V, 0x0250=592 -> 59.2 A, 0x05C8=1480 -> 148.0 A
  const auto d = decode(frame(0x351, {0x14, 0x02, 0x50, 0x02, 0xC8, 0x05}));
  EXPECT_DOUBLE_EQ(value(*d, "charge_current_limit"), 59.2);
  EXPECT_DOUBLE_EQ(value(*d, "discharge_current_limit"), 148.0);
  EXPECT_FALSE(d->by_name.at("discharge_voltage_limit").present);
}

TEST(PylonLv12, MeasurementsWithNegativeCurrent) {
  // US5000: 7A 13 = 4986 -> 49.86 V; F2 FE = -270 -> -27.0 A; 6B 01 = 363 -> 36.3 degC
  const auto d = decode(frame(0x356, {0x7A, 0x13, 0xF2, 0xFE, 0x6B, 0x01}));
  EXPECT_DOUBLE_EQ(value(*d, "pack_voltage"), 49.86);
  EXPECT_DOUBLE_EQ(value(*d, "pack_current"), -27.0);
  EXPECT_DOUBLE_EQ(value(*d, "pack_temperature"), 36.3);
}

TEST(PylonLv12, ProtectionFrameModuleCountAndMarker) {
  const auto d = decode(frame(0x359, {0x00, 0x00, 0x00, 0x00, 0x0A, 0x50, 0x4E}));
  EXPECT_DOUBLE_EQ(value(*d, "module_count"), 10.0);
  EXPECT_EQ(d->by_name.at("protocol_marker").text, "PN");
  EXPECT_DOUBLE_EQ(value(*d, "protection_cell_over_voltage"), 0.0);
  // Byte 0 bit 1 = cell over-voltage protection; byte 2 bit 4 = cell low temperature alarm.
  const auto e = decode(frame(0x359, {0x02, 0x00, 0x10, 0x00, 0x01, 0x50, 0x4E}));
  EXPECT_DOUBLE_EQ(value(*e, "protection_cell_over_voltage"), 1.0);
  EXPECT_DOUBLE_EQ(value(*e, "alarm_cell_low_temperature"), 1.0);
  EXPECT_DOUBLE_EQ(value(*e, "alarm_cell_high_temperature"), 0.0);
}

TEST(PylonLv12, RequestFlagsAndManufacturerText) {
  const auto d = decode(frame(0x35C, {0xC0, 0x00}));  // 0xC0 = bits 7 and 6
  EXPECT_DOUBLE_EQ(value(*d, "charge_enable"), 1.0);
  EXPECT_DOUBLE_EQ(value(*d, "discharge_enable"), 1.0);
  EXPECT_DOUBLE_EQ(value(*d, "force_charge_request"), 0.0);
  const auto f = decode(frame(0x35C, {0x20}));  // bit 5 only: force charge I
  EXPECT_DOUBLE_EQ(value(*f, "force_charge_request"), 1.0);
  EXPECT_DOUBLE_EQ(value(*f, "charge_enable"), 0.0);
  EXPECT_EQ(decode(frame(0x35E, {'P', 'Y', 'L', 'O', 'N', ' ', ' ', ' '}))
                ->by_name.at("manufacturer")
                .text,
            "PYLON");
  EXPECT_EQ(decode(frame(0x35E, {'P', 'Y', 'T', 'E', 'S'}))->by_name.at("manufacturer").text,
            "PYTES");
  EXPECT_EQ(decode(frame(0x35E, {'B', 'Y', 'D', 0, 0, 0, 0, 0}))->by_name.at("manufacturer").text,
            "BYD");
}

TEST(PylonLv12, ShortSocFrameDecodesWhatIsPresent) {
  const auto d = decode(frame(0x355, {0x1A, 0x00}));  // SOC 26, SOH missing
  EXPECT_DOUBLE_EQ(value(*d, "soc"), 26.0);
  EXPECT_FALSE(d->by_name.at("soh").present);
}

TEST(Decoder, MotorolaSignalsAreBigEndianFromTheirMsb) {
  const auto db = parse_dbc(
      "BO_ 100 m: 8 X\n"
      " SG_ u16 : 7|16@0+ (1,0) [0|0] \"\" X\n"
      " SG_ s12 : 23|12@0- (1,0) [0|0] \"\" X\n"
      " SG_ nib : 35|4@0+ (1,0) [0|0] \"\" X\n",
      "m.dbc");
  ASSERT_TRUE(db) << db.error().message;
  const Decoder decoder(*db);
  std::vector<SignalValue> v(3);
  std::array<char, 64> text{};
  // u16: bytes 0-1 big-endian = 0x1234. s12: byte 2 and the top nibble of byte 3 = 0xFFF = -1.
  // nib: start bit 35 = byte 4 bit 3, 4 bits down to bit 0 = low nibble of byte 4 = 0xA.
  decoder.find(100, false)->decode(frame(100, {0x12, 0x34, 0xFF, 0xF0, 0x5A, 0, 0, 0}), v, text);
  EXPECT_EQ(v[0].raw, 0x1234);
  EXPECT_EQ(v[1].raw, -1);
  EXPECT_EQ(v[2].raw, 0xA);
}

TEST(Decoder, MatchesTheBitByBitReferenceOnRandomLayouts) {
  std::mt19937_64 rng(20261124);  // fixed seed: the same cases every run
  for (int round = 0; round < 20000; ++round) {
    const auto order = (rng() & 1U) ? ByteOrder::kIntel : ByteOrder::kMotorola;
    const std::uint32_t len = 1 + static_cast<std::uint32_t>(rng() % 64);
    std::uint32_t start = 0;
    const bool fd = (rng() % 4) == 0;
    const std::uint32_t bytes = fd ? 64 : 8;
    if (order == ByteOrder::kIntel) {
      start = static_cast<std::uint32_t>(rng() % (bytes * 8 - len + 1));
    } else {
      const std::uint32_t msb = static_cast<std::uint32_t>(rng() % (bytes * 8 - len + 1));
      start = (msb / 8) * 8 + (7 - msb % 8);
    }
    Message m;
    m.id = 1;
    m.dlc = bytes;
    Signal s;
    s.name = "s";
    s.start_bit = start;
    s.length = len;
    s.order = order;
    m.signals.push_back(s);
    const MessageDecoder d(m);
    can::Frame f;
    f.len = static_cast<std::uint8_t>(bytes);
    f.fd = fd;
    for (std::uint32_t i = 0; i < bytes; ++i) f.data[i] = static_cast<std::uint8_t>(rng());
    SignalValue v;
    std::array<char, 64> text{};
    d.decode(f, std::span<SignalValue>(&v, 1), text);
    ASSERT_TRUE(v.present);
    ASSERT_EQ(static_cast<std::uint64_t>(v.raw),
              extract_bits_reference(f.payload(), start, len, order))
        << "round " << round << " start " << start << " len " << len;
  }
}

}  // namespace
}  // namespace bmslink::protocol

namespace bmslink::protocol {
namespace {

TEST(Encode, LimitsGiveTheSetfirelabsBytes) {
  const auto db = builtin_database("pylon_lv_1_2");
  const Decoder decoder(**db);
  const SignalInput in[] = {{"charge_voltage_limit", 53.2, {}},
                            {"charge_current_limit", 370.0, {}},
                            {"discharge_current_limit", 370.0, {}},
                            {"discharge_voltage_limit", 46.0, {}}};
  const auto f = decoder.find(0x351, false)->encode(in);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(std::vector<std::uint8_t>(f->data.begin(), f->data.begin() + f->len),
            (std::vector<std::uint8_t>{0x14, 0x02, 0x74, 0x0E, 0x74, 0x0E, 0xCC, 0x01}));
  const SignalInput too_big[] = {{"charge_voltage_limit", 7000.0, {}}};
  EXPECT_FALSE(decoder.find(0x351, false)->encode(too_big));
  const SignalInput unknown[] = {{"no_such_signal", 1.0, {}}};
  EXPECT_FALSE(decoder.find(0x351, false)->encode(unknown));
}

TEST(Encode, RoundTripsEverySignalOfEveryBuiltInProtocol) {
  std::mt19937_64 rng(7);
  for (const auto& p : builtin_protocols()) {
    const auto db = builtin_database(p.name);
    ASSERT_TRUE(db);
    const Decoder decoder(**db);
    for (const auto& m : (*db)->messages) {
      const auto* md = decoder.find(m.id, m.extended);
      for (int round = 0; round < 50; ++round) {
        std::vector<SignalInput> in;
        std::vector<double> expect;
        for (const auto& s : m.signals) {
          if (s.is_text()) {
            in.push_back({s.name, 0.0, "AB"});
            expect.push_back(0);
            continue;
          }
          const std::int64_t lo =
              s.is_signed ? -(std::int64_t{1} << (std::min(s.length, 62U) - 1)) : 0;
          const std::int64_t span = std::int64_t{1} << std::min(s.length, 62U);
          const auto raw = lo + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(span));
          const double v = static_cast<double>(raw) * s.factor + s.offset;
          in.push_back({s.name, v, {}});
          expect.push_back(v);
        }
        const auto f = md->encode(in);
        ASSERT_TRUE(f) << p.name << " " << m.name << ": " << f.error().message;
        std::vector<SignalValue> out(md->signal_count());
        std::array<char, 256> text{};
        md->decode(*f, out, text);
        for (std::size_t i = 0; i < out.size(); ++i) {
          ASSERT_TRUE(out[i].present);
          if (out[i].signal->is_text()) {
            EXPECT_EQ(out[i].text, "AB");
          } else {
            EXPECT_NEAR(out[i].value, expect[i], std::abs(m.signals[i].factor) / 2 + 1e-9)
                << p.name << " " << m.name << "." << m.signals[i].name;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace bmslink::protocol

namespace bmslink::protocol {
namespace {

TEST(PylonLv13, UsFiveThousandV13AndEcoWorthyExtremes) {
  std::array<char, 256> text{};
  // 35F 4C 49 01 03 3C 02 AA 00: "LI", firmware 1.3, 0x023C = 572 Ah
  auto info = decode_with("pylon_lv_1_3",
                          frame(0x35F, {0x4C, 0x49, 0x01, 0x03, 0x3C, 0x02, 0xAA, 0x00}), text);
  EXPECT_EQ(info.at("chemistry").text, "LI");
  EXPECT_EQ(info.at("firmware_major").value, 1.0);
  EXPECT_EQ(info.at("firmware_minor").value, 3.0);
  EXPECT_EQ(info.at("capacity").value, 572.0);
  // 355 54 00 60 00 00 00 (6 bytes): SOC 84 %, SOH 96 %, high-resolution SOC sent as 0
  auto soc = decode_with("pylon_lv_1_3", frame(0x355, {0x54, 0x00, 0x60, 0x00, 0x00, 0x00}), text);
  EXPECT_EQ(soc.at("soc").value, 84.0);
  EXPECT_EQ(soc.at("soh").value, 96.0);
  EXPECT_TRUE(soc.at("soc_high_resolution").present);
  // 370 76 00 6C 00 CF 0C CA 0C: 11.8 degC / 10.8 degC / 3.279 V / 3.274 V (binary, Eco-Worthy)
  auto ext = decode_with("pylon_lv_1_3",
                         frame(0x370, {0x76, 0x00, 0x6C, 0x00, 0xCF, 0x0C, 0xCA, 0x0C}), text);
  EXPECT_DOUBLE_EQ(ext.at("cell_max_temperature").value, 11.8);
  EXPECT_DOUBLE_EQ(ext.at("cell_min_temperature").value, 10.8);
  EXPECT_DOUBLE_EQ(ext.at("cell_max_voltage").value, 3.279);
  EXPECT_DOUBLE_EQ(ext.at("cell_min_voltage").value, 3.274);
  // 35A all zeros (V1.3 firmware): every item "not supported", nothing active
  auto alarms = decode_with("pylon_lv_1_3", frame(0x35A, std::vector<std::uint8_t>(8, 0)), text);
  EXPECT_EQ(alarms.at("alarm_high_voltage").raw, 0);
}

TEST(Victron, SeplosFramesAndGxIdentification) {
  std::array<char, 256> text{};
  // 351 43 02 E8 03 9E 07 D0 01: 57.9 V, 100.0 A, 195.0 A, 46.4 V
  auto lim =
      decode_with("victron", frame(0x351, {0x43, 0x02, 0xE8, 0x03, 0x9E, 0x07, 0xD0, 0x01}), text);
  EXPECT_DOUBLE_EQ(lim.at("charge_voltage_limit").value, 57.9);
  EXPECT_DOUBLE_EQ(lim.at("discharge_current_limit").value, 195.0);
  EXPECT_DOUBLE_EQ(lim.at("discharge_voltage_limit").value, 46.4);
  // 355 3C 00 64 00 84 17 00 00: SOC 60 %, SOH 100 %, 0x1784 = 6020 -> 60.20 %
  auto soc =
      decode_with("victron", frame(0x355, {0x3C, 0x00, 0x64, 0x00, 0x84, 0x17, 0x00, 0x00}), text);
  EXPECT_DOUBLE_EQ(soc.at("soc_high_resolution").value, 60.2);
  // 356 61 14 D3 FE EB 00 1A 00: 52.17 V, 0xFED3 = -301 -> -30.1 A, 0x00EB = 235 -> 23.5 degC
  auto m =
      decode_with("victron", frame(0x356, {0x61, 0x14, 0xD3, 0xFE, 0xEB, 0x00, 0x1A, 0x00}), text);
  EXPECT_DOUBLE_EQ(m.at("pack_voltage").value, 52.17);
  EXPECT_DOUBLE_EQ(m.at("pack_current").value, -30.1);
  EXPECT_DOUBLE_EQ(m.at("pack_temperature").value, 23.5);
  // 35A AA AA AA 02 ...: every supported pair 0b10 = OK; byte 3 pairs 1..3 = 0 (not supported)
  auto a =
      decode_with("victron", frame(0x35A, {0xAA, 0xAA, 0xAA, 0x02, 0xAA, 0xAA, 0xAA, 0x02}), text);
  EXPECT_EQ(a.at("alarm_general").raw, 2);
  EXPECT_EQ(a.at("alarm_cell_imbalance").raw, 2);
  EXPECT_EQ(a.at("warning_bms_internal").raw, 2);
  // 307 12 34 56 78 56 49 43 00: "VIC"
  auto gx =
      decode_with("victron", frame(0x307, {0x12, 0x34, 0x56, 0x78, 0x56, 0x49, 0x43, 0x00}), text);
  EXPECT_EQ(gx.at("inverter_id_text").text, "VIC");
  EXPECT_EQ(gx.at("inverter_id_code").raw, 0x78563412);
}

TEST(BydLvs, DfchTableValues) {
  std::array<char, 256> text{};
  // 351 48 02 00 05 00 05 AE 01: 58.4 V / 128.0 A / 128.0 A / 43.0 V
  auto lim =
      decode_with("byd_lvs", frame(0x351, {0x48, 0x02, 0x00, 0x05, 0x00, 0x05, 0xAE, 0x01}), text);
  EXPECT_DOUBLE_EQ(lim.at("charge_voltage_limit").value, 58.4);
  EXPECT_DOUBLE_EQ(lim.at("charge_current_limit").value, 128.0);
  EXPECT_DOUBLE_EQ(lim.at("discharge_voltage_limit").value, 43.0);
  // 378 40 08 00 00 2B 07 00 00: 0x0840 = 2112 -> 211.2 kWh, 0x072B = 1835 -> 183.5 kWh
  auto e =
      decode_with("byd_lvs", frame(0x378, {0x40, 0x08, 0x00, 0x00, 0x2B, 0x07, 0x00, 0x00}), text);
  EXPECT_DOUBLE_EQ(e.at("charged_energy").value, 211.2);
  EXPECT_DOUBLE_EQ(e.at("discharged_energy").value, 183.5);
  // 379 9C 00: 156 Ah; 382 "PREMIUM"
  EXPECT_DOUBLE_EQ(
      decode_with("byd_lvs", frame(0x379, {0x9C, 0x00}), text)["installed_capacity"].value, 156.0);
  EXPECT_EQ(decode_with("byd_lvs", frame(0x382, {'P', 'R', 'E', 'M', 'I', 'U', 'M', 0}),
                        text)["product_name"]
                .text,
            "PREMIUM");
}

TEST(Sma, RecQLimitsAndAlarmPairs) {
  std::array<char, 256> text{};
  // REC Q 351 1F 01 BC 02 E8 03 E7 00: 28.7 V, 70.0 A, 100.0 A, 23.1 V
  auto lim =
      decode_with("sma", frame(0x351, {0x1F, 0x01, 0xBC, 0x02, 0xE8, 0x03, 0xE7, 0x00}), text);
  EXPECT_DOUBLE_EQ(lim.at("charge_voltage_limit").value, 28.7);
  EXPECT_DOUBLE_EQ(lim.at("charge_current_limit").value, 70.0);
  EXPECT_DOUBLE_EQ(lim.at("discharge_voltage_limit").value, 23.1);
  // REC 35A A8 ...: 0xA8 = 10 10 10 00 -> general 0 (not supported), high/low voltage and
  // high temperature 2 (OK).
  auto a = decode_with("sma", frame(0x35A, {0xA8, 0xA0, 0x82, 0x00, 0x00, 0x00, 0x80, 0x0A}), text);
  EXPECT_EQ(a.at("alarm_general").raw, 0);
  EXPECT_EQ(a.at("alarm_high_voltage").raw, 2);
  EXPECT_EQ(a.at("alarm_high_temperature").raw, 2);
  EXPECT_EQ(a.at("warning_bms_internal").raw, 2);  // byte 6 = 0x80: bits 6-7 = 10
}

}  // namespace
}  // namespace bmslink::protocol
