// Id-conflict analyzer: one id sent by two transmitters arrives twice per cycle (a second copy
// within 25 ms of the first) with its payload alternating between two streams, and error frames
// follow it when both start at once. Tracks the 64 ids of tracked_id_bit.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "analysis/frame_facts.h"
#include "bmslink/analysis/evidence.h"

namespace bmslink::analysis::detail {

class ConflictAnalyzer {
 public:
  static constexpr std::int64_t kShortIntervalNs = 25'000'000;
  static constexpr std::int64_t kErrorAfterNs = 2'000'000;
  // A second copy at least this far behind is another sender, not an ACK repeat (back to back).
  static constexpr std::int64_t kSecondSenderMinNs = 1'000'000;

  void add(const DataFacts& d) {
    seen_data_ = true;
    last_bit_ = d.bit;
    last_timed_ = d.timed;
    last_ns_ = d.t_ns;
    if (d.bit < 0) return;
    auto& c = tracks_[static_cast<std::size_t>(d.bit)];
    // The first two frames of the chunk, for merge() to judge them against the earlier chunk.
    if (c.count == 0) {
      c.f1 = d.hash;
      c.first_timed = d.timed;
      c.first_ns = d.t_ns;
    } else if (c.count == 1) {
      c.f2 = d.hash;
    }
    if (c.count >= 2 && d.hash != c.h1 && d.hash == c.h2) ++c.alternations;
    if (c.count >= 1 && d.hash != c.h1) ++c.changes;
    if (d.timed) {
      // Back-to-back identical repeats are the ACK signature, not a second sender.
      if (c.last_ns && d.t_ns - *c.last_ns < kShortIntervalNs) {
        if (d.hash != c.h1) ++c.short_intervals;
        if (d.t_ns - *c.last_ns >= kSecondSenderMinNs) ++c.second_copies;
      }
      c.last_ns = d.t_ns;
    }
    ++c.count;
    c.h2 = c.h1;
    c.h1 = d.hash;
  }
  // An error frame: counted against the id sent right before it.
  void add_error(bool timed, std::int64_t t_ns) {
    // Before this chunk's first data frame: the id before it is in the earlier chunk (merge).
    if (!seen_data_) {
      if (timed && leading_errors_.size() < kMaxLeadingErrors) leading_errors_.push_back(t_ns);
      return;
    }
    if (last_bit_ >= 0 && timed && last_timed_ && t_ns - last_ns_ <= kErrorAfterNs)
      ++tracks_[static_cast<std::size_t>(last_bit_)].errors_after;
  }
  void merge(ConflictAnalyzer&& later);
  std::vector<IdConflict> finish() const;

 private:
  struct Track {
    std::uint64_t h1 = 0, h2 = 0;  // payload hashes one and two frames back
    std::uint64_t count = 0;
    std::uint64_t alternations = 0;
    std::uint64_t changes = 0;
    std::uint64_t errors_after = 0;
    std::uint64_t short_intervals = 0;
    std::uint64_t second_copies = 0;  // any payload, 1-25 ms behind the previous copy
    std::optional<std::int64_t> last_ns;
    std::uint64_t f1 = 0, f2 = 0;  // hashes of the chunk's first two frames of this id
    bool first_timed = false;
    std::int64_t first_ns = 0;
  };
  static constexpr std::size_t kMaxLeadingErrors = 64;
  std::vector<std::int64_t> leading_errors_;  // timed error frames before the first data frame
  std::array<Track, 64> tracks_{};
  bool seen_data_ = false;
  int last_bit_ = -1;
  bool last_timed_ = false;
  std::int64_t last_ns_ = 0;
};

}  // namespace bmslink::analysis::detail
