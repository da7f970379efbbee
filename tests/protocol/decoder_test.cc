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

std::unique_ptr<Decoded> decode(const can::Frame& f) {
  const auto db = builtin_database("pylon_lv_1_2");
  EXPECT_TRUE(db);
  static const Decoder decoder(**db);
  const auto* md = decoder.find(f.id, f.extended);
  EXPECT_NE(md, nullptr);
  auto out = std::make_unique<Decoded>();
  std::vector<SignalValue> values(md->signal_count());
  md->decode(f, values, out->text);
  for (const auto& v : values) out->by_name[v.signal->name] = v;
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
