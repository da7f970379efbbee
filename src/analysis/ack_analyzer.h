// ACK analyzer: a frame nobody acknowledges is sent again at once, so a listen-only capture shows
// the same id and payload back to back within a frame time. A BMS burst never repeats an id back
// to back. Counts those repeats, their longest run and where they start.
#pragma once

#include <cstdint>
#include <optional>

#include "analysis/frame_facts.h"
#include "bmslink/analysis/evidence.h"

namespace bmslink::analysis::detail {

class AckAnalyzer {
 public:
  static constexpr std::int64_t kRepeatWindowNs = 2'000'000;

  void add(const DataFacts& d) {
    if (have_prev_ && d.key == prev_key_ && d.hash == prev_hash_ && d.timed && prev_timed_ &&
        d.t_ns - prev_ns_ <= kRepeatWindowNs) {
      ++back_to_back_;
      ++run_;
      if (!first_repeat_ns_) first_repeat_ns_ = d.t_ns;
      if (run_ > longest_run_) {
        longest_run_ = run_;
        longest_run_key_ = d.key;
      }
      if (!broken_) ++leading_run_;
    } else {
      run_ = 0;
      if (have_first_) broken_ = true;  // the chunk's first run has ended
    }
    if (!have_first_) {
      have_first_ = true;
      first_ = d;
    }
    have_prev_ = true;
    prev_key_ = d.key;
    prev_hash_ = d.hash;
    prev_timed_ = d.timed;
    prev_ns_ = d.t_ns;
  }
  // Appends `later`, which saw the frames after this one's; a repeat across the cut counts.
  void merge(AckAnalyzer&& later);
  // `no_ack_errors`: error frames of class no-ACK; `inverter_frames`: whether anyone else talks.
  AckEvidence finish(std::uint64_t no_ack_errors, std::uint64_t inverter_frames) const;

 private:
  bool have_prev_ = false, prev_timed_ = false;
  std::uint32_t prev_key_ = 0;
  std::uint64_t prev_hash_ = 0;
  std::int64_t prev_ns_ = 0;
  std::uint32_t run_ = 0;
  std::uint64_t back_to_back_ = 0;
  std::uint32_t longest_run_ = 0;
  std::uint32_t longest_run_key_ = 0;
  std::optional<std::int64_t> first_repeat_ns_;
  bool have_first_ = false;
  DataFacts first_;
  // Repeats of the chunk's first frame right at its start, and whether that run has ended: what
  // merge() needs to join a run cut by a chunk boundary.
  std::uint32_t leading_run_ = 0;
  bool broken_ = false;
};

}  // namespace bmslink::analysis::detail
