// The compatibility matrix: pairs grouped as installers mean them (case and spacing aside), counted
// by outcome with their causes, mean minutes per layer, and written safely as CSV and Markdown.
#include "bmslink/records/compat.h"
#include "bmslink/records/store.h"

#include <gtest/gtest.h>

namespace bmslink::records {
namespace {

Case make(std::string id, std::string bms, std::string inverter, Outcome outcome,
          std::optional<diagnosis::Cause> cause, std::array<double, 5> minutes) {
  Case c;
  c.id = std::move(id);
  c.opened = "2026-03-01T08:00:00Z";
  c.bms.model = std::move(bms);
  c.bms.firmware = "V1.4";
  c.inverter.model = std::move(inverter);
  c.inverter.firmware = "2.1";
  c.outcome = outcome;
  c.root_cause = cause;
  c.minutes_by_layer = minutes;
  return c;
}

TEST(Compat, GroupsSpellingsOfOnePairAndCountsOutcomesAndCauses) {
  using diagnosis::Cause;
  const std::vector<Case> cases = {
      make("a", "US3000C", "Deye SUN-5K", Outcome::kFixed, Cause::kTerminationFault,
           {4, 10, 0, 0, 0}),
      make("b", " us3000c", "deye  sun-5k ", Outcome::kFixed, Cause::kTerminationFault,
           {2, 6, 0, 0, 0}),
      make("c", "US3000C", "Deye SUN-5K", Outcome::kHardcoded, Cause::kUnknownProtocol,
           {6, 8, 9, 20, 200}),
      make("d", "US2000", "Deye SUN-5K", Outcome::kEscalated, std::nullopt, {1, 1, 1, 1, 1}),
  };
  const auto rows = compatibility(cases);
  ASSERT_EQ(rows.size(), 2U);
  const auto& us3000 = rows[0].bms_model == "US3000C" ? rows[0] : rows[1];
  const auto& us2000 = rows[0].bms_model == "US3000C" ? rows[1] : rows[0];
  EXPECT_EQ(us3000.inverter_model, "Deye SUN-5K") << "the first spelling is shown";
  EXPECT_EQ(us3000.worked, 2);
  EXPECT_EQ(us3000.hardcoded, 1);
  EXPECT_EQ(us3000.failed, 0);
  EXPECT_EQ(us3000.causes.at("termination_fault"), 2);
  EXPECT_EQ(us3000.causes.at("unknown_protocol"), 1);
  // Means over the three cases: (4+2+6)/3 = 4, (10+6+8)/3 = 8, (200)/3.
  EXPECT_DOUBLE_EQ(us3000.minutes_by_layer[0], 4.0);
  EXPECT_DOUBLE_EQ(us3000.minutes_by_layer[1], 8.0);
  EXPECT_NEAR(us3000.minutes_by_layer[4], 200.0 / 3, 1e-9);
  EXPECT_EQ(us2000.failed, 1);
  EXPECT_TRUE(us2000.causes.empty());
}

// Issue 19: one battery/inverter pair was split into rows by how its firmware was typed. One row
// per model pair, the versions as detail with their own counts.
TEST(Compat, OnePairIsOneRowWithFirmwareAsDetail) {
  auto a = make("a", "US5000", "Deye SUN-8K", Outcome::kFixed, std::nullopt, {});
  auto b = make("b", "US5000", "Deye SUN-8K", Outcome::kEscalated, std::nullopt, {});
  b.bms.firmware = "V2.0";
  auto c = make("c", "us5000", "Deye SUN-8K", Outcome::kFixed, std::nullopt, {});
  c.bms.firmware = "v1.4";  // the same version typed in lower case
  const auto rows = compatibility({a, b, c});
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].worked, 2);
  EXPECT_EQ(rows[0].failed, 1);
  EXPECT_EQ(rows[0].bms_firmware, "V1.4, V2.0");
  EXPECT_EQ(rows[0].inverter_firmware, "2.1");
  ASSERT_EQ(rows[0].by_firmware.size(), 2U);
  EXPECT_EQ(rows[0].by_firmware[0].bms_firmware, "V1.4");
  EXPECT_EQ(rows[0].by_firmware[0].worked, 2);
  EXPECT_EQ(rows[0].by_firmware[1].bms_firmware, "V2.0");
  EXPECT_EQ(rows[0].by_firmware[1].failed, 1);
  const auto j = compat_json(rows);
  EXPECT_EQ(j[0]["by_firmware"][1]["failed"], 1);
}

TEST(Compat, OnlyFixesThatWorkedAreListed) {
  auto fixed = make("a", "B", "I", Outcome::kFixed, std::nullopt, {});
  fixed.fix = "terminator fitted";
  auto escalated = make("b", "B", "I", Outcome::kEscalated, std::nullopt, {});
  escalated.fix = "swapped the cable (did not help)";
  const auto rows = compatibility({fixed, escalated});
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].fixes, std::vector<std::string>{"terminator fitted"});
}

TEST(Compat, ACsvCellASpreadsheetWouldRunStaysText) {
  const auto csv = compat_csv(compatibility(
      {make("a", "=HYPERLINK(\"x\")", "@SUM(1)", Outcome::kFixed, std::nullopt, {})}));
  EXPECT_NE(csv.find("\"'=HYPERLINK(\"\"x\"\")\""), std::string::npos) << csv;
  EXPECT_NE(csv.find(",'@SUM(1),"), std::string::npos) << csv;
}

TEST(Compat, CsvQuotesAndMarkdownEscapesWhatInstallersType) {
  auto c = make("a", "Box, \"HV\"", "X|<b>*", Outcome::kFixed, std::nullopt, {});
  const auto rows = compatibility({c});
  const auto csv = compat_csv(rows);
  EXPECT_NE(csv.find("\n\"Box, \"\"HV\"\"\",V1.4,X|<b>*,2.1,1,0,0,0,\n"), std::string::npos) << csv;
  const auto md = compat_markdown(rows);
  EXPECT_NE(md.find("| Box, \"HV\" (V1.4) | X\\|\\<b\\>\\* (2.1) | 1 | 0 | 0 |"), std::string::npos)
      << md;
}

}  // namespace
}  // namespace bmslink::records

namespace bmslink::records {
namespace {

TEST(StoreUrl, APasswordNeverShows) {
  EXPECT_EQ(redact_password("postgresql://tech:s3cret@db.local:5432/bmslink"),
            "postgresql://tech:***@db.local:5432/bmslink");
  EXPECT_EQ(redact_password("postgresql://db.local/bmslink?user=t&password=s3cret&sslmode=require"),
            "postgresql://db.local/bmslink?user=t&password=***&sslmode=require");
  EXPECT_EQ(redact_password("postgresql://tech@db.local/bmslink"),
            "postgresql://tech@db.local/bmslink");
  EXPECT_EQ(redact_password("sqlite:///home/a/b.db"), "sqlite:///home/a/b.db");
}

}  // namespace
}  // namespace bmslink::records
