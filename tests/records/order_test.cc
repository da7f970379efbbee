// The check order learned across layers (issue 23): a company's closed cases, each with the check
// that settled it, reorder the checks by probability per minute. Every expected figure below is
// worked out by hand from the catalogue's minutes (data/checks/five_layers.json) and the cases.
#include "bmslink/diagnosis/order.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "bmslink/diagnosis/guided.h"
#include "bmslink/records/compat.h"
#include "bmslink/records/stats.h"

namespace bmslink::records {
namespace {

using diagnosis::Cause;
using diagnosis::Verdict;

const diagnosis::CheckCatalogue& catalogue() {
  static const auto c = diagnosis::CheckCatalogue::builtin();
  return *c;
}

// A closed case settled by `check` failing; `passed` checks went before it and passed.
Case settled(std::string id, Cause cause, const std::string& check,
             const std::vector<std::string>& passed = {}) {
  Case c;
  c.id = std::move(id);
  c.opened = "2026-03-01T08:00:00Z";
  c.closed = "2026-03-01T09:00:00Z";
  c.root_cause = cause;
  c.outcome = Outcome::kFixed;
  for (const auto& p : passed) {
    const auto* k = catalogue().find(p);
    c.checks.push_back({p, k ? diagnosis::layer_number(k->layer) : 1, nlohmann::json::object(),
                        Verdict::kPass, k ? k->minutes : 1});
  }
  const auto* k = catalogue().find(check);
  c.checks.push_back({check, k ? diagnosis::layer_number(k->layer) : 1, nlohmann::json::object(),
                      Verdict::kFail, k ? k->minutes : 1});
  return c;
}

void add(std::vector<Case>& cases, int n, Cause cause, const std::string& check,
         const std::vector<std::string>& passed = {}) {
  for (int i = 0; i < n; ++i)
    cases.push_back(settled(check + "-" + std::to_string(cases.size()), cause, check, passed));
}

// The same, on a site with these models.
void add_on(std::vector<Case>& cases, int n, const std::string& inverter, const std::string& bms,
            Cause cause, const std::string& check) {
  for (int i = 0; i < n; ++i) {
    cases.push_back(settled(check + "-" + std::to_string(cases.size()), cause, check));
    cases.back().inverter.model = inverter;
    cases.back().bms.model = bms;
  }
}

const diagnosis::KnowledgeBase& kb() {
  static const auto k = diagnosis::KnowledgeBase::builtin();
  return *k;
}

// The first check an answer decides (capture-only checks lead, costing nothing).
std::string first_asked(const std::vector<const diagnosis::Check*>& order) {
  for (const auto* c : order)
    if (!c->capture_only) return c->id;
  return {};
}

std::size_t place(const std::vector<const diagnosis::Check*>& order, const std::string& id) {
  const auto it = std::find_if(order.begin(), order.end(),
                               [&](const diagnosis::Check* c) { return c->id == id; });
  return static_cast<std::size_t>(it - order.begin());
}

// The issue's termination-heavy installer: 200 closed cases, 45 % termination, 15 % connection
// (crushed insulation), 15 % cable (wrong type), 15 % protocol, 5 % DIP, 5 % bit rate.
std::vector<Case> termination_heavy() {
  std::vector<Case> cases;
  add(cases, 90, Cause::kTerminationFault, "l2.termination");
  add(cases, 30, Cause::kConnectionFault, "l2.cable_damage");
  add(cases, 30, Cause::kCableUnsuitable, "l3.cable_type");
  add(cases, 30, Cause::kInverterProtocolMismatch, "l1.protocol_setting");
  add(cases, 10, Cause::kDipSwitchWrong, "l1.dip_switches");
  add(cases, 10, Cause::kBitrateMismatch, "l1.bitrate");
  return cases;
}

TEST(Order, ATerminationHeavyCompanySavesAThirdOfTheGuidesMinutes) {
  const auto cases = termination_heavy();
  const auto o = order_minutes(cases);
  ASSERT_TRUE(o["learns"].get<bool>());
  EXPECT_EQ(o["closed_cases"], 200);
  // The guide's order, minutes elapsed when each settling check is done: protocol 2, bit rate
  // 1 -> 3, DIP 1.5 -> 4.5, CAN ids 0.5 -> 5, termination 3 -> 8, crushed insulation 1 -> 9
  // (the guide's 2 calls in 1 min rank it second in layer 2), terminals 2, connectors, crimps,
  // corrosion, RJ45 1 each -> 15, cable type 3 -> 18.
  // (90 x 8 + 30 x 9 + 30 x 18 + 30 x 2 + 10 x 4.5 + 10 x 3) / 200 = 1665 / 200.
  EXPECT_NEAR(o["guide_minutes"].get<double>(), 8.325, 1e-9);
  // Learned: termination (0.44 of the calls in 3 min), crushed insulation (0.14 in 1), protocol
  // (0.17 in 2), bit rate (0.05 in 1), cable type (0.14 in 3), DIP (0.05 in 1.5): the settling
  // checks end at 3, 4, 6, 7, 10 and 11.5 min.
  // (90 x 3 + 30 x 4 + 30 x 6 + 10 x 7 + 30 x 10 + 10 x 11.5) / 200 = 1055 / 200.
  EXPECT_NEAR(o["learned_minutes"].get<double>(), 5.275, 1e-9);
  EXPECT_LE(o["learned_minutes"].get<double>() / o["guide_minutes"].get<double>(), 0.65);
  // ... and it is in the statistics.
  EXPECT_NEAR(compute_stats(cases)["order"]["learned_minutes"].get<double>(), 5.275, 1e-9);

  const auto order =
      diagnosis::check_order(catalogue(), case_history(cases), diagnosis::OrderMode::kLearned);
  EXPECT_LT(place(order, "l2.termination"), place(order, "l1.protocol_setting"));
  EXPECT_LT(place(order, "l2.cable_damage"), place(order, "l1.protocol_setting"));
  EXPECT_LT(place(order, "l3.cable_type"), place(order, "l1.dip_switches"));
  // On request, the guide's order, unchanged.
  const auto guide =
      diagnosis::check_order(catalogue(), case_history(cases), diagnosis::OrderMode::kGuide);
  EXPECT_EQ(guide, diagnosis::guide_order(catalogue()));
  EXPECT_LT(place(guide, "l1.protocol_setting"), place(guide, "l2.termination"));
}

// The guide's own 100 calls, settled by the checks the catalogue gives them: the learned order is
// never slower than the guide's on them.
TEST(Order, OnTheGuidesOwnCallsTheLearnedOrderIsNeverSlower) {
  std::vector<Case> cases;
  add(cases, 43, Cause::kInverterProtocolMismatch, "l1.protocol_setting");
  add(cases, 31, Cause::kTerminationFault, "l2.termination");
  add(cases, 5, Cause::kCableUnsuitable, "l3.cable_type");
  add(cases, 2, Cause::kCableUnsuitable, "l3.length");
  add(cases, 1, Cause::kCableUnsuitable, "l3.gauge");
  add(cases, 1, Cause::kCableUnsuitable, "l3.routing");
  add(cases, 1, Cause::kCableUnsuitable, "l3.bend_radius");
  add(cases, 2, Cause::kConnectionFault, "l2.cable_damage");
  add(cases, 6, Cause::kDipSwitchWrong, "l1.dip_switches");
  add(cases, 5, Cause::kBitrateMismatch, "l1.bitrate");
  add(cases, 3, Cause::kFirmwareIncompatibility, "l5.firmware");
  ASSERT_EQ(cases.size(), 100U);
  const auto o = order_minutes(cases);
  EXPECT_LE(o["learned_minutes"].get<double>(), o["guide_minutes"].get<double>() + 1e-9);
  // And at the threshold: every fifth of those calls, 20 of them, a mix of four causes.
  std::vector<Case> fifth;
  for (std::size_t i = 0; i < cases.size(); i += 5) fifth.push_back(cases[i]);
  ASSERT_EQ(fifth.size(), 20U);
  const auto p = order_minutes(fifth);
  ASSERT_TRUE(p["learns"].get<bool>());
  EXPECT_LE(p["learned_minutes"].get<double>(), p["guide_minutes"].get<double>() + 1e-9);
}

// The rate per run flatters a check late in the order: it runs only where every earlier check
// passed. 160 calls reach termination and 80 are termination; of the 80 others, 76 are bad
// terminals, 4 reach the cable gauge and 3 of those are the gauge, the last the firmware.
TEST(Order, AFewLuckyRunsLateInTheOrderDoNotJumpAheadOfACommonCause) {
  std::vector<Case> cases;
  add(cases, 80, Cause::kTerminationFault, "l2.termination", {"l1.protocol_setting"});
  add(cases, 76, Cause::kConnectionFault, "l2.terminals",
      {"l1.protocol_setting", "l2.termination"});
  add(cases, 3, Cause::kCableUnsuitable, "l3.gauge",
      {"l1.protocol_setting", "l2.termination", "l2.terminals"});
  add(cases, 1, Cause::kFirmwareIncompatibility, "l5.firmware",
      {"l1.protocol_setting", "l2.termination", "l2.terminals", "l3.gauge"});
  // Per run: the gauge confirmed 3 of 4 in 1 min each (0.75 a minute), termination 80 of 160 in
  // 3 min each (0.17 a minute).
  const auto rates = check_rates(cases);
  ASSERT_GT(rates.at("l3.gauge"), rates.at("l2.termination"));
  // By root cause: termination is 80 of 160 calls, a bad gauge 3.
  const auto order =
      diagnosis::check_order(catalogue(), case_history(cases), diagnosis::OrderMode::kLearned);
  EXPECT_LT(place(order, "l2.termination"), place(order, "l3.gauge"));
  const auto p = diagnosis::check_probabilities(catalogue(), case_history(cases));
  EXPECT_GT(p.at("l2.termination"), 10 * p.at("l3.gauge"));
}

// Answers only: a call a capture settled (a silent BMS, seen by the analyzer) costs the capture in
// either order and is left out of the minutes; a closed case without a root cause teaches nothing.
TEST(Order, CallsACaptureSettledAndCasesWithoutACauseStayOutOfTheMinutes) {
  std::vector<Case> cases;
  add(cases, 18, Cause::kTerminationFault, "l2.termination");
  add(cases, 2, Cause::kBmsSilent, "l5.bms_transmits");
  Case escalated = settled("no-cause", Cause::kTerminationFault, "l2.termination");
  escalated.root_cause.reset();
  escalated.outcome = Outcome::kEscalated;
  cases.push_back(escalated);
  const auto o = order_minutes(cases);
  EXPECT_EQ(o["closed_cases"], 20);
  // Termination at 8 min in the guide's order (2 + 1 + 1.5 + 0.5 + 3), first at 3 in the learned.
  EXPECT_DOUBLE_EQ(o["guide_minutes"].get<double>(), 8);
  EXPECT_DOUBLE_EQ(o["learned_minutes"].get<double>(), 3);
  cases.pop_back();
  cases.pop_back();  // 19 with a cause: under the threshold
  EXPECT_FALSE(order_minutes(cases)["learns"].get<bool>());
}

// Under 20 closed cases the guide's order stands, and says so.
TEST(Order, UnderTwentyClosedCasesTheGuidesOrderStands) {
  std::vector<Case> cases;
  add(cases, 19, Cause::kTerminationFault, "l2.termination");
  diagnosis::OrderBasis basis;
  const auto order = diagnosis::check_order(catalogue(), case_history(cases),
                                            diagnosis::OrderMode::kLearned, &basis);
  EXPECT_EQ(basis.mode, diagnosis::OrderMode::kGuide);
  EXPECT_EQ(basis.closed, 19U);
  EXPECT_EQ(order, diagnosis::guide_order(catalogue()));
  const auto o = order_minutes(cases);
  EXPECT_FALSE(o["learns"].get<bool>());
  EXPECT_DOUBLE_EQ(o["learned_minutes"].get<double>(), o["guide_minutes"].get<double>());
  add(cases, 1, Cause::kTerminationFault, "l2.termination");
  diagnosis::check_order(catalogue(), case_history(cases), diagnosis::OrderMode::kLearned, &basis);
  EXPECT_EQ(basis.mode, diagnosis::OrderMode::kLearned);
}

// The probabilities: the company's causes shrunk toward the guide's table with the weight of 20
// cases, then split within a cause by the checks that settled it.
TEST(Order, ProbabilitiesAreRootCausesShrunkTowardTheGuide) {
  const auto none = diagnosis::check_probabilities(catalogue(), {});
  double sum = 0;
  for (const auto& [id, q] : none) sum += q;
  EXPECT_NEAR(sum, 1.0, 1e-9);
  // The guide alone: the protocol setting holds its 43 calls of the table's 100 plus half a call
  // for each cause the table never met.
  EXPECT_GT(none.at("l1.protocol_setting"), 0.40);
  EXPECT_LT(none.at("l1.protocol_setting"), 0.43);
  std::vector<Case> cases;
  add(cases, 20, Cause::kTerminationFault, "l2.termination");
  const auto p = diagnosis::check_probabilities(catalogue(), case_history(cases));
  // 20 termination cases against a prior worth 20 cases, of which termination holds 31 of the
  // guide's 104 (100 calls, half a call for each of the 8 causes it never met); the one
  // termination check takes the whole cause: (20 + 20 x 31 / 104) / 40.
  EXPECT_NEAR(p.at("l2.termination"), (20 + 20 * 31 / 104.0) / 40.0, 1e-9);
  // Within a cause: 20 connection faults all found at the terminals, against the guide's split
  // of its 2 calls over six checks (crushed insulation 3 parts of 8, each other check 1).
  std::vector<Case> loose;
  add(loose, 20, Cause::kConnectionFault, "l2.terminals");
  const auto q = diagnosis::check_probabilities(catalogue(), case_history(loose));
  const double cause = (20 + 20 * 2 / 104.0) / 40.0, weight = 20 * 2 / 104.0;
  EXPECT_NEAR(q.at("l2.terminals"), cause * (20 + weight * 1 / 8.0) / (20 + weight), 1e-9);
  EXPECT_NEAR(q.at("l2.cable_damage"), cause * (weight * 3 / 8.0) / (20 + weight), 1e-9);
}

// A check never comes before those it needs: the firmware after the protocol setting, however
// likely the company makes the firmware.
TEST(Order, ACheckStaysBehindTheChecksItNeeds) {
  const auto* fw = catalogue().find("l5.firmware");
  ASSERT_NE(fw, nullptr);
  ASSERT_EQ(fw->needs, std::vector<std::string>{"l1.protocol_setting"});
  auto json = R"({"checks": [
    {"id": "t.a", "layer": 1, "title": "A", "minutes": 1, "likelihood": 50, "inputs": [],
     "confirms": "bitrate_mismatch", "needs": ["t.b"],
     "fix": "f", "technician": "t", "customer": "c",
     "rule": {"outcomes": [{"otherwise": true, "verdict": "unknown", "reason": "r"}]}},
    {"id": "t.b", "layer": 3, "title": "B", "minutes": 9, "likelihood": 1, "inputs": [],
     "confirms": "cable_unsuitable",
     "fix": "f", "technician": "t", "customer": "c",
     "rule": {"outcomes": [{"otherwise": true, "verdict": "unknown", "reason": "r"}]}}]})";
  auto own = diagnosis::CheckCatalogue::parse(json, "needs.json", &catalogue());
  ASSERT_TRUE(own) << own.error().message;
  const auto order = diagnosis::guide_order(*own);
  ASSERT_EQ(order.size(), 2U);
  EXPECT_EQ(order[0]->id, "t.b");
  EXPECT_EQ(order[1]->id, "t.a");
  auto self = std::string(json);
  const std::string needs_b = "\"needs\": [\"t.b\"]";
  self.replace(self.find(needs_b), needs_b.size(), "\"needs\": [\"t.a\"]");
  auto bad = diagnosis::CheckCatalogue::parse(self, "needs.json", &catalogue());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("names the check itself"), std::string::npos)
      << bad.error().message;
  // A loop through two checks: refused too, naming it.
  auto loop = std::string(json);
  const std::string b_head = "\"confirms\": \"cable_unsuitable\",";
  loop.replace(loop.find(b_head), b_head.size(), b_head + " \"needs\": [\"t.a\"],");
  auto looped = diagnosis::CheckCatalogue::parse(loop, "needs.json", &catalogue());
  ASSERT_FALSE(looped);
  EXPECT_NE(looped.error().message.find("a loop"), std::string::npos) << looped.error().message;
}

// The termination-heavy company, and 24 more calls on Growatt SPF off-grid inverters that were
// all the wrong cable (no battery model recorded).
std::vector<Case> with_growatt_cable() {
  auto cases = termination_heavy();
  add_on(cases, 24, "Growatt SPF 5000ES", "", Cause::kCableUnsuitable, "l3.cable_type");
  return cases;
}

// A call on a family with 20 closed cases or more takes that family's probabilities, shrunk
// toward the company's; other calls keep the company's.
TEST(Order, ACallOnAFamilyWithEnoughCasesTakesItsOwnProbabilities) {
  const auto cases = with_growatt_cable();
  const auto history = case_history(cases, &kb());
  ASSERT_EQ(history.closed, 224U);
  ASSERT_EQ(history.inverter_families.count("growatt-spf"), 1U);
  EXPECT_EQ(history.inverter_families.at("growatt-spf").closed, 24U);

  const auto growatt = diagnosis::call_devices(kb(), "growatt  spf 5000es", "");
  diagnosis::OrderBasis basis;
  const auto order = diagnosis::check_order(catalogue(), history, diagnosis::OrderMode::kLearned,
                                            &basis, &growatt);
  EXPECT_EQ(basis.group, diagnosis::GroupKind::kInverterFamily);
  EXPECT_EQ(basis.group_name, "Growatt SPF off-grid");
  EXPECT_EQ(basis.group_closed, 24U);
  EXPECT_EQ(first_asked(order), "l3.cable_type");
  // The company's termination: (90 + 20 x 31 / 104) / (224 + 20), the guide's table counting 104
  // (the one termination check takes the whole cause). The Growatt calls never were termination:
  // their 24 cases against the company's probability with the weight of 20 cases.
  const double company_termination = (90 + 20 * 31 / 104.0) / 244.0;
  EXPECT_NEAR(basis.probability.at("l2.termination"), 20 * company_termination / 44.0, 1e-9);
  // The cable type: the cause (24 + 20 x P) / 44 with the company's P = (54 + 20 x 10 / 104) / 244
  // (54 wrong cables, the guide's 10 calls of the cause), and the check's share of it within the
  // group (24 + 20 x q) / (24 + 20 x P), q the company's for the check: P x (54 + w x 6 / 15) /
  // (54 + w), w = 20 x 10 / 104 (the catalogue's split: likelihood 5 + 1 of the cause's 15 parts).
  const double w = 20 * 10 / 104.0;
  const double company_cable = (54 + w) / 244.0;
  const double q = company_cable * (54 + w * 6 / 15.0) / (54 + w);
  EXPECT_NEAR(basis.probability.at("l3.cable_type"),
              (24 + 20 * company_cable) / 44.0 * (24 + 20 * q) / (24 + 20 * company_cable), 1e-9);

  // Another inverter, or none named: the company's order, termination first.
  for (const auto& other : {diagnosis::call_devices(kb(), "Deye SUN-5K-SG03LP1-EU", "US3000C"),
                            diagnosis::CallDevices{}}) {
    const auto o = diagnosis::check_order(catalogue(), history, diagnosis::OrderMode::kLearned,
                                          &basis, &other);
    EXPECT_EQ(basis.group, diagnosis::GroupKind::kCompany);
    EXPECT_EQ(first_asked(o), "l2.termination");
    EXPECT_NEAR(basis.probability.at("l2.termination"), company_termination, 1e-9);
  }
  // 19 Growatt calls are not enough: the company's order for them too.
  auto fewer = termination_heavy();
  add_on(fewer, 19, "Growatt SPF 5000ES", "", Cause::kCableUnsuitable, "l3.cable_type");
  const auto o = diagnosis::check_order(catalogue(), case_history(fewer, &kb()),
                                        diagnosis::OrderMode::kLearned, &basis, &growatt);
  EXPECT_EQ(basis.group, diagnosis::GroupKind::kCompany);
  EXPECT_EQ(first_asked(o), "l2.termination");
}

// The statistics order each call as the walk would: the Growatt calls in their family's order.
TEST(Order, TheStatisticsTakeEachCallInItsOwnGroupsOrder) {
  const auto o = order_minutes(with_growatt_cable(), &kb());
  // The company's order for the 200 others, by probability per minute: termination (0.393 in
  // 3 min), crushed insulation (0.124 in 1), protocol (0.157 in 2), cable type (0.224 in 3),
  // bit rate (0.045 in 1), DIP (0.046 in 1.5): settled at 3, 4, 6, 9, 10 and 11.5 min.
  // 90 x 3 + 30 x 4 + 30 x 6 + 30 x 9 + 10 x 10 + 10 x 11.5 = 1055. The 24 Growatt calls: the
  // cable type first, 3 min each, 72. (1055 + 72) / 224.
  EXPECT_NEAR(o["learned_minutes"].get<double>(), 1127 / 224.0, 1e-9);
  // The guide's: protocol 2, bit rate 3, DIP 4.5, termination 8, crushed insulation 9, cable
  // type 18: (30 x 2 + 10 x 3 + 10 x 4.5 + 90 x 8 + 30 x 9 + 54 x 18) / 224.
  EXPECT_NEAR(o["guide_minutes"].get<double>(), 2097 / 224.0, 1e-9);
  ASSERT_EQ(o["groups"].size(), 1U);
  EXPECT_EQ(o["groups"][0]["kind"], "inverter_family");
  EXPECT_EQ(o["groups"][0]["name"], "Growatt SPF off-grid");
  EXPECT_EQ(o["groups"][0]["closed_cases"], 24);
}

// A pair of families with 20 cases is more specific than either family; the larger family wins
// when the pair has too few.
TEST(Order, ThePairOfFamiliesComesBeforeEitherFamily) {
  auto cases = with_growatt_cable();
  add_on(cases, 20, "Growatt SPF 6000ES Plus", "Pylontech US3000C", Cause::kDipSwitchWrong,
         "l1.dip_switches");
  const auto history = case_history(cases, &kb());
  diagnosis::OrderBasis basis;
  const auto pair = diagnosis::call_devices(kb(), "SPF 5000ES", "US2000C");
  ASSERT_EQ(pair.inverter_family, "growatt-spf");
  ASSERT_EQ(pair.battery_family, "pylontech-us2000-us3000");
  auto o =
      diagnosis::check_order(catalogue(), history, diagnosis::OrderMode::kLearned, &basis, &pair);
  EXPECT_EQ(basis.group, diagnosis::GroupKind::kPair);
  EXPECT_EQ(basis.group_name, "Growatt SPF off-grid with Pylontech US2000 / US3000 (B, Plus, C)");
  EXPECT_EQ(basis.group_closed, 20U);
  EXPECT_EQ(first_asked(o), "l1.dip_switches");
  // The same inverter with a battery no case names: the inverter family (44 cases, 24 of them
  // the cable, 20 the DIP switches).
  const auto inverter = diagnosis::call_devices(kb(), "SPF 5000ES", "Dyness B4850");
  o = diagnosis::check_order(catalogue(), history, diagnosis::OrderMode::kLearned, &basis,
                             &inverter);
  EXPECT_EQ(basis.group, diagnosis::GroupKind::kInverterFamily);
  EXPECT_EQ(basis.group_closed, 44U);
  // Another inverter with the Pylontech: the battery family.
  const auto battery = diagnosis::call_devices(kb(), "Deye SUN-5K-SG03LP1-EU", "US3000C");
  o = diagnosis::check_order(catalogue(), history, diagnosis::OrderMode::kLearned, &basis,
                             &battery);
  EXPECT_EQ(basis.group, diagnosis::GroupKind::kBatteryFamily);
  EXPECT_EQ(first_asked(o), "l1.dip_switches");
}

// Both families have 20 cases, their pair fewer: the larger family; on a tie, the inverter's.
TEST(Order, WithoutThePairTheLargerFamilyAndOnATieTheInverters) {
  auto cases = termination_heavy();
  add_on(cases, 12, "Growatt SPF 5000ES", "Dyness B4850", Cause::kCableUnsuitable, "l3.cable_type");
  add_on(cases, 10, "Growatt SPF 5000ES", "", Cause::kCableUnsuitable, "l3.cable_type");
  add_on(cases, 14, "Deye SUN-5K-SG03LP1-EU", "Dyness B4850", Cause::kDipSwitchWrong,
         "l1.dip_switches");
  const auto call = diagnosis::call_devices(kb(), "Growatt SPF 5000ES", "Dyness B4850");
  diagnosis::OrderBasis basis;
  // Growatt 22, Dyness 26, the pair 12.
  auto o = diagnosis::check_order(catalogue(), case_history(cases, &kb()),
                                  diagnosis::OrderMode::kLearned, &basis, &call);
  EXPECT_EQ(basis.group, diagnosis::GroupKind::kBatteryFamily);
  EXPECT_EQ(basis.group_closed, 26U);
  EXPECT_EQ(basis.group_name, "Dyness B4850 / B3 / DL5.0C / Powerbox F / Powercube");
  // Four fewer Deye-Dyness calls: 22 and 22.
  cases.resize(cases.size() - 4);
  o = diagnosis::check_order(catalogue(), case_history(cases, &kb()),
                             diagnosis::OrderMode::kLearned, &basis, &call);
  EXPECT_EQ(basis.group, diagnosis::GroupKind::kInverterFamily);
  EXPECT_EQ(basis.group_closed, 22U);
  EXPECT_EQ(first_asked(o), "l3.cable_type");
}

// A pair of models whose closed cases mostly ended on one cause: that cause's check first, as a
// capture's are, and the reason names the pair's record.
TEST(Order, AKnownBadPairHasItsCheckFirst) {
  auto cases = termination_heavy();
  add_on(cases, 2, "Sofar ME3000SP", "Dyness B4850", Cause::kBitrateMismatch, "l1.bitrate");
  add_on(cases, 1, "Sofar ME3000SP", "Dyness B4850", Cause::kTerminationFault, "l2.termination");
  const auto history = case_history(cases, &kb());
  // Typed differently on this call: the pair as the compatibility matrix groups it.
  const auto call = diagnosis::call_devices(kb(), " sofar  me3000sp", "DYNESS B4850 ");
  diagnosis::OrderBasis basis;
  const auto order =
      diagnosis::check_order(catalogue(), history, diagnosis::OrderMode::kLearned, &basis, &call);
  ASSERT_TRUE(basis.known_bad);
  EXPECT_EQ(basis.known_bad->cause, Cause::kBitrateMismatch);
  EXPECT_EQ(basis.known_bad->cases, 2U);
  EXPECT_EQ(basis.known_bad->closed, 3U);
  EXPECT_EQ(basis.known_bad->check, "l1.bitrate");
  EXPECT_EQ(first_asked(order), "l1.bitrate");
  EXPECT_EQ(basis.group, diagnosis::GroupKind::kCompany);  // 3 cases: no group of their own

  // The walk says why, in the JSON too.
  diagnosis::GuidedOptions options;
  options.history = history;
  diagnosis::Answers answers;
  answers.inverter_model = " sofar  me3000sp";
  answers.bms_model = "DYNESS B4850 ";
  const auto r = diagnosis::run_guided(catalogue(), kb(), answers, options);
  ASSERT_TRUE(r.next);
  EXPECT_EQ(r.next->check, "l1.bitrate");
  // The pair as first recorded, not as typed on this call; the pair's own share.
  EXPECT_NE(r.next->why.find("Sofar ME3000SP with Dyness B4850 ended on bit rate mismatch in 2 of "
                             "its 3 solved cases in your records (compatibility matrix), 1 min"),
            std::string::npos)
      << r.next->why;
  EXPECT_NEAR(r.next->probability, 2 / 3.0, 1e-9);
  const auto j = diagnosis::guided_json(r);
  EXPECT_EQ(j["order"]["known_bad"]["cause"], "bitrate_mismatch");
  EXPECT_EQ(j["order"]["known_bad"]["check"], "l1.bitrate");
  EXPECT_EQ(j["order"]["known_bad"]["cases"], 2);
  EXPECT_EQ(j["order"]["group"]["kind"], "company");
  // The guide's order on request: unchanged.
  options.order = diagnosis::OrderMode::kGuide;
  const auto g = diagnosis::run_guided(catalogue(), kb(), answers, options);
  ASSERT_TRUE(g.next);
  EXPECT_EQ(g.next->check, "l1.protocol_setting");
  EXPECT_TRUE(diagnosis::guided_json(g)["order"]["known_bad"].is_null());

  // The compatibility matrix marks the row.
  const auto rows = compatibility(cases);
  const auto row = std::find_if(rows.begin(), rows.end(),
                                [](const CompatRow& x) { return x.bms_model == "Dyness B4850"; });
  ASSERT_NE(row, rows.end());
  ASSERT_TRUE(row->known_bad);
  EXPECT_EQ(compat_json({*row})[0]["known_bad"]["cause"], "bitrate_mismatch");
  EXPECT_NE(compat_markdown({*row}).find("Most of our solved cases of this pair (2 of 3) ended "
                                         "on: bit rate mismatch."),
            std::string::npos);

  // The statistics list the pair. Each of its calls is walked as if it were the next: the pair
  // judged on its other cases. Without one of its two bit-rate calls it is 1 of 2, not known bad,
  // so the two cases that made it save nothing on themselves; the pair's termination call, walked
  // on the two bit-rate cases, takes the 1-min bit rate first and costs 1 min more of 203 calls.
  auto anonymous = cases;
  for (auto& c : anonymous) c.inverter.model = c.bms.model = "";
  const auto t = order_minutes(anonymous, &kb());
  EXPECT_TRUE(t["known_bad_pairs"].empty());
  const auto s = order_minutes(cases, &kb());
  ASSERT_EQ(s["known_bad_pairs"].size(), 1U);
  EXPECT_EQ(s["known_bad_pairs"][0]["cause"], "bitrate_mismatch");
  EXPECT_EQ(s["known_bad_pairs"][0]["pair"], "Sofar ME3000SP with Dyness B4850");
  EXPECT_NEAR(s["learned_minutes"].get<double>(), t["learned_minutes"].get<double>() + 1 / 203.0,
              1e-9);
  // A third bit-rate call: each is now walked on a pair of 2 of 3 (known bad), and saves time.
  add_on(cases, 1, "Sofar ME3000SP", "Dyness B4850", Cause::kBitrateMismatch, "l1.bitrate");
  anonymous = cases;
  for (auto& c : anonymous) c.inverter.model = c.bms.model = "";
  EXPECT_LT(order_minutes(cases, &kb())["learned_minutes"].get<double>(),
            order_minutes(anonymous, &kb())["learned_minutes"].get<double>());
}

// The known-bad check is one that settled the pair's cause: not a check of another cause, not a
// capture's (a capture already comes first); one that confirmed it through what a capture showed
// is asked first all the same; and what it needs comes with it.
TEST(Order, AKnownBadPairsCheckIsOneThatSettledItsCause) {
  const auto* cat = &catalogue();
  // Two bit-rate cases closed by hand (no check on record), one termination settled by its check.
  diagnosis::CaseCounts hand;
  hand.closed = 3;
  hand.causes[Cause::kBitrateMismatch] = 2;
  hand.causes[Cause::kTerminationFault] = 1;
  hand.confirmed_by["l2.termination"] = 1;
  hand.settled_by[Cause::kTerminationFault]["l2.termination"] = 1;
  auto bad = diagnosis::known_bad(*cat, hand);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->check, "");
  EXPECT_EQ(bad->checks, std::vector<std::string>{"l1.bitrate"});
  // A silent BMS, twice found by the DIP-switch check through a capture: the DIP switches first.
  diagnosis::CaseCounts silent;
  silent.closed = 2;
  silent.causes[Cause::kBmsSilent] = 2;
  silent.settled_by[Cause::kBmsSilent]["l1.dip_switches"] = 2;
  bad = diagnosis::known_bad(*cat, silent);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->check, "l1.dip_switches");
  // ... but settled only by the capture's own check, no answer decides it: nothing to put first.
  silent.settled_by[Cause::kBmsSilent] = {{"l5.bms_transmits", 2}};
  EXPECT_FALSE(diagnosis::known_bad(*cat, silent));
  // The firmware, which needs the protocol setting: both first, the protocol before it.
  auto cases = termination_heavy();
  add_on(cases, 2, "Sofar ME3000SP", "Dyness B4850", Cause::kFirmwareIncompatibility,
         "l5.firmware");
  add_on(cases, 1, "Sofar ME3000SP", "Dyness B4850", Cause::kTerminationFault, "l2.termination");
  diagnosis::GuidedOptions options;
  options.history = case_history(cases, &kb());
  diagnosis::Answers answers;
  answers.inverter_model = "Sofar ME3000SP";
  answers.bms_model = "Dyness B4850";
  auto r = diagnosis::run_guided(catalogue(), kb(), answers, options);
  ASSERT_TRUE(r.next);
  EXPECT_EQ(r.next->check, "l1.protocol_setting");
  EXPECT_NE(r.next->why.find("needed first: Sofar ME3000SP with Dyness B4850 ended on"),
            std::string::npos)
      << r.next->why;
  ASSERT_TRUE(r.order.known_bad);
  EXPECT_EQ(r.order.known_bad->checks,
            (std::vector<std::string>{"l5.firmware", "l1.protocol_setting"}));
  const auto call = diagnosis::call_devices(kb(), "Sofar ME3000SP", "Dyness B4850");
  const auto walked = diagnosis::check_order(catalogue(), options.history,
                                             diagnosis::OrderMode::kLearned, nullptr, &call);
  EXPECT_EQ(place(walked, "l5.firmware"), place(walked, "l1.protocol_setting") + 1);
  EXPECT_LT(place(walked, "l5.firmware"), place(walked, "l2.termination"));
}

// A case walked again (reopened, corrected) is taken out of the counts it is judged by: from the
// company's, its families', its pair of families' and its pair of models'.
TEST(Order, ACaseWalkedAgainIsNotItsOwnEvidence) {
  auto cases = termination_heavy();
  add_on(cases, 2, "Sofar ME3000SP", "Dyness B4850", Cause::kBitrateMismatch, "l1.bitrate");
  auto history = case_history(cases, &kb());
  const auto call = diagnosis::call_devices(kb(), "Sofar ME3000SP", "Dyness B4850");
  const auto pair = diagnosis::pair_key(call.inverter_model, call.battery_model);
  ASSERT_TRUE(diagnosis::known_bad(catalogue(), history.model_pairs.at(pair)));
  without_case(history, cases.back(), &kb());
  EXPECT_EQ(history.closed, 201U);
  EXPECT_EQ(history.model_pairs.at(pair).closed, 1U);
  EXPECT_EQ(history.inverter_families.at(call.inverter_family).closed, 1U);
  EXPECT_EQ(history.battery_families.at(call.battery_family).closed, 1U);
  EXPECT_DOUBLE_EQ(history.causes.at(Cause::kBitrateMismatch), 10 + 1);
  EXPECT_FALSE(diagnosis::known_bad(catalogue(), history.model_pairs.at(pair)));
  // An open case was never counted: nothing to take out.
  Case open = cases.back();
  open.closed.reset();
  without_case(history, open, &kb());
  EXPECT_EQ(history.closed, 201U);
}

// A model typed with line breaks, control characters or at great length is shown on one short
// line; the pair it names is still the one the matrix groups.
TEST(Order, APairsNameIsShownOnOneShortLine) {
  EXPECT_EQ(diagnosis::shown_model(" Growatt\tSPF\n 5000ES\x1f "), "Growatt SPF 5000ES");
  // Grouped alike; a model of control characters alone is no model, and forms no pair.
  EXPECT_EQ(diagnosis::model_key(" Growatt\tSPF\n 5000ES\x1f "), "growatt spf 5000es");
  EXPECT_EQ(diagnosis::model_key(std::string(1, '\0') + "\x7f"), "");
  EXPECT_EQ(diagnosis::shown_model(std::string(200000, 'x')), std::string(60, 'x') + "…");
  // 30 two-byte characters and one more: cut before the 31st, never inside one.
  std::string accents;
  for (int i = 0; i < 31; ++i) accents += "\xc3\xa9";
  EXPECT_EQ(diagnosis::shown_model("a" + accents), "a" + accents.substr(0, 58) + "…");
  auto cases = termination_heavy();
  add_on(cases, 2, "Sofar\nME3000SP\t", "Dyness   B4850", Cause::kBitrateMismatch, "l1.bitrate");
  const auto s = order_minutes(cases, &kb());
  ASSERT_EQ(s["known_bad_pairs"].size(), 1U);
  EXPECT_EQ(s["known_bad_pairs"][0]["pair"], "Sofar ME3000SP with Dyness B4850");
  // The models as recorded stay in the data.
  EXPECT_EQ(s["known_bad_pairs"][0]["inverter_model"], "Sofar\nME3000SP\t");
}

// Not known bad: one cause in half the pair's cases, or in a single case, or a cause of the site
// rather than of the pair of devices.
TEST(Order, APairIsKnownBadOnlyOnMostOfAtLeastTwoCases) {
  auto cases = termination_heavy();
  add_on(cases, 2, "Sofar ME3000SP", "Dyness B4850", Cause::kBitrateMismatch, "l1.bitrate");
  add_on(cases, 2, "Sofar ME3000SP", "Dyness B4850", Cause::kTerminationFault, "l2.termination");
  add_on(cases, 1, "Sofar HYD 5000-ES", "Dyness B4850", Cause::kBitrateMismatch, "l1.bitrate");
  const auto history = case_history(cases, &kb());
  diagnosis::OrderBasis basis;
  for (const auto& [inverter, bms] : {std::pair{"Sofar ME3000SP", "Dyness B4850"},
                                      std::pair{"Sofar HYD 5000-ES", "Dyness B4850"}}) {
    const auto call = diagnosis::call_devices(kb(), inverter, bms);
    const auto order =
        diagnosis::check_order(catalogue(), history, diagnosis::OrderMode::kLearned, &basis, &call);
    EXPECT_FALSE(basis.known_bad) << inverter;
    EXPECT_EQ(first_asked(order), "l2.termination") << inverter;
  }
  diagnosis::CaseCounts three;
  three.closed = 3;
  three.causes[Cause::kBitrateMismatch] = 2;
  three.causes[Cause::kTerminationFault] = 1;
  EXPECT_TRUE(diagnosis::known_bad(catalogue(), three));
  three.closed = 4;
  three.causes[Cause::kTerminationFault] = 2;
  EXPECT_FALSE(diagnosis::known_bad(catalogue(), three));
  // A site's fault is not the pair's: termination on every one of a pair's calls, or a crimp.
  for (const auto cause :
       {Cause::kTerminationFault, Cause::kConnectionFault, Cause::kCableUnsuitable}) {
    diagnosis::CaseCounts site;
    site.closed = 5;
    site.causes[cause] = 5;
    EXPECT_FALSE(diagnosis::known_bad(catalogue(), site)) << diagnosis::cause_id(cause);
  }
  // The firmware and the protocol are the pair's.
  diagnosis::CaseCounts firmware;
  firmware.closed = 2;
  firmware.causes[Cause::kFirmwareIncompatibility] = 2;
  EXPECT_TRUE(diagnosis::known_bad(catalogue(), firmware));
}

}  // namespace
}  // namespace bmslink::records
