// The guided five-layer diagnosis: every rule at and around its thresholds (values from the field
// guide), one scripted answers file per cause reaching that cause in its layer and stopping there,
// an earlier layer winning, a capture pre-deciding checks, the knowledge base naming the right
// menu value, the hardcode advisor's numbers and rules, and bad answers files refused clearly.
#include "bmslink/diagnosis/guided.h"
#include "diagnosis/guided_support.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "bmslink/analysis/run.h"
#include "bmslink/diagnosis/hardcode.h"
#include "bmslink/diagnosis/pipeline.h"
#include "bmslink/sim/site.h"
#include "support/frames.h"
#include "support/simulated.h"

namespace bmslink::diagnosis {
namespace {

using nlohmann::json;

using support::catalogue;
using support::kb;
using support::verdict;

Answers answers(const json& values, const json& extra = json::object()) {
  json doc = extra;
  doc["answers"] = values;
  auto a = parse_answers(doc.dump(), "test", catalogue());
  EXPECT_TRUE(a) << (a ? "" : a.error().message);
  return a ? *a : Answers{};
}

Verdict one(std::string_view id, const json& values, const json& extra = json::object()) {
  return verdict(run_guided(catalogue(), kb(), answers(values, extra)), id).verdict;
}

TEST(Catalogue, HoldsEveryCheckOfTheFieldGuideInItsLayer) {
  const std::vector<std::pair<std::string, int>> expected = {
      {"l1.protocol_setting", 1}, {"l1.bitrate", 1},         {"l1.dip_switches", 1},
      {"l1.can_ids", 1},          {"l2.termination", 2},     {"l2.terminals", 2},
      {"l2.cable_damage", 2},     {"l2.connectors", 2},      {"l2.crimps", 2},
      {"l2.corrosion", 2},        {"l2.rj45_pinout", 2},     {"l5.ack", 5},
      {"l5.bms_transmits", 5},    {"l3.cable_type", 3},      {"l3.gauge", 3},
      {"l3.length", 3},           {"l3.routing", 3},         {"l3.bend_radius", 3},
      {"l4.ground_potential", 4}, {"l4.errors_vs_power", 4}, {"l4.error_timing", 4},
      {"l5.capture_analysis", 5}, {"l5.firmware", 5}};
  for (const auto& [id, layer] : expected) {
    const Check* c = catalogue().find(id);
    ASSERT_NE(c, nullptr) << id;
    EXPECT_EQ(layer_number(c->layer), layer) << id;
    EXPECT_FALSE(c->fix.empty()) << id;
    EXPECT_FALSE(c->technician.empty()) << id;
    EXPECT_FALSE(c->customer.empty()) << id;
    // A check made with the analyzer (layer 5) may confirm the cause of an earlier layer: no
    // acknowledgement is a connection fault, a silent BMS a configuration one.
    if (c->capture_only && c->layer == Layer::kProtocol)
      EXPECT_LE(cause_layer(c->confirms), c->layer) << id;
    else
      EXPECT_EQ(cause_layer(c->confirms), c->layer) << id << " confirms " << cause_id(c->confirms);
  }
  // The layer budgets of the field guide: 5, 10, 15, 20 minutes, then an hour and more.
  EXPECT_EQ(catalogue().budget(Layer::kConfiguration), 5);
  EXPECT_EQ(catalogue().budget(Layer::kConnections), 10);
  EXPECT_EQ(catalogue().budget(Layer::kCable), 15);
  EXPECT_EQ(catalogue().budget(Layer::kEnvironment), 20);
  EXPECT_EQ(catalogue().budget(Layer::kProtocol), 60);
  // Layer 5 takes 1 to 3 hours for a thorough analysis.
  EXPECT_EQ(catalogue().budget_max(Layer::kProtocol), 180);
  EXPECT_EQ(catalogue().budget_max(Layer::kConfiguration), 5);
  // The guide describes the acknowledgement and the 0x351/0x355/0x356 look under layer 5; the
  // old ids still find the checks (records and answers files name them).
  ASSERT_NE(catalogue().find("l2.ack"), nullptr);
  EXPECT_EQ(catalogue().find("l2.ack")->id, "l5.ack");
  ASSERT_NE(catalogue().find("l1.bms_transmits"), nullptr);
  EXPECT_EQ(catalogue().find("l1.bms_transmits")->id, "l5.bms_transmits");
}

// The field guide's 100 calls: 43 protocol setting, 31 termination, 12 cable, 6 DIP switches,
// 5 bit rate, 3 firmware or hardware. The checks' likelihoods are those calls, nothing more.
TEST(Catalogue, LikelihoodsAreTheHundredCallsOfTheFieldGuide) {
  double total = 0;
  std::map<Cause, double> by_cause;
  for (const auto& c : catalogue().checks()) {
    total += c.likelihood;
    by_cause[c.confirms] += c.likelihood;
  }
  EXPECT_DOUBLE_EQ(total, 100);
  EXPECT_DOUBLE_EQ(by_cause[Cause::kInverterProtocolMismatch], 43);
  EXPECT_DOUBLE_EQ(by_cause[Cause::kTerminationFault], 31);
  EXPECT_DOUBLE_EQ(by_cause[Cause::kDipSwitchWrong], 6);
  EXPECT_DOUBLE_EQ(by_cause[Cause::kBitrateMismatch], 5);
  EXPECT_DOUBLE_EQ(by_cause[Cause::kFirmwareIncompatibility], 3);
  // Cable: 10 in layer 3 plus the 2 of crushed insulation (a connection-layer look).
  EXPECT_DOUBLE_EQ(
      by_cause[Cause::kCableUnsuitable] + catalogue().find("l2.cable_damage")->likelihood, 12);
}

TEST(Catalogue, OrdersByLayerThenLikelihoodPerMinute) {
  const auto order = ordered_checks(catalogue());
  // Layer 1: the protocol setting (43 calls in 2 min: 21.5 a minute) before the bit rate (5 in
  // 1) before the DIP switches (6 in 1.5: 4) before several batteries (not counted: 0).
  std::vector<std::string> l1;
  for (const auto* c : order)
    if (c->layer == Layer::kConfiguration) l1.push_back(c->id);
  EXPECT_EQ(l1, (std::vector<std::string>{"l1.protocol_setting", "l1.bitrate", "l1.dip_switches",
                                          "l1.can_ids"}));
  for (std::size_t i = 1; i < order.size(); ++i) EXPECT_LE(order[i - 1]->layer, order[i]->layer);
  // Within a layer and across, a check never comes before a check it needs.
  for (std::size_t i = 0; i < order.size(); ++i)
    for (const auto& need : order[i]->needs)
      for (std::size_t j = i + 1; j < order.size(); ++j) EXPECT_NE(order[j]->id, need);
}

// A company whose calls are mostly termination: the walk asks termination first, across layers,
// and says why in the technician's words; on request, the field guide's order.
TEST(Catalogue, TheWalkTakesTheLearnedOrderAndSaysWhy) {
  GuidedOptions options;
  options.history.closed = 200;
  for (auto [cause, check, n] :
       {std::tuple{Cause::kTerminationFault, "l2.termination", 90.0},
        std::tuple{Cause::kConnectionFault, "l2.cable_damage", 30.0},
        std::tuple{Cause::kCableUnsuitable, "l3.cable_type", 30.0},
        std::tuple{Cause::kInverterProtocolMismatch, "l1.protocol_setting", 30.0},
        std::tuple{Cause::kDipSwitchWrong, "l1.dip_switches", 10.0},
        std::tuple{Cause::kBitrateMismatch, "l1.bitrate", 10.0}}) {
    options.history.causes[cause] = n;
    options.history.confirmed_by[check] = n;
  }
  const auto r = run_guided(catalogue(), kb(), Answers{}, options);
  ASSERT_TRUE(r.next);
  EXPECT_EQ(r.next->check, "l2.termination");
  // 90 of 200 cases, shrunk toward the guide's 31 calls with the weight of 20 cases. The guide's
  // table counts 104: its 100 calls and half a call for each of the 8 causes the catalogue's
  // checks confirm that it never met (several batteries, ground, EMI, heat or time of day, a
  // silent BMS, no acknowledgment, dropouts, the analyzer's protocol faults).
  // (90 + 20 x 31 / 104) / 220 = 0.4362.
  EXPECT_NEAR(r.next->probability, (90 + 20 * 31 / 104.0) / 220, 1e-9);
  EXPECT_DOUBLE_EQ(r.next->minutes, 3);
  EXPECT_NE(r.next->why.find("44 % of your company's calls"), std::string::npos) << r.next->why;
  EXPECT_NE(r.next->why.find("3 min"), std::string::npos) << r.next->why;
  EXPECT_FALSE(r.next->how.empty());
  const auto j = guided_json(r);
  EXPECT_EQ(j["order"]["mode"], "learned");
  EXPECT_EQ(j["next"]["minutes"], 3);
  EXPECT_TRUE(j["next"]["probability"].is_number());
  EXPECT_EQ(j["next"]["why"], r.next->why);

  // Termination passed: the rest of the calls are what is left open; crushed insulation is next.
  const auto after = run_guided(catalogue(), kb(), answers({{"termination_ohms", 60}}), options);
  ASSERT_TRUE(after.next);
  EXPECT_EQ(after.next->check, "l2.cable_damage") << after.next->why;
  EXPECT_NE(after.next->why.find("leave open"), std::string::npos) << after.next->why;
  EXPECT_GT(after.next->probability, 0.2);

  options.order = OrderMode::kGuide;
  const auto guide = run_guided(catalogue(), kb(), Answers{}, options);
  ASSERT_TRUE(guide.next);
  EXPECT_EQ(guide.next->check, "l1.protocol_setting");
  EXPECT_NE(guide.next->why.find("the field guide's order, as asked"), std::string::npos)
      << guide.next->why;
  EXPECT_EQ(guided_json(guide)["order"]["mode"], "guide");
}

TEST(Termination, SixtyPlusMinusFiveOhmsPassesAndEachWrongValueSaysWhy) {
  const auto reason = [](const json& ohms) {
    return verdict(run_guided(catalogue(), kb(), answers({{"termination_ohms", ohms}})),
                   "l2.termination");
  };
  EXPECT_EQ(reason(60).verdict, Verdict::kPass);
  EXPECT_EQ(reason(64.9).verdict, Verdict::kPass);
  EXPECT_EQ(reason(65).verdict, Verdict::kPass);
  EXPECT_EQ(reason(65.1).verdict, Verdict::kFail);
  EXPECT_EQ(reason(55).verdict, Verdict::kPass);
  EXPECT_EQ(reason(54.9).verdict, Verdict::kFail);
  EXPECT_NE(reason(120).reason.find("one 120 Ω terminator, the other is missing"),
            std::string::npos);
  EXPECT_NE(reason(40).reason.find("one too many"), std::string::npos);
  EXPECT_NE(reason("open").reason.find("no terminator at all"), std::string::npos);
  EXPECT_NE(reason(0.5).reason.find("shorted"), std::string::npos);
  // 30 Ω is four 120 Ω in parallel (120 / 30); 80 Ω is 1.5 of them: another resistor somewhere.
  EXPECT_NE(reason(30).reason.find("4.0 resistors of 120 Ω"), std::string::npos)
      << reason(30).reason;
  EXPECT_NE(reason(80).reason.find("1.5 resistors of 120 Ω"), std::string::npos);
  EXPECT_EQ(reason(65.1).verdict, Verdict::kFail);
  EXPECT_EQ(
      verdict(run_guided(catalogue(), kb(), answers({{"termination_ohms", 120}})), "l2.termination")
          .cause,
      Cause::kTerminationFault);
}

TEST(GroundLoop, PointTwoVoltsDoesNotTripPointTwoOneDoes) {
  EXPECT_EQ(one("l4.ground_potential", {{"ground_potential_v", 0.2}}), Verdict::kPass);
  EXPECT_EQ(one("l4.ground_potential", {{"ground_potential_v", 0.21}}), Verdict::kFail);
}

TEST(CableLength, LimitsByEnvironmentAndShield) {
  auto len = [](double m, const char* env, const char* shield) {
    return one("l3.length",
               {{"cable_length_m", m}, {"emi_environment", env}, {"cable_shielded", shield}});
  };
  // Inside an inverter enclosure: under 3 m shielded, under 2 m unshielded.
  EXPECT_EQ(len(2.9, "inverter_enclosure", "yes"), Verdict::kPass);
  EXPECT_EQ(len(3.0, "inverter_enclosure", "yes"), Verdict::kFail);
  EXPECT_EQ(len(1.9, "inverter_enclosure", "no"), Verdict::kPass);
  EXPECT_EQ(len(2.0, "inverter_enclosure", "no"), Verdict::kFail);
  // Unshielded in moderate EMI: reliable to 10 m, marginal 10-20 m, unreliable beyond.
  EXPECT_EQ(len(10, "moderate", "no"), Verdict::kPass);
  EXPECT_EQ(len(10.5, "moderate", "no"), Verdict::kMarginal);
  EXPECT_EQ(len(20, "moderate", "no"), Verdict::kMarginal);
  EXPECT_EQ(len(20.5, "moderate", "no"), Verdict::kFail);
  // Clean and shielded: 20-50 m; 100 m is the ideal-conditions ceiling.
  EXPECT_EQ(len(50, "clean", "yes"), Verdict::kPass);
  EXPECT_EQ(len(51, "clean", "yes"), Verdict::kFail);
  EXPECT_EQ(len(101, "clean", "yes"), Verdict::kFail);
}

TEST(CableType, SpeakerWireToAboutOneMetreCatFiveMarginalAlarmCableNot) {
  auto type = [](const char* t, double m, const char* env, const char* shield = "no") {
    return one("l3.cable_type", {{"cable_type", t},
                                 {"cable_length_m", m},
                                 {"emi_environment", env},
                                 {"cable_shielded", shield}});
  };
  EXPECT_EQ(type("can_twisted_pair", 30, "moderate"), Verdict::kPass);
  EXPECT_EQ(type("speaker_wire", 1.0, "clean"), Verdict::kPass);
  EXPECT_EQ(type("speaker_wire", 1.2, "clean"), Verdict::kFail);
  // Cat5/6 is 100 Ω, not 120: the guide calls it marginal, wherever it runs (the length check
  // judges the run against its environment).
  EXPECT_EQ(type("cat5", 5, "clean"), Verdict::kMarginal);
  EXPECT_EQ(type("cat6", 12, "clean"), Verdict::kMarginal);
  EXPECT_EQ(type("cat5", 5, "moderate"), Verdict::kMarginal);
  // Shielded Cat5/6: battery makers accept it to 20 m (BYD in the knowledge base).
  EXPECT_EQ(type("cat5", 20, "moderate", "yes"), Verdict::kPass);
  EXPECT_EQ(type("cat5", 21, "moderate", "yes"), Verdict::kMarginal);
  EXPECT_EQ(type("alarm_cable", 1, "clean"), Verdict::kFail);
  // Cat6 with nothing else known: not a verdict, a question about the length and the shield.
  const auto r = run_guided(catalogue(), kb(), answers({{"cable_type", "cat6"}}));
  EXPECT_EQ(verdict(r, "l3.cable_type").verdict, Verdict::kUnknown);
}

TEST(Gauge, EighteenToTwentyFourFineThinOnlyWhenShort) {
  EXPECT_EQ(one("l3.gauge", {{"cable_gauge_awg", 18}}), Verdict::kPass);
  EXPECT_EQ(one("l3.gauge", {{"cable_gauge_awg", 24}}), Verdict::kPass);
  EXPECT_EQ(one("l3.gauge", {{"cable_gauge_awg", 26}, {"cable_length_m", 2}}), Verdict::kPass);
  EXPECT_EQ(one("l3.gauge", {{"cable_gauge_awg", 26}, {"cable_length_m", 8}}), Verdict::kFail);
  EXPECT_EQ(one("l3.gauge", {{"cable_gauge_awg", 28}}), Verdict::kFail);  // length unknown
}

TEST(BitRate, EqualPassesAnyDifferenceFails) {
  EXPECT_EQ(one("l1.bitrate", {{"inverter_bitrate_kbps", 500}, {"bms_bitrate_kbps", 500}}),
            Verdict::kPass);
  const auto r = run_guided(catalogue(), kb(),
                            answers({{"inverter_bitrate_kbps", 125}, {"bms_bitrate_kbps", 500}}));
  EXPECT_EQ(verdict(r, "l1.bitrate").verdict, Verdict::kFail);
  EXPECT_NE(verdict(r, "l1.bitrate").reason.find("listens at 125 kbit/s, the BMS sends at 500"),
            std::string::npos);
}

TEST(ErrorTiming, ALoadIsInterferenceTheClockOrTemperatureAPattern) {
  const auto load = run_guided(catalogue(), kb(), answers({{"error_timing", "with_a_load"}}));
  EXPECT_EQ(verdict(load, "l4.error_timing").cause, Cause::kEmiPowerCorrelated);
  EXPECT_NE(load.fix.find("Find the load"), std::string::npos) << load.fix;
  for (const char* t : {"cold_mornings", "hot_afternoons", "scheduled"}) {
    const auto r = run_guided(catalogue(), kb(), answers({{"error_timing", t}}));
    EXPECT_EQ(verdict(r, "l4.error_timing").cause, Cause::kThermalOrTimePattern) << t;
  }
  EXPECT_EQ(one("l4.error_timing", {{"error_timing", "none"}}), Verdict::kPass);
}

TEST(Corrosion, FreshUnderFiveMilliohmCorrodedFromFifty) {
  EXPECT_EQ(one("l2.corrosion", {{"contact_resistance_mohm", 4.9}}), Verdict::kPass);
  EXPECT_EQ(one("l2.corrosion", {{"contact_resistance_mohm", 50}}), Verdict::kFail);
  EXPECT_EQ(one("l2.corrosion", {{"contact_resistance_mohm", 20}}), Verdict::kUnknown);
  EXPECT_EQ(one("l2.corrosion", {{"corrosion_visible", "yes"}, {"contact_resistance_mohm", 2}}),
            Verdict::kFail);
}

// Several batteries: the protocols talk through one master; there is no per-battery id plan.
TEST(SeveralBatteries, OnlyTheMasterTalksToTheInverter) {
  EXPECT_EQ(one("l1.can_ids", {{"battery_count", 1}}), Verdict::kPass);
  EXPECT_EQ(one("l1.can_ids", {{"battery_count", 4}, {"battery_link", "master_only"}}),
            Verdict::kPass);
  const auto all = run_guided(
      catalogue(), kb(), answers({{"battery_count", 2}, {"battery_link", "all_on_inverter_bus"}}));
  EXPECT_EQ(verdict(all, "l1.can_ids").verdict, Verdict::kFail);
  EXPECT_EQ(all.confirmed, Cause::kCanIdConflict);
  EXPECT_NE(all.fix.find("only the master"), std::string::npos) << all.fix;
  // An inverter whose own protocol addresses each BMS: a capture decides, not a rule.
  EXPECT_EQ(one("l1.can_ids", {{"battery_count", 2},
                               {"battery_link", "all_on_inverter_bus"},
                               {"inverter_supports_multiple_batteries", "yes"}}),
            Verdict::kUnknown);
  EXPECT_EQ(one("l1.can_ids", {{"battery_count", 2},
                               {"battery_link", "separate_ports"},
                               {"inverter_supports_multiple_batteries", "no"}}),
            Verdict::kFail);
  // Ids typed as an older answers file did are read and do not decide anything.
  const auto r = run_guided(catalogue(), kb(),
                            answers({{"inverter_battery_setting", "Pylontech CAN"},
                                     {"bms_protocol", "Pylontech CAN"},
                                     {"inverter_bitrate_kbps", 500},
                                     {"bms_bitrate_kbps", 500},
                                     {"dip_switches_match_manual", "yes"},
                                     {"battery_count", 2},
                                     {"battery_can_ids", "0x350 0X350"}}));
  EXPECT_EQ(verdict(r, "l1.can_ids").verdict, Verdict::kUnknown);
  ASSERT_TRUE(r.next);
  EXPECT_EQ(r.next->asks.front().key, "battery_link");
  // The technician's text never proposes an id per battery.
  EXPECT_EQ(catalogue().find("l1.can_ids")->fix.find("0x360"), std::string::npos);
  EXPECT_EQ(catalogue().find("l1.can_ids")->technician.find("0x360"), std::string::npos);
}

TEST(ProtocolSetting, ExactNamesOrTheKnowledgeBase) {
  // Without a known inverter: names must match exactly, or both be names of one protocol.
  EXPECT_EQ(one("l1.protocol_setting",
                {{"inverter_battery_setting", "Pylontech CAN"}, {"bms_protocol", "pylon-lv"}}),
            Verdict::kPass);
  const auto lfp = run_guided(
      catalogue(), kb(),
      answers({{"inverter_battery_setting", "LFP-CAN"}, {"bms_protocol", "Pylontech CAN"}}));
  EXPECT_EQ(verdict(lfp, "l1.protocol_setting").verdict, Verdict::kFail);
  EXPECT_EQ(lfp.confirmed, Cause::kInverterProtocolMismatch);
  EXPECT_EQ(one("l1.protocol_setting", {{"inverter_battery_setting", "Pylontech US2000"},
                                        {"bms_protocol", "Pylontech CAN"}}),
            Verdict::kFail);
  const auto generic = run_guided(catalogue(), kb(),
                                  answers({{"inverter_battery_setting", "Generic Lithium"},
                                           {"bms_protocol", "Pylontech CAN"}}));
  EXPECT_NE(verdict(generic, "l1.protocol_setting").reason.find("voltage-only"), std::string::npos)
      << verdict(generic, "l1.protocol_setting").reason;
}

TEST(ProtocolSetting, ASettingTheKnownInverterDoesNotListIsSuspectAndStopsTheWalkTentatively) {
  // A Deye with a setting that is none of its menu values, where the knowledge base knows what a
  // Pylontech needs: suspect, with that value as the fix. The walk stops there (a menu change
  // costs a minute, layer 2 costs ten), marked tentative: not a proven fault.
  const auto r = run_guided(
      catalogue(), kb(),
      answers({{"inverter_battery_setting", "Lithium 99"}, {"bms_protocol", "Pylontech CAN"}},
              {{"inverter_model", "Deye SUN-5K-SG03LP1-EU"}}));
  const auto& v = verdict(r, "l1.protocol_setting");
  EXPECT_EQ(v.verdict, Verdict::kSuspect);
  EXPECT_NE(v.reason.find("\"Lithium 00\""), std::string::npos);
  EXPECT_NE(v.fix.find("\"Lithium 00\""), std::string::npos) << v.fix;
  EXPECT_EQ(v.cause, Cause::kInverterProtocolMismatch);
  ASSERT_TRUE(r.confirmed);
  EXPECT_EQ(*r.confirmed, Cause::kInverterProtocolMismatch);
  EXPECT_TRUE(r.tentative);
  EXPECT_EQ(r.confirmed_by, "l1.protocol_setting");
  EXPECT_NE(r.fix.find("\"Lithium 00\""), std::string::npos) << r.fix;
  EXPECT_NE(r.reason.find("correct this answer"), std::string::npos) << r.reason;
  EXPECT_FALSE(r.next);
  ASSERT_EQ(r.suspects.size(), 1u);
  EXPECT_EQ(r.suspects.front().check, "l1.protocol_setting");
  // Corrected to the value now set, the walk goes on and nothing is tentative.
  const auto corrected = run_guided(
      catalogue(), kb(),
      answers({{"inverter_battery_setting", "Lithium 00"}, {"bms_protocol", "Pylontech CAN"}},
              {{"inverter_model", "Deye SUN-5K-SG03LP1-EU"}}));
  EXPECT_FALSE(corrected.confirmed);
  EXPECT_FALSE(corrected.tentative);
  ASSERT_TRUE(corrected.next);
  // A proven mismatch is not tentative.
  const auto lead = run_guided(
      catalogue(), kb(),
      answers({{"inverter_battery_setting", "Lead-acid"}, {"bms_protocol", "Pylontech CAN"}},
              {{"inverter_model", "Deye SUN-5K-SG03LP1-EU"}}));
  ASSERT_TRUE(lead.confirmed);
  EXPECT_FALSE(lead.tentative);
  // Without a battery protocol the knowledge base cannot name a value: then it cannot tell.
  const auto blind = run_guided(catalogue(), kb(),
                                answers({{"inverter_battery_setting", "Lithium 99"}},
                                        {{"inverter_model", "Deye SUN-5K-SG03LP1-EU"}}));
  EXPECT_EQ(verdict(blind, "l1.protocol_setting").verdict, Verdict::kUnknown);
  // The BMS's protocol comes from its model when not answered.
  const auto m = run_guided(
      catalogue(), kb(),
      answers({{"inverter_battery_setting", "Lithium 00"}},
              {{"inverter_model", "Deye SUN-5K-SG03LP1-EU"}, {"bms_model", "Pylontech US3000C"}}));
  EXPECT_EQ(verdict(m, "l1.protocol_setting").verdict, Verdict::kPass)
      << verdict(m, "l1.protocol_setting").reason;
}

TEST(ProtocolSetting, TheMenuQuestionOffersTheInvertersValuesWithTheNeededOneMarked) {
  // A Deye LV with a Pylontech US5000: the knowledge base lists "Lithium 00" (Pylontech LV CAN)
  // and "Lithium 12" (Pylontech RS485) for the Deye LV family; the battery sends Pylontech LV CAN
  // on its CAN jack, so "Lithium 00" is the one marked. Free text stays possible.
  const auto r = run_guided(catalogue(), kb(),
                            answers(json::object(), {{"inverter_model", "Deye SUN-8K-SG04LP3-EU"},
                                                     {"bms_model", "Pylontech US5000"}}));
  ASSERT_TRUE(r.next);
  ASSERT_EQ(r.next->check, "l1.protocol_setting");
  const auto& ask = r.next->asks.front();
  ASSERT_EQ(ask.key, "inverter_battery_setting");
  EXPECT_TRUE(ask.other);
  std::vector<std::string> values, recommended;
  for (const auto& o : ask.options) {
    values.push_back(o.value.get<std::string>());
    if (o.recommended) recommended.push_back(o.value.get<std::string>());
  }
  EXPECT_EQ(values, (std::vector<std::string>{"Lithium 00", "Lithium 12", "Lead-acid"}));
  EXPECT_EQ(recommended, (std::vector<std::string>{"Lithium 00"}));
  // Choices carry words: the meter's setups read as people say them.
  const auto t = run_guided(
      catalogue(), kb(),
      answers({{"inverter_battery_setting", "Lithium 00"},
               {"inverter_bitrate_kbps", 500},
               {"bms_bitrate_kbps", 500},
               {"dip_switches_match_manual", "yes"},
               {"battery_count", 1}},
              {{"inverter_model", "Deye SUN-8K-SG04LP3-EU"}, {"bms_model", "Pylontech US5000"}}));
  ASSERT_TRUE(t.next);
  ASSERT_EQ(t.next->check, "l2.termination") << t.next->check;
  const auto& setup = t.next->asks.front();
  ASSERT_EQ(setup.key, "termination_setup");
  ASSERT_EQ(setup.options.size(), 3u);
  EXPECT_EQ(setup.options[0].label, "Both devices connected");
  EXPECT_EQ(setup.options[0].value, "all_connected");
}

TEST(ProtocolSetting, AVictronProfileAtTheWrongRateFails) {
  // The GX's VE.Can profile runs at 250 kbit/s; a Pylontech LV battery sends at 500.
  const auto* gx = kb().find_inverter("Victron Cerbo GX");
  ASSERT_NE(gx, nullptr);
  const MenuValue* slow = nullptr;
  for (const auto& m : gx->battery_settings)
    if (m.bitrate_kbps && *m.bitrate_kbps == 250) slow = &m;
  ASSERT_NE(slow, nullptr);
  const auto r = run_guided(
      catalogue(), kb(),
      answers({{"inverter_battery_setting", slow->value}, {"bms_protocol", "Pylontech CAN"}},
              {{"inverter_model", "Victron Cerbo GX"}}));
  EXPECT_EQ(verdict(r, "l1.protocol_setting").verdict, Verdict::kFail);
  EXPECT_NE(verdict(r, "l1.protocol_setting").reason.find("250 kbit/s"), std::string::npos);
}

TEST(Answers, WhatATechnicianTypesIsUnderstood) {
  auto a = answers({{"termination_ohms", "OL"},
                    {"ground_potential_v", -0.3},
                    {"cable_length_m", "12,5 m"},
                    {"inverter_bitrate_kbps", "500k"},
                    {"bms_bitrate_kbps", "500 kbit/s"},
                    {"contact_resistance_mohm", "4 mohm"},
                    {"battery_can_ids", "0x0350 0x350"}});
  EXPECT_EQ(a.values.at("termination_ohms"), "open");
  EXPECT_EQ(a.values.at("ground_potential_v"), 0.3);  // probe polarity does not matter
  EXPECT_EQ(a.values.at("cable_length_m"), 12.5);
  EXPECT_EQ(a.values.at("inverter_bitrate_kbps"), 500);
  EXPECT_EQ(a.values.at("bms_bitrate_kbps"), 500);
  EXPECT_EQ(a.values.at("battery_can_ids"), json({"0x350", "0x350"}));
  EXPECT_EQ(answers({{"termination_ohms", "60 ohm"}}).values.at("termination_ohms"), 60);
  EXPECT_EQ(answers({{"termination_ohms", 250000}}).values.at("termination_ohms"), "open");
  EXPECT_FALSE(parse_answers(R"({"answers": {"battery_count": 1.5}})", "x", catalogue()));
  // Three batteries and how they reach the inverter not said: not enough to decide.
  EXPECT_EQ(one("l1.can_ids", {{"battery_count", 3}, {"battery_can_ids", "0x350 0x360"}}),
            Verdict::kUnknown);
  // "Don't know" (null): the check stays unknown and is not asked again.
  auto dk = answers({{"termination_ohms", nullptr}});
  EXPECT_TRUE(dk.not_known.count("termination_ohms"));
  const auto r = run_guided(catalogue(), kb(), dk);
  EXPECT_EQ(verdict(r, "l2.termination").verdict, Verdict::kUnknown);
  EXPECT_NE(verdict(r, "l2.termination").reason.find("not known"), std::string::npos);
}

TEST(ProtocolSetting, DeyeSaysLithiumZeroZeroNotTwelve) {
  const auto r = run_guided(
      catalogue(), kb(),
      answers({{"inverter_battery_setting", "Lithium 12"}, {"bms_protocol", "Pylontech CAN"}},
              {{"inverter_model", "Deye SUN-5K-SG03LP1-EU"}}));
  const auto& v = verdict(r, "l1.protocol_setting");
  EXPECT_EQ(v.verdict, Verdict::kFail);
  EXPECT_NE(v.reason.find("select \"Lithium 00\""), std::string::npos) << v.reason;
  EXPECT_EQ(one("l1.protocol_setting",
                {{"inverter_battery_setting", "lithium  00"}, {"bms_protocol", "Pylontech CAN"}},
                {{"inverter_model", "Deye SUN-5K-SG03LP1-EU"}}),
            Verdict::kPass);
}

// LuxPower/EG4: "Lithium 2" is reported as Pylon only on the 6000XP (and disputed there), so on
// an SNA 5K it cannot pass; the known value for that model, "Lithium 6", reads LuxPower CAN.
TEST(ProtocolSetting, AValueReportedOnOneModelOnlyIsUnknownOnTheOthers) {
  const json pylon = {{"inverter_battery_setting", "Lithium 2"}, {"bms_protocol", "pylon-lv"}};
  EXPECT_EQ(one("l1.protocol_setting", pylon, {{"inverter_model", "EG4 6000XP"}}), Verdict::kPass);
  const auto r =
      run_guided(catalogue(), kb(), answers(pylon, {{"inverter_model", "LuxPower LXP SNA 5K"}}));
  const auto& v = verdict(r, "l1.protocol_setting");
  EXPECT_EQ(v.verdict, Verdict::kUnknown) << v.reason;
  EXPECT_NE(v.reason.find("only on the 6000xp"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("capture"), std::string::npos) << v.reason;
}

// The US5000's manual: pins 1-3 of its jacks must stay unconnected. The pinout check says so for
// that battery whatever the answer, and names its CAN pins (4 H, 5 L, 6 GND).
TEST(Pinout, TheUs5000PinTrapIsNamed) {
  for (const bool matches : {true, false}) {
    const auto r = run_guided(
        catalogue(), kb(),
        answers({{"rj45_pinout_matches", matches}}, {{"bms_model", "Pylontech US5000"}}));
    const auto& v = verdict(r, "l2.rj45_pinout");
    EXPECT_EQ(v.verdict, matches ? Verdict::kPass : Verdict::kFail);
    EXPECT_NE(v.reason.find("pin trap: Pins 1-3 must stay unconnected"), std::string::npos)
        << v.reason;
  }
  // Another battery does not get the US5000's warning.
  const auto other =
      run_guided(catalogue(), kb(),
                 answers({{"rj45_pinout_matches", true}}, {{"bms_model", "Pylontech US3000C"}}));
  EXPECT_EQ(verdict(other, "l2.rj45_pinout").reason.find("Pins 1-3"), std::string::npos);
}

// Every inverter of the knowledge base: choosing one of its menu values that reads the battery's
// protocol passes; choosing one that does not fails and names a right value.
TEST(KnowledgeBase, TellsTheRightMenuValueForEveryInverterItLists) {
  int checked = 0;
  for (const auto& inv : kb().inverters()) {
    if (inv.models.empty()) continue;
    for (const auto& right : inv.battery_settings) {
      const auto* p = kb().protocol(right.protocol);
      ASSERT_NE(p, nullptr) << inv.id << " " << right.value;
      if (p->voltage_only) continue;
      for (const auto& wrong : inv.battery_settings) {
        if (kb().compatible(wrong.protocol, right.protocol, &wrong)) continue;
        // A model the right value is reported for (a value reported on some models only).
        std::string model = inv.models.front();
        for (const auto& m : inv.models)
          if (right.reported_for(m)) {
            model = m;
            break;
          }
        if (!right.reported_for(model)) model = right.models.front();
        const json extra = {{"inverter_model", model}};
        const auto ok = run_guided(
            catalogue(), kb(),
            answers({{"inverter_battery_setting", right.value}, {"bms_protocol", p->id}}, extra));
        EXPECT_EQ(verdict(ok, "l1.protocol_setting").verdict, Verdict::kPass)
            << inv.id << ": " << right.value << " / " << p->id << ": "
            << verdict(ok, "l1.protocol_setting").reason;
        const auto bad = run_guided(
            catalogue(), kb(),
            answers({{"inverter_battery_setting", wrong.value}, {"bms_protocol", p->id}}, extra));
        const auto& v = verdict(bad, "l1.protocol_setting");
        EXPECT_EQ(v.verdict, Verdict::kFail) << inv.id << ": " << wrong.value << " for " << p->id;
        EXPECT_NE(v.reason.find("\"" + right.value + "\""), std::string::npos)
            << inv.id << ": " << v.reason;
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 20);
}

TEST(KnowledgeBase, EveryEntryCitesSourcesWithAConfidence) {
  for (const auto* list : {&kb().inverters(), &kb().batteries()}) {
    for (const auto& d : *list) {
      EXPECT_FALSE(d.sources.empty()) << d.id;
      EXPECT_TRUE(d.confidence == "man" || d.confidence == "impl" || d.confidence == "user" ||
                  d.confidence == "low")
          << d.id << ": " << d.confidence;
    }
  }
  for (const auto& p : kb().protocols()) EXPECT_FALSE(p.sources.empty()) << p.id;
  // Lookups by what people type.
  ASSERT_NE(kb().find_inverter("victron cerbo gx"), nullptr);
  EXPECT_EQ(kb().find_inverter("victron cerbo gx")->brand, "Victron");
  ASSERT_NE(kb().find_protocol("PYLONTECH can"), nullptr);
  EXPECT_EQ(kb().find_protocol("PYLONTECH can")->id, "pylon-lv");
  EXPECT_EQ(kb().find_protocol("LFP-CAN")->id, "lfp-can");
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// tests/data/answers/<cause>.json: the answers of a site where one check fails. Each reaches its
// cause in its layer, and every later check is skipped.
TEST(AnswersFiles, EachScriptedCauseIsReachedInItsLayerAndStopsThere) {
  const std::string dir = test::data_path("answers");
  int seen = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().stem().string();
    const auto cause = parse_cause(name);
    if (!cause) continue;
    ++seen;
    auto a = parse_answers(read(e.path().string()), name, catalogue());
    ASSERT_TRUE(a) << a.error().message;
    const auto r = run_guided(catalogue(), kb(), *a);
    ASSERT_TRUE(r.confirmed) << name;
    EXPECT_EQ(*r.confirmed, *cause) << name;
    EXPECT_EQ(r.layer, cause_layer(*cause)) << name;
    EXPECT_FALSE(r.fix.empty());
    EXPECT_FALSE(r.reverify.empty());
    bool after = false;
    for (const auto& v : r.verdicts) {
      if (after) {
        EXPECT_EQ(v.verdict, Verdict::kSkipped) << name << ": " << v.check;
      }
      if (v.check == r.confirmed_by) after = true;
    }
    EXPECT_FALSE(r.escalate);
    EXPECT_FALSE(r.next);
  }
  EXPECT_EQ(seen, 11);
}

TEST(AnswersFiles, AnEarlierLayerWinsOverALaterOne) {
  // Termination at 120 Ω (layer 2) and a 0.5 V ground potential (layer 4): layer 2 is confirmed.
  const auto r = run_guided(catalogue(), kb(),
                            answers({{"termination_ohms", 120}, {"ground_potential_v", 0.5}}));
  EXPECT_EQ(r.confirmed, Cause::kTerminationFault);
  EXPECT_EQ(verdict(r, "l4.ground_potential").verdict, Verdict::kSkipped);
  // Layer 1 still unanswered before it is named as open.
  EXPECT_FALSE(r.still_open.empty());
  EXPECT_EQ(r.still_open.front(), "l1.protocol_setting");
}

TEST(AnswersFiles, NothingAnsweredAsksTheProtocolSettingFirstAndCountsTheBudget) {
  const auto r = run_guided(catalogue(), kb(), Answers{});
  ASSERT_TRUE(r.next);
  EXPECT_EQ(r.next->check, "l1.protocol_setting");
  ASSERT_EQ(r.next->asks.size(), 2u);
  EXPECT_EQ(r.next->asks[0].key, "inverter_battery_setting");
  // Minutes: the checks answered, the technician's own figure where given.
  auto a = answers({{"inverter_battery_setting", "Pylontech CAN"},
                    {"bms_protocol", "Pylontech CAN"},
                    {"inverter_bitrate_kbps", 500},
                    {"bms_bitrate_kbps", 500},
                    {"minutes", {{"l1.protocol_setting", 7}}}});
  const auto timed = run_guided(catalogue(), kb(), a);
  EXPECT_DOUBLE_EQ(timed.minutes[0], 8.0);  // 7 as logged + 1 for the bit rate
  const auto j = guided_json(timed);
  EXPECT_EQ(j["over_budget"], json::array({1}));  // 8 of 5 minutes
  EXPECT_EQ(j["next"]["check"], "l1.dip_switches");
}

TEST(AnswersFiles, AllPassingWithoutACaptureAsksForOneThenEscalates) {
  auto a = parse_answers(read(test::data_path("answers/all_pass.json")), "all_pass", catalogue());
  ASSERT_TRUE(a);
  const auto r = run_guided(catalogue(), kb(), *a);
  EXPECT_FALSE(r.confirmed);
  ASSERT_TRUE(r.next);
  EXPECT_EQ(r.next->check, "l5.capture_analysis");
  EXPECT_EQ(r.next->asks.front().key, "capture");
  EXPECT_FALSE(r.escalate);
  // With a healthy capture every layer is exhausted: escalate.
  sim::SiteOptions o;
  o.duration_s = 900;
  const auto e = test::simulated_evidence(o);
  const auto fs = diagnose_capture(e);
  GuidedOptions with;
  with.evidence = &e;
  with.findings = &fs;
  const auto done = run_guided(catalogue(), kb(), *a, with);
  EXPECT_FALSE(done.confirmed);
  EXPECT_TRUE(done.escalate) << (done.next ? done.next->check : "");
}

TEST(Capture, ALoggedFailBeatsAShortCaptureThatSawNothing) {
  // An hour of a healthy site cannot clear "cold mornings": the technician's answer stands.
  sim::SiteOptions o;
  o.duration_s = 3600;
  const auto e = test::simulated_evidence(o);
  const auto fs = diagnose_capture(e);
  GuidedOptions with{&e, &fs, {}, {}};
  const auto r = run_guided(catalogue(), kb(), answers({{"error_timing", "cold_mornings"}}), with);
  EXPECT_EQ(verdict(r, "l4.error_timing").verdict, Verdict::kFail);
  EXPECT_FALSE(verdict(r, "l4.error_timing").from_capture);
}

TEST(Capture, PreDecidesChecksAndSaysSo) {
  // A healthy simulated site: the inverter answers and follows the limits, so the protocol and
  // bit-rate checks are skipped; the first question is the DIP switches.
  sim::SiteOptions o;
  o.duration_s = 900;
  const auto e = test::simulated_evidence(o);
  const auto fs = diagnose_capture(e);
  GuidedOptions with;
  with.evidence = &e;
  with.findings = &fs;
  const auto r = run_guided(catalogue(), kb(), Answers{}, with);
  const auto& p = verdict(r, "l1.protocol_setting");
  EXPECT_EQ(p.verdict, Verdict::kSkipped);
  EXPECT_TRUE(p.from_capture);
  EXPECT_NE(p.reason.find("the capture shows"), std::string::npos);
  EXPECT_EQ(verdict(r, "l1.bitrate").verdict, Verdict::kSkipped);
  ASSERT_TRUE(r.next);
  EXPECT_EQ(r.next->check, "l1.dip_switches");

  // A site at the wrong bit rate: the capture confirms layer 1 without a question.
  sim::SiteOptions b;
  b.fault = "bitrate_mismatch";
  b.duration_s = 300;
  const auto e2 = test::simulated_evidence(b);
  const auto fs2 = diagnose_capture(e2);
  GuidedOptions with2{&e2, &fs2, {}, {}};
  const auto r2 = run_guided(catalogue(), kb(), Answers{}, with2);
  EXPECT_EQ(r2.confirmed, Cause::kBitrateMismatch);
  EXPECT_EQ(r2.confirmed_by, "l1.bitrate");
  EXPECT_TRUE(verdict(r2, "l1.bitrate").from_capture);
}

TEST(BadAnswers, AreRefusedNamingTheKey) {
  const auto err = [](const std::string& text) {
    auto r = parse_answers(text, "site.json", catalogue());
    EXPECT_FALSE(r) << text;
    return r ? std::string() : r.error().message;
  };
  EXPECT_NE(err(R"({"answers": {"termination_ohm": 60}})").find("\"termination_ohm\""),
            std::string::npos);
  EXPECT_NE(err(R"({"answers": {"termination_ohms": "sixty"}})").find("expected a number in Ω"),
            std::string::npos);
  EXPECT_NE(err(R"({"answers": {"termination_ohms": -3}})").find("termination_ohms"),
            std::string::npos);
  EXPECT_NE(
      err(R"({"answers": {"inverter_bitrate_kbps": 300}})").find("one of 125, 250, 500, 1000"),
      std::string::npos);
  EXPECT_NE(err(R"({"answers": {"terminals_loose": "maybe"}})").find("yes or no"),
            std::string::npos);
  EXPECT_NE(err(R"({"answers": {"battery_can_ids": ["0x35G"]}})").find("hex"), std::string::npos);
  EXPECT_NE(err(R"({"answers": {}, "inverter": "Deye"})").find("unknown key \"inverter\""),
            std::string::npos);
  EXPECT_NE(err(R"({"answers": {"minutes": {"l9.nothing": 3}}})").find("l9.nothing"),
            std::string::npos);
  EXPECT_NE(err("[1, 2]").find("site.json"), std::string::npos);
  EXPECT_NE(err("{\"answers\": ").find("not valid JSON"), std::string::npos);
  // What parses: yes/no words, "open", numbers as text, a space-separated id list.
  auto ok = parse_answers(
      R"({"answers": {"terminals_loose": "No", "termination_ohms": "open", "cable_length_m": "12.5",
          "battery_can_ids": "0x350 360"}, "bms_model": "US3000C"})",
      "ok.json", catalogue());
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->values.at("terminals_loose"), false);
  EXPECT_EQ(ok->values.at("termination_ohms"), "open");
  EXPECT_EQ(ok->values.at("cable_length_m"), 12.5);
  EXPECT_EQ(ok->values.at("battery_can_ids"), json({"0x350", "0x360"}));
  EXPECT_EQ(ok->bms_model, "US3000C");
}

TEST(Hardcode, ReproducesTheFieldGuideNumbers) {
  HardcodeInput in;
  in.cells = 16;
  in.capacity_ah = 200;
  auto a = advise_hardcode(in);
  ASSERT_TRUE(a);
  // 3.40 V x 16 = 54.4 V; 3.00 V x 16 = 48.0 V; 0.3-0.5 C of 200 Ah = 60-100 A.
  EXPECT_DOUBLE_EQ(a->charge_voltage_v, 54.4);
  EXPECT_DOUBLE_EQ(a->cutoff_voltage_v, 48.0);
  EXPECT_DOUBLE_EQ(a->current_low_a, 60);
  EXPECT_DOUBLE_EQ(a->current_high_a, 100);
  // 16 x 3.2 V x 200 Ah = 10.24 kWh, estimated.
  EXPECT_NEAR(a->kwh, 10.2, 1e-9);
  EXPECT_TRUE(a->kwh_estimated);
  EXPECT_NE(a->expected_life.find("6 to 8 years"), std::string::npos);
  EXPECT_NE(a->maintenance.find("every quarter"), std::string::npos);
  EXPECT_NE(a->acknowledgment.find("54.4 V"), std::string::npos);
  // Nothing to sign when hardcoding is not acceptable.
  HardcodeInput outdoor = in;
  outdoor.indoor = false;
  EXPECT_TRUE(hardcode_json(*advise_hardcode(outdoor))["acknowledgment"].is_null());
}

TEST(Hardcode, AcceptableNotAcceptableOrWhatDecides) {
  HardcodeInput small;
  small.cells = 16;
  small.capacity_ah = 100;
  small.kwh = 5;
  small.spread_mv = 20;
  small.soc_low = 30;
  small.soc_high = 80;
  small.c_rate = 0.25;
  small.indoor = true;
  EXPECT_EQ(advise_hardcode(small)->verdict, Acceptability::kAcceptable);
  auto at = [&](auto change) {
    HardcodeInput in = small;
    change(in);
    return advise_hardcode(in)->verdict;
  };
  // Not acceptable: above 20 kWh, above 0.5 C, outdoors, commercial.
  EXPECT_EQ(at([](HardcodeInput& i) { i.kwh = 20.1; }), Acceptability::kNotAcceptable);
  EXPECT_EQ(at([](HardcodeInput& i) { i.kwh = 20.0; }), Acceptability::kDepends);
  EXPECT_EQ(at([](HardcodeInput& i) { i.kwh = 10.0; }), Acceptability::kDepends);
  EXPECT_EQ(at([](HardcodeInput& i) { i.kwh = 9.9; }), Acceptability::kAcceptable);
  EXPECT_EQ(at([](HardcodeInput& i) { i.c_rate = 0.51; }), Acceptability::kNotAcceptable);
  EXPECT_EQ(at([](HardcodeInput& i) { i.c_rate = 0.5; }), Acceptability::kDepends);
  EXPECT_EQ(at([](HardcodeInput& i) { i.c_rate = 0.3; }), Acceptability::kDepends);
  EXPECT_EQ(at([](HardcodeInput& i) { i.indoor = false; }), Acceptability::kNotAcceptable);
  EXPECT_EQ(at([](HardcodeInput& i) { i.commercial = true; }), Acceptability::kNotAcceptable);
  EXPECT_EQ(at([](HardcodeInput& i) { i.spread_mv = 30; }), Acceptability::kDepends);
  EXPECT_EQ(at([](HardcodeInput& i) { i.soc_high = 90; }), Acceptability::kDepends);
  // The window's lower bound decides too (the field guide: 30-80 %): 25 % is beyond it, 30 % is
  // the bound itself.
  EXPECT_EQ(at([](HardcodeInput& i) { i.soc_low = 25; }), Acceptability::kDepends);
  EXPECT_EQ(at([](HardcodeInput& i) { i.soc_low = 30; }), Acceptability::kAcceptable);
  EXPECT_EQ(at([](HardcodeInput& i) { i.soc_high = 80; }), Acceptability::kAcceptable);
  // Between the lists the advice says which condition decides.
  HardcodeInput mid = small;
  mid.kwh = 15;
  const auto m = advise_hardcode(mid);
  ASSERT_EQ(m->deciding.size(), 1u);
  EXPECT_NE(m->deciding.front().find("between 10 and 20 kWh"), std::string::npos);
  // Other chemistries: refused.
  HardcodeInput nmc = small;
  nmc.chemistry = "nmc";
  EXPECT_FALSE(advise_hardcode(nmc));
}

}  // namespace
}  // namespace bmslink::diagnosis
