// Evidence, findings and the identification survive a trip through JSON: what records store and
// the server sends reads back to the same values.
#include "bmslink/diagnosis/serialize.h"

#include <gtest/gtest.h>

#include "bmslink/analysis/run.h"
#include "bmslink/sim/site.h"
#include "support/simulated.h"

namespace bmslink::diagnosis {
namespace {

analysis::Evidence simulated(const std::string& fault, double seconds) {
  sim::SiteOptions o;
  o.fault = fault;
  o.duration_s = seconds;
  return test::simulated_evidence(o);
}

class RoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(RoundTrip, EvidenceAndFindingsReadBackToTheSameValues) {
  const auto e = simulated(GetParam(), 3 * 3600);
  const auto fs = diagnose_capture(e);
  const nlohmann::json je = evidence_to_json(e);
  // Through text, as a database column or an HTTP body would carry it.
  const auto back = evidence_from_json(nlohmann::json::parse(je.dump()));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(evidence_to_json(*back), je);
  EXPECT_EQ(back->inventory.frames, e.inventory.frames);
  EXPECT_EQ(back->uptime.dropout_count, e.uptime.dropout_count);
  EXPECT_EQ(back->bus.error_frames, e.bus.error_frames);
  ASSERT_EQ(back->signals.size(), e.signals.size());
  for (std::size_t i = 0; i < e.signals.size(); ++i)
    EXPECT_EQ(back->signals[i].last, e.signals[i].last) << e.signals[i].name;  // exact doubles
  EXPECT_EQ(back->protocol.variant, e.protocol.variant);
  // The diagnosis of the read-back Evidence is the diagnosis of the original.
  const nlohmann::json jf = findings_to_json(fs);
  EXPECT_EQ(findings_to_json(diagnose_capture(*back)), jf);
  const auto fback = findings_from_json(nlohmann::json::parse(jf.dump()));
  ASSERT_TRUE(fback) << fback.error().message;
  ASSERT_EQ(fback->size(), fs.size());
  EXPECT_EQ(fback->front().cause, fs.front().cause);
  EXPECT_EQ(fback->front().layer, fs.front().layer);
  EXPECT_EQ(findings_to_json(*fback), jf);
}

INSTANTIATE_TEST_SUITE_P(Faults, RoundTrip,
                         ::testing::Values("healthy", "no_ack", "intermittent_dropouts",
                                           "bms_protection_active", "thermal_or_time_pattern"));

TEST(Serialize, NamesAreTheContractNames) {
  Finding f;
  f.cause = Cause::kNoAck;
  f.layer = Layer::kConnections;
  f.severity = Severity::kFault;
  const auto j = findings_to_json({f});
  EXPECT_EQ(j[0]["cause"], "no_ack");
  EXPECT_EQ(j[0]["layer"], 2);
  EXPECT_EQ(j[0]["severity"], "fault");
  analysis::Evidence e;
  e.plausibility.push_back({analysis::PlausibilityKind::kMissing, "0x355", "never seen", true});
  EXPECT_EQ(evidence_to_json(e)["plausibility"][0]["kind"], "missing");
  EXPECT_EQ(evidence_to_json(e)["inventory"]["time_kind"], "none");
}

TEST(Serialize, BadInputIsAnErrorNotACrash) {
  EXPECT_FALSE(findings_from_json(nlohmann::json::parse(R"([{"cause": "no_such_cause"}])")));
  EXPECT_FALSE(findings_from_json(nlohmann::json::parse(R"([{"layer": 9}])")));
  EXPECT_FALSE(findings_from_json(nlohmann::json::parse(R"([{"severity": "fatal"}])")));
  EXPECT_FALSE(findings_from_json(nlohmann::json::parse(R"({"cause": "no_ack"})")));
  const auto wrong = evidence_from_json(nlohmann::json::parse(R"({"duration_s": "long"})"));
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("evidence"), std::string::npos);
  EXPECT_FALSE(identification_from_json(nlohmann::json::parse("[1, 2]")));
  // Floats where a whole number belongs: refused before any cast (fuzz finding: layer 2e127).
  EXPECT_FALSE(findings_from_json(nlohmann::json::parse(R"([{"layer": 2e127}])")));
  EXPECT_FALSE(findings_from_json(nlohmann::json::parse(R"([{"layer": 2.5}])")));
  EXPECT_FALSE(
      evidence_from_json(nlohmann::json::parse(R"({"inventory": {"ids": [{"min_len": 300.0}]}})")));
  EXPECT_FALSE(evidence_from_json(nlohmann::json::parse(R"({"bus": {"max_tec": -1.0}})")));
  // A float where a double belongs is fine, however large.
  EXPECT_TRUE(evidence_from_json(nlohmann::json::parse(R"({"signals": [{"max": 1e300}]})")));
  EXPECT_TRUE(findings_from_json(nlohmann::json::parse(R"([{"layer": 2.0}])")));
  // Missing keys take their defaults: an empty object is an empty Evidence.
  const auto empty = evidence_from_json(nlohmann::json::object());
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->inventory.frames, 0u);
  EXPECT_EQ(empty->minute_width_s, 60u);
}

TEST(Serialize, IdentificationRoundTrips) {
  protocol::Identification id;
  id.family = "pylon-lv";
  id.variant = "pylon-1.2";
  id.confidence = 0.95;
  id.reasons = {"0x351 with 8 bytes"};
  id.protocol = "pylon_lv_1_2";
  const auto back = identification_from_json(identification_to_json(id));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->variant, "pylon-1.2");
  EXPECT_EQ(back->reasons, id.reasons);
  EXPECT_DOUBLE_EQ(back->confidence, 0.95);
}

}  // namespace
}  // namespace bmslink::diagnosis
