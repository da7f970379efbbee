// Time bins and correlation: per-second bins of one capture (frames, wire bits, errors, tracked
// ids present, the latest pack readings) and, at the end, the per-minute series and the layer-4
// correlations of errors with current, temperature and the hour of day.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "analysis/frame_facts.h"
#include "bmslink/analysis/evidence.h"

namespace bmslink::analysis::detail {

class TimeBins {
 public:
  static constexpr std::size_t kMaxSeconds = 1U << 20;  // ~12 days

  // The bin of a frame at `ns` (counted in it), or nullptr beyond the cap.
  SecondBin* add(std::int64_t ns, std::uint32_t wire_bits) {
    SecondBin* b = bin_for(ns);
    if (b == nullptr) {
      ++unbinned_;
      return nullptr;
    }
    ++b->frames;
    b->bits += wire_bits;
    return b;
  }
  static void add_error(SecondBin* b) {
    if (b != nullptr && b->errors < 0xFFFF) ++b->errors;
  }
  void merge(TimeBins&& later);

  struct Series {
    std::vector<MinuteBin> minutes;
    std::uint32_t minute_width_s = 60;
    CorrelationEvidence correlation;
  };
  // `absolute`: the capture clock is wall time (hours of day mean something).
  Series finish(bool absolute, std::uint64_t error_frames) const;

  const std::vector<SecondBin>& bins() const { return bins_; }
  std::optional<std::int64_t> base_second() const { return base_second_; }
  std::uint64_t unbinned() const { return unbinned_; }

  SecondBin* bin_for(std::int64_t ns) {
    if (cache_valid_ && ns >= cache_lo_ns_ && ns < cache_hi_ns_) return &bins_[cache_idx_];
    return bin_slow(ns);
  }

 private:
  SecondBin* bin_slow(std::int64_t ns);

  std::optional<std::int64_t> base_second_;
  std::vector<SecondBin> bins_;
  std::uint64_t unbinned_ = 0;
  // The second of the previous frame: nearly every frame lands in it, and a 64-bit division per
  // frame is measurable at a million frames per second.
  bool cache_valid_ = false;
  std::int64_t cache_lo_ns_ = 0, cache_hi_ns_ = 0;
  std::size_t cache_idx_ = 0;
};

// The band of `key` (per-minute means) holding the most errors beyond its share of the minutes;
// nullopt under 8 minutes or without errors. Bands end at up to 40 quantile cuts.
std::optional<ErrorBand> best_error_band(const std::vector<double>& key,
                                         const std::vector<double>& err);

// Error rate in the top versus bottom quarter of `key` ((high+1)/(low+1)); nullopt under 8 points.
std::optional<double> quartile_ratio(const std::vector<double>& key,
                                     const std::vector<double>& err);
// Errors per point in the top and in the bottom quarter of `key`; nullopt under 8 points.
std::optional<std::pair<double, double>> quartile_rates(const std::vector<double>& key,
                                                        const std::vector<double>& err);

}  // namespace bmslink::analysis::detail
