// bmslink analysis: every streaming analyzer over one pass of a capture.
//
// CaptureAnalyzer feeds each frame to the timing/talker inventory, the ACK and bus-error counters,
// the id-conflict tracker, the signal decoder (min/last/max, state flags) and per-second bins that
// later give uptime, dropouts, bus load and the error/current/temperature correlation. Per frame it
// does a few table lookups; it decodes a frame only when its payload changed. Memory is bounded by
// the number of ids and the capture's duration in seconds (capped), never by the file size.
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
  // Appends `later`, which analysed the frames that follow this analyzer's. `later` is consumed.
  void merge(CaptureAnalyzer&& later);
  Evidence finish(const protocol::Identification& identification);

  static constexpr std::size_t kMaxSeconds = 1U << 20;  // ~12 days of per-second bins

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// Spearman rank correlation (ties get average ranks); nullopt for fewer than 3 pairs or a
// constant series.
std::optional<double> spearman(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace bmslink::analysis
