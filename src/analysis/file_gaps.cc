// Gaps between the files of a set: time no file covers is neither a dropout of the BMS nor a
// second without its frames.

#include <algorithm>

#include "bmslink/analysis/evidence.h"

namespace bmslink::analysis {

void apply_file_gaps(Evidence& e, const std::vector<capture::FileGap>& gaps) {
  e.file_gaps = gaps;
  UptimeEvidence& u = e.uptime;
  std::int64_t removed_seconds = 0;
  bool longest_removed = false;
  std::int64_t left_max = 0;  // the longest silence the logger did see around a gap
  for (const auto& g : gaps) {
    if (g.recorded) continue;  // the logger ran: the silence is the bus's
    removed_seconds += g.length_ns / 1'000'000'000;
    const std::int64_t g_end = g.start_ns + g.length_ns;
    for (auto it = u.dropouts.begin(); it != u.dropouts.end();) {
      const std::int64_t end = it->start_ns + it->length_ns;
      if (it->start_ns > g.start_ns || end < g_end) {
        ++it;
        continue;
      }
      if (it->length_ns == u.longest_outage_ns) longest_removed = true;
      it->length_ns -= g.length_ns;  // the silence the logger did see, either side
      left_max = std::max(left_max, it->length_ns);
      if (it->length_ns <= u.timeout_ns) {
        it = u.dropouts.erase(it);
        if (u.dropout_count > 0) --u.dropout_count;
      } else {
        ++it;
      }
    }
  }
  // The longest silence is now the longest one that no gap explains (or what is left of one
  // around a gap).
  std::int64_t longest = left_max;
  for (auto& s : u.longest_silences) {
    for (const auto& g : gaps) {
      if (!g.recorded && s.start_ns <= g.start_ns &&
          s.start_ns + s.length_ns >= g.start_ns + g.length_ns)
        s.length_ns -= g.length_ns;
    }
    longest = std::max(longest, s.length_ns);
  }
  for (const auto& d : u.dropouts) longest = std::max(longest, d.length_ns);
  if (longest_removed || longest < u.longest_outage_ns) u.longest_outage_ns = longest;
  if (removed_seconds > 0 && u.seconds > 0) {
    u.seconds -= std::min<std::uint64_t>(u.seconds, static_cast<std::uint64_t>(removed_seconds));
    if (u.share) {
      u.share = u.seconds > 0 ? std::min(1.0, static_cast<double>(u.complete_seconds) /
                                                  static_cast<double>(u.seconds))
                              : 0.0;
    }
  }
}

}  // namespace bmslink::analysis
