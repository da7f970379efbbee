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

// `catalogue` gives check titles and the plain-words explanations (may be null).
std::string case_report(const records::Case& c, CaseReportKind kind, CaseReportFormat format,
                        const diagnosis::CheckCatalogue* catalogue);

// `stats` is records::compute_stats()'s JSON; `scope` says which cases (dates, installer).
std::string stats_report(const nlohmann::json& stats, std::string_view scope,
                         const diagnosis::CheckCatalogue* catalogue);

}  // namespace bmslink::report
