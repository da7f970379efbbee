// Gaps and uptime: silences of the BMS's limits frame (0x351) and of the BMS side as a whole that
// last longer than the inverter's timeout, the longest outage, and the share of seconds in which
// the complete BMS set was present. A silence is also seen from a clock tick (tick()), so a live
// monitor learns that the BMS has gone quiet while nothing arrives.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "analysis/time_bins.h"
#include "bmslink/analysis/evidence.h"
#include "bmslink/analysis/inventory.h"

namespace bmslink::analysis::detail {

// Gaps of one stream of frames longer than a timeout.
struct GapTrack {
  static constexpr std::size_t kMaxGapsKept = 200;
  std::optional<std::int64_t> first_ns, last_ns;
  std::vector<Gap> gaps;
  std::uint64_t count = 0;
  std::int64_t longest = 0;

  // The few longest silences of any length, longest first: what is left when some of them
  // turn out to be time no file recorded.
  static constexpr std::size_t kLongestKept = 8;
  std::vector<Gap> longest_silences;
  void keep_long(const Gap& g) {
    if (longest_silences.size() == kLongestKept && longest_silences.back().length_ns >= g.length_ns)
      return;
    auto at = std::find_if(longest_silences.begin(), longest_silences.end(),
                           [&](const Gap& x) { return x.length_ns < g.length_ns; });
    longest_silences.insert(at, g);
    if (longest_silences.size() > kLongestKept) longest_silences.pop_back();
  }

  void note(std::int64_t start, std::int64_t length, std::int64_t timeout) {
    if (length > longest) longest = length;
    if (longest_silences.size() < kLongestKept || length > longest_silences.back().length_ns)
      keep_long({start, length});
    if (length <= timeout) return;
    ++count;
    if (gaps.size() < kMaxGapsKept) gaps.push_back({start, length});
  }
  void add(std::int64_t t, std::int64_t timeout) {
    if (!first_ns) first_ns = t;
    if (last_ns && t > *last_ns) note(*last_ns, t - *last_ns, timeout);
    last_ns = t;
  }
  void merge(GapTrack&& b, std::int64_t timeout);
};

class UptimeAnalyzer {
 public:
  explicit UptimeAnalyzer(std::int64_t timeout_ns) : timeout_ns_(timeout_ns) {}

  void add(const DataFacts& d, bool is_limits_frame) {
    if (!d.timed || d.side != Side::kBms) return;
    bms_.add(d.t_ns, timeout_ns_);
    if (is_limits_frame) limits_.add(d.t_ns, timeout_ns_);
  }
  // The clock says `now_ns` (capture clock). Returns how long the measured stream has been silent
  // (0 before its first frame).
  std::int64_t tick(std::int64_t now_ns) {
    if (!ticked_ || now_ns > tick_ns_) tick_ns_ = now_ns;  // the clock never runs back
    ticked_ = true;
    const GapTrack& g = stream();
    return g.last_ns && tick_ns_ > *g.last_ns ? tick_ns_ - *g.last_ns : 0;
  }
  void merge(UptimeAnalyzer&& later);
  // `set` of the complete BMS set: the protocol's required ids that the capture carries, or, with
  // no definition, the BMS ids repeating at least every 1.5 s.
  UptimeEvidence finish(const Inventory& inventory, const TimeBins& bins,
                        const std::vector<std::uint32_t>& required, bool timed) const;

 private:
  const GapTrack& stream() const { return limits_.first_ns ? limits_ : bms_; }
  std::int64_t timeout_ns_;
  GapTrack limits_, bms_;
  // Plain fields rather than std::optional: GCC 12 at -O2 under ASan warns (wrongly) that an
  // inlined optional<int64_t> may be read uninitialised.
  bool ticked_ = false;
  std::int64_t tick_ns_ = 0;
};

}  // namespace bmslink::analysis::detail
