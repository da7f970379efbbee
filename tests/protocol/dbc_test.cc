#include "bmslink/protocol/dbc.h"

#include <gtest/gtest.h>

#include "bmslink/protocol/builtin.h"

namespace bmslink::protocol {
namespace {

constexpr std::string_view kSmall = R"(VERSION ""
NS_ :
	CM_
	BA_
BS_:
BU_: BMS Inverter
BO_ 849 limits: 8 BMS
 SG_ charge_voltage_limit : 0|16@1+ (0.1,0) [0|6553.5] "V" Inverter
 SG_ temp : 32|16@1- (0.1,-40) [-40|100] "degC" Inverter,Other
BO_ 2566869221 j1939_thing: 8 BMS
 SG_ be_value : 7|16@0+ (1,0) [0|65535] "" Inverter
CM_ BO_ 849 "Limits,
over two lines";
CM_ SG_ 849 temp "A temperature";
BA_DEF_ BO_ "GenMsgCycleTime" INT 0 65535;
BA_ "GenMsgCycleTime" BO_ 849 1000;
VAL_ 849 charge_voltage_limit 0 "none" 65535 "invalid" ;
)";

TEST(ParseDbc, ReadsMessagesSignalsCommentsAttributesAndValues) {
  const auto db = parse_dbc(kSmall, "small.dbc");
  ASSERT_TRUE(db) << db.error().message;
  ASSERT_EQ(db->messages.size(), 2u);
  const Message& m = db->messages[0];
  EXPECT_EQ(m.id, 0x351u);
  EXPECT_FALSE(m.extended);
  EXPECT_EQ(m.name, "limits");
  EXPECT_EQ(m.dlc, 8u);
  EXPECT_EQ(m.comment, "Limits,\nover two lines");
  ASSERT_EQ(m.cycle_time_ms, 1000u);
  ASSERT_EQ(m.signals.size(), 2u);
  const Signal& t = m.signals[1];
  EXPECT_EQ(t.start_bit, 32u);
  EXPECT_EQ(t.length, 16u);
  EXPECT_TRUE(t.is_signed);
  EXPECT_DOUBLE_EQ(t.factor, 0.1);
  EXPECT_DOUBLE_EQ(t.offset, -40.0);
  EXPECT_DOUBLE_EQ(t.minimum, -40.0);
  EXPECT_EQ(t.unit, "degC");
  EXPECT_EQ(t.comment, "A temperature");
  EXPECT_EQ(m.signals[0].values.at(65535), "invalid");
  // Bit 31 of a BO_ id marks a 29-bit id: 2566869221 = 0x80000000 | 0x18FF50E5.
  EXPECT_TRUE(db->messages[1].extended);
  EXPECT_EQ(db->messages[1].id, 0x18FF50E5u);
  EXPECT_EQ(db->messages[1].signals[0].order, ByteOrder::kMotorola);
  EXPECT_EQ(db->find(0x18FF50E5, true), &db->messages[1]);
  EXPECT_EQ(db->find(0x18FF50E5, false), nullptr);
}

TEST(ParseDbc, ErrorsNameTheLineAndWhatWasExpected) {
  const auto missing_colon = parse_dbc("BU_: A\nBO_ 849 limits 8 BMS\n", "bad.dbc");
  ASSERT_FALSE(missing_colon);
  EXPECT_NE(missing_colon.error().message.find("bad.dbc:2: expected ':'"), std::string::npos)
      << missing_colon.error().message;
  const auto bad_order =
      parse_dbc("BO_ 849 m: 8 X\n SG_ s : 0|16@2+ (1,0) [0|0] \"\" X\n", "b.dbc");
  ASSERT_FALSE(bad_order);
  EXPECT_NE(bad_order.error().message.find("b.dbc:2:"), std::string::npos);
  const auto too_wide = parse_dbc("BO_ 849 m: 2 X\n SG_ s : 8|16@1+ (1,0) [0|0] \"\" X\n", "w.dbc");
  ASSERT_FALSE(too_wide);
  EXPECT_NE(too_wide.error().message.find("does not fit"), std::string::npos);
  const auto unterminated = parse_dbc("CM_ \"never closed;\n", "u.dbc");
  EXPECT_FALSE(unterminated);
  const auto sg_first = parse_dbc(" SG_ s : 0|8@1+ (1,0) [0|0] \"\" X\n", "s.dbc");
  EXPECT_FALSE(sg_first);
}

TEST(BuiltinProtocols, EveryDefinitionParsesAndExportsVerbatim) {
  ASSERT_FALSE(builtin_protocols().empty());
  for (const auto& p : builtin_protocols()) {
    const auto db = builtin_database(p.name);
    ASSERT_TRUE(db) << db.error().message;
    EXPECT_FALSE((*db)->messages.empty()) << p.name;
  }
  EXPECT_FALSE(builtin_database("no_such_protocol"));
}

}  // namespace
}  // namespace bmslink::protocol
