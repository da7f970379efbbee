// bmslink diagnosis: the capture pipeline the CLI, the server and the live monitor all call —
// a capture (path, memory, stream or frame source) in; identification, Evidence (signals,
// uptime, errors ...) and the findings out. Thread-compatible: one call per capture.
#pragma once

#include <vector>

#include "bmslink/analysis/run.h"
#include "bmslink/core/diagnostics.h"
#include "bmslink/diagnosis/findings.h"

namespace bmslink::diagnosis {

struct CaptureResult {
  analysis::RunResult run;  // run.evidence.protocol is the identification
  std::vector<Finding> findings;
};

Result<CaptureResult> diagnose(const analysis::CaptureInput& input, DiagnosticSink& sink,
                               const analysis::RunOptions& options = {});

}  // namespace bmslink::diagnosis
