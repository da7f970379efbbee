// bmslink analysis: one capture file in, Evidence out, on every core when the file is big.
//
// analyze_capture() opens the capture (format by content), identifies the protocol from the
// first frames, then streams everything through CaptureAnalyzer. A large candump log on a
// regular file is split at line starts into one range per core; each range is read with a small
// fixed buffer and analysed separately, and the states are merged in file order, so memory stays
// flat whatever the size and throughput scales with cores. Diagnostics keep their true file line
// numbers in both paths.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bmslink/analysis/capture_analyzer.h"
#include "bmslink/analysis/evidence.h"
#include "bmslink/capture/reader.h"
#include "bmslink/core/diagnostics.h"
#include "bmslink/core/error.h"
#include "bmslink/protocol/decoder.h"
#include "bmslink/protocol/identify.h"

namespace bmslink::analysis {

struct RunOptions {
  AnalyzerOptions analyzer;
  std::optional<capture::Format> format;           // skip sniffing
  unsigned threads = 0;                            // 0: one per core
  std::uint64_t parallel_min_bytes = 32ULL << 20;  // smaller files take one pass
  std::size_t block_bytes = 4U << 20;              // per-thread read buffer
  unsigned ranges_per_thread = 4;  // the file is cut into threads x this, taken in turn
  // Called now and then from the reading threads with bytes done and total (parallel path).
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

struct RunResult {
  Evidence evidence;
  std::string file;
  capture::Format format = capture::Format::kCandumpLog;
  std::string variant;
  capture::ReaderStats stats;
  std::optional<Error> failure;  // reading stopped early (what was read is analysed)
  unsigned threads_used = 1;
};

// Frames read ahead for identification before the analysis decodes anything.
constexpr std::size_t kIdentifyFrames = 2000;

// The same analysis pushed one frame at a time (simulated sites, live sources): buffers the first
// kIdentifyFrames frames to identify the protocol, then analyses with its definition.
class StreamingAnalysis {
 public:
  explicit StreamingAnalysis(AnalyzerOptions options = {});
  ~StreamingAnalysis();
  StreamingAnalysis(const StreamingAnalysis&) = delete;
  StreamingAnalysis& operator=(const StreamingAnalysis&) = delete;

  void add(const can::Frame& frame);
  Evidence finish();

 private:
  void start();
  AnalyzerOptions options_;
  std::vector<can::Frame> ahead_;
  protocol::Identifier identifier_;
  protocol::Identification identification_;
  std::unique_ptr<protocol::Decoder> decoder_;
  std::unique_ptr<CaptureAnalyzer> analyzer_;
};

Result<RunResult> analyze_capture(const std::string& path, DiagnosticSink& sink,
                                  const RunOptions& options = {});

}  // namespace bmslink::analysis
