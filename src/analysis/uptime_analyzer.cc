#include "analysis/uptime_analyzer.h"

namespace bmslink::analysis::detail {

void GapTrack::merge(GapTrack&& b, std::int64_t timeout) {
  if (last_ns && b.first_ns && *b.first_ns > *last_ns)
    note(*last_ns, *b.first_ns - *last_ns, timeout);
  for (const auto& g : b.gaps)
    if (gaps.size() < kMaxGapsKept) gaps.push_back(g);
  for (const auto& g : b.longest_silences) keep_long(g);
  count += b.count;
  longest = std::max(longest, b.longest);
  if (!first_ns) first_ns = b.first_ns;
  if (b.last_ns) last_ns = b.last_ns;
}

void UptimeAnalyzer::merge(UptimeAnalyzer&& b) {
  limits_.merge(std::move(b.limits_), timeout_ns_);
  bms_.merge(std::move(b.bms_), timeout_ns_);
  if (b.ticked_ && (!ticked_ || b.tick_ns_ > tick_ns_)) {
    ticked_ = true;
    tick_ns_ = b.tick_ns_;
  }
}

UptimeEvidence UptimeAnalyzer::finish(const Inventory& inventory, const TimeBins& time_bins,
                                      const std::vector<std::uint32_t>& required,
                                      bool timed) const {
  UptimeEvidence u;
  u.timeout_ns = timeout_ns_;
  std::uint64_t set_mask = 0;
  auto take = [&](std::uint32_t id) {
    const int bit = tracked_id_bit(id, false);
    if (bit < 0 || bit >= 40 || ((set_mask >> bit) & 1U)) return;
    set_mask |= std::uint64_t{1} << bit;
    u.set.push_back(id);
  };
  if (!required.empty()) {
    for (std::uint32_t id : required) take(id);
  } else {
    for (const auto& st : inventory.ids) {
      if (st.extended) continue;
      if (st.period_ms && *st.period_ms <= 1500 && st.count >= 3) take(st.id);
    }
  }
  std::sort(u.set.begin(), u.set.end());
  const auto& bins = time_bins.bins();
  if (timed && !bins.empty()) {
    u.seconds = bins.size();
    for (std::size_t i = 0; i < bins.size(); ++i) {
      // A 1 s cycle lands in one of two adjacent seconds; look back one.
      const std::uint64_t seen = bins[i].id_mask | (i > 0 ? bins[i - 1].id_mask : 0);
      if (set_mask != 0 && (seen & set_mask) == set_mask) ++u.complete_seconds;
    }
    // Across a step back in time (joined captures) the seconds between the pieces are neither
    // covered nor silences: no share rather than a wrong one. Without a definition that says
    // which frames the BMS must send, a set made of whatever repeats would call a BMS that sends
    // one frame "complete": no share either.
    if (required.empty())
      u.not_judged =
          "the protocol is not identified, so which frames make a complete BMS set is not known";
    else if (set_mask == 0)
      u.not_judged = "the capture carries none of the frames the protocol requires";
    else if (inventory.backward_steps > 0)
      u.not_judged = "the timestamps run backwards (joined captures)";
    else
      u.share = static_cast<double>(u.complete_seconds) / static_cast<double>(u.seconds);
  }
  GapTrack gaps = stream();
  u.dropout_stream = limits_.first_ns ? "0x351" : "BMS frames";
  if (ticked_ && gaps.last_ns && tick_ns_ > *gaps.last_ns) {
    const Gap open{*gaps.last_ns, tick_ns_ - *gaps.last_ns};
    u.open_silence = open;
    gaps.note(open.start_ns, open.length_ns, timeout_ns_);
  }
  u.dropouts = gaps.gaps;
  u.dropout_count = gaps.count;
  u.longest_outage_ns = gaps.longest;
  u.longest_silences = gaps.longest_silences;
  return u;
}

}  // namespace bmslink::analysis::detail
