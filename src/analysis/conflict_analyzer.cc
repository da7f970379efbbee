#include "analysis/conflict_analyzer.h"

namespace bmslink::analysis::detail {

void ConflictAnalyzer::merge(ConflictAnalyzer&& b) {
  // Error frames that opened the later chunk follow this chunk's last data frame.
  for (const std::int64_t t : b.leading_errors_) {
    if (!seen_data_) {
      if (leading_errors_.size() < kMaxLeadingErrors) leading_errors_.push_back(t);
    } else if (last_bit_ >= 0 && last_timed_ && t - last_ns_ <= kErrorAfterNs) {
      ++tracks_[static_cast<std::size_t>(last_bit_)].errors_after;
    }
  }
  for (std::size_t i = 0; i < tracks_.size(); ++i) {
    auto& c = tracks_[i];
    const auto& d = b.tracks_[i];
    if (d.count == 0) continue;
    if (c.count == 0) {
      c = d;
      continue;
    }
    // The later chunk's first frame against this chunk's last two; its second frame against
    // (its first, this chunk's last). add() saw neither with that history.
    if (c.count >= 2 && d.f1 != c.h1 && d.f1 == c.h2) ++c.alternations;
    if (d.f1 != c.h1) ++c.changes;
    if (d.first_timed && c.last_ns && d.first_ns - *c.last_ns < kShortIntervalNs) {
      if (d.f1 != c.h1) ++c.short_intervals;
      if (d.first_ns - *c.last_ns >= kSecondSenderMinNs) ++c.second_copies;
    }
    if (d.count >= 2 && d.f2 != d.f1 && d.f2 == c.h1) ++c.alternations;
    c.count += d.count;
    c.alternations += d.alternations;
    c.changes += d.changes;
    c.errors_after += d.errors_after;
    c.short_intervals += d.short_intervals;
    c.second_copies += d.second_copies;
    if (d.last_ns) c.last_ns = d.last_ns;
    c.h2 = d.count >= 2 ? d.h2 : c.h1;
    c.h1 = d.h1;
  }
  // What comes after this merged range follows the later chunk's last data frame.
  if (b.seen_data_) {
    seen_data_ = true;
    last_bit_ = b.last_bit_;
    last_timed_ = b.last_timed_;
    last_ns_ = b.last_ns_;
  }
}

std::vector<IdConflict> ConflictAnalyzer::finish() const {
  std::vector<IdConflict> out;
  for (std::size_t bit = 0; bit < 40; ++bit) {
    const auto& c = tracks_[bit];
    if (c.count < 4 || c.short_intervals >= c.count) continue;
    IdConflict ic;
    ic.key = tracked_bit_id(static_cast<int>(bit));
    ic.rate_ratio = static_cast<double>(c.count) / static_cast<double>(c.count - c.short_intervals);
    ic.alternation = static_cast<double>(c.alternations) / static_cast<double>(c.count - 2);
    ic.errors_after = c.errors_after;
    if (ic.rate_ratio >= 1.6 && ic.alternation >= 0.3) out.push_back(ic);
  }
  if (out.empty()) return out;
  // The second sender repeats its whole set, most ids with the same payload as the first (only
  // changing readings alternate): every id that arrives twice per cycle belongs to the conflict,
  // and so do the error frames behind them.
  std::vector<std::uint32_t> doubled;
  std::uint64_t errors = 0;
  for (std::size_t bit = 0; bit < 40; ++bit) {
    const auto& c = tracks_[bit];
    // More than ~3 copies per cycle is a fast id or ACK repeats, not a second sender's set.
    if (c.count < 4 || c.second_copies * 10 > c.count * 7) continue;
    const double ratio =
        static_cast<double>(c.count) / static_cast<double>(c.count - c.second_copies);
    if (ratio < 1.6) continue;
    doubled.push_back(tracked_bit_id(static_cast<int>(bit)));
    errors += c.errors_after;
  }
  for (auto& ic : out) {
    ic.doubled_ids = doubled;
    ic.doubled_errors_after = errors;
  }
  return out;
}

}  // namespace bmslink::analysis::detail
