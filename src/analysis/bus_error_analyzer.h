// Bus-error analyzer: error frames by what they say (bus-off, error-passive/-warning, bit-level
// protocol violations, TEC/REC), errors per minute and bus load from the per-second bins.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>

#include "analysis/time_bins.h"
#include "bmslink/analysis/evidence.h"
#include "bmslink/can/error_frame.h"

namespace bmslink::analysis::detail {

class BusErrorAnalyzer {
 public:
  void add_error(const can::Frame& f, bool timed) {
    ++e_.error_frames;
    if (timed && !e_.first_error_ns) e_.first_error_ns = f.timestamp_ns;
    const auto info = can::decode_error_frame(f);
    if (info.no_ack) ++no_ack_;
    if (info.bus_off) ++e_.bus_off;
    if (info.rx_passive || info.tx_passive) ++e_.error_passive;
    if (info.rx_warning || info.tx_warning) ++e_.error_warning;
    if (info.protocol_violation && info.bit_level_violation()) ++e_.protocol_violations;
    if (info.tx_error_counter)
      e_.max_tec = std::max<std::uint8_t>(e_.max_tec.value_or(0), *info.tx_error_counter);
    if (info.rx_error_counter)
      e_.max_rec = std::max<std::uint8_t>(e_.max_rec.value_or(0), *info.rx_error_counter);
  }
  void merge(BusErrorAnalyzer&& later);
  std::uint64_t no_ack_errors() const { return no_ack_; }
  // `by_kind`: the inventory's error counts by name; `duration_s` of the timed span (0: untimed).
  BusErrorEvidence finish(const TimeBins& bins, const std::map<std::string, std::uint64_t>& by_kind,
                          bool timed, double duration_s, std::uint32_t bitrate_bps) const;

 private:
  BusErrorEvidence e_;
  std::uint64_t no_ack_ = 0;
};

}  // namespace bmslink::analysis::detail
