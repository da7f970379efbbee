// The case JSON contract: what reads, what is refused (naming the case and the field), the three
// import forms, and that writing gives back what was read.
#include "bmslink/records/case.h"

#include <gtest/gtest.h>

namespace bmslink::records {
namespace {

using nlohmann::json;

json minimal(const std::string& id = "c1") {
  return {{"id", id}, {"opened", "2026-12-01T14:00:00Z"}};
}

std::string error_of(const json& j) {
  auto c = case_from_json(j, "case 1");
  EXPECT_FALSE(c) << j.dump();
  return c ? std::string() : c.error().message;
}

TEST(CaseJson, TheIssueExampleReadsAndWritesBack) {
  const json j = {
      {"id", "2026-0042"},
      {"opened", "2026-11-30T08:15:00Z"},
      {"closed", "2026-11-30T09:02:30Z"},
      {"site", {{"name", "Farm"}, {"customer", "J. Doe"}, {"address", "Road 1"}}},
      {"bms", {{"model", "US3000C"}, {"firmware", "V1.2"}, {"count", 2}, {"energy_kwh", 7.1}}},
      {"inverter", {{"model", "Deye SUN-5K"}, {"firmware", "1.0"}}},
      {"symptom", "F58"},
      {"checks",
       {{{"check", "l2.termination"},
         {"layer", 2},
         {"inputs", {{"termination_ohms", 120}}},
         {"verdict", "fail"},
         {"minutes", 6}}}},
      {"captures",
       {{{"file", "a.log"}, {"sha256", std::string(64, 'f')}, {"findings", json::array()}}}},
      {"root_cause", "termination_fault"},
      {"layer", 2},
      {"fix", "terminator"},
      {"verification", {{"uptime_share", 1.0}, {"hours", 24}}},
      {"outcome", "fixed"},
      {"minutes_by_layer", {{"1", 4}, {"2", 9}, {"3", 0}, {"4", 0}, {"5", 0}}},
      {"hardcoded", nullptr},
      {"acknowledged_by", ""},
      {"acknowledged_at", nullptr},
      {"notes", ""}};
  auto c = case_from_json(j);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_DOUBLE_EQ(c->total_minutes(), 13);  // the sum of minutes_by_layer
  const json out = case_to_json(*c);
  EXPECT_EQ(out["total_minutes"], 13.0);
  for (const auto& [k, v] : j.items()) EXPECT_EQ(out[k], v) << k;
  auto again = case_from_json(out);
  ASSERT_TRUE(again);
  EXPECT_EQ(case_to_json(*again), out);
}

TEST(CaseJson, RefusesNamingTheField) {
  auto with = [](const char* key, json v) {
    json j = minimal();
    j[key] = std::move(v);
    return j;
  };
  EXPECT_NE(error_of(with("colour", "red")).find("\"colour\": unknown key"), std::string::npos);
  EXPECT_NE(error_of(json{{"opened", "2026-12-01T14:00:00Z"}}).find("\"id\""), std::string::npos);
  EXPECT_NE(error_of(with("opened", "yesterday")).find("ISO 8601"), std::string::npos);
  EXPECT_NE(error_of(with("opened", "2026-13-01T14:00:00Z")).find("opened"), std::string::npos);
  EXPECT_NE(error_of(with("root_cause", "gremlins")).find("unknown cause id \"gremlins\""),
            std::string::npos);
  EXPECT_NE(error_of(with("root_cause", "capture_too_short")).find("root_cause"),
            std::string::npos);
  EXPECT_NE(error_of(with("layer", 6)).find("\"layer\""), std::string::npos);
  EXPECT_NE(error_of(with("outcome", "sorted")).find("fixed, hardcoded, escalated or open"),
            std::string::npos);
  json wrong_layer = minimal();
  wrong_layer["root_cause"] = "termination_fault";
  wrong_layer["layer"] = 1;
  EXPECT_NE(error_of(wrong_layer).find("layer-2 cause"), std::string::npos);
  EXPECT_NE(
      error_of(with("checks", json::array({{{"check", "x"}, {"layer", 1}, {"verdict", "maybe"}}})))
          .find("checks[0].verdict"),
      std::string::npos);
  EXPECT_NE(error_of(with("captures", json::array({{{"file", "a"}, {"sha256", "abc"}}})))
                .find("captures[0].sha256"),
            std::string::npos);
  EXPECT_NE(
      error_of(with("verification", {{"uptime_share", 1.5}})).find("verification.uptime_share"),
      std::string::npos);
  EXPECT_NE(error_of(with("minutes_by_layer", {{"6", 3}})).find("minutes_by_layer.6"),
            std::string::npos);
  json total = minimal();
  total["minutes_by_layer"] = {{"1", 3}};
  total["total_minutes"] = 4;
  EXPECT_NE(error_of(total).find("sum of minutes_by_layer"), std::string::npos);
  EXPECT_NE(error_of(with("site", {{"name", 3}})).find("site.name"), std::string::npos);
  EXPECT_NE(error_of(json::array()).find("expected a JSON object"), std::string::npos);
}

TEST(ParseCases, OneAnArrayOrJsonLinesAllOrNothing) {
  EXPECT_EQ(parse_cases(minimal().dump(), "one.json")->size(), 1u);
  EXPECT_EQ(parse_cases(json::array({minimal("a"), minimal("b")}).dump(), "arr.json")->size(), 2u);
  const std::string lines = minimal("a").dump() + "\n\n" + minimal("b").dump() + "\n";
  EXPECT_EQ(parse_cases(lines, "l.jsonl")->size(), 2u);
  // The second case is bad: nothing, and the message says which and why.
  json bad = minimal("b");
  bad["outcome"] = "sorted";
  auto r = parse_cases(json::array({minimal("a"), bad}).dump(), "arr.json");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("arr.json: case 2: \"outcome\""), std::string::npos)
      << r.error().message;
  auto r2 = parse_cases(minimal("a").dump() + "\n{not json\n", "l.jsonl");
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message.find("l.jsonl:2"), std::string::npos) << r2.error().message;
  EXPECT_FALSE(parse_cases("", "empty.json"));
}

TEST(ParseCases, TheSameIdTwiceInOneFileIsRefusedNamingBoth) {
  auto r = parse_cases(json::array({minimal("a"), minimal("b"), minimal("a")}).dump(), "f.json");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("f.json: case 3: \"id\": \"a\" is also case 1"),
            std::string::npos)
      << r.error().message;
}

TEST(ParseCases, APrettyPrintedFileWithASyntaxErrorIsReportedWhereItBreaks) {
  // Line 3, after "opened": the comma is missing before "symptom".
  const std::string text =
      "{\n  \"id\": \"x\",\n  \"opened\": \"2026-12-01T14:00:00Z\"\n  \"symptom\": \"F58\"\n}\n";
  auto r = parse_cases(text, "pretty.json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.rfind("pretty.json:4:", 0), 0u) << r.error().message;
}

TEST(CaseJson, ARootCauseWithoutItsLayerGetsTheCausesLayer) {
  json j = minimal();
  j["root_cause"] = "cable_unsuitable";
  auto c = case_from_json(j, "case 1");
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->layer);
  EXPECT_EQ(*c->layer, 3);
}

TEST(IsoUtc, AcceptsZuluAndOffsetZeroOnly) {
  EXPECT_TRUE(is_iso_utc("2026-12-01T14:00:00Z"));
  EXPECT_TRUE(is_iso_utc("2026-12-01T14:00:00.250Z"));
  EXPECT_TRUE(is_iso_utc("2026-12-01T14:00:00+00:00"));
  EXPECT_FALSE(is_iso_utc("2026-12-01T14:00:00+01:00"));
  EXPECT_FALSE(is_iso_utc("2026-12-01 14:00:00Z"));
  EXPECT_FALSE(is_iso_utc("2026-12-01"));
  EXPECT_TRUE(is_iso_utc(now_iso_utc()));
}

}  // namespace
}  // namespace bmslink::records
