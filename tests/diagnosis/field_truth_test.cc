// Issue 17: advice that holds on a real site. Termination read by how the meter is connected
// (values from the resistor arithmetic: two 120 Ω in parallel are 60 Ω, three 40 Ω), the cells in
// series from the battery and never a default, the link a pair really runs (RS485 for a Voltronic
// and a Pylontech), menu values as installers type them, and every knowledge-base fact no
// stronger than the sources it cites.
#include <gtest/gtest.h>

#include <algorithm>

#include "bmslink/diagnosis/guided.h"
#include "bmslink/diagnosis/hardcode.h"
#include "diagnosis/guided_support.h"

namespace bmslink::diagnosis {
namespace {

using nlohmann::json;

using support::catalogue;
using support::kb;
using support::verdict;

GuidedResult guided(const json& values, const json& extra = json::object()) {
  json doc = extra;
  doc["answers"] = values;
  auto a = parse_answers(doc.dump(), "test", catalogue());
  EXPECT_TRUE(a) << (a ? "" : a.error().message);
  return run_guided(catalogue(), kb(), a ? *a : Answers{});
}

const CheckVerdict& termination(const json& values, const json& extra = json::object()) {
  static GuidedResult last;
  last = guided(values, extra);
  return verdict(last, "l2.termination");
}

bool has(const std::string& text, std::string_view what) {
  return text.find(what) != std::string::npos;
}

// ---------------------------------------------------------------------------------------------
// Termination by setup.

TEST(TerminationSetup, AllConnectedReadsTheWholeBus) {
  const json all = {{"termination_setup", "all_connected"}};
  auto at = [&](const json& ohms) {
    json v = all;
    v["termination_ohms"] = ohms;
    return termination(v);
  };
  // 120 ∥ 120 = 60: correct, within 60 ± 5.
  EXPECT_EQ(at(60).verdict, Verdict::kPass);
  EXPECT_EQ(at(55).verdict, Verdict::kPass);
  // 120 alone: one missing. 120 ∥ 120 ∥ 120 = 40: one extra. Nothing: open. Under 5: a short.
  EXPECT_EQ(at(120).verdict, Verdict::kFail);
  EXPECT_TRUE(has(at(120).reason, "the other is missing")) << at(120).reason;
  EXPECT_TRUE(has(at(40).reason, "three terminators, one too many"));
  EXPECT_TRUE(has(at("open").reason, "no terminator at all"));
  EXPECT_TRUE(has(at(2).reason, "shorted"));
  EXPECT_EQ(at(120).cause, Cause::kTerminationFault);
}

TEST(TerminationSetup, WithoutASetupAFileKeepsItsMeaningAndSaysWhatItAssumed) {
  const auto& v = termination({{"termination_ohms", 120}});
  EXPECT_EQ(v.verdict, Verdict::kFail);
  EXPECT_TRUE(has(v.reason, "taken as both devices connected")) << v.reason;
  EXPECT_EQ(termination({{"termination_ohms", 60}}).verdict, Verdict::kPass);
}

// The case that sent installers the wrong way: one device unplugged, the free cable end reads
// only the far side's terminator, 120 Ω on a healthy bus. That is no termination fault.
TEST(TerminationSetup, OneEndUnpluggedAtOneHundredTwentyIsTheFarSideCorrect) {
  const auto r = guided({{"inverter_battery_setting", "Pylontech CAN"},
                         {"bms_protocol", "Pylontech CAN"},
                         {"inverter_bitrate_kbps", 500},
                         {"bms_bitrate_kbps", 500},
                         {"dip_switches_match_manual", "yes"},
                         {"battery_count", 1},
                         {"termination_setup", "one_end_unplugged"},
                         {"termination_device", "bms"},
                         {"termination_ohms", 120}});
  const auto& v = verdict(r, "l2.termination");
  EXPECT_NE(v.verdict, Verdict::kFail) << v.reason;
  EXPECT_NE(r.confirmed, Cause::kTerminationFault);
  EXPECT_EQ(v.verdict, Verdict::kUnknown);
  EXPECT_TRUE(has(v.reason, "one terminator on the far side")) << v.reason;
  // Then the unplugged device's own port is asked for.
  ASSERT_TRUE(r.next);
  EXPECT_EQ(r.next->check, "l2.termination");
  ASSERT_FALSE(r.next->asks.empty());
  EXPECT_EQ(r.next->asks.back().key, "termination_port_ohms");
}

TEST(TerminationSetup, OneEndUnpluggedWithTheUnpluggedDevicesPort) {
  auto with_port = [](const json& port) {
    return termination({{"termination_setup", "one_end_unplugged"},
                        {"termination_device", "inverter"},
                        {"termination_ohms", 120},
                        {"termination_port_ohms", port}});
  };
  // Far side 120, this end 120: 120 ∥ 120 = 60 once connected.
  EXPECT_EQ(with_port(120).verdict, Verdict::kPass);
  EXPECT_TRUE(has(with_port(120).reason, "one terminator at each end"));
  // This end open: the bus would read 120, one missing, at this end.
  EXPECT_EQ(with_port("open").verdict, Verdict::kFail);
  EXPECT_TRUE(has(with_port("open").reason, "no terminator at this end"));
  // This end 60: two in the device, 120 ∥ 60 = 40 connected.
  EXPECT_EQ(with_port(60).verdict, Verdict::kFail);
  EXPECT_TRUE(has(with_port(60).reason, "two terminators at this end"));
}

TEST(TerminationSetup, OneEndUnpluggedOtherReadingsAreTheFarSide) {
  auto far = [](const json& ohms) {
    return termination({{"termination_setup", "one_end_unplugged"}, {"termination_ohms", ohms}});
  };
  // 60 at the cable end: two terminators on the cable side. Right only if one is a plug at this
  // end of the cable, so the unplugged device's port decides: 120 there makes three in all
  // (120 ∥ 60 = 40 connected), open leaves it to the plug.
  EXPECT_EQ(far(60).verdict, Verdict::kUnknown);
  EXPECT_TRUE(has(far(60).reason, "two terminators on the cable side")) << far(60).reason;
  auto far60 = [](const json& port) {
    return termination({{"termination_setup", "one_end_unplugged"},
                        {"termination_device", "bms"},
                        {"termination_ohms", 60},
                        {"termination_port_ohms", port}});
  };
  EXPECT_EQ(far60(120).verdict, Verdict::kFail);
  EXPECT_TRUE(has(far60(120).reason, "too many terminators"));
  EXPECT_EQ(far60("open").verdict, Verdict::kUnknown);
  EXPECT_TRUE(has(far(40).reason, "three terminators on the far side"));
  EXPECT_EQ(far("open").verdict, Verdict::kFail);
  EXPECT_TRUE(has(far("open").reason, "no terminator on the far side"));
}

TEST(TerminationSetup, ADevicesOwnPort) {
  auto port = [](const json& ohms, const json& cable = nullptr) {
    json v = {{"termination_setup", "device_port"},
              {"termination_device", "bms"},
              {"termination_ohms", ohms}};
    if (!cable.is_null()) v["termination_cable_ohms"] = cable;
    return termination(v);
  };
  // 120 at the port: it terminates by itself; the other side is asked.
  EXPECT_EQ(port(120).verdict, Verdict::kUnknown);
  EXPECT_TRUE(has(port(120).reason, "it terminates by itself"));
  // 60 at the port: the device holds two terminators, wrong whatever else is on the bus.
  EXPECT_EQ(port(60).verdict, Verdict::kFail);
  EXPECT_TRUE(has(port(60).reason, "two terminators in the device"));
  // Open: it does not terminate; its end needs a terminator plug.
  EXPECT_TRUE(has(port("open").reason, "it does not terminate"));
  // With the cable (the other device connected): 120 + 120 pass; 120 + open fail; 120 + 60
  // (two at the far end) fail; open + 120 fail (the bus would read 120).
  EXPECT_EQ(port(120, 120).verdict, Verdict::kPass);
  EXPECT_EQ(port(120, "open").verdict, Verdict::kFail);
  EXPECT_EQ(port(120, 60).verdict, Verdict::kFail);
  EXPECT_EQ(port("open", 120).verdict, Verdict::kFail);
  // Open at the port and 60 on the cable: right only if one of the two is a plug at this end.
  EXPECT_EQ(port("open", 60).verdict, Verdict::kUnknown);
  // An unpowered port reads the transceiver's inputs, kΩ: no terminator, not a fault.
  EXPECT_EQ(port(5000).verdict, Verdict::kUnknown);
  EXPECT_TRUE(has(port(5000).reason, "it does not terminate")) << port(5000).reason;
}

TEST(TerminationSetup, AnUnknownSetupDecidesOnlyWhatIsWrongInEverySetup) {
  // "Can't tell" how the meter was connected: 120 Ω is right one way and wrong the other.
  const auto& v = termination({{"termination_setup", nullptr}, {"termination_ohms", 120}});
  EXPECT_EQ(v.verdict, Verdict::kUnknown) << v.reason;
  EXPECT_TRUE(has(v.reason, "measure again with both devices connected"));
  // 40 Ω is three terminators seen together in every setup; under 5 Ω a short.
  EXPECT_EQ(termination({{"termination_setup", nullptr}, {"termination_ohms", 40}}).verdict,
            Verdict::kFail);
  EXPECT_EQ(termination({{"termination_setup", nullptr}, {"termination_ohms", 1}}).verdict,
            Verdict::kFail);
}

TEST(TerminationSetup, AnRs485LinkNeedsNoTerminatorsAtNineSixHundredBaud) {
  // Sol-Ark 15K and a Fortress eFlex on setting 04: Modbus over RS485, which Sol-Ark says needs
  // no termination. Open is no fault there; 40 Ω (three terminators) still is.
  const json pair = {{"inverter_model", "Sol-Ark 15K"}, {"bms_model", "Fortress eFlex 5.4"}};
  const auto open =
      guided({{"termination_setup", "all_connected"}, {"termination_ohms", "open"}}, pair);
  EXPECT_EQ(open.link.bus, "rs485");
  EXPECT_EQ(verdict(open, "l2.termination").verdict, Verdict::kPass)
      << verdict(open, "l2.termination").reason;
  EXPECT_NE(open.confirmed, Cause::kTerminationFault);
  EXPECT_EQ(verdict(guided({{"termination_ohms", 40}}, pair), "l2.termination").verdict,
            Verdict::kFail);
}

TEST(TerminationSetup, ATerminatorBuiltIntoSomeModelsOnlyIsNotClaimedForTheOthers) {
  // The Sunny Boy Storage has one built in; nothing says so of the Tripower Smart Energy.
  const json sbs = {{"inverter_model", "SMA Sunny Boy Storage 5.0"}};
  const json stp = {{"inverter_model", "SMA Sunny Tripower Smart Energy"}};
  const json forty = {{"termination_setup", "all_connected"}, {"termination_ohms", 40}};
  EXPECT_TRUE(has(termination(forty, sbs).reason, "terminates by itself"));
  EXPECT_FALSE(has(termination(forty, stp).reason, "terminates by itself"))
      << termination(forty, stp).reason;
}

TEST(TerminationSetup, IsAskedBeforeTheReading) {
  // Layer 1 answered and passing: the next question is termination, its setup first.
  const auto r = guided({{"inverter_battery_setting", "Pylontech CAN"},
                         {"bms_protocol", "Pylontech CAN"},
                         {"inverter_bitrate_kbps", 500},
                         {"bms_bitrate_kbps", 500},
                         {"dip_switches_match_manual", "yes"},
                         {"battery_count", 1}});
  ASSERT_TRUE(r.next);
  EXPECT_EQ(r.next->check, "l2.termination");
  ASSERT_GE(r.next->asks.size(), 2u);
  EXPECT_EQ(r.next->asks[0].key, "termination_setup");
  EXPECT_EQ(r.next->asks[1].key, "termination_ohms");
}

TEST(TerminationSetup, TheKnowledgeBaseSaysWhichDevicesTerminateByThemselves) {
  // A Solax G4 has 120 Ω built in (emulator wiki): 40 Ω all connected means a plug at its end
  // makes three; the reason says so and how strong that source is.
  const auto& three =
      termination({{"termination_setup", "all_connected"}, {"termination_ohms", 40}},
                  {{"inverter_model", "Solax X3 Hybrid G4"}});
  EXPECT_TRUE(has(three.reason, "terminates by itself")) << three.reason;
  EXPECT_TRUE(has(three.reason, "makes three"));
  ASSERT_TRUE(three.source_class);
  EXPECT_EQ(*three.source_class, SourceClass::kEmulatorReport);
  // A Victron GX does not: 120 Ω all connected names its missing terminator plug.
  const auto& gx = termination({{"termination_setup", "all_connected"}, {"termination_ohms", 120}},
                               {{"inverter_model", "Victron Cerbo GX"}});
  EXPECT_TRUE(has(gx.reason, "does not terminate by itself")) << gx.reason;
}

// ---------------------------------------------------------------------------------------------
// Cells in series.

TEST(HardcodeCells, APylontechIsFifteenCellsWithinTheMakersRange) {
  HardcodeInput in;
  in.battery = "Pylontech US3000C";
  in.capacity_ah = 74;
  auto a = advise_hardcode(in, &kb());
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->cells, 15);
  // 3.40 V x 15 = 51.0 V; 3.00 V x 15 = 45.0 V; the maker's range is 44.5-53.5 V.
  EXPECT_DOUBLE_EQ(a->charge_voltage_v, 51.0);
  EXPECT_DOUBLE_EQ(a->cutoff_voltage_v, 45.0);
  EXPECT_LE(a->charge_voltage_v, 53.5);
  EXPECT_GE(a->cutoff_voltage_v, 44.5);
  // 15 x 3.2 V x 74 Ah = 3.552 kWh.
  EXPECT_NEAR(a->kwh, 3.6, 1e-9);
  EXPECT_TRUE(a->limited.empty());
  EXPECT_EQ(hardcode_json(*a)["pack"]["cells_series"], 15);
}

TEST(HardcodeCells, NeverAGuess) {
  HardcodeInput in;
  in.capacity_ah = 74;
  const auto none = advise_hardcode(in, &kb());
  ASSERT_FALSE(none);
  EXPECT_TRUE(has(none.error().message, "--battery"));
  EXPECT_TRUE(has(none.error().message, "--cells"));
  in.cells = 16;  // counted: 54.4 / 48.0 as before
  EXPECT_DOUBLE_EQ(advise_hardcode(in, &kb())->charge_voltage_v, 54.4);
  EXPECT_DOUBLE_EQ(advise_hardcode(in, &kb())->cutoff_voltage_v, 48.0);
  in.battery = "Pylontech US5000";  // 15 cells per the maker: 16 disagrees
  EXPECT_FALSE(advise_hardcode(in, &kb()));
  in.cells.reset();
  in.battery = "Acme Nonesuch 9";
  EXPECT_FALSE(advise_hardcode(in, &kb()));
  // The brand is not the battery: a Pylontech model bmslink does not list is refused, not given
  // the US-series' 15 cells.
  for (const char* other : {"Pylontech Pelio-L 5.12", "Pylontech", "Pylontech H48050"}) {
    in.battery = other;
    const auto r = advise_hardcode(in, &kb());
    EXPECT_FALSE(r) << other;
    if (!r) {
      EXPECT_TRUE(has(r.error().message, "--cells")) << other;
    }
  }
}

TEST(HardcodeCells, HeldWithinTheMakersLimits) {
  // A pack whose maker allows 50.0 V at most on 15 cells: 51.0 V would exceed it.
  auto extra = KnowledgeBase::parse(R"({
    "sources": {"T-MAN": {"title": "t", "url": null, "kind": "vendor manual", "class": "vendor_manual"}},
    "batteries": [{"id": "tight", "brand": "Tight", "family": "T15", "models": ["Tight T15"],
                   "sources": ["T-MAN"], "confidence": "man",
                   "pack": {"cells_series": 15, "charge_max_v": 50.0, "cutoff_min_v": 46.0,
                            "sources": ["T-MAN"]}}]})",
                                    "tight.json");
  ASSERT_TRUE(extra) << extra.error().message;
  KnowledgeBase k = kb();
  ASSERT_TRUE(k.add(*extra));
  HardcodeInput in;
  in.battery = "Tight T15";
  in.capacity_ah = 100;
  auto a = advise_hardcode(in, &k);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_DOUBLE_EQ(a->charge_voltage_v, 50.0);  // not 51.0
  EXPECT_DOUBLE_EQ(a->cutoff_voltage_v, 46.0);  // not 45.0
  EXPECT_EQ(a->limited.size(), 2u);
}

TEST(HardcodeCells, TheGuidedResultCarriesTheCasesBattery) {
  const auto r = guided(json::object(), {{"bms_model", "Pylontech US5000"}});
  ASSERT_TRUE(r.hardcode);
  EXPECT_EQ(r.hardcode->cells_series, 15);
  EXPECT_EQ(guided_json(r)["hardcode"]["cells_series"], 15);
}

// ---------------------------------------------------------------------------------------------
// The link a pair runs.

TEST(LinkType, AVoltronicReadsAPylontechOverRs485) {
  const auto r = guided(json::object(), {{"inverter_model", "MPP Solar Axpert King"},
                                         {"bms_model", "Pylontech US3000C"}});
  EXPECT_EQ(r.link.bus, "rs485");
  EXPECT_EQ(r.link.protocol, "pylon-rs485");
  EXPECT_TRUE(has(r.link.reason, "RS485")) << r.link.reason;
  // The CAN bit rate and the analyzer's checks do not apply; settings and wiring do.
  EXPECT_EQ(verdict(r, "l1.bitrate").verdict, Verdict::kSkipped);
  EXPECT_EQ(verdict(r, "l1.bitrate").reason, "not for an RS485 link");
  EXPECT_EQ(verdict(r, "l5.ack").verdict, Verdict::kSkipped);
  EXPECT_NE(verdict(r, "l2.termination").reason, "not for an RS485 link");
  EXPECT_NE(verdict(r, "l2.rj45_pinout").reason, "not for an RS485 link");
  // "PYL" with the battery's protocol taken from its model: the RS485 jack is the one to cable.
  const auto pyl =
      guided({{"inverter_battery_setting", "PYL"}},
             {{"inverter_model", "MPP Solar Axpert King"}, {"bms_model", "Pylontech US3000C"}});
  EXPECT_EQ(verdict(pyl, "l1.protocol_setting").verdict, Verdict::kPass);
  EXPECT_TRUE(has(verdict(pyl, "l1.protocol_setting").reason, "RS485"));
  // Said to send Pylontech CAN (the CAN jack cabled): the inverter cannot read that.
  const auto can =
      guided({{"inverter_battery_setting", "PYL"}, {"bms_protocol", "Pylontech CAN"}},
             {{"inverter_model", "MPP Solar Axpert King"}, {"bms_model", "Pylontech US3000C"}});
  EXPECT_EQ(verdict(can, "l1.protocol_setting").verdict, Verdict::kFail);
  EXPECT_TRUE(has(can.fix, "RS485 port")) << can.fix;
}

TEST(LinkType, OnAnRs485LinkThePinoutCheckGivesTheRs485Pins) {
  const auto r = guided({{"rj45_pinout_matches", "no"}}, {{"inverter_model", "MPP Solar LV6548"},
                                                          {"bms_model", "Pylontech US5000"}});
  ASSERT_EQ(r.link.bus, "rs485");
  const auto& v = verdict(r, "l2.rj45_pinout");
  EXPECT_TRUE(has(v.reason, "RS485 A 7, B 8")) << v.reason;
  EXPECT_FALSE(has(v.reason, "CAN-H")) << v.reason;
  EXPECT_TRUE(has(v.reason, "Pins 1-3 must stay unconnected")) << v.reason;  // the jack's trap
}

TEST(LinkType, AWrongSettingDoesNotSetTheLink) {
  // Solis with "Lithium Battery LV(RS485)" and a Pylontech: the right value is PYLON_LV (CAN), so
  // the link is CAN and the setting fails with that value.
  const auto r =
      guided({{"inverter_battery_setting", "Lithium Battery LV(RS485)"}},
             {{"inverter_model", "Solis RHI-5K-48ES-5G"}, {"bms_model", "Pylontech US3000C"}});
  EXPECT_EQ(r.link.bus, "can") << r.link.reason;
  EXPECT_EQ(verdict(r, "l1.protocol_setting").verdict, Verdict::kFail);
  EXPECT_TRUE(has(r.fix, "PYLON_LV")) << r.fix;
}

TEST(LinkType, ADeyeReadsAPylontechOnCan) {
  const auto r = guided(json::object(), {{"inverter_model", "Deye SUN-5K-SG03LP1-EU"},
                                         {"bms_model", "Pylontech US3000C"}});
  EXPECT_EQ(r.link.bus, "can");
  EXPECT_NE(verdict(r, "l1.bitrate").reason, "not for an RS485 link");
  // Fronius GEN24 and BYD HVS: Modbus over RS485.
  EXPECT_EQ(guided(json::object(), {{"inverter_model", "Fronius Symo GEN24 Plus"},
                                    {"bms_model", "BYD Battery-Box Premium HVS"}})
                .link.bus,
            "rs485");
}

// ---------------------------------------------------------------------------------------------
// Menu values as people type them.

TEST(TypedValues, GrowattSpfShorthandForTheWrongValueFailsWithTheRightOne) {
  for (const char* typed : {"L51", "51", "li+l51", "LI L51", "li + l51"}) {
    const auto r =
        guided({{"inverter_battery_setting", typed}},
               {{"inverter_model", "Growatt SPF 5000ES"}, {"bms_model", "Pylontech US3000C"}});
    const auto& v = verdict(r, "l1.protocol_setting");
    EXPECT_EQ(v.verdict, Verdict::kFail) << typed << ": " << v.reason;
    EXPECT_EQ(r.confirmed, Cause::kInverterProtocolMismatch) << typed;
    EXPECT_TRUE(has(r.fix, "\"LI + L52\"")) << typed << ": " << r.fix;
  }
  for (const char* typed : {"L52", "52", "li l52", "CAN L52"}) {
    const auto r =
        guided({{"inverter_battery_setting", typed}},
               {{"inverter_model", "Growatt SPF 5000ES"}, {"bms_model", "Pylontech US3000C"}});
    EXPECT_EQ(verdict(r, "l1.protocol_setting").verdict, Verdict::kPass)
        << typed << ": " << verdict(r, "l1.protocol_setting").reason;
  }
}

TEST(TypedValues, NumbersAndCodesOnOtherInverters) {
  const json deye = {{"inverter_model", "Deye SUN-5K-SG03LP1-EU"},
                     {"bms_model", "Pylontech US3000C"}};
  for (const char* typed : {"00", "Lithium 00", "lithium 0", "LITHIUM00"})
    EXPECT_EQ(
        verdict(guided({{"inverter_battery_setting", typed}}, deye), "l1.protocol_setting").verdict,
        Verdict::kPass)
        << typed;
  // A number with a word that is not the value's own is not that value.
  EXPECT_EQ(KnowledgeBase::menu_value(*kb().find_inverter("Deye SUN-5K-SG03LP1-EU"), "AGM 12"),
            nullptr);
  // "Lithium 01" is no Deye LV value: suspect, "Lithium 00" is what a Pylontech needs, and the
  // walk stops there to try it (tentatively).
  const auto one = guided({{"inverter_battery_setting", "Lithium 01"}}, deye);
  EXPECT_EQ(verdict(one, "l1.protocol_setting").verdict, Verdict::kSuspect);
  EXPECT_TRUE(has(verdict(one, "l1.protocol_setting").fix, "\"Lithium 00\""));
  EXPECT_TRUE(one.tentative);
  EXPECT_EQ(one.confirmed, Cause::kInverterProtocolMismatch);
  // PYLON typed where the menu shows PYL.
  const auto* axpert = kb().find_inverter("MPP Solar Axpert King");
  ASSERT_NE(axpert, nullptr);
  ASSERT_NE(KnowledgeBase::menu_value(*axpert, "PYLON"), nullptr);
  EXPECT_EQ(KnowledgeBase::menu_value(*axpert, "PYLON")->value, "PYL");
  EXPECT_EQ(KnowledgeBase::menu_value(*axpert, "pyl")->value, "PYL");
  // The menu's own name counts as the value's words: "Lithium 00" on Sol-Ark's "BMS Lithium Batt".
  const auto* solark = kb().find_inverter("Sol-Ark 15K");
  ASSERT_NE(solark, nullptr);
  ASSERT_NE(KnowledgeBase::menu_value(*solark, "Lithium 00"), nullptr);
  EXPECT_EQ(KnowledgeBase::menu_value(*solark, "Lithium 00")->value, "00");
  // A number saved by a tool as a JSON number reads as the text.
  EXPECT_EQ(verdict(guided({{"inverter_battery_setting", 4}},
                           {{"inverter_model", "Growatt SPH 6000TL-HU"},
                            {"bms_model", "Pylontech US3000C"}}),
                    "l1.protocol_setting")
                .verdict,
            Verdict::kPass);
}

TEST(TypedValues, AnotherInvertersCodeOrAProtocolNameIsNoMenuValue) {
  // "L52" is the SPF's code, "PYL" Voltronic's, "UZE" SRNE's: on a Growatt SPH none is a value
  // (its Pylontech value is "04"), so none passes; the right value is named.
  for (const char* typed : {"L52", "PYL", "UZE"}) {
    const auto r =
        guided({{"inverter_battery_setting", typed}},
               {{"inverter_model", "Growatt SPH 6000TL-HU"}, {"bms_model", "Pylontech US3000C"}});
    const auto& v = verdict(r, "l1.protocol_setting");
    EXPECT_EQ(v.verdict, Verdict::kSuspect) << typed << ": " << v.reason;
    EXPECT_TRUE(has(v.fix, "\"04\"")) << typed << ": " << v.fix;
  }
  // A Victron GX has profiles, not a "Pylontech CAN" entry: suspect, with the profile to pick.
  for (const char* typed : {"PYL", "Pylontech CAN", "Pylon"}) {
    const auto r =
        guided({{"inverter_battery_setting", typed}},
               {{"inverter_model", "Victron Cerbo GX"}, {"bms_model", "Pylontech US3000C"}});
    const auto& v = verdict(r, "l1.protocol_setting");
    EXPECT_EQ(v.verdict, Verdict::kSuspect) << typed << ": " << v.reason;
    EXPECT_TRUE(has(v.fix, "CAN-bus BMS LV (500 kbit/s)")) << typed << ": " << v.fix;
  }
  // A voltage-only setting fails on any inverter, listed or not.
  EXPECT_EQ(verdict(guided({{"inverter_battery_setting", "Generic Lithium"}},
                           {{"inverter_model", "Deye SUN-5K-SG03LP1-EU"},
                            {"bms_model", "Pylontech US3000C"}}),
                    "l1.protocol_setting")
                .verdict,
            Verdict::kFail);
  // "PYL" on an inverter bmslink does not know is Pylontech's RS485 protocol (Voltronic's code).
  const auto clone =
      guided({{"inverter_battery_setting", "PYL"}, {"bms_protocol", "Pylontech CAN"}});
  EXPECT_EQ(verdict(clone, "l1.protocol_setting").verdict, Verdict::kFail);
  EXPECT_TRUE(has(verdict(clone, "l1.protocol_setting").reason, "RS485"));
}

// ---------------------------------------------------------------------------------------------
// Sources.

int strength(SourceClass c) { return static_cast<int>(c); }

TEST(SourceClasses, EveryEntryAndValueHasOneNoStrongerThanItsSources) {
  auto strongest = [](const std::vector<std::string>& keys) {
    int best = -1;
    for (const auto& k : keys) {
      const auto* s = kb().source(k);
      EXPECT_NE(s, nullptr) << k;
      if (s) best = std::max(best, strength(s->source_class));
    }
    return best;
  };
  int values = 0;
  for (const auto* list : {&kb().inverters(), &kb().batteries()}) {
    for (const auto& d : *list) {
      ASSERT_TRUE(d.raw.contains("source_class")) << d.id;
      EXPECT_LE(strength(*parse_source_class(d.raw["source_class"].get<std::string>())),
                strongest(d.sources))
          << d.id;
      EXPECT_LE(strength(d.source_class), strongest(d.sources)) << d.id;
      for (std::size_t i = 0; i < d.battery_settings.size(); ++i) {
        const auto& raw = d.raw["battery_settings"][i];
        EXPECT_TRUE(raw.contains("source_class")) << d.id << " " << d.battery_settings[i].value;
        EXPECT_LE(strength(d.battery_settings[i].source_class),
                  strongest(d.battery_settings[i].sources))
            << d.id << " " << d.battery_settings[i].value;
        ++values;
      }
    }
  }
  EXPECT_GE(values, 40);
  for (const auto& [key, s] : kb().sources()) EXPECT_FALSE(s.title.empty()) << key;
}

TEST(SourceClasses, AValueCannotClaimMoreThanItsSources) {
  const auto bad = KnowledgeBase::parse(R"({
    "sources": {"EMU": {"title": "an emulator's notes", "url": null, "kind": "project documentation",
                        "class": "emulator_report"}},
    "inverters": [{"id": "x", "brand": "X", "family": "Y", "sources": ["EMU"], "confidence": "man",
                   "source_class": "vendor_manual",
                   "battery_settings": [{"value": "A", "protocol": "pylon-lv", "sources": ["EMU"]}]}]})",
                                        "bad.json");
  ASSERT_TRUE(bad) << bad.error().message;
  KnowledgeBase k = kb();
  const auto added = k.add(*bad);
  ASSERT_FALSE(added);
  EXPECT_TRUE(has(added.error().message, "stronger than its sources")) << added.error().message;
}

TEST(SourceClasses, AVerdictSaysHowStrongItsSourcesAre) {
  // Deye's "Lithium 00" rests on emulator owners' reports only.
  const auto deye =
      guided({{"inverter_battery_setting", "Lithium 00"}},
             {{"inverter_model", "Deye SUN-5K-SG03LP1-EU"}, {"bms_model", "Pylontech US3000C"}});
  const auto& d = verdict(deye, "l1.protocol_setting");
  ASSERT_TRUE(d.source_class);
  EXPECT_EQ(*d.source_class, SourceClass::kEmulatorReport);
  EXPECT_TRUE(has(d.reason, "emulator")) << d.reason;
  // Growatt's L52 comes from Growatt's own compatibility list.
  const auto grw =
      guided({{"inverter_battery_setting", "LI + L52"}},
             {{"inverter_model", "Growatt SPF 5000ES"}, {"bms_model", "Pylontech US3000C"}});
  const auto& g = verdict(grw, "l1.protocol_setting");
  ASSERT_TRUE(g.source_class);
  EXPECT_EQ(*g.source_class, SourceClass::kVendorCompatibilityList);
  EXPECT_TRUE(has(g.reason, "compatibility list")) << g.reason;
  EXPECT_EQ(guided_json(grw)["verdicts"][0]["source_class"], "vendor_compatibility_list");
}

// ---------------------------------------------------------------------------------------------
// Second review.

TEST(SecondReview, RS485TerminationFollowsTheMakersWord) {
  // Fronius asks for 120 Ω at both ends of its Modbus bus (its own manual): open is a fault.
  const json fronius = {{"inverter_model", "Fronius Symo GEN24 10.0 Plus"},
                        {"bms_model", "BYD HVS 10.2"}};
  const auto f =
      guided({{"termination_setup", "all_connected"}, {"termination_ohms", "open"}}, fronius);
  EXPECT_EQ(f.link.bus, "rs485");
  EXPECT_EQ(verdict(f, "l2.termination").verdict, Verdict::kFail);
  // A Voltronic (no word either way): 60 Ω at the free cable end and 120 Ω at the port are three
  // terminators in all (120 ∥ 60 = 40 connected): too many on any bus.
  const json axpert = {{"inverter_model", "MPP Solar Axpert King"},
                       {"bms_model", "Pylontech US3000C"}};
  const auto three = guided({{"termination_setup", "one_end_unplugged"},
                             {"termination_device", "bms"},
                             {"termination_ohms", 60},
                             {"termination_port_ohms", 120}},
                            axpert);
  EXPECT_EQ(verdict(three, "l2.termination").verdict, Verdict::kFail)
      << verdict(three, "l2.termination").reason;
  // ... while one terminator too few is no fault there at 9600 baud.
  const auto few =
      guided({{"termination_setup", "all_connected"}, {"termination_ohms", 120}}, axpert);
  EXPECT_EQ(verdict(few, "l2.termination").verdict, Verdict::kPass);
}

TEST(SecondReview, APylonSettingDoesNotReadAVictronProtocolBattery) {
  // "interoperates_with" says which batteries a device on the protocol reads: a Victron GX reads
  // Pylontech packs, not the other way round. A Growatt SPF on L52 does not read a REC Q.
  const auto r = guided({{"inverter_battery_setting", "L52"}},
                        {{"inverter_model", "Growatt SPF 5000ES"}, {"bms_model", "REC Q"}});
  EXPECT_NE(verdict(r, "l1.protocol_setting").verdict, Verdict::kPass)
      << verdict(r, "l1.protocol_setting").reason;
  const auto gx =
      guided({{"inverter_battery_setting", "CAN-bus BMS LV (500 kbit/s)"}},
             {{"inverter_model", "Victron Cerbo GX"}, {"bms_model", "Pylontech US3000C"}});
  EXPECT_EQ(verdict(gx, "l1.protocol_setting").verdict, Verdict::kPass);
}

TEST(SecondReview, TheMenusOwnLabelsAsTypedPass) {
  struct Case {
    const char *inverter, *battery, *typed;
  };
  for (const auto& c : {Case{"Solis RHI-5K-48ES-5G", "Pylontech US3000C", "PYLON_LV"},
                        Case{"Solis RHI-5K-48ES-5G", "Pylontech US3000C", "Pylon LV"},
                        Case{"Growatt SPH 5000TL-HU", "Pylontech US3000C", "Lithium 04"},
                        Case{"Growatt SPH 5000TL-HU", "Pylontech US3000C", "BMS 04"},
                        Case{"Victron Cerbo GX", "Pylontech US3000C", "CAN-bus BMS LV"},
                        Case{"Sungrow SH10RT", "Sungrow SBR096", "SBR"},
                        Case{"Sol-Ark 15K", "Fortress eFlex 5.4", "04"}}) {
    const auto r = guided({{"inverter_battery_setting", c.typed}},
                          {{"inverter_model", c.inverter}, {"bms_model", c.battery}});
    EXPECT_EQ(verdict(r, "l1.protocol_setting").verdict, Verdict::kPass)
        << c.inverter << " / " << c.typed << ": " << verdict(r, "l1.protocol_setting").reason;
  }
  // Lead-acid types are voltage-only: a fail, not "cannot tell".
  for (const char* typed : {"Lead-acid", "AGM", "User"}) {
    const auto r =
        guided({{"inverter_battery_setting", typed}},
               {{"inverter_model", "Deye SUN-5K-SG03LP1-EU"}, {"bms_model", "Pylontech US3000C"}});
    EXPECT_EQ(verdict(r, "l1.protocol_setting").verdict, Verdict::kFail) << typed;
    EXPECT_TRUE(has(r.fix, "\"Lithium 00\"")) << typed << ": " << r.fix;
  }
}

TEST(SecondReview, TheFixNeverNamesAProfileAtAnotherBitRate) {
  const auto r =
      guided({{"inverter_battery_setting", "VE.Can & CAN-bus BMS (250 kbit/s)"}},
             {{"inverter_model", "Victron Cerbo GX"}, {"bms_model", "Pylontech US3000C"}});
  EXPECT_EQ(verdict(r, "l1.protocol_setting").verdict, Verdict::kFail);
  EXPECT_TRUE(has(r.fix, "CAN-bus BMS LV (500 kbit/s)")) << r.fix;
  EXPECT_FALSE(has(r.fix, "250 kbit/s")) << r.fix;
}

TEST(SecondReview, FirmwareNotKnownIsSavedAndReadBack) {
  auto a = parse_answers(R"({"answers": {"bms_firmware": null, "inverter_firmware": null}})", "x",
                         catalogue());
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_TRUE(a->not_known.count("bms_firmware"));
  const auto again = parse_answers(a->to_json().dump(), "again", catalogue());
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->to_json(), a->to_json());
  const auto r = run_guided(catalogue(), kb(), *a);
  EXPECT_EQ(verdict(r, "l5.firmware").verdict, Verdict::kUnknown);
  EXPECT_TRUE(has(verdict(r, "l5.firmware").reason, "not known"));
  // And it is not asked again.
  EXPECT_TRUE(!r.next || r.next->check != "l5.firmware");
}

TEST(SecondReview, QuestionsAreWordedForTheSetupAndTheLink) {
  const json passed = {{"inverter_battery_setting", "Pylontech CAN"},
                       {"bms_protocol", "Pylontech CAN"},
                       {"inverter_bitrate_kbps", 500},
                       {"bms_bitrate_kbps", 500},
                       {"dip_switches_match_manual", "yes"},
                       {"battery_count", 1},
                       {"termination_setup", "one_end_unplugged"}};
  const auto r = guided(passed);
  ASSERT_TRUE(r.next);
  ASSERT_EQ(r.next->asks.size(), 2u);
  EXPECT_EQ(r.next->asks[0].key, "termination_device");
  EXPECT_EQ(r.next->asks[0].prompt, "Which device did you unplug?");
  EXPECT_TRUE(has(r.next->asks[1].prompt, "at the free cable end")) << r.next->asks[1].prompt;
  // On an RS485 link the lines are A and B.
  const auto rs =
      guided({{"inverter_battery_setting", "PYL"},
              {"dip_switches_match_manual", "yes"},
              {"battery_count", 1}},
             {{"inverter_model", "MPP Solar Axpert King"}, {"bms_model", "Pylontech US3000C"}});
  ASSERT_TRUE(rs.next);
  EXPECT_EQ(rs.next->check, "l2.termination");
  for (const auto& ask : rs.next->asks) EXPECT_FALSE(has(ask.prompt, "CAN-H")) << ask.prompt;
}

}  // namespace
}  // namespace bmslink::diagnosis
