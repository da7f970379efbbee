// One rule at a time on hand-built Evidence: only the fields the rule reads are filled, and each
// rule is shown firing (cause, severity, layer) and, just on the other side of its threshold, not.

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "bmslink/analysis/evidence.h"
#include "bmslink/can/frame.h"
#include "bmslink/diagnosis/cause.h"
#include "bmslink/diagnosis/findings.h"
#include "diagnosis/rules.h"

namespace bmslink::diagnosis::detail {
namespace {

using analysis::ErrorBand;
using analysis::PlausibilityIssue;
using analysis::PlausibilityKind;
using analysis::StateEvidence;
using analysis::StateLevel;

constexpr std::int64_t kS = 1'000'000'000;

using Rule = void (*)(const Evidence&, Findings&);

std::vector<Finding> run(Rule rule, const Evidence& e, Findings f = {}) {
  rule(e, f);
  return f.take();
}

// Findings that already hold a fault of `cause`, as an earlier rule would have left them.
Findings after_fault(Cause cause) {
  Findings f;
  f.add(cause, Severity::kFault, 0.9, "earlier", "");
  return f;
}

const Finding* find(const std::vector<Finding>& fs, Cause cause) {
  for (const auto& f : fs)
    if (f.cause == cause) return &f;
  return nullptr;
}

bool any_text(const Finding& f, const std::string& part) {
  for (const auto& item : f.evidence)
    if (item.text.find(part) != std::string::npos) return true;
  return false;
}

void expect_finding(const Finding& f, Cause cause, Severity severity, std::optional<Layer> layer) {
  EXPECT_EQ(f.cause, cause) << cause_id(f.cause);
  EXPECT_EQ(f.severity, severity) << severity_name(f.severity);
  EXPECT_EQ(f.layer, layer);
  EXPECT_FALSE(f.title.empty());
  EXPECT_FALSE(f.fix.empty());
}

// ---------------------------------------------------------------------------------------------
// Helpers

TEST(RuleHelpers, FormatIdsAndSecondsAndJudgeLength) {
  EXPECT_EQ(hex(0x351), "0x351");
  EXPECT_EQ(hex(0x18FF50E5 | can::kEffFlag), "0x18FF50E5");
  EXPECT_EQ(hex_all({0x351, 0x355, 0x356}, 2), (std::vector<std::string>{"0x351", "0x355"}));
  EXPECT_EQ(seconds(4'250'000'000), "4.2 s");
  EXPECT_EQ(seconds(5 * kS), "5.0 s");
  Evidence e;
  e.timed = true;
  e.duration_s = 5.0;
  EXPECT_TRUE(long_enough(e));
  e.duration_s = 4.99;
  EXPECT_FALSE(long_enough(e));
  e.duration_s = 60.0;
  e.timed = false;
  EXPECT_FALSE(long_enough(e));
}

TEST(Findings, HasCountsFaultsOnly) {
  Findings f;
  f.add(Cause::kNoAck, Severity::kWarning, 0.5, "t", "x");
  EXPECT_FALSE(f.has(Cause::kNoAck));
  f.add(Cause::kNoAck, Severity::kFault, 1.5, "t", "x");
  EXPECT_TRUE(f.has(Cause::kNoAck));
  EXPECT_DOUBLE_EQ(f.all().back().score, 1.0);  // clamped to 0..1
  EXPECT_EQ(f.all().back().layer, Layer::kConnections);
}

// ---------------------------------------------------------------------------------------------
// Layer 1: configuration

TEST(RuleBitrateMismatch, ThreeErrorFramesAndNoDataFire) {
  Evidence e;
  e.bus.error_frames = 3;
  e.bus.first_error_ns = 2 * kS;
  const auto fs = run(rule_bitrate_mismatch, e);
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kBitrateMismatch, Severity::kFault, Layer::kConfiguration);
  EXPECT_DOUBLE_EQ(fs[0].score, 0.97);  // nothing but errors
  ASSERT_FALSE(fs[0].evidence.empty());
  EXPECT_EQ(fs[0].evidence[0].count, 3u);
  EXPECT_EQ(fs[0].evidence[0].at_ns, 2 * kS);
}

TEST(RuleBitrateMismatch, TwoErrorFramesDoNot) {
  Evidence e;
  e.bus.error_frames = 2;
  EXPECT_TRUE(run(rule_bitrate_mismatch, e).empty());
}

TEST(RuleBitrateMismatch, ErrorsOutnumberingDataFourToOneMostlyViolationsFire) {
  Evidence e;
  // 40 errors, half of them stuff/form/bit violations, 9 data frames: 9 * 4 = 36 < 40.
  e.bus.error_frames = 40;
  e.bus.protocol_violations = 20;
  e.inventory.data_frames = 9;
  const auto fs = run(rule_bitrate_mismatch, e);
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kBitrateMismatch, Severity::kFault, Layer::kConfiguration);
  EXPECT_DOUBLE_EQ(fs[0].score, 0.85);
  // 10 data frames: 40 is not more than 4 x 10.
  e.inventory.data_frames = 10;
  EXPECT_TRUE(run(rule_bitrate_mismatch, e).empty());
  // 19 violations of 40: not half.
  e.inventory.data_frames = 9;
  e.bus.protocol_violations = 19;
  EXPECT_TRUE(run(rule_bitrate_mismatch, e).empty());
}

TEST(RuleBmsSilent, InverterAloneOnTheBusFires) {
  Evidence e;
  e.timing.inverter_frames = 10;
  e.timing.inverter_ids = {0x305};
  const auto fs = run(rule_bms_silent, e);
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kBmsSilent, Severity::kFault, Layer::kConfiguration);
  ASSERT_EQ(fs[0].evidence.size(), 1u);
  EXPECT_EQ(fs[0].evidence[0].ids, (std::vector<std::string>{"0x305"}));
  EXPECT_EQ(fs[0].evidence[0].count, 10u);
}

TEST(RuleBmsSilent, OneBmsFrameOrOtherTrafficDoesNot) {
  Evidence e;
  e.timing.inverter_frames = 10;
  e.timing.bms_frames = 1;
  EXPECT_TRUE(run(rule_bms_silent, e).empty());
  e.timing.bms_frames = 0;
  e.timing.other_frames = 1;  // someone else talks: maybe the BMS on other ids
  EXPECT_TRUE(run(rule_bms_silent, e).empty());
  e.timing.other_frames = 0;
  e.timing.inverter_frames = 0;  // nobody talks
  EXPECT_TRUE(run(rule_bms_silent, e).empty());
}

Evidence bms_only(double duration_s) {
  Evidence e;
  e.timed = true;
  e.duration_s = duration_s;
  e.timing.bms_frames = 50;
  e.timing.bms_ids = {0x351, 0x355};
  return e;
}

TEST(RuleInverterProtocolMismatch, BmsHeardForFiveSecondsWithoutInverterFires) {
  Evidence e = bms_only(5.0);
  e.ack.ack_visible = false;
  const auto fs = run(rule_inverter_protocol_mismatch, e);
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kInverterProtocolMismatch, Severity::kFault, Layer::kConfiguration);
  // The BMS frames, and a note that this capture cannot show acknowledgement.
  ASSERT_EQ(fs[0].evidence.size(), 2u);
  EXPECT_EQ(fs[0].evidence[0].ids, (std::vector<std::string>{"0x351", "0x355"}));
  EXPECT_EQ(fs[0].evidence[0].count, 50u);
}

TEST(RuleInverterProtocolMismatch, UnderFiveSecondsIsOnlyANoteWithItsOwnId) {
  const auto fs = run(rule_inverter_protocol_mismatch, bms_only(4.9));
  ASSERT_EQ(fs.size(), 1u);
  // A note, not the fault's cause id: statistics and records must never count it as one.
  expect_finding(fs[0], Cause::kNoInverterInExcerpt, Severity::kInfo, std::nullopt);
  EXPECT_TRUE(is_note(fs[0].cause));
}

TEST(RuleCaptureTooShort, UntimedShortOrFewCyclesSaySoAndLongEnoughDoesNot) {
  Evidence e = bms_only(60.0);
  e.bursts_seen = 60;
  EXPECT_TRUE(run(rule_capture_too_short, e).empty());
  e.bursts_seen = 4;  // under 5 cycles
  EXPECT_EQ(run(rule_capture_too_short, e).size(), 1u);
  e = bms_only(9.9);  // under 10 s
  e.bursts_seen = 10;
  auto fs = run(rule_capture_too_short, e);
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kCaptureTooShort, Severity::kInfo, std::nullopt);
  EXPECT_NE(fs[0].evidence.front().text.find("9.9 s and 10 BMS cycle(s)"), std::string::npos)
      << fs[0].evidence.front().text;
  // A silent BMS over 30 minutes is long enough to say so, whatever the cycle count.
  Evidence silent;
  silent.timed = true;
  silent.duration_s = 1800;
  silent.timing.inverter_frames = 1800;
  EXPECT_TRUE(run(rule_capture_too_short, silent).empty());
  e.timed = false;
  e.inventory.untimed_frames = e.inventory.frames = 12;
  fs = run(rule_capture_too_short, e);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_NE(fs[0].title.find("No timestamps"), std::string::npos);
}

TEST(RuleInverterProtocolMismatch, AnInverterFrameOrAnEarlierAckOrBitRateFaultSilencesIt) {
  Evidence e = bms_only(60.0);
  e.timing.inverter_frames = 1;
  EXPECT_TRUE(run(rule_inverter_protocol_mismatch, e).empty());
  e.timing.inverter_frames = 0;
  EXPECT_EQ(run(rule_inverter_protocol_mismatch, e, after_fault(Cause::kNoAck)).size(), 1u);
  EXPECT_EQ(run(rule_inverter_protocol_mismatch, e, after_fault(Cause::kBitrateMismatch)).size(),
            1u);
  // A warning of the same causes does not silence it.
  Findings warned;
  warned.add(Cause::kNoAck, Severity::kWarning, 0.3, "t", "x");
  EXPECT_EQ(run(rule_inverter_protocol_mismatch, e, std::move(warned)).size(), 2u);
}

TEST(RuleCanIdConflict, AConflictFiresWithItsErrorsAfter) {
  Evidence e;
  e.conflicts.push_back({0x351, 2.0, 1.0, 3, {}, 0});
  const auto fs = run(rule_can_id_conflict, e);
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kCanIdConflict, Severity::kFault, Layer::kConfiguration);
  EXPECT_EQ(fs[0].title, "0x351 sent by two transmitters");
  ASSERT_EQ(fs[0].evidence.size(), 2u);
  EXPECT_NE(fs[0].evidence[0].text.find("2.0x per cycle"), std::string::npos);
  EXPECT_NE(fs[0].evidence[0].text.find("100 %"), std::string::npos);
  EXPECT_EQ(fs[0].evidence[1].count, 3u);
  EXPECT_EQ(fs[0].evidence[1].ids, (std::vector<std::string>{"0x351"}));
}

TEST(RuleCanIdConflict, NoConflictDoesNotAndNoErrorsAfterAddsNoErrorLine) {
  Evidence e;
  EXPECT_TRUE(run(rule_can_id_conflict, e).empty());
  e.conflicts.push_back({0x355, 1.9, 0.5, 0, {}, 0});
  const auto fs = run(rule_can_id_conflict, e);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].evidence.size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// Layer 2: physical connections

Evidence repeats(std::uint64_t back_to_back, std::uint64_t data_frames) {
  Evidence e;
  e.inventory.data_frames = data_frames;
  e.ack.back_to_back = back_to_back;
  e.ack.longest_repeat_run = 4;
  e.ack.repeated_id = 0x351;
  e.ack.first_repeat_ns = 3 * kS;
  return e;
}

TEST(RuleNoAck, TwentyRepeatsInFourHundredDataFramesFire) {
  // 20 repeats, and 20 x 20 = 400 >= 400 data frames.
  const auto fs = run(rule_no_ack, repeats(20, 400));
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kNoAck, Severity::kFault, Layer::kConnections);
  ASSERT_EQ(fs[0].evidence.size(), 1u);
  EXPECT_EQ(fs[0].evidence[0].count, 20u);
  EXPECT_EQ(fs[0].evidence[0].at_ns, 3 * kS);
  EXPECT_EQ(fs[0].evidence[0].ids, (std::vector<std::string>{"0x351"}));
  EXPECT_NE(fs[0].evidence[0].text.find("longest run 5 of 0x351"), std::string::npos);
}

TEST(RuleNoAck, NineteenRepeatsOrTooFewForTheDataDoNot) {
  EXPECT_TRUE(run(rule_no_ack, repeats(19, 400)).empty());
  EXPECT_TRUE(run(rule_no_ack, repeats(20, 401)).empty());  // 400 < 401: under 1 in 20
}

TEST(RuleNoAck, FiveNoAckErrorsWithoutAnInverterFire) {
  Evidence e;
  e.ack.no_ack_errors = 5;
  e.timing.bms_frames = 1000;
  const auto fs = run(rule_no_ack, e);
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kNoAck, Severity::kFault, Layer::kConnections);
  ASSERT_EQ(fs[0].evidence.size(), 1u);
  EXPECT_EQ(fs[0].evidence[0].count, 5u);
  e.ack.no_ack_errors = 4;
  EXPECT_TRUE(run(rule_no_ack, e).empty());
}

TEST(RuleNoAck, NoAckErrorsWhileTheInverterAnswersNeedOnePerHundredBmsFrames) {
  Evidence e;
  e.ack.no_ack_errors = 5;
  e.timing.inverter_frames = 10;
  e.timing.bms_frames = 500;  // 5 x 100 = 500 >= 500
  EXPECT_EQ(run(rule_no_ack, e).size(), 1u);
  e.timing.bms_frames = 501;
  EXPECT_TRUE(run(rule_no_ack, e).empty());
}

Evidence occasional_errors(std::uint64_t error_frames) {
  Evidence e;
  e.inventory.data_frames = 1000;
  e.bus.error_frames = error_frames;
  e.bus.errors_per_minute = 1.0;
  e.bus.by_kind = {{"no-ack", 1}, {"protocol-violation:stuff", 2}};
  return e;
}

TEST(RuleBusErrors, ThreeOccasionalErrorsAreAWarning) {
  const auto fs = run(rule_bus_errors, occasional_errors(3));
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kBusErrors, Severity::kWarning, Layer::kConnections);
  EXPECT_EQ(fs[0].evidence[0].count, 3u);
  EXPECT_TRUE(any_text(fs[0], "no-ack 1, protocol-violation:stuff 2"));
}

TEST(RuleBusErrors, TwoOccasionalErrorsAreNothing) {
  EXPECT_TRUE(run(rule_bus_errors, occasional_errors(2)).empty());
}

TEST(RuleBusErrors, TenPerMinuteOrAControllerStateMakeItAFault) {
  Evidence e = occasional_errors(3);
  e.bus.errors_per_minute = 10.0;
  auto fs = run(rule_bus_errors, e);
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kBusErrors, Severity::kFault, Layer::kConnections);
  e.bus.errors_per_minute = 9.99;
  fs = run(rule_bus_errors, e);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].severity, Severity::kWarning);
  // A single error that took a controller bus-off or error-passive is a fault.
  Evidence b = occasional_errors(1);
  b.bus.bus_off = 1;
  fs = run(rule_bus_errors, b);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].severity, Severity::kFault);
  b.bus.bus_off = 0;
  b.bus.error_passive = 1;
  b.bus.max_tec = 128;
  fs = run(rule_bus_errors, b);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].severity, Severity::kFault);
  EXPECT_TRUE(any_text(fs[0], "TEC 128 / REC 0"));
}

TEST(RuleBusErrors, DefersToAnExplainingFaultAndNeedsDataFrames) {
  const Evidence e = occasional_errors(50);
  for (Cause c : {Cause::kBitrateMismatch, Cause::kNoAck, Cause::kCanIdConflict,
                  Cause::kEmiPowerCorrelated, Cause::kThermalOrTimePattern}) {
    const auto fs = run(rule_bus_errors, e, after_fault(c));
    EXPECT_EQ(fs.size(), 1u) << cause_id(c);  // only the earlier fault
  }
  Evidence no_data = occasional_errors(50);
  no_data.inventory.data_frames = 0;
  EXPECT_TRUE(run(rule_bus_errors, no_data).empty());
}

// ---------------------------------------------------------------------------------------------
// Layer 4: electrical environment

// Errors on cold mornings: 95 % of 40 errors at or below 4 degC, which was 20 % of 120 minutes.
Evidence cold_mornings() {
  Evidence e;
  e.bus.error_frames = 40;
  e.correlation.binned_minutes = 120;
  ErrorBand b;
  b.lo = -2.0;
  b.hi = 4.0;
  b.error_share = 0.95;
  b.time_share = 0.2;
  b.errors = 38;
  b.minutes = 24;
  b.open_low = true;
  e.correlation.temperature_band = b;
  return e;
}

TEST(RuleEnvironmentPatterns, ColdMorningsAreAThermalFaultWithoutEmi) {
  const auto fs = run(rule_environment_patterns, cold_mornings());
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kThermalOrTimePattern, Severity::kFault, Layer::kEnvironment);
  EXPECT_EQ(find(fs, Cause::kEmiPowerCorrelated), nullptr);
  // Strength is the band's excess 0.95 - 0.2 = 0.75: score 0.6 + 0.3 x 0.75 = 0.825.
  EXPECT_NEAR(fs[0].score, 0.825, 1e-12);
  EXPECT_TRUE(any_text(fs[0],
                       "95 % of the errors while the pack temperature was at or below "
                       "4.0 °C, which was 20 % of the time"));
}

TEST(RuleEnvironmentPatterns, ABandBelowEightyPercentOfTheErrorsDoesNot) {
  Evidence e = cold_mornings();
  e.correlation.temperature_band->error_share = 0.79;
  EXPECT_TRUE(run(rule_environment_patterns, e).empty());
}

TEST(RuleEnvironmentPatterns, NeedsTwentyErrorsAndThirtyMinutes) {
  Evidence e = cold_mornings();
  e.bus.error_frames = 19;
  EXPECT_TRUE(run(rule_environment_patterns, e).empty());
  e.bus.error_frames = 20;
  EXPECT_EQ(run(rule_environment_patterns, e).size(), 1u);
  e.correlation.binned_minutes = 29;
  EXPECT_TRUE(run(rule_environment_patterns, e).empty());
}

TEST(RuleEnvironmentPatterns, DefersToBitRateAckAndConflictFaults) {
  for (Cause c : {Cause::kBitrateMismatch, Cause::kNoAck, Cause::kCanIdConflict})
    EXPECT_EQ(run(rule_environment_patterns, cold_mornings(), after_fault(c)).size(), 1u)
        << cause_id(c);
}

ErrorBand current_band(double error_share, double time_share) {
  ErrorBand b;
  b.lo = 80.0;
  b.hi = 120.0;
  b.error_share = error_share;
  b.time_share = time_share;
  b.open_high = true;
  return b;
}

TEST(RuleEnvironmentPatterns, WhenCurrentAndTemperatureBothFireOnlyTheStrongerIsACause) {
  // Temperature band excess 0.75 beats the current band's 0.9 - 0.3 = 0.6: one finding, thermal,
  // naming current as having moved along with the numbers of its band.
  Evidence e = cold_mornings();
  e.correlation.current_band = current_band(0.9, 0.3);
  auto fs = run(rule_environment_patterns, e);
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kThermalOrTimePattern, Severity::kFault, Layer::kEnvironment);
  EXPECT_TRUE(any_text(fs[0], "explains the errors less well"));
  EXPECT_TRUE(any_text(fs[0], "not a second cause"));
  EXPECT_TRUE(any_text(fs[0], "90 % of the errors while |pack current| was at or above 80.0 A"));

  // A current band of 0.98 in 0.1 of the time (excess 0.88) beats the temperature's 0.75.
  e.correlation.current_band = current_band(0.98, 0.1);
  fs = run(rule_environment_patterns, e);
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kEmiPowerCorrelated, Severity::kFault, Layer::kEnvironment);
  EXPECT_TRUE(any_text(fs[0], "Temperature moved together with current"));
}

TEST(RuleEnvironmentPatterns, AQuietBottomQuarterReadsAsNoneNotAHugeRatio) {
  // 4.2 errors/min in the top quarter of |current|, none in the bottom: no "4201.0x".
  Evidence e;
  e.bus.error_frames = 400;
  e.correlation.binned_minutes = 120;
  e.correlation.rho_current = 0.7;
  e.correlation.current_rate_ratio = 4201.0;
  e.correlation.current_quarter_rates = std::pair{4.2, 0.0};
  auto fs = run(rule_environment_patterns, e);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_TRUE(any_text(fs[0],
                       "4.20 error frames/min in the top quarter of |current|, none in the "
                       "bottom quarter"));
  EXPECT_FALSE(any_text(fs[0], "4201"));
  // With errors in both quarters the ratio is printed beside the rates: 3.00 / 0.50 = 6.0x.
  e.correlation.current_quarter_rates = std::pair{3.0, 0.5};
  fs = run(rule_environment_patterns, e);
  EXPECT_TRUE(any_text(fs[0],
                       "3.00 error frames/min in the top quarter of |current| against "
                       "0.50 in the bottom quarter (6.0x)"));
}

TEST(RuleEnvironmentPatterns, AStrongBandAtTheLowestCurrentsIsNotEmi) {
  // 95 % of the errors at or below 2 A in 20 % of the time: night on a solar site, not the power
  // path. The same band at the highest currents is EMI.
  Evidence e;
  e.bus.error_frames = 40;
  e.correlation.binned_minutes = 120;
  ErrorBand low = current_band(0.95, 0.2);
  low.lo = 0.0;
  low.hi = 2.0;
  low.open_high = false;
  low.open_low = true;
  e.correlation.current_band = low;
  EXPECT_TRUE(run(rule_environment_patterns, e).empty());
  e.correlation.current_band = current_band(0.95, 0.2);
  const auto fs = run(rule_environment_patterns, e);
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kEmiPowerCorrelated, Severity::kFault, Layer::kEnvironment);
}

TEST(RuleEnvironmentPatterns, CurrentRisingWithErrorsIsAnEmiFault) {
  // rho 0.5 >= 0.4 and three times the error rate in the top quarter of |current|.
  Evidence e;
  e.bus.error_frames = 40;
  e.correlation.binned_minutes = 120;
  e.correlation.rho_current = 0.5;
  e.correlation.current_rate_ratio = 3.0;
  auto fs = run(rule_environment_patterns, e);
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kEmiPowerCorrelated, Severity::kFault, Layer::kEnvironment);
  EXPECT_NEAR(fs[0].score, 0.6 + 0.3 * 0.25, 1e-12);  // strength |rho| / 2
  e.correlation.current_rate_ratio = 2.9;
  EXPECT_TRUE(run(rule_environment_patterns, e).empty());
  e.correlation.current_rate_ratio = 3.0;
  e.correlation.rho_current = 0.39;
  EXPECT_TRUE(run(rule_environment_patterns, e).empty());
}

TEST(RuleEnvironmentPatterns, ErrorsFallingWithTemperatureAreAThermalFault) {
  // rho -0.5 and the bottom quarter at three times the top's rate (ratio 1/3).
  Evidence e;
  e.bus.error_frames = 40;
  e.correlation.binned_minutes = 120;
  e.correlation.rho_temperature = -0.5;
  e.correlation.temperature_rate_ratio = 1.0 / 3.0;
  auto fs = run(rule_environment_patterns, e);
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kThermalOrTimePattern, Severity::kFault, Layer::kEnvironment);
  EXPECT_TRUE(any_text(fs[0], "more errors as it gets colder"));
  e.correlation.temperature_rate_ratio = 0.34;  // 1 / 0.34 = 2.94 < 3
  EXPECT_TRUE(run(rule_environment_patterns, e).empty());
}

Evidence morning_hours(double concentration) {
  Evidence e;
  e.bus.error_frames = 200;
  ErrorBand b;
  b.lo = 6.0;
  b.hi = 9.0;
  b.error_share = concentration;
  b.time_share = 0.125;
  b.errors = 180;
  b.minutes = 180;
  e.correlation.hour_band = b;
  e.correlation.busiest_hour = 6;
  e.correlation.hour_concentration = concentration;
  return e;
}

TEST(RuleEnvironmentPatterns, ErrorsInThreeHoursOfTheDayAreAThermalOrTimeFault) {
  // 60 % of the errors in 12.5 % of the time; no minimum of binned minutes for the hour.
  const auto fs = run(rule_environment_patterns, morning_hours(0.6));
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kThermalOrTimePattern, Severity::kFault, Layer::kEnvironment);
  EXPECT_TRUE(any_text(fs[0], "between 06:00 and 09:00 UTC"));
  EXPECT_TRUE(run(rule_environment_patterns, morning_hours(0.59)).empty());
}

Evidence dropouts(const std::string& stream) {
  Evidence e;
  e.timed = true;
  e.timing.bms_frames = 100;
  e.timing.bms_ids = {0x355, 0x356, 0x359};
  e.uptime.timeout_ns = 3 * kS;
  e.uptime.dropout_stream = stream;
  e.uptime.dropout_count = 2;
  e.uptime.dropouts = {{10 * kS, 5 * kS}, {40 * kS, 4'200'000'000}};
  e.uptime.longest_outage_ns = 5 * kS;
  e.uptime.share = 0.9;
  e.uptime.complete_seconds = 54;
  return e;
}

TEST(RuleIntermittentDropouts, SilencesOfTheLimitsFrameFire) {
  const auto fs = run(rule_intermittent_dropouts, dropouts("0x351"));
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kIntermittentDropouts, Severity::kFault, Layer::kEnvironment);
  EXPECT_NEAR(fs[0].score, 0.72, 1e-12);  // 0.68 + 0.02 x 2
  EXPECT_NE(fs[0].title.find("2 time(s)"), std::string::npos);
  EXPECT_NE(fs[0].title.find("3 s timeout"), std::string::npos);
  ASSERT_EQ(fs[0].evidence.size(), 3u);  // two dropouts and the uptime line
  EXPECT_EQ(fs[0].evidence[0].text, "0x351 silent for 5.0 s");
  EXPECT_EQ(fs[0].evidence[0].at_ns, 10 * kS);
  EXPECT_EQ(fs[0].evidence[0].ids, (std::vector<std::string>{"0x351"}));
  EXPECT_EQ(fs[0].evidence[1].text, "0x351 silent for 4.2 s");
  EXPECT_EQ(fs[0].evidence[2].count, 54u);
  // The layer and the fix agree: a layer-4 cause starts with layer-4 checks (ground potential,
  // routing), and sends back to layer 2 only when nothing lines up.
  EXPECT_TRUE(fs[0].fix.starts_with("Layer 4")) << fs[0].fix;
  EXPECT_NE(fs[0].fix.find("0.2 V"), std::string::npos);
  EXPECT_LT(fs[0].fix.find("0.2 V"), fs[0].fix.find("layer 2"));
}

TEST(RuleIntermittentDropouts, WithoutTheLimitsFrameTheEvidenceNamesTheBmsIds) {
  const auto fs = run(rule_intermittent_dropouts, dropouts("BMS frames"));
  ASSERT_EQ(fs.size(), 1u);
  ASSERT_GE(fs[0].evidence.size(), 2u);
  EXPECT_EQ(fs[0].evidence[0].text, "BMS frames silent for 5.0 s");
  EXPECT_EQ(fs[0].evidence[0].ids, (std::vector<std::string>{"0x355", "0x356", "0x359"}));
  EXPECT_EQ(fs[0].evidence[1].ids, (std::vector<std::string>{"0x355", "0x356", "0x359"}));
}

TEST(RuleIntermittentDropouts, NoDropoutOrNoTimeOrNoBmsDoesNot) {
  Evidence e = dropouts("0x351");
  e.uptime.dropout_count = 0;
  EXPECT_TRUE(run(rule_intermittent_dropouts, e).empty());
  e = dropouts("0x351");
  e.timed = false;
  EXPECT_TRUE(run(rule_intermittent_dropouts, e).empty());
  e = dropouts("0x351");
  e.timing.bms_frames = 0;
  EXPECT_TRUE(run(rule_intermittent_dropouts, e).empty());
}

TEST(RuleIntermittentDropouts, AfterAnAckOrBitRateFaultOnlyAWarning) {
  for (Cause c : {Cause::kNoAck, Cause::kBitrateMismatch}) {
    const auto fs = run(rule_intermittent_dropouts, dropouts("0x351"), after_fault(c));
    const Finding* d = find(fs, Cause::kIntermittentDropouts);
    ASSERT_NE(d, nullptr) << cause_id(c);
    EXPECT_EQ(d->severity, Severity::kWarning);
    EXPECT_DOUBLE_EQ(d->score, 0.4);
  }
}

// ---------------------------------------------------------------------------------------------
// Layer 5: protocol and firmware

Evidence foreign_traffic() {
  Evidence e;
  e.inventory.data_frames = 100;
  e.timing.other_frames = 100;
  e.timing.other_ids = {0x4210, 0x4220};
  return e;
}

TEST(RuleUnknownProtocol, TrafficOnlyOnForeignIdsFires) {
  Evidence e = foreign_traffic();
  e.protocol.family = "pylon-hv";
  e.protocol.reasons = {"0x4210 and 0x4220 every second"};
  const auto fs = run(rule_unknown_protocol, e);
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kUnknownProtocol, Severity::kFault, Layer::kProtocol);
  EXPECT_DOUBLE_EQ(fs[0].score, 0.85);
  EXPECT_EQ(fs[0].title, "The battery speaks pylon-hv, not the Pylon LV family");
  ASSERT_EQ(fs[0].evidence.size(), 2u);
  EXPECT_EQ(fs[0].evidence[0].ids, (std::vector<std::string>{"0x4210", "0x4220"}));
  EXPECT_EQ(fs[0].evidence[1].text, "0x4210 and 0x4220 every second");
  // An unidentified family: the generic title and a lower score.
  e.protocol.family = "unknown";
  const auto generic = run(rule_unknown_protocol, e);
  ASSERT_EQ(generic.size(), 1u);
  EXPECT_DOUBLE_EQ(generic[0].score, 0.8);
}

TEST(RuleUnknownProtocol, OneBmsFrameOrABitRateFaultDoesNot) {
  Evidence e = foreign_traffic();
  e.timing.bms_frames = 1;
  EXPECT_TRUE(run(rule_unknown_protocol, e).empty());
  EXPECT_EQ(
      run(rule_unknown_protocol, foreign_traffic(), after_fault(Cause::kBitrateMismatch)).size(),
      1u);
  Evidence no_other = foreign_traffic();
  no_other.timing.other_frames = 0;
  EXPECT_TRUE(run(rule_unknown_protocol, no_other).empty());
}

Evidence with_issues(std::vector<PlausibilityIssue> issues) {
  Evidence e;
  e.timing.bms_frames = 50;
  e.plausibility = std::move(issues);
  return e;
}

TEST(RuleEndiannessMismatch, AByteOrderIssueFires) {
  const auto fs = run(rule_endianness_mismatch,
                      with_issues({{PlausibilityKind::kEndianness, "0x351", "big-endian", true}}));
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kEndiannessMismatch, Severity::kFault, Layer::kProtocol);
  EXPECT_EQ(fs[0].evidence[0].text, "big-endian");
  EXPECT_EQ(fs[0].evidence[0].ids, (std::vector<std::string>{"0x351"}));
}

TEST(RuleEndiannessMismatch, OtherIssuesDoNot) {
  EXPECT_TRUE(run(rule_endianness_mismatch,
                  with_issues({{PlausibilityKind::kScaling, "0x351/0x356", "x10", true},
                               {PlausibilityKind::kInvalid, "soc", "101 %", true}}))
                  .empty());
}

TEST(RuleScalingMismatch, AScalingIssueFires) {
  const auto fs = run(rule_scaling_mismatch,
                      with_issues({{PlausibilityKind::kScaling, "0x351/0x356", "x10", true}}));
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kScalingMismatch, Severity::kFault, Layer::kProtocol);
  EXPECT_EQ(fs[0].evidence[0].ids, (std::vector<std::string>{"0x351/0x356"}));
}

TEST(RuleScalingMismatch, OtherIssuesDoNot) {
  EXPECT_TRUE(run(rule_scaling_mismatch,
                  with_issues({{PlausibilityKind::kEndianness, "0x351", "big-endian", true}}))
                  .empty());
}

TEST(RuleInvalidValues, ASevereInvalidValueIsAFaultListedFirst) {
  const auto fs = run(rule_invalid_values,
                      with_issues({{PlausibilityKind::kInvalid, "pack_temperature", "95", false},
                                   {PlausibilityKind::kInvalid, "soc", "101 %", true}}));
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kInvalidValues, Severity::kFault, Layer::kProtocol);
  EXPECT_DOUBLE_EQ(fs[0].score, 0.72);
  ASSERT_EQ(fs[0].evidence.size(), 2u);
  EXPECT_EQ(fs[0].evidence[0].ids, (std::vector<std::string>{"soc"}));
  EXPECT_EQ(fs[0].evidence[1].ids, (std::vector<std::string>{"pack_temperature"}));
}

TEST(RuleInvalidValues, OnlyMildIssuesAreAWarningAndNoneAreNothing) {
  const auto fs = run(rule_invalid_values,
                      with_issues({{PlausibilityKind::kInvalid, "0x359", "0 modules", false}}));
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kInvalidValues, Severity::kWarning, Layer::kProtocol);
  EXPECT_TRUE(run(rule_invalid_values,
                  with_issues({{PlausibilityKind::kMissing, "0x359", "never seen", true}}))
                  .empty());
}

TEST(RuleMissingRequiredFrames, ARequiredFrameNeverSeenOverCyclesIsAFault) {
  const auto fs =
      run(rule_missing_required_frames,
          with_issues(
              {{PlausibilityKind::kMissing, "0x359", "0x359 never seen in 5 BMS cycles", true},
               {PlausibilityKind::kMissing, "0x35C", "0x35C never seen in 5 BMS cycles", false}}));
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kMissingRequiredFrames, Severity::kFault, Layer::kProtocol);
  ASSERT_EQ(fs[0].evidence.size(), 2u);
  EXPECT_EQ(fs[0].evidence[0].ids, (std::vector<std::string>{"0x359"}));
}

TEST(RuleMissingRequiredFrames, NotSevereIsAWarningAndWithoutBmsFramesNothing) {
  Evidence e = with_issues({{PlausibilityKind::kMissing, "0x359", "never seen in 1", false}});
  const auto fs = run(rule_missing_required_frames, e);
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kMissingRequiredFrames, Severity::kWarning, Layer::kProtocol);
  e.timing.bms_frames = 0;
  EXPECT_TRUE(run(rule_missing_required_frames, e).empty());
}

// ---------------------------------------------------------------------------------------------
// No layer: the battery refuses

Evidence with_state(std::uint32_t key, const std::string& signal, StateLevel level) {
  Evidence e;
  StateEvidence::Active a;
  a.key = key;
  a.signal = signal;
  a.level = level;
  a.frames = 12;
  a.first_ns = 7 * kS;
  e.state.active.push_back(a);
  return e;
}

TEST(RuleBmsProtectionActive, AProtectionFlagIsAFaultWithoutALayer) {
  const auto fs = run(rule_bms_protection_active,
                      with_state(0x359, "protection_cell_under_voltage", StateLevel::kProtection));
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kBmsProtectionActive, Severity::kFault, std::nullopt);
  ASSERT_EQ(fs[0].evidence.size(), 1u);
  EXPECT_EQ(fs[0].evidence[0].text,
            "0x359 protection_cell_under_voltage (protection) in 12 frames");
  EXPECT_EQ(fs[0].evidence[0].at_ns, 7 * kS);
  EXPECT_EQ(fs[0].evidence[0].count, 12u);
  // Charging disabled is a refusal too.
  EXPECT_EQ(
      run(rule_bms_protection_active, with_state(0x35C, "charge_enable", StateLevel::kDisabled))[0]
          .severity,
      Severity::kFault);
}

TEST(RuleBmsProtectionActive, AnAlarmIsAFaultOnlyOn0x35AAndNoStateIsNothing) {
  auto fs = run(rule_bms_protection_active,
                with_state(0x359, "alarm_cell_low_voltage", StateLevel::kAlarm));
  ASSERT_EQ(fs.size(), 1u);
  expect_finding(fs[0], Cause::kBmsProtectionActive, Severity::kWarning, std::nullopt);
  fs = run(rule_bms_protection_active,
           with_state(0x35A, "alarm_cell_low_voltage", StateLevel::kAlarm));
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].severity, Severity::kFault);
  fs = run(rule_bms_protection_active,
           with_state(0x35C, "force_charge_request", StateLevel::kRequest));
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].severity, Severity::kWarning);
  EXPECT_TRUE(run(rule_bms_protection_active, Evidence{}).empty());
}

TEST(HealthyFinding, SaysWhatWasCheckedWithUptime) {
  Evidence e;
  e.inventory.frames = 600;
  e.bus.error_frames = 0;
  e.uptime.share = 1.0;
  e.uptime.complete_seconds = 100;
  const Finding h = healthy_finding(e);
  expect_finding(h, Cause::kHealthy, Severity::kInfo, std::nullopt);
  ASSERT_EQ(h.evidence.size(), 2u);
  EXPECT_EQ(h.evidence[0].text, "600 frames, 0 error frames");
  EXPECT_EQ(h.evidence[1].text, "complete BMS set in 100.00 % of seconds");
  e.uptime.share.reset();
  EXPECT_EQ(healthy_finding(e).evidence.size(), 1u);
}

}  // namespace
}  // namespace bmslink::diagnosis::detail
