// The renderers on a hand-built result: what the text says, which JSON keys carry which values,
// and that the HTML names the findings. Expected strings are written from the values put in.
#include "bmslink/report/analysis_report.h"

#include <gtest/gtest.h>

namespace bmslink::report {
namespace {

CaptureReport hand_built() {
  CaptureReport r;
  r.run.file = "site.log";
  auto& e = r.run.evidence;
  e.inventory.frames = 1200;
  e.inventory.data_frames = 1180;
  e.inventory.error_frames = 20;
  e.inventory.time_kind = TimeKind::kAbsolute;
  e.inventory.first_ns = 1'780'293'600'000'000'000;  // 2026-06-01 06:00:00 UTC
  e.inventory.last_ns = 1'780'293'720'000'000'000;   // +120 s
  e.timed = true;
  e.absolute_time = true;
  e.duration_s = 120;
  e.timing.bms_frames = 1000;
  e.timing.inverter_frames = 180;
  e.bus.error_frames = 20;
  e.bus.errors_per_minute = 10.0;  // 20 over 2 minutes
  e.bus.bitrate_bps = 250000;
  e.bus.bus_load = 0.125;
  e.bus.mean_bus_load = 0.05;
  e.uptime.share = 0.5;
  e.uptime.seconds = 120;
  e.uptime.complete_seconds = 60;
  e.uptime.set = {0x351, 0x355};
  e.uptime.timeout_ns = 3'000'000'000;
  e.uptime.dropout_count = 2;
  e.uptime.longest_outage_ns = 7'500'000'000;
  e.signals.push_back({"pack_voltage", "V", 0x356, 120, 51.5, 53.25, 52.0, "", "", "", ""});
  diagnosis::Finding f;
  f.cause = diagnosis::Cause::kIntermittentDropouts;
  f.layer = diagnosis::Layer::kEnvironment;
  f.severity = diagnosis::Severity::kFault;
  f.score = 0.704;
  f.title = "The BMS goes silent 2 time(s)";
  f.fix = "Check connectors.";
  f.evidence.push_back({"0x351 silent for 7.5 s", 1'780'293'630'000'000'000, {"0x351"}, {}});
  diagnosis::Finding w;
  w.cause = diagnosis::Cause::kBusErrors;
  w.layer = diagnosis::Layer::kConnections;
  w.severity = diagnosis::Severity::kWarning;
  w.score = 0.35;
  w.title = "Occasional bus errors";
  w.fix = "Measure termination.";
  r.findings = {f, w};
  return r;
}

TEST(TextReport, SaysTheGivenBitRateTheUptimeAndTheFindingsInOrder) {
  const std::string t = analysis_text(hand_built());
  // 0.05 and 0.125 of 250 kbit/s: "mean 5.0 %, busiest second 12.5 %"; 20 errors in 2 min.
  EXPECT_NE(t.find("bus load at 250 kbit/s: mean 5.0 %, busiest second 12.5 %; 10.00 error "
                   "frames/min"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("uptime: complete BMS set (0x351 0x355) in 50.00 % of 120 s; 2 dropout(s) "
                   "longer than the 3 s timeout; longest silence 7.5 s"),
            std::string::npos)
      << t;
  // Layers by number and name.
  const auto first = t.find(
      "1. FAULT   layer 4 \u2014 electrical environment  intermittent_dropouts: The BMS goes "
      "silent");
  const auto second =
      t.find("2. WARNING layer 2 \u2014 physical connections  bus_errors: Occasional bus errors");
  EXPECT_NE(first, std::string::npos) << t;
  EXPECT_NE(second, std::string::npos) << t;
  EXPECT_LT(first, second);
  // Evidence with its time as a UTC date (30 s after 06:00:00).
  EXPECT_NE(t.find("- 0x351 silent for 7.5 s (at 2026-06-01 06:00:30.000 UTC)"), std::string::npos)
      << t;
  EXPECT_NE(t.find("fix: Check connectors."), std::string::npos);
  EXPECT_NE(t.find("pack_voltage"), std::string::npos);
}

TEST(JsonReport, CarriesTheContractKeysWithTheirValues) {
  const auto j = analysis_json(hand_built());
  EXPECT_EQ(j["summary"]["verdict"], "fault");
  EXPECT_EQ(j["summary"]["top_cause"], "intermittent_dropouts");
  EXPECT_EQ(j["summary"]["talking"], "both");
  EXPECT_EQ(j["summary"]["bitrate_bps"], 250000);
  EXPECT_DOUBLE_EQ(j["summary"]["bus_load_peak"].get<double>(), 0.125);
  EXPECT_DOUBLE_EQ(j["summary"]["uptime"]["share"].get<double>(), 0.5);
  EXPECT_EQ(j["summary"]["uptime"]["set"], (nlohmann::json{"0x351", "0x355"}));
  EXPECT_DOUBLE_EQ(j["summary"]["uptime"]["longest_outage_s"].get<double>(), 7.5);
  ASSERT_EQ(j["findings"].size(), 2u);
  EXPECT_EQ(j["findings"][0]["cause"], "intermittent_dropouts");
  EXPECT_EQ(j["findings"][0]["layer"], 4);
  EXPECT_EQ(j["findings"][0]["severity"], "fault");
  EXPECT_DOUBLE_EQ(j["findings"][0]["score"].get<double>(), 0.70);  // rounded to 0.01
  EXPECT_DOUBLE_EQ(j["findings"][0]["evidence"][0]["t"].get<double>(), 1780293630.0);
  EXPECT_EQ(j["findings"][1]["layer"], 2);
}

TEST(HtmlReport, IsOneSelfContainedPageNamingTheFindings) {
  const std::string h = analysis_html({hand_built()});
  EXPECT_EQ(h.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(h.find("intermittent_dropouts"), std::string::npos);
  EXPECT_NE(h.find("layer 4"), std::string::npos);
  EXPECT_EQ(h.find("<script"), std::string::npos);
  EXPECT_EQ(h.find("http://"), std::string::npos);
  EXPECT_EQ(h.find("https://"), std::string::npos);
}

TEST(TextReport, ShowsTimesInTheChosenZoneWithUtcBeside) {
  // 2026-06-01 06:00:30 UTC is 08:00:30 CEST in Berlin (summer time, +2 h).
  auto berlin = TimeZone::named("Europe/Berlin");
  ASSERT_TRUE(berlin);
  const std::string t = analysis_text(hand_built(), RenderOptions{*berlin});
  EXPECT_NE(t.find("(at 2026-06-01 08:00:30.000 CEST = 06:00:30 UTC)"), std::string::npos) << t;
  EXPECT_NE(t.find("from 2026-06-01 08:00:00.000 CEST = 06:00:00 UTC"), std::string::npos) << t;
  const auto j = analysis_json(hand_built(), RenderOptions{*berlin});
  EXPECT_EQ(j["summary"]["time_zone"], "Europe/Berlin");
  EXPECT_EQ(j["summary"]["start_local"], "2026-06-01 08:00:00.000 CEST");
  EXPECT_EQ(j["summary"]["start_utc"], "2026-06-01 06:00:00.000 UTC");
}

TEST(TextReport, NamesValueTableEntriesQualifiesSharedNamesAndExplainsTwicePerCycle) {
  CaptureReport r = hand_built();
  auto& e = r.run.evidence;
  // A 0x35A alarm field: raw 2 = "ok", 1 = "active" (the Victron/SMA value table).
  analysis::SignalStats alarm{
      "alarm_high_voltage", "", 0x35A, 120, 1, 2, 2, "", "active", "ok", "ok"};
  e.signals.push_back(alarm);
  // Two messages with a signal called soc.
  e.signals.push_back({"soc", "%", 0x355, 120, 40, 60, 50, "", "", "", ""});
  e.signals.push_back({"soc", "%", 0x379, 12, 41, 61, 51, "", "", "", ""});
  analysis::IdStats doubled;
  doubled.id = 0x351;
  doubled.count = 240;
  doubled.period_ms = 1000.4;
  doubled.per_cycle = 2;
  e.inventory.ids.push_back(doubled);
  const std::string t = analysis_text(r);
  EXPECT_NE(t.find("alarm_high_voltage"), std::string::npos);
  EXPECT_NE(t.find("active            ok            ok"), std::string::npos) << t;
  EXPECT_NE(t.find("soc (0x355)"), std::string::npos) << t;
  EXPECT_NE(t.find("soc (0x379)"), std::string::npos) << t;
  EXPECT_NE(t.find("1000.4 (2x)"), std::string::npos) << t;
  EXPECT_NE(t.find("the id comes N times per cycle"), std::string::npos) << t;
  const auto j = analysis_json(r);
  bool labelled = false;
  for (const auto& s : j["signals"])
    if (s["name"] == "alarm_high_voltage") labelled = s["last_label"] == "ok";
  EXPECT_TRUE(labelled);
  EXPECT_EQ(j["ids"][0]["per_cycle"], 2);
}

TEST(JsonReport, ACaptureTooShortToJudgeIsInconclusiveNotHealthy) {
  CaptureReport r = hand_built();
  diagnosis::Finding note;
  note.cause = diagnosis::Cause::kCaptureTooShort;
  note.severity = diagnosis::Severity::kInfo;
  note.title = "Too short to judge the link";
  note.fix = "Capture at least 60 s.";
  r.findings = {note};
  const auto j = analysis_json(r);
  EXPECT_EQ(j["summary"]["verdict"], "inconclusive");
  EXPECT_EQ(j["findings"][0]["note"], true);
  EXPECT_TRUE(j["findings"][0]["layer"].is_null());
  const std::string t = analysis_text(r);
  EXPECT_NE(t.find("1. INFO    note  capture_too_short"), std::string::npos) << t;
}

TEST(TextReport, AnUntimedCaptureListsNoTalkers) {
  CaptureReport r = hand_built();
  auto& e = r.run.evidence;
  e.timed = false;
  e.absolute_time = false;
  e.inventory.time_kind = TimeKind::kNone;
  e.inventory.first_ns.reset();
  e.inventory.last_ns.reset();
  const std::string t = analysis_text(r);
  EXPECT_EQ(t.find("talkers (ids that leave"), std::string::npos) << t;
  EXPECT_NE(t.find("talkers: not grouped"), std::string::npos) << t;
}

}  // namespace
}  // namespace bmslink::report
