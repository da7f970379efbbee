// libFuzzer target for the bulk candump log path used on big files: for any input it must give
// exactly the frames, counters and diagnostics of the general candump log reader. The frames
// then go through the whole capture analysis in two merged chunks and the diagnosis.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "bmslink/analysis/capture_analyzer.h"
#include "bmslink/analysis/run.h"
#include "bmslink/capture/reader.h"
#include "bmslink/diagnosis/findings.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  bmslink::CollectingSink general_sink(1000), block_sink(1000);
  std::vector<bmslink::can::Frame> general, block;
  bmslink::capture::ReaderStats general_stats;
  if (auto reader = bmslink::capture::open_capture_memory(
          text, "fuzz", general_sink, {bmslink::capture::Format::kCandumpLog})) {
    bmslink::can::Frame f;
    while ((*reader)->next(f)) general.push_back(f);
    general_stats = (*reader)->stats();
  } else {
    return 0;  // empty input: the reader refuses it, the bulk path is never asked
  }
  const auto stats = bmslink::capture::read_candump_log_block(
      text, "fuzz", 1, block_sink, [&](const bmslink::can::Frame& f) { block.push_back(f); });
  if (stats.frames != general_stats.frames || stats.malformed != general_stats.malformed ||
      stats.lines != general_stats.lines || stats.ignored != general_stats.ignored) {
    std::abort();
  }
  if (block.size() != general.size()) std::abort();
  for (std::size_t i = 0; i < block.size(); ++i) {
    if (!bmslink::can::same_frame(block[i], general[i])) std::abort();
  }
  const auto& a = general_sink.kept();
  const auto& b = block_sink.kept();
  if (a.size() != b.size()) std::abort();
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].line != b[i].line || a[i].reason != b[i].reason) std::abort();
  }

  // Per-second bins make a capture spanning days cost tens of MB to analyse (bounded, but slow
  // per fuzz run); the parser comparison above is the point here, so analyse only short spans.
  std::int64_t lo = 0, hi = 0;
  for (const auto& f : block) {
    lo = std::min(lo, f.timestamp_ns);
    hi = std::max(hi, f.timestamp_ns);
  }
  if (block.empty() || (hi - block.front().timestamp_ns > 86'400'000'000'000LL) ||
      (block.front().timestamp_ns - lo > 86'400'000'000'000LL)) {
    return 0;
  }
  {
    bmslink::can::SpanSource source(block);
    bmslink::NullSink none;
    auto whole =
        bmslink::analysis::analyze(bmslink::analysis::CaptureInput::source(source, "block"), none);
    if (whole) (void)bmslink::diagnosis::diagnose_capture(whole->evidence);
  }
  // Two chunks merged must give what one pass gives (everything but the inventory's sampled
  // period statistics), whatever the timestamps do at the cut.
  bmslink::analysis::CaptureAnalyzer one(nullptr), first(nullptr), second(nullptr);
  for (const auto& f : block) one.add(f);
  for (std::size_t i = 0; i < block.size(); ++i)
    (i < block.size() / 2 ? first : second).add(block[i]);
  first.merge(std::move(second));
  const auto x = one.finish({});
  const auto y = first.finish({});
  (void)bmslink::diagnosis::diagnose_capture(y);
  if (x.inventory.frames != y.inventory.frames || x.inventory.errors != y.inventory.errors ||
      x.timing.bms_frames != y.timing.bms_frames ||
      x.timing.inverter_frames != y.timing.inverter_frames ||
      x.ack.back_to_back != y.ack.back_to_back ||
      x.ack.longest_repeat_run != y.ack.longest_repeat_run ||
      x.ack.first_repeat_ns != y.ack.first_repeat_ns || x.bus.error_frames != y.bus.error_frames ||
      x.bus.bus_off != y.bus.bus_off || x.bus.protocol_violations != y.bus.protocol_violations ||
      x.bus.max_tec != y.bus.max_tec || x.bus.max_rec != y.bus.max_rec ||
      x.uptime.dropout_count != y.uptime.dropout_count ||
      x.uptime.longest_outage_ns != y.uptime.longest_outage_ns ||
      x.uptime.complete_seconds != y.uptime.complete_seconds ||
      x.minutes.size() != y.minutes.size() || x.conflicts.size() != y.conflicts.size()) {
    std::abort();
  }
  for (std::size_t i = 0; i < x.conflicts.size(); ++i) {
    const auto& c = x.conflicts[i];
    const auto& d = y.conflicts[i];
    if (c.key != d.key || c.rate_ratio != d.rate_ratio || c.alternation != d.alternation ||
        c.errors_after != d.errors_after)
      std::abort();
  }
  return 0;
}
