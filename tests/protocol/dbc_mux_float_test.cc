// Vendor DBCs decode right or are refused: multiplexed signals (M / mN / mNM and SG_MUL_VAL_
// ranges) are present only when their multiplexer selects them, and SIG_VALTYPE_ float/double
// signals decode as IEEE values. The files are public ones from cantools' test suite
// (tests/data/dbc/SOURCES.md); every expected value is worked out by hand from the bit layout:
// @1 Intel = start bit is the LSB, @0 Motorola = start bit is the MSB; signed values are sign-
// extended from their length; a multiplexer value that selects no branch leaves only the
// multiplexer and the signals that are not multiplexed (bmslink's rule; cantools raises there).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "bmslink/protocol/dbc.h"
#include "bmslink/protocol/decoder.h"
#include "support/frames.h"

namespace bmslink::protocol {
namespace {

Database load(const std::string& file) {
  std::ifstream in(test::data_path("dbc/" + file), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  auto db = parse_dbc(ss.str(), file);
  EXPECT_TRUE(db) << (db ? "" : db.error().message);
  return db ? std::move(*db) : Database{};
}

can::Frame frame(std::uint32_t id, bool extended, std::vector<std::uint8_t> bytes) {
  can::Frame f;
  f.id = id;
  f.extended = extended;
  f.len = static_cast<std::uint8_t>(bytes.size());
  f.dlc = f.len;
  for (std::size_t i = 0; i < bytes.size(); ++i) f.data[i] = bytes[i];
  return f;
}

// Present signals by name with their values; absent ones are not in the map.
std::map<std::string, double> decode(const Database& db, const can::Frame& f) {
  Decoder d(db);
  const auto* md = d.find(f.id, f.extended);
  EXPECT_NE(md, nullptr) << std::hex << f.id;
  std::map<std::string, double> out;
  if (md == nullptr) return out;
  std::vector<SignalValue> values(md->signal_count());
  std::array<char, 64> text{};
  const std::size_t n = md->decode(f, values, text);
  for (const auto& v : values)
    if (v.present) out[v.signal->name] = v.value;
  EXPECT_EQ(n, out.size());
  // The analyzers' raw path agrees on which signals are present.
  std::vector<std::int64_t> raw(md->signal_count());
  const std::uint64_t bits = md->decode_raw(f, raw);
  for (std::size_t i = 0; i < values.size() && i < 64; ++i)
    EXPECT_EQ(((bits >> i) & 1U) != 0, values[i].present) << values[i].signal->name;
  return out;
}

using Expect = std::map<std::string, double>;

void expect_exactly(const std::map<std::string, double>& got, const Expect& want,
                    const std::string& where) {
  SCOPED_TRACE(where);
  for (const auto& [name, value] : want) {
    auto it = got.find(name);
    ASSERT_NE(it, got.end()) << name << " should be present";
    EXPECT_NEAR(it->second, value, 1e-9 * std::max(1.0, std::fabs(value))) << name;
  }
  for (const auto& [name, value] : got)
    EXPECT_TRUE(want.count(name)) << name << " = " << value << " should be absent";
}

TEST(DbcMultiplex, PlainMultiplexerSelectsByValue) {
  // MultiplexorSig = byte 0; MultiplexedSig (m42) = byte 1 signed; UnmultiplexedSig = byte 2
  // signed. 0xFF = -1, 0x80 = -128.
  const Database db = load("cantools_test_multiplex_dump.dbc");
  expect_exactly(decode(db, frame(0x100, false, {0x2A, 0xFF, 0x80, 0, 0, 0, 0, 0})),
                 {{"MultiplexorSig", 42}, {"MultiplexedSig", -1}, {"UnmultiplexedSig", -128}},
                 "A1");
  expect_exactly(decode(db, frame(0x100, false, {0x2A, 0x01, 0x7F, 0, 0, 0, 0, 0})),
                 {{"MultiplexorSig", 42}, {"MultiplexedSig", 1}, {"UnmultiplexedSig", 127}}, "A2");
  // 43 selects nothing: byte 1 (0x05) is not reported.
  expect_exactly(decode(db, frame(0x100, false, {0x2B, 0x05, 0x80, 0, 0, 0, 0, 0})),
                 {{"MultiplexorSig", 43}, {"UnmultiplexedSig", -128}}, "A3");
}

TEST(DbcMultiplex, SgMulValWidensTheSelectorValues) {
  // Multiplexor = bits 2..7 of byte 0. Message1 (0x123456): J C G L selected by 8, 16, 24
  // (m8 plus SG_MUL_VAL_ 8-8, 16-16, 24-24), A K E D B H F by 24 only.
  const Database db = load("cantools_multiplex_choices.dbc");
  // 0x40 >> 2 = 16; byte 2 = 0x84: J (bit 18) = 1, C (19) = 0, G (23) = 1; byte 3 bit 0: L = 1.
  // Bytes 3 and 4 carry set bits for the 24-only signals: junk, not reported.
  expect_exactly(decode(db, frame(0x123456, true, {0x40, 0x00, 0x84, 0x35, 0xC3, 0, 0, 0})),
                 {{"Multiplexor", 16}, {"BIT_J", 1}, {"BIT_C", 0}, {"BIT_G", 1}, {"BIT_L", 1}},
                 "B1");
  // 0x63 >> 2 = 24: everything. Byte 2 0x88: J 0, C 1, G 1; byte 3 0x24: L 0, A 1, K 0, E 1;
  // byte 4 0x81: D 1, B 0, H 0, F 1.
  expect_exactly(decode(db, frame(0x123456, true, {0x63, 0x00, 0x88, 0x24, 0x81, 0, 0, 0})),
                 {{"Multiplexor", 24},
                  {"BIT_J", 0},
                  {"BIT_C", 1},
                  {"BIT_G", 1},
                  {"BIT_L", 0},
                  {"BIT_A", 1},
                  {"BIT_K", 0},
                  {"BIT_E", 1},
                  {"BIT_D", 1},
                  {"BIT_B", 0},
                  {"BIT_H", 0},
                  {"BIT_F", 1}},
                 "B2");
  // Message2 (0x123457), value 4: named in VAL_ but selects no signal.
  expect_exactly(
      decode(db, frame(0x123457, true, {0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})),
      {{"Multiplexor", 4}}, "B4");
  // Message3 (0x123458) has only m8, no SG_MUL_VAL_: 16 selects nothing there, 8 does.
  expect_exactly(decode(db, frame(0x123458, true, {0x40, 0x00, 0x8C, 0x01, 0, 0, 0, 0})),
                 {{"Multiplexor", 16}}, "B5");
  expect_exactly(decode(db, frame(0x123458, true, {0x20, 0x00, 0x8C, 0x01, 0, 0, 0, 0})),
                 {{"Multiplexor", 8}, {"BIT_J", 1}, {"BIT_C", 1}, {"BIT_G", 1}, {"BIT_L", 1}},
                 "B6");
}

TEST(DbcMultiplex, ExtendedMultiplexingWithRangesNestingAndTwoRoots) {
  const Database db = load("cantools_multiplex_2.dbc");
  // Shared (0x0C02FEFE): S0 = low nibble of byte 0 (signed), S1 (S0 in 1, 3) = high nibble
  // (signed), S2 (S0 in 2..5) = byte 1 (signed).
  expect_exactly(decode(db, frame(0x0C02FEFE, true, {0x33, 0xFE, 0, 0, 0, 0, 0, 0})),
                 {{"S0", 3}, {"S1", 3}, {"S2", -2}}, "C1");
  expect_exactly(decode(db, frame(0x0C02FEFE, true, {0xF4, 0x7F, 0, 0, 0, 0, 0, 0})),
                 {{"S0", 4}, {"S2", 127}}, "C2");
  // High nibble 9 = -7 as a signed nibble.
  expect_exactly(decode(db, frame(0x0C02FEFE, true, {0x91, 0x80, 0, 0, 0, 0, 0, 0})),
                 {{"S0", 1}, {"S1", -7}}, "C3");
  // 0xD = -3: the signed multiplexer selects nothing.
  expect_exactly(decode(db, frame(0x0C02FEFE, true, {0x0D, 0x05, 0, 0, 0, 0, 0, 0})), {{"S0", -3}},
                 "C4");
  // Extended (0x0C00FEFE): S0 {0: S1 {0: S2, S3; 2: S4}; 1: S5}, S6 {1: S7; 2: S8}.
  // S2 = 0x85 = -123, S3 = 0x1234 = 4660, S7 = 0xFFFFFE (24 bits) = -2.
  expect_exactly(
      decode(db, frame(0x0C00FEFE, true, {0x00, 0x85, 0x34, 0x12, 0x01, 0xFE, 0xFF, 0xFF})),
      {{"S0", 0}, {"S1", 0}, {"S2", -123}, {"S3", 4660}, {"S6", 1}, {"S7", -2}}, "C7");
  // S1 = 2 selects S4 = bytes 1..3 = 0x800000 (24 bits signed) = -8388608; S6 = 2: S8 = 0x7F.
  expect_exactly(
      decode(db, frame(0x0C00FEFE, true, {0x20, 0x00, 0x00, 0x80, 0x02, 0x7F, 0xAA, 0xAA})),
      {{"S0", 0}, {"S1", 2}, {"S4", -8388608}, {"S6", 2}, {"S8", 127}}, "C8");
  // S0 = 1: S5 = bits 4..31 = 0x12345671 >> 4 = 0x1234567 = 19088743; S1's nibble (7) is not
  // selected, nor is anything below it. S6 = 1: S7 = 0x000102 = 258.
  expect_exactly(
      decode(db, frame(0x0C00FEFE, true, {0x71, 0x56, 0x34, 0x12, 0x01, 0x02, 0x01, 0x00})),
      {{"S0", 1}, {"S5", 19088743}, {"S6", 1}, {"S7", 258}}, "C9");
  // ExtendedTypes (0x0C03FEFE): S11 = low 5 bits of byte 0; S11 = 3 selects S0 (signed nibble
  // of byte 1), S0 = 0 selects S10 = float in bytes 2..5 (0x40490FDB = 3.14159274...).
  expect_exactly(
      decode(db, frame(0x0C03FEFE, true, {0xE3, 0xA0, 0xDB, 0x0F, 0x49, 0x40, 0x00, 0x00})),
      {{"S11", 3}, {"S0", 0}, {"S10", 3.1415927410125732}}, "C10");
  // S11 = 5 selects S9 = float in bytes 3..6 (0xC0200000 = -2.5).
  expect_exactly(
      decode(db, frame(0x0C03FEFE, true, {0x05, 0xFF, 0xFF, 0x00, 0x00, 0x20, 0xC0, 0xFF})),
      {{"S11", 5}, {"S9", -2.5}}, "C11");
  // S0 = 0xF = -1 selects nothing: the float bits are there but not S10.
  expect_exactly(
      decode(db, frame(0x0C03FEFE, true, {0xE3, 0xAF, 0xDB, 0x0F, 0x49, 0x40, 0x00, 0x00})),
      {{"S11", 3}, {"S0", -1}}, "C12");
}

TEST(DbcFloat, FloatAndDoubleDecodeAsIeeeValues) {
  const Database db = load("cantools_floating_point.dbc");
  // Double, least significant byte first: 0x3FF8000000000000 = 1.5, 0xC002... = -2.25,
  // 0x408F400000000000 = 1000.0.
  expect_exactly(decode(db, frame(0x400, false, {0, 0, 0, 0, 0, 0, 0xF8, 0x3F})),
                 {{"Signal1", 1.5}}, "F1");
  expect_exactly(decode(db, frame(0x400, false, {0, 0, 0, 0, 0, 0, 0x02, 0xC0})),
                 {{"Signal1", -2.25}}, "F2");
  expect_exactly(decode(db, frame(0x400, false, {0, 0, 0, 0, 0, 0x40, 0x8F, 0x40})),
                 {{"Signal1", 1000.0}}, "F3");
  // Floats: 0x40490FDB = 3.1415927410125732, 0xC0200000 = -2.5, 0x3F800000 = 1, 0x447A0000 =
  // 1000.
  expect_exactly(decode(db, frame(0x401, false, {0xDB, 0x0F, 0x49, 0x40, 0, 0, 0x20, 0xC0})),
                 {{"Signal1", 3.1415927410125732}, {"Signal2", -2.5}}, "F4");
  expect_exactly(decode(db, frame(0x401, false, {0, 0, 0x80, 0x3F, 0, 0, 0x7A, 0x44})),
                 {{"Signal1", 1.0}, {"Signal2", 1000.0}}, "F5");
  // +inf stays inf, never a huge integer.
  const auto inf = decode(db, frame(0x401, false, {0, 0, 0, 0x80, 0, 0, 0x80, 0x7F}));
  EXPECT_TRUE(std::isinf(inf.at("Signal2")));
  EXPECT_EQ(inf.at("Signal1"), 0.0);  // -0.0 compares equal to 0
}

TEST(DbcFloat, BigEndianFloatWithAFactorAndAMotorolaOffsetSignal) {
  const Database db = load("cantools_foobar.dbc");
  // Foo 0|12@0- (0.01, 250): raw = (b0 & 1) << 11 | b1 << 3 | b2 >> 5 = 2048 + 1040 + 7 = 3095
  // -> -1001 -> 239.99. Bar 24|32@0 float x 0.1: bits 0x41C80000 = 25.0 -> 2.5.
  expect_exactly(decode(db, frame(0x12330, true, {0x01, 0x82, 0xE0, 0x00, 0x83, 0x90, 0, 0})),
                 {{"Foo", 239.99}, {"Bar", 2.5}}, "G1");
  // Foo raw 1000 -> 260.00; Bar bits 0x40490FDB (not byte-aligned) -> 0.31415927410125732.
  expect_exactly(decode(db, frame(0x12330, true, {0xFE, 0x7D, 0x1F, 0xFE, 0x80, 0x92, 0x1F, 0xB6})),
                 {{"Foo", 260.0}, {"Bar", 0.31415927410125732}}, "G2");
  // Bar message (4 bytes): Binary32 little-endian float 0x40490FDB.
  expect_exactly(decode(db, frame(0x12332, true, {0xDB, 0x0F, 0x49, 0x40})),
                 {{"Binary32", 3.1415927410125732}}, "G3");
}

TEST(DbcRefuses, WhatItCannotDecodeRightNamingTheLine) {
  // A float that is not 32 bits.
  auto bad_float = parse_dbc(
      "BO_ 256 M: 8 X\n SG_ a : 0|16@1- (1,0) [0|0] \"\" X\nSIG_VALTYPE_ 256 a : 1;\n", "f.dbc");
  ASSERT_FALSE(bad_float);
  EXPECT_NE(bad_float.error().message.find("f.dbc:3:"), std::string::npos)
      << bad_float.error().message;
  EXPECT_NE(bad_float.error().message.find("not 32"), std::string::npos);
  // Two root multiplexers and an m1 without SG_MUL_VAL_: which one selects it?
  auto ambiguous = parse_dbc(
      "BO_ 256 M: 8 X\n SG_ a M : 0|8@1+ (1,0) [0|0] \"\" X\n SG_ b M : 8|8@1+ (1,0) [0|0] \"\" "
      "X\n SG_ c m1 : 16|8@1+ (1,0) [0|0] \"\" X\n",
      "a.dbc");
  ASSERT_FALSE(ambiguous);
  EXPECT_NE(ambiguous.error().message.find("a.dbc:4:"), std::string::npos)
      << ambiguous.error().message;
  EXPECT_NE(ambiguous.error().message.find("SG_MUL_VAL_"), std::string::npos);
  // m1 without any multiplexer.
  EXPECT_FALSE(parse_dbc("BO_ 256 M: 8 X\n SG_ c m1 : 16|8@1+ (1,0) [0|0] \"\" X\n", "n.dbc"));
  // A malformed range.
  auto range = parse_dbc(
      "BO_ 256 M: 8 X\n SG_ a M : 0|8@1+ (1,0) [0|0] \"\" X\n SG_ c m1 : 16|8@1+ (1,0) [0|0] "
      "\"\" X\nSG_MUL_VAL_ 256 c a 5-2;\n",
      "r.dbc");
  ASSERT_FALSE(range);
  EXPECT_NE(range.error().message.find("r.dbc:4:"), std::string::npos) << range.error().message;
}

TEST(DbcFloat, EncodeWritesTheIeeePatternSoARoundTripIsExact) {
  const Database db = load("cantools_floating_point.dbc");
  MessageDecoder md(*db.find(0x401, false));
  const SignalInput in[] = {{"Signal1", -2.5, {}}, {"Signal2", 1000.0, {}}};
  auto f = md.encode(in);
  ASSERT_TRUE(f);
  // -2.5f = 0xC0200000, 1000.0f = 0x447A0000, little-endian.
  EXPECT_EQ(test::bytes(*f),
            (std::vector<std::uint8_t>{0x00, 0x00, 0x20, 0xC0, 0x00, 0x00, 0x7A, 0x44}));
}

}  // namespace
}  // namespace bmslink::protocol
