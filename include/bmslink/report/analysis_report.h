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
#include "bmslink/diagnosis/findings.h"
#include "bmslink/diagnosis/pipeline.h"
#include "bmslink/protocol/identify.h"

namespace bmslink::report {

// What the renderers draw: the pipeline's result (diagnosis/pipeline.h).
using CaptureReport = diagnosis::CaptureResult;

nlohmann::json identification_json(const protocol::Identification& identification);
nlohmann::json analysis_json(const CaptureReport& report);
std::string analysis_text(const CaptureReport& report);
std::string analysis_html(const std::vector<CaptureReport>& reports);

}  // namespace bmslink::report
