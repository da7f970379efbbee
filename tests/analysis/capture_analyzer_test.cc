#include "bmslink/analysis/capture_analyzer.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <span>
#include "bmslink/analysis/run.h"
#include "bmslink/protocol/builtin.h"

#include "support/frames.h"

namespace bmslink::analysis {
namespace {

Evidence analyze_frames(std::span<const can::Frame> frames, AnalyzerOptions options = {}) {
  can::SpanSource source(frames);
  NullSink sink;
  RunOptions o;
  o.analyzer = options;
  auto run = analyze(CaptureInput::source(source, "test"), sink, o);
  EXPECT_TRUE(run);
  return run ? std::move(run->evidence) : Evidence{};
}

Evidence analyze_text(const std::string& text, AnalyzerOptions options = {}) {
  const auto r = test::read_memory(text);
  return analyze_frames(r->frames, options);
}

std::string line(double t, const std::string& frame) {
  return fmt::format("({:.6f}) can0 {}\n", t, frame);
}

// A Pylon V1.2 burst as in the fact sheet's worked example (53.2 V / 370.0 A / 370.0 A / 46.0 V),
// pack 53.2 V (0x14C8 at 0.01 V), 65 % SOC.
std::string burst(double t) {
  return line(t, "359#0000000004504E") + line(t + 0.0003, "351#14027400740ECC01") +
         line(t + 0.0006, "355#41006300") + line(t + 0.0009, "356#C8140000F000") +
         line(t + 0.0012, "35C#C000") + line(t + 0.0015, "35E#50594C4F4E202020");
}

TEST(Spearman, MatchesHandComputedRankCorrelation) {
  // Ranks of y: 2 1 4 3 5; d = -1 1 -1 1 0; rho = 1 - 6*4/(5*24) = 0.8.
  const auto rho = spearman({1, 2, 3, 4, 5}, {2, 1, 4, 3, 5});
  ASSERT_TRUE(rho);
  EXPECT_NEAR(*rho, 0.8, 1e-12);
  // Ties get average ranks; a perfectly opposite order gives -1.
  EXPECT_NEAR(*spearman({1, 2, 3}, {3, 2, 1}), -1.0, 1e-12);
  EXPECT_FALSE(spearman({1, 2, 3}, {4, 4, 4}));
  EXPECT_FALSE(spearman({1, 2}, {1, 2}));
}

TEST(CaptureAnalyzer, SplitsSidesAndCountsHeartbeat) {
  std::string s;
  for (int i = 0; i < 10; ++i)
    s += burst(1700000000.1 + i) + line(1700000000.6 + i, "305#0000000000000000");
  const Evidence e = analyze_text(s);
  EXPECT_EQ(e.timing.bms_frames, 60u);
  EXPECT_EQ(e.timing.inverter_frames, 10u);
  EXPECT_EQ(e.timing.other_frames, 0u);
  EXPECT_EQ(e.protocol.variant, "pylon-1.2");
  EXPECT_TRUE(e.ack.ack_visible);
  EXPECT_EQ(e.ack.back_to_back, 0u);
  EXPECT_TRUE(e.conflicts.empty());
  EXPECT_TRUE(e.plausibility.empty()) << e.plausibility.front().detail;
  // The set is what Pylon V1.2 requires (BmslinkRequired in its DBC: 0x351 0x355 0x356 0x359
  // 0x35C; 0x35E is optional), and every second holds it (looking back one second).
  ASSERT_TRUE(e.uptime.share);
  EXPECT_EQ(e.uptime.set, (std::vector<std::uint32_t>{0x351, 0x355, 0x356, 0x359, 0x35C}));
  EXPECT_DOUBLE_EQ(*e.uptime.share, 1.0);
  EXPECT_EQ(e.uptime.dropout_count, 0u);
}

TEST(CaptureAnalyzer, ARequiredIdNeverSentMeansNoCompleteSecond) {
  // The same site without 0x355: the periodic ids seen are all there every second, but the
  // protocol's set never is.
  std::string s;
  for (int i = 0; i < 10; ++i) {
    std::string b = burst(1700000000.1 + i);
    const auto at = b.find("355#");
    const auto start = b.rfind('(', at);
    b.erase(start, b.find('\n', at) + 1 - start);
    s += b + line(1700000000.6 + i, "305#0000000000000000");
  }
  const Evidence e = analyze_text(s);
  ASSERT_TRUE(e.uptime.share);
  EXPECT_EQ(e.uptime.set, (std::vector<std::uint32_t>{0x351, 0x355, 0x356, 0x359, 0x35C}));
  EXPECT_EQ(e.uptime.complete_seconds, 0u);
  EXPECT_DOUBLE_EQ(*e.uptime.share, 0.0);
}

// Issue 19: a BMS re-sending 0x359 to a bus nobody acknowledges was reported as "complete BMS
// set 100 %". Ten seconds of 0x359 every millisecond, nothing else: no share, and why.
TEST(CaptureAnalyzer, UptimeIsNotJudgedWhenNothingIsAcknowledged) {
  std::string s;
  for (int k = 0; k < 10000; ++k) s += line(1700000000.1 + k * 0.001, "359#0000000004504E");
  const Evidence e = analyze_text(s);
  EXPECT_FALSE(e.uptime.share) << *e.uptime.share;
  EXPECT_FALSE(e.uptime.not_judged.empty());
}

TEST(CaptureAnalyzer, UptimeIsNotJudgedWithoutAProtocol) {
  // Two ids no protocol knows, every 100 ms for 10 s, both acknowledged by a talking peer.
  std::string s;
  for (int k = 0; k < 100; ++k) {
    s += line(1700000000.1 + k * 0.1, "123#0102030405060708");
    s += line(1700000000.15 + k * 0.1, "124#0102");
  }
  const Evidence e = analyze_text(s);
  EXPECT_FALSE(e.uptime.share);
  EXPECT_NE(e.uptime.not_judged.find("protocol is not identified"), std::string::npos)
      << e.uptime.not_judged;
}

TEST(CaptureAnalyzer, AHealthyPylonSiteIsJudged) {
  std::string s;
  for (int i = 0; i < 10; ++i) s += burst(1700000000.1 + i) + line(1700000000.6 + i, "305#00");
  const Evidence e = analyze_text(s);
  ASSERT_TRUE(e.uptime.share);
  // Ten seconds of bins; the first second has no second before it to look back on but holds the
  // whole burst: every second is complete.
  EXPECT_DOUBLE_EQ(*e.uptime.share, 1.0);
  EXPECT_TRUE(e.uptime.not_judged.empty());
}

TEST(CaptureAnalyzer, DecodesSignalsWithMinLastMax) {
  std::string s = burst(1700000000.1);
  // Second burst: pack voltage 0x1450 = 52.00 V, current 0xFFF6 = -1.0 A.
  s += line(1700000001.1, "356#5014F6FF0000");
  const Evidence e = analyze_text(s);
  const SignalStats* v = nullptr;
  const SignalStats* i = nullptr;
  for (const auto& x : e.signals) {
    if (x.name == "pack_voltage") v = &x;
    if (x.name == "pack_current") i = &x;
  }
  ASSERT_TRUE(v && i);
  EXPECT_EQ(v->count, 2u);
  EXPECT_DOUBLE_EQ(v->min, 52.0);
  EXPECT_DOUBLE_EQ(v->max, 53.2);
  EXPECT_DOUBLE_EQ(v->last, 52.0);
  EXPECT_DOUBLE_EQ(i->min, -1.0);
  EXPECT_DOUBLE_EQ(i->max, 0.0);
}

TEST(CaptureAnalyzer, CountsBackToBackRetransmissionsAsAckSignature) {
  std::string s;
  for (int k = 0; k < 30; ++k) s += line(1700000000.1 + k * 0.00026, "359#0000000004504E");
  const Evidence e = analyze_text(s);
  EXPECT_EQ(e.ack.back_to_back, 29u);
  EXPECT_EQ(e.ack.longest_repeat_run, 29u);
  EXPECT_EQ(e.ack.repeated_id, 0x359u);
}

TEST(CaptureAnalyzer, MeasuresDropoutsAgainstTheTimeout) {
  // 0x351 at 0..4 s, then silent until 11 s: one 7 s gap over a 3 s timeout.
  std::string s;
  for (int i : {0, 1, 2, 3, 4, 11, 12, 13}) s += burst(1700000000.1 + i);
  const Evidence e = analyze_text(s);
  EXPECT_EQ(e.uptime.dropout_count, 1u);
  ASSERT_EQ(e.uptime.dropouts.size(), 1u);
  EXPECT_EQ(e.uptime.dropouts[0].length_ns, 7'000'000'000);
  EXPECT_EQ(e.uptime.dropouts[0].start_ns, 1'700'000'004'100'300'000);
  EXPECT_EQ(e.uptime.longest_outage_ns, 7'000'000'000);
  // With a 10 s timeout the same gap is not a dropout.
  AnalyzerOptions lenient;
  lenient.inverter_timeout_ms = 10000;
  EXPECT_EQ(analyze_text(s, lenient).uptime.dropout_count, 0u);
}

TEST(CaptureAnalyzer, FlagsBigEndianLimitsAndNegativeDischargeLimit) {
  // 53.2 V sent high byte first: 02 14 read little-endian is 512.2 V.
  std::string be;
  for (int i = 0; i < 3; ++i)
    be += line(1700000000.1 + i, "351#021403E803E801E0") +
          line(1700000000.1003 + i, "356#14C800000000");
  const Evidence e = analyze_text(be);
  ASSERT_FALSE(e.plausibility.empty());
  EXPECT_EQ(e.plausibility[0].kind, PlausibilityKind::kEndianness);

  // diyBMS: DCL 0xFF9C = -10.0 A, 0x359 all zeros, no 0x355 in two cycles.
  const auto r = test::read_file(test::data_path("captures/diybms_pylon_emulation_early.log"));
  const Evidence d = analyze_frames(r->frames);
  bool negative_dcl = false, zero_modules = false, missing_355 = false;
  for (const auto& p : d.plausibility) {
    negative_dcl |= p.kind == PlausibilityKind::kInvalid &&
                    p.subject == "discharge_current_limit" && p.severe &&
                    p.detail.find("-10.0 A") != std::string::npos;
    zero_modules |= p.kind == PlausibilityKind::kInvalid && p.subject == "0x359";
    missing_355 |= p.kind == PlausibilityKind::kMissing && p.subject == "0x355" && p.severe;
  }
  EXPECT_TRUE(negative_dcl);
  EXPECT_TRUE(zero_modules);
  EXPECT_TRUE(missing_355);
}

TEST(CaptureAnalyzer, MergedChunksEqualOnePass) {
  std::string s;
  for (int i = 0; i < 200; ++i) {
    if (i >= 80 && i < 90) continue;  // a 10 s dropout that straddles nothing in particular
    s += burst(1700000000.1 + i) + line(1700000000.6 + i, "305#0000000000000000");
    if (i % 7 == 0) s += line(1700000000.7 + i, "20000088#0000040A00000000");
  }
  const auto r = test::read_memory(s);
  protocol::Identifier id;
  for (const auto& f : r->frames) id.add(f);
  const auto ident = id.result();
  const auto db = protocol::builtin_database(ident.protocol);
  ASSERT_TRUE(db);
  const protocol::Decoder decoder(**db);
  CaptureAnalyzer one(&decoder);
  for (const auto& f : r->frames) one.add(f);
  const Evidence a = one.finish(ident);
  for (std::size_t cut : {std::size_t{1}, r->frames.size() / 3, r->frames.size() / 2 + 3}) {
    CaptureAnalyzer first(&decoder), second(&decoder);
    for (std::size_t k = 0; k < r->frames.size(); ++k) (k < cut ? first : second).add(r->frames[k]);
    first.merge(std::move(second));
    const Evidence b = first.finish(ident);
    EXPECT_EQ(b.inventory.frames, a.inventory.frames);
    EXPECT_EQ(b.bus.error_frames, a.bus.error_frames);
    EXPECT_EQ(b.bus.protocol_violations, a.bus.protocol_violations);
    EXPECT_EQ(b.uptime.dropout_count, a.uptime.dropout_count);
    EXPECT_EQ(b.uptime.longest_outage_ns, a.uptime.longest_outage_ns);
    EXPECT_EQ(b.uptime.complete_seconds, a.uptime.complete_seconds);
    ASSERT_EQ(b.signals.size(), a.signals.size());
    for (std::size_t k = 0; k < a.signals.size(); ++k) {
      EXPECT_EQ(b.signals[k].count, a.signals[k].count) << a.signals[k].name << " cut " << cut;
      EXPECT_EQ(b.signals[k].min, a.signals[k].min);
      EXPECT_EQ(b.signals[k].max, a.signals[k].max);
      EXPECT_EQ(b.signals[k].last, a.signals[k].last);
    }
    ASSERT_EQ(b.inventory.ids.size(), a.inventory.ids.size());
    for (std::size_t k = 0; k < a.inventory.ids.size(); ++k) {
      EXPECT_EQ(b.inventory.ids[k].count, a.inventory.ids[k].count);
      EXPECT_EQ(b.inventory.ids[k].payload_changes, a.inventory.ids[k].payload_changes);
      EXPECT_EQ(b.inventory.ids[k].max_gap_ms, a.inventory.ids[k].max_gap_ms);
      EXPECT_EQ(b.inventory.ids[k].period_ms, a.inventory.ids[k].period_ms);
    }
    EXPECT_EQ(b.minutes.size(), a.minutes.size());
  }
}

}  // namespace
}  // namespace bmslink::analysis
