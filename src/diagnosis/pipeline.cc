#include "bmslink/diagnosis/pipeline.h"

namespace bmslink::diagnosis {

Result<CaptureResult> diagnose(const analysis::CaptureInput& input, DiagnosticSink& sink,
                               const analysis::RunOptions& options) {
  auto run = analysis::analyze(input, sink, options);
  if (!run) return tl::unexpected(run.error());
  CaptureResult out;
  out.findings = diagnose_capture(run->evidence);
  out.run = std::move(*run);
  return out;
}

}  // namespace bmslink::diagnosis
