#include "analysis/bus_error_analyzer.h"

#include <algorithm>

namespace bmslink::analysis::detail {

void BusErrorAnalyzer::merge(BusErrorAnalyzer&& later) {
  BusErrorEvidence& x = e_;
  const BusErrorEvidence& y = later.e_;
  x.error_frames += y.error_frames;
  no_ack_ += later.no_ack_;
  x.bus_off += y.bus_off;
  x.error_passive += y.error_passive;
  x.error_warning += y.error_warning;
  x.protocol_violations += y.protocol_violations;
  if (y.max_tec) x.max_tec = std::max(x.max_tec.value_or(0), *y.max_tec);
  if (y.max_rec) x.max_rec = std::max(x.max_rec.value_or(0), *y.max_rec);
  if (!x.first_error_ns) x.first_error_ns = y.first_error_ns;
}

BusErrorEvidence BusErrorAnalyzer::finish(const TimeBins& time_bins,
                                          const std::map<std::string, std::uint64_t>& by_kind,
                                          bool timed, double duration_s,
                                          std::uint32_t bitrate_bps) const {
  BusErrorEvidence e = e_;
  e.by_kind = by_kind;
  e.bitrate_bps = bitrate_bps;
  const auto& bins = time_bins.bins();
  double busiest_bits = 0, total_bits = 0;
  std::uint32_t peak_minute_errors = 0;
  for (std::size_t i = 0; i < bins.size(); i += 60) {
    std::uint32_t m = 0;
    for (std::size_t k = i; k < std::min(bins.size(), i + 60); ++k) m += bins[k].errors;
    peak_minute_errors = std::max(peak_minute_errors, m);
  }
  for (const auto& b : bins) {
    if (b.frames == 0) continue;
    busiest_bits = std::max(busiest_bits, static_cast<double>(b.bits));
    total_bits += b.bits;
  }
  if (timed && duration_s > 0) {
    e.errors_per_minute = static_cast<double>(e.error_frames) / (duration_s / 60.0);
    if (duration_s >= 60) e.peak_errors_per_minute = peak_minute_errors;
  }
  if (timed && !bins.empty() && bitrate_bps > 0) {
    e.bus_load = busiest_bits / bitrate_bps;
    e.mean_bus_load =
        total_bits / std::max<double>(1.0, static_cast<double>(bins.size())) / bitrate_bps;
  }
  return e;
}

}  // namespace bmslink::analysis::detail
