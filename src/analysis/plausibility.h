// Plausibility: are the BMS's values believable for the devices its protocol describes? Keeps the
// last raw payload of the limits (0x351) and measurement (0x356) frames, so both byte orders and
// other decimal scales can be tried, and checks the decoded extremes against each other and
// against the pack voltage range of the protocol data (protocol::DeviceLimits). Also names the
// protocol's required frames the capture never carried. A field found plausible only at another
// scale is reported once (kScaling) and handed on at that scale, so the other rules judge the value
// the BMS meant rather than report the same mis-scaled number a second time.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "analysis/frame_facts.h"
#include "bmslink/analysis/evidence.h"
#include "bmslink/protocol/builtin.h"

namespace bmslink::analysis::detail {

// Factors that bring a mis-scaled field to its plausible scale (1 when it is right).
struct ValueScales {
  double pack_v = 1, cvl = 1, dvl = 1;
};

class PlausibilityAnalyzer {
 public:
  static constexpr std::uint32_t kLimitsId = 0x351;
  static constexpr std::uint32_t kMeasurementsId = 0x356;

  void add(const can::Frame& f) {
    if (f.extended) return;
    if (f.id == kLimitsId) limits_.take(f);
    if (f.id == kMeasurementsId) measurements_.take(f);
  }
  void merge(PlausibilityAnalyzer&& later) {
    if (later.limits_.seen) limits_ = later.limits_;
    if (later.measurements_.seen) measurements_ = later.measurements_;
  }
  // `limits`: nullptr when no protocol definition applies (nothing is judged then).
  // `scales`, when given, receives the factors of a scaling issue found.
  std::vector<PlausibilityIssue> finish(const protocol::DeviceLimits* limits,
                                        const std::vector<SignalStats>& signals,
                                        const Inventory& inventory, std::uint64_t bursts_seen,
                                        ValueScales* scales = nullptr) const;

 private:
  struct Payload {
    bool seen = false;
    std::uint8_t len = 0;
    std::array<std::uint8_t, 8> data{};
    void take(const can::Frame& f) {
      seen = true;
      len = static_cast<std::uint8_t>(f.len < 8 ? f.len : 8);
      for (std::size_t i = 0; i < 8; ++i) data[i] = f.data[i];
    }
  };
  Payload limits_, measurements_;
};

}  // namespace bmslink::analysis::detail
