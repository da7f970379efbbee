// bmslink report: what `bmslink analyze` says about a capture, as text, JSON or one HTML file.
//
// The JSON keys are the contract of docs/json.md (protocol, summary, findings, signals, plus the
// inventory keys: ids, talkers, errors ...). The HTML report is a single self-contained file:
// inline CSS and SVG charts (signal timelines, per-id presence, error rate against current), no
// script and nothing fetched, so it can be mailed or printed from a phone.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bmslink/analysis/run.h"
#include "bmslink/core/time_zone.h"
#include "bmslink/diagnosis/findings.h"
#include "bmslink/diagnosis/pipeline.h"
#include "bmslink/protocol/identify.h"

namespace bmslink::report {

// What the renderers draw: the pipeline's result (diagnosis/pipeline.h).
using CaptureReport = diagnosis::CaptureResult;

struct RenderOptions {
  // Absolute times are shown in this zone, with UTC beside them when it is another zone. The
  // library default is UTC; the CLI passes the machine's zone or --tz.
  TimeZone tz = TimeZone::utc();
};

nlohmann::json identification_json(const protocol::Identification& identification);
nlohmann::json analysis_json(const CaptureReport& report, const RenderOptions& options = {});
std::string analysis_text(const CaptureReport& report, const RenderOptions& options = {});
std::string analysis_html(const std::vector<CaptureReport>& reports,
                          const RenderOptions& options = {});

}  // namespace bmslink::report
