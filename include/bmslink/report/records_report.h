// bmslink report: the reports of a service case. The technician report (every check per layer
// with its answers, verdict and minutes, the captures and their findings, the cause, the fix, the
// verification); the customer report in plain words (what was wrong, what was done, why it
// should not return, what to watch for, what the monitoring showed); and for hardcoded systems
// the acknowledgment form. HTML is one print-ready file (A4 or Letter, inline SVG); Markdown for
// e-mail and forums. Every string from a case is escaped. And the statistics of many cases as one
// HTML page with charts (cause breakdown, layer yield, minutes).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "bmslink/diagnosis/checks.h"
#include "bmslink/records/case.h"

namespace bmslink::report {

enum class CaseReportKind { kTechnician, kCustomer, kAcknowledgment };
std::string_view case_report_kind_name(CaseReportKind kind);  // "technician", ...
std::optional<CaseReportKind> parse_case_report_kind(std::string_view name);
enum class CaseReportFormat { kHtml, kMarkdown };

// Who the report is from and where it is read: the company details set once in the console's
// settings, and the reader's time zone (minutes east of UTC) for the times it prints.
struct ReportContext {
  std::string company, phone, email, address, website;
  int utc_offset_minutes = 0;
};

// `catalogue` gives check titles, answers in words and the plain-words explanations (may be
// null).
std::string case_report(const records::Case& c, CaseReportKind kind, CaseReportFormat format,
                        const diagnosis::CheckCatalogue* catalogue,
                        const ReportContext& context = {});

// "7 Dec 2026, 14:05 (UTC+01:00)" for an ISO 8601 UTC time read `utc_offset_minutes` east of UTC;
// the text unchanged when it is not such a time.
std::string local_time(std::string_view iso_utc, int utc_offset_minutes);

// `stats` is records::compute_stats()'s JSON; `scope` says which cases (dates, installer).
std::string stats_report(const nlohmann::json& stats, std::string_view scope,
                         const diagnosis::CheckCatalogue* catalogue);

}  // namespace bmslink::report
