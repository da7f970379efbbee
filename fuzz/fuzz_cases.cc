// libFuzzer target for `bmslink case import`: any bytes as one case, an array or JSON lines. They
// either read or give an Error naming the case and field — never a crash. What reads writes out
// and reads again to the same JSON, and goes through everything that consumes cases: the
// statistics, the compatibility matrix and every report in both formats.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bmslink/records/compat.h"
#include "bmslink/records/stats.h"
#include "bmslink/report/records_report.h"

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace bmslink;
  static const auto catalogue = *diagnosis::CheckCatalogue::builtin();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto cases = records::parse_cases(text, "fuzz");
  if (!cases) {
    require(!cases.error().message.empty());
    return 0;
  }
  for (const auto& c : *cases) {
    const auto json = records::case_to_json(c);
    const auto again = records::parse_cases(json.dump(), "again");
    require(again && again->size() == 1 && records::case_to_json(again->front()) == json);
    for (auto kind : {report::CaseReportKind::kTechnician, report::CaseReportKind::kCustomer,
                      report::CaseReportKind::kAcknowledgment})
      for (auto format : {report::CaseReportFormat::kHtml, report::CaseReportFormat::kMarkdown})
        require(!report::case_report(c, kind, format, &catalogue).empty());
  }
  const auto stats = records::compute_stats(*cases);
  (void)report::stats_report(stats, "fuzz", &catalogue);
  const auto rows = records::compatibility(*cases);
  (void)records::compat_json(rows).dump();
  (void)records::compat_csv(rows);
  (void)records::compat_markdown(rows);
  return 0;
}
