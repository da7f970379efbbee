#include "analysis/ack_analyzer.h"

#include <algorithm>

namespace bmslink::analysis::detail {

void AckAnalyzer::merge(AckAnalyzer&& b) {
  if (!b.have_first_) return;
  if (!have_first_) {
    *this = std::move(b);
    return;
  }
  const bool joined = have_prev_ && prev_key_ == b.first_.key && prev_hash_ == b.first_.hash &&
                      prev_timed_ && b.first_.timed && b.first_.t_ns - prev_ns_ <= kRepeatWindowNs;
  back_to_back_ += b.back_to_back_;
  if (joined) {
    // The repeat across the cut, and the run it belongs to: this chunk's last run, the frame at
    // the cut, and the later chunk's leading repeats.
    ++back_to_back_;
    const std::uint32_t run = run_ + 1 + b.leading_run_;
    if (run > longest_run_) {
      longest_run_ = run;
      longest_run_key_ = b.first_.key;
    }
    if (!broken_) leading_run_ += 1 + b.leading_run_;
    if (!first_repeat_ns_) first_repeat_ns_ = b.first_.t_ns;  // the first in frame order
    run_ = b.broken_ ? b.run_ : run;
  } else {
    run_ = b.run_;
  }
  broken_ = broken_ || !joined || b.broken_;
  if (b.longest_run_ > longest_run_) {
    longest_run_ = b.longest_run_;
    longest_run_key_ = b.longest_run_key_;
  }
  if (!first_repeat_ns_) first_repeat_ns_ = b.first_repeat_ns_;
  have_prev_ = b.have_prev_;
  prev_key_ = b.prev_key_;
  prev_hash_ = b.prev_hash_;
  prev_timed_ = b.prev_timed_;
  prev_ns_ = b.prev_ns_;
}

AckEvidence AckAnalyzer::finish(std::uint64_t no_ack_errors, std::uint64_t inverter_frames) const {
  AckEvidence a;
  a.no_ack_errors = no_ack_errors;
  a.back_to_back = back_to_back_;
  a.longest_repeat_run = longest_run_;
  a.repeated_id = longest_run_key_;
  a.first_repeat_ns = first_repeat_ns_;
  // A capture cannot show missing ACKs when every frame comes from one node and none repeats: an
  // adapter that is not listen-only acknowledges that node itself.
  a.ack_visible = !(inverter_frames == 0 && no_ack_errors == 0 && back_to_back_ == 0);
  return a;
}

}  // namespace bmslink::analysis::detail
