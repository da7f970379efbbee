// Statistics: the 100 calls of the field guide (43 protocol setting, 31 termination, 12 cable,
// 6 DIP switches, 5 bit rate, 3 firmware) come back exactly, and every figure is worked out here
// by hand from the fixture.
#include "bmslink/records/stats.h"

#include <cmath>

#include <gtest/gtest.h>

namespace bmslink::records {
namespace {

using diagnosis::Cause;

// 100 fixed cases; minutes: layer-1 causes spend 5 min in layer 1; termination 5 + 10; cable
// 5 + 10 + 15; firmware 5 + 10 + 15 + 20 + 60. Every case is closed.
std::vector<Case> field_guide_cases() {
  struct Row {
    Cause cause;
    int layer;
    int count;
    std::array<double, 5> minutes;
  };
  const Row rows[] = {{Cause::kInverterProtocolMismatch, 1, 43, {5, 0, 0, 0, 0}},
                      {Cause::kTerminationFault, 2, 31, {5, 10, 0, 0, 0}},
                      {Cause::kCableUnsuitable, 3, 12, {5, 10, 15, 0, 0}},
                      {Cause::kDipSwitchWrong, 1, 6, {5, 0, 0, 0, 0}},
                      {Cause::kBitrateMismatch, 1, 5, {5, 0, 0, 0, 0}},
                      {Cause::kFirmwareIncompatibility, 5, 3, {5, 10, 15, 20, 60}}};
  std::vector<Case> out;
  int n = 0;
  for (const auto& r : rows) {
    for (int i = 0; i < r.count; ++i) {
      Case c;
      c.id = "fg-" + std::to_string(n++);
      c.opened = "2026-01-01T08:00:00Z";
      c.closed = "2026-01-01T09:00:00Z";
      c.root_cause = r.cause;
      c.layer = r.layer;
      c.outcome = Outcome::kFixed;
      c.minutes_by_layer = r.minutes;
      // The check that confirmed it, with its minutes in that layer.
      c.checks.push_back({r.layer == 1 ? "l1.x" : "l" + std::to_string(r.layer) + ".x", r.layer,
                          nlohmann::json::object(), diagnosis::Verdict::kFail,
                          r.minutes[static_cast<std::size_t>(r.layer - 1)]});
      out.push_back(std::move(c));
    }
  }
  return out;
}

TEST(Stats, TheFieldGuidesHundredCallsComeBackExactly) {
  const auto s = compute_stats(field_guide_cases());
  EXPECT_EQ(s["cases"], 100);
  EXPECT_EQ(s["by_cause"]["inverter_protocol_mismatch"], 43);
  EXPECT_EQ(s["by_cause"]["termination_fault"], 31);
  EXPECT_EQ(s["by_cause"]["cable_unsuitable"], 12);
  EXPECT_EQ(s["by_cause"]["dip_switch_wrong"], 6);
  EXPECT_EQ(s["by_cause"]["bitrate_mismatch"], 5);
  EXPECT_EQ(s["by_cause"]["firmware_incompatibility"], 3);
  // Layer 1: 43 + 6 + 5 = 54; layer 2: 31; layer 3: 12; layer 4: 0; layer 5: 3.
  EXPECT_EQ(s["by_layer"]["1"], 54);
  EXPECT_EQ(s["by_layer"]["2"], 31);
  EXPECT_EQ(s["by_layer"]["3"], 12);
  EXPECT_EQ(s["by_layer"]["4"], 0);
  EXPECT_EQ(s["by_layer"]["5"], 3);
  EXPECT_DOUBLE_EQ(s["layer_yield"]["1"].get<double>(), 0.54);
  EXPECT_DOUBLE_EQ(s["cumulative_yield"]["2"].get<double>(), 0.85);
  EXPECT_DOUBLE_EQ(s["cumulative_yield"]["3"].get<double>(), 0.97);
  EXPECT_DOUBLE_EQ(s["cumulative_yield"]["4"].get<double>(), 0.97);
  EXPECT_NEAR(s["cumulative_yield"]["5"].get<double>(), 1.0, 1e-12);
  // Totals: 54 cases at 5 min, 31 at 15, 12 at 30, 3 at 110. Within 15 min: 85 %; 30: 97 %;
  // 50: 97 %.
  EXPECT_DOUBLE_EQ(s["solved_within_minutes"]["15"].get<double>(), 0.85);
  EXPECT_DOUBLE_EQ(s["solved_within_minutes"]["30"].get<double>(), 0.97);
  EXPECT_DOUBLE_EQ(s["solved_within_minutes"]["50"].get<double>(), 0.97);
  // Layer 2 minutes: 46 cases at 10, 54 at 0: mean 4.6, median (50th and 51st of 100 sorted:
  // 54 zeros first) 0.
  EXPECT_DOUBLE_EQ(s["minutes_by_layer"]["2"]["mean"].get<double>(), 4.6);
  EXPECT_DOUBLE_EQ(s["minutes_by_layer"]["2"]["median"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(s["minutes_by_cause"]["firmware_incompatibility"]["mean"].get<double>(), 110.0);
  EXPECT_EQ(s["outcomes"]["fixed"], 100);
  // Check order: confirmed per minute; l1.x: 54 confirmed in 270 min = 0.2; l2.x 31 in 310 = 0.1;
  // l3.x 12 in 180 = 0.0667; l5.x 3 in 180 = 0.0167.
  ASSERT_EQ(s["check_order"].size(), 4u);
  EXPECT_EQ(s["check_order"][0]["check"], "l1.x");
  EXPECT_DOUBLE_EQ(s["check_order"][0]["confirmed_per_minute"].get<double>(), 0.2);
  EXPECT_EQ(s["check_order"][3]["check"], "l5.x");
  // What diagnose learns its order from: the closed cases' root causes and settling checks.
  const auto h = case_history(field_guide_cases());
  EXPECT_EQ(h.closed, 100U);
  EXPECT_EQ(h.causes.at(Cause::kInverterProtocolMismatch), 43);
  EXPECT_EQ(h.causes.at(Cause::kFirmwareIncompatibility), 3);
}

// Twenty closed termination cases: each recorded a failed l1.protocol_setting that did not settle
// it (the root cause is termination) and the failing l2.termination (3 min in the catalogue, 4
// recorded), and a capture-decided l2.ack fail at 0 minutes in five of them.
std::vector<Case> termination_cases(std::size_t n) {
  std::vector<Case> out;
  for (std::size_t i = 0; i < n; ++i) {
    Case c;
    c.id = "t-" + std::to_string(i);
    c.opened = "2026-02-01T08:00:00Z";
    c.closed = "2026-02-01T09:00:00Z";
    c.root_cause = Cause::kTerminationFault;
    c.layer = 2;
    c.outcome = Outcome::kFixed;
    c.checks.push_back(
        {"l1.protocol_setting", 1, nlohmann::json::object(), diagnosis::Verdict::kFail, 2});
    c.checks.push_back(
        {"l2.termination", 2, nlohmann::json::object(), diagnosis::Verdict::kFail, 4});
    if (i < 5)
      c.checks.push_back({"l2.ack", 2, nlohmann::json::object(), diagnosis::Verdict::kFail, 0});
    out.push_back(std::move(c));
  }
  return out;
}

// Issue 19: open cases counted in the root causes. The hundred calls plus two open cases whose
// guessed cause is termination: closed counts stay the field guide's, the open ones apart.
TEST(Stats, OpenCasesAreCountedApartFromClosedOnes) {
  auto cases = field_guide_cases();
  for (int i = 0; i < 2; ++i) {
    Case c;
    c.id = "open-" + std::to_string(i);
    c.opened = "2026-02-01T08:00:00Z";
    c.root_cause = Cause::kTerminationFault;
    c.layer = 2;
    c.outcome = Outcome::kOpen;
    cases.push_back(std::move(c));
  }
  const auto s = compute_stats(cases);
  EXPECT_EQ(s["cases"], 102);
  EXPECT_EQ(s["closed_cases"], 100);
  EXPECT_EQ(s["by_cause_closed"]["termination_fault"], 31);
  EXPECT_EQ(s["by_cause_open"]["termination_fault"], 2);
  EXPECT_FALSE(s["by_cause_open"].contains("cable_unsuitable"));
  EXPECT_EQ(s["by_cause"]["termination_fault"], 33) << "by_cause keeps its meaning: every case";
}

TEST(Stats, ACheckConfirmsOnlyTheRootCauseItStandsFor) {
  const auto s = compute_stats(termination_cases(20));
  // l2.ack (no_ack) is not the termination fault: 0 confirmed; l1.protocol_setting neither.
  // l2.termination: 20 confirmed in 80 min = 0.25 per minute, first.
  ASSERT_EQ(s["check_order"].size(), 3u);
  EXPECT_EQ(s["check_order"][0]["check"], "l2.termination");
  EXPECT_DOUBLE_EQ(s["check_order"][0]["confirmed_per_minute"].get<double>(), 0.25);
  EXPECT_EQ(s["check_order"][0]["confirmed"], 20);
  for (std::size_t i = 1; i < 3; ++i) EXPECT_EQ(s["check_order"][i]["confirmed"], 0);
}

TEST(Stats, ACheckThatConfirmsAtNoCostComesFirstWithNoFiniteRate) {
  auto cases = termination_cases(20);
  // A capture-decided check of the termination cause: confirmed 3 times at 0 minutes.
  for (std::size_t i = 0; i < 3; ++i)
    cases[i].checks.push_back(
        {"my.capture_check", 2, nlohmann::json::object(), diagnosis::Verdict::kFail, 0});
  const auto s = compute_stats(cases);
  EXPECT_EQ(s["check_order"][0]["check"], "my.capture_check");
  EXPECT_TRUE(s["check_order"][0]["confirmed_per_minute"].is_null());
  const auto rates = check_rates(cases);
  EXPECT_TRUE(std::isinf(rates.at("my.capture_check")));
  EXPECT_DOUBLE_EQ(rates.at("l2.termination"), 0.25);
  EXPECT_DOUBLE_EQ(rates.at("l1.protocol_setting"), 0.0);
}

TEST(Stats, CheckRatesNeedTwentyClosedCases) {
  EXPECT_TRUE(check_rates(termination_cases(19)).empty());
  auto cases = termination_cases(25);
  for (std::size_t i = 0; i < 6; ++i) cases[i].closed.reset();  // 19 closed
  EXPECT_TRUE(check_rates(cases).empty());
  EXPECT_FALSE(check_rates(termination_cases(20)).empty());
}

TEST(Stats, EmptyIsZeroesNotNaN) {
  const auto s = compute_stats({});
  EXPECT_EQ(s["cases"], 0);
  EXPECT_DOUBLE_EQ(s["layer_yield"]["1"].get<double>(), 0.0);
  EXPECT_TRUE(s["minutes_by_layer"]["1"]["mean"].is_null());
}

}  // namespace
}  // namespace bmslink::records
