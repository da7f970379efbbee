// The case reports and the statistics page: what each kind must say for a fixed, a hardcoded and
// an escalated case (tests/data/cases), and that nothing a person typed becomes markup.

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "bmslink/records/stats.h"
#include "bmslink/report/records_report.h"

namespace bmslink::report {
namespace {

records::Case load(const std::string& name) {
  std::ifstream in(std::string(BMSLINK_TEST_DATA) + "/cases/" + name + ".json");
  std::stringstream text;
  text << in.rdbuf();
  auto cases = records::parse_cases(text.str(), name);
  EXPECT_TRUE(cases.has_value()) << (cases ? "" : cases.error().message);
  return cases ? cases->front() : records::Case{};
}

const diagnosis::CheckCatalogue& catalogue() {
  static const auto c = diagnosis::CheckCatalogue::builtin();
  return *c;
}

std::string render(const records::Case& c, CaseReportKind k, CaseReportFormat f) {
  return case_report(c, k, f, &catalogue());
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(CaseReport, TechnicianListsEveryCheckUnderItsLayerWithItsMinutes) {
  const auto c = load("fixed");
  const auto md = render(c, CaseReportKind::kTechnician, CaseReportFormat::kMarkdown);
  // Layers 1 and 2 have minutes (3 and 7 in the fixture); 3 to 5 have none and no checks.
  EXPECT_NE(md.find("## Layer 1 \u2014 configuration (3 min)"), std::string::npos);
  EXPECT_NE(md.find("## Layer 2 \u2014 physical connections (7 min)"), std::string::npos);
  EXPECT_EQ(md.find("## Layer 3"), std::string::npos);
  // The catalogue's titles, the answers in words (the input's question up to its bracket, the
  // value with its unit), the verdicts in words.
  EXPECT_NE(md.find("| Termination: two 120 \u03a9 terminators, one at each end of the bus | "
                    "Resistance between CAN-H and CAN-L, everything powered off: 120.4 \u03a9 | "
                    "fault found | 4 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("CAN bit rate equal on both sides"), std::string::npos);
  // The failing check's explanation for the technician, the capture's findings, the result.
  EXPECT_NE(md.find("Re-verify: 60 \u03a9 measured"), std::string::npos);
  EXPECT_NE(md.find("afternoon.log (sha256 9f2c0c5e3b6d8a41)"), std::string::npos);
  EXPECT_NE(md.find("fault \u2014 termination wrong: Bus errors"), std::string::npos);
  EXPECT_NE(md.find("Root cause: Termination wrong, layer 2"), std::string::npos);
  EXPECT_NE(md.find("99.87 % of the time over 24 h"), std::string::npos);
  EXPECT_NE(md.find("(total 10)"), std::string::npos);
}

TEST(CaseReport, CustomerReportSpeaksPlainWordsAndShowsTheMonitoring) {
  const auto c = load("fixed");
  const auto md = render(c, CaseReportKind::kCustomer, CaseReportFormat::kMarkdown);
  const auto* check = catalogue().find("l2.termination");
  ASSERT_NE(check, nullptr);
  EXPECT_NE(md.find(check->customer), std::string::npos);
  EXPECT_NE(md.find("## Why it should not come back"), std::string::npos);
  EXPECT_NE(md.find("## Warning signs to watch for"), std::string::npos);
  // 0.9987 of 24 h, to one decimal.
  EXPECT_NE(md.find("Over 24 hours after the work, the battery's messages reached the inverter "
                    "99.9 % of the time."),
            std::string::npos);
  // No ids or internals for the customer.
  EXPECT_EQ(md.find("termination\\_fault"), std::string::npos);
  EXPECT_EQ(md.find("sha256"), std::string::npos);
}

TEST(CaseReport, HardcodedReportsSayWhatIsLostTheMaintenanceAndTheLife) {
  const auto c = load("hardcoded");
  for (auto kind :
       {CaseReportKind::kTechnician, CaseReportKind::kCustomer, CaseReportKind::kAcknowledgment}) {
    const auto md = render(c, kind, CaseReportFormat::kMarkdown);
    EXPECT_NE(md.find("| charge voltage (V) | 56.0 |"), std::string::npos);
    EXPECT_NE(md.find("| max current (A) | 50 |"), std::string::npos);
    EXPECT_NE(md.find("cell-level imbalance protection"), std::string::npos);
    EXPECT_NE(md.find("every quarter"), std::string::npos);
    EXPECT_NE(md.find("6 to 8 years"), std::string::npos);
  }
  const auto ack = render(c, CaseReportKind::kAcknowledgment, CaseReportFormat::kHtml);
  EXPECT_NE(ack.find("<div class=\"sig\"><p><strong>Customer</strong></p><p>Name: Mary "
                     "O&#39;Neill</p>"),
            std::string::npos);
  EXPECT_NE(ack.find("Acknowledged at 20 May 2026, 11:15 (UTC+00:00)"), std::string::npos);
  // A hardcoded customer has no communication fault to watch for.
  const auto customer = render(c, CaseReportKind::kCustomer, CaseReportFormat::kMarkdown);
  EXPECT_EQ(customer.find("communication fault again"), std::string::npos);
  EXPECT_NE(customer.find("balancing charge is due"), std::string::npos);
}

TEST(CaseReport, EscalatedCaseSaysItIsWithTheManufacturer) {
  const auto c = load("escalated");
  const auto tech = render(c, CaseReportKind::kTechnician, CaseReportFormat::kMarkdown);
  EXPECT_NE(tech.find("Root cause: not found"), std::string::npos);
  // Layer 3 has 10 minutes and no individual check: its heading stays, with a word why empty.
  EXPECT_NE(tech.find("## Layer 3 \u2014 cable (10 min)\n\nNo individual checks"),
            std::string::npos);
  const auto customer = render(c, CaseReportKind::kCustomer, CaseReportFormat::kMarkdown);
  EXPECT_NE(customer.find("The case is with the manufacturer."), std::string::npos);
  EXPECT_EQ(customer.find("Why it should not come back"), std::string::npos);
  EXPECT_NE(customer.find("91.0 %"), std::string::npos);
}

// Every string a person can type, set to markup: none of it may survive as markup in HTML or as
// formatting in Markdown.
TEST(CaseReport, EveryTypedStringIsEscapedEverywhere) {
  auto c = load("hardcoded");
  const std::string evil = "<img src=x onerror=alert(1)>|*_`#[x](y)\n# H";
  c.id = evil;
  c.installer = evil;
  c.site = {evil, evil, evil};
  c.bms.model = c.bms.firmware = c.inverter.model = c.inverter.firmware = evil;
  c.symptom = c.fix = c.notes = c.acknowledged_by = evil;
  c.checks[0].check = evil;
  c.checks[0].inputs = {{evil, evil}};
  c.hardcoded = {{evil, evil}};
  c.captures.push_back({evil, evil, {{{"severity", evil}, {"cause", evil}, {"title", evil}}}});
  for (auto kind :
       {CaseReportKind::kTechnician, CaseReportKind::kCustomer, CaseReportKind::kAcknowledgment}) {
    const auto html = render(c, kind, CaseReportFormat::kHtml);
    EXPECT_EQ(html.find("<img"), std::string::npos);
    EXPECT_NE(html.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
    const auto md = render(c, kind, CaseReportFormat::kMarkdown);
    EXPECT_EQ(count(md, "<img"), count(md, "\\<img")) << "a typed < was left unescaped";
    EXPECT_GT(count(md, "\\<img"), 0U);
    EXPECT_EQ(md.find("\n# H"), std::string::npos) << "a typed newline started a heading";
    EXPECT_EQ(count(md, "|*"), 0U) << "a typed | or * was left unescaped";
  }
}

TEST(StatsReport, ChartsTheCauseBreakdownTheLayerYieldAndTheMinutes) {
  std::vector<records::Case> cases = {load("fixed"), load("hardcoded"), load("escalated")};
  const auto html = stats_report(records::compute_stats(cases), "three cases", &catalogue());
  // Causes, per-layer yield, cumulative yield, minutes per layer, minutes per cause, fixed within.
  EXPECT_EQ(count(html, "<figure>"), 6U);
  // One of three cases each: 33.3 %; the fixed case took 10 min in all, the hardcoded 260.
  EXPECT_NE(html.find(">Termination wrong</text>"), std::string::npos) << "causes in words";
  EXPECT_EQ(html.find("termination_fault"), std::string::npos);
  EXPECT_NE(html.find(">33.3 %</text>"), std::string::npos);
  EXPECT_NE(html.find(">260 min</text>"), std::string::npos);
  EXPECT_NE(html.find("3 case(s): three cases"), std::string::npos);
  // The escalated case has no root cause and is in no cause bar.
  EXPECT_EQ(count(html, "<rect"), 2U + 5 + 5 + 5 + 2 + 3);
}

// Issue 17: a marginal verdict does not stop the method but is carried into the report, with what
// to do if errors come back.
TEST(CaseReport, AMarginalCheckIsInTheTechnicianReport) {
  auto c = load("fixed");
  records::CaseCheck cable;
  cable.check = "l3.cable_type";
  cable.layer = 3;
  cable.verdict = diagnosis::Verdict::kMarginal;
  cable.inputs = {{"cable_type", "cat5"}, {"cable_shielded", false}};
  cable.minutes = 3;
  c.checks.push_back(cable);
  c.minutes_by_layer[2] = 3;
  const auto md = render(c, CaseReportKind::kTechnician, CaseReportFormat::kMarkdown);
  EXPECT_NE(md.find("| marginal | 3 |"), std::string::npos) << md;
  EXPECT_NE(md.find("Marginal \u2014 Cable is 120 \u03a9 twisted pair"), std::string::npos) << md;
  EXPECT_NE(md.find("If errors come back: Replace it with 120 \u03a9 twisted-pair CAN cable"),
            std::string::npos);
}

}  // namespace
}  // namespace bmslink::report
