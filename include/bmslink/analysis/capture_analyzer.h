// bmslink analysis: every streaming analyzer over one pass of a capture.
//
// CaptureAnalyzer hands each frame to one analyzer per concern (src/analysis/, each with its own
// state, add, merge, finish and tests): timing and sides, ACK, bus errors, id conflicts, signals
// and BMS state, gaps and uptime, time bins and correlation, plausibility. Per frame it does a few
// table lookups; it decodes a frame only when its payload changed. Memory is bounded by the number
// of ids and the capture's duration in seconds (capped at ~12 days), never by the file size.
//
// State is mergeable: analyse consecutive chunks of one capture with separate analyzers (one per
// core) and merge them in time order; the result equals one pass up to sampled statistics.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "bmslink/analysis/evidence.h"
#include "bmslink/analysis/inventory.h"
#include "bmslink/can/frame.h"
#include "bmslink/protocol/decoder.h"

namespace bmslink::analysis {

struct AnalyzerOptions {
  std::int64_t inverter_timeout_ms = 3000;  // Victron drops a battery whose 0x351 is ~3 s stale
  std::uint32_t bitrate_bps = 500000;       // Pylon LV / SMA SI / Victron BMS-Can standard
};

class CaptureAnalyzer {
 public:
  // `decoder` (may be null: no signal evidence) must outlive the analyzer.
  CaptureAnalyzer(const protocol::Decoder* decoder, AnalyzerOptions options = {});
  CaptureAnalyzer(CaptureAnalyzer&&) noexcept;
  CaptureAnalyzer& operator=(CaptureAnalyzer&&) noexcept;
  ~CaptureAnalyzer();

  void add(const can::Frame& frame);
  // A clock tick at `now_ns` on the capture's clock (live sources): returns how long the BMS's
  // limits frame (or the BMS side) has been silent. A silence still open at finish() counts as a
  // dropout when it is longer than the timeout, though no frame has ended it.
  std::int64_t tick(std::int64_t now_ns);
  // Appends `later`, which analysed the frames that follow this analyzer's. `later` is consumed.
  void merge(CaptureAnalyzer&& later);
  Evidence finish(const protocol::Identification& identification);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// Spearman rank correlation (ties get average ranks); nullopt for fewer than 3 pairs or a
// constant series.
std::optional<double> spearman(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace bmslink::analysis
