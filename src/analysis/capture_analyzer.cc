// The composite of the per-unit analyzers: works out once per frame what they all need (key,
// payload hash, tracked bit, side, second bin) and hands it on. The per-frame path touches
// fixed-size arrays only; anything that needs sorting or statistics waits for finish().

#include "bmslink/analysis/capture_analyzer.h"

#include <optional>

#include "analysis/ack_analyzer.h"
#include "analysis/bus_error_analyzer.h"
#include "analysis/conflict_analyzer.h"
#include "analysis/frame_facts.h"
#include "analysis/limit_analyzer.h"
#include "analysis/plausibility.h"
#include "analysis/signal_analyzer.h"
#include "analysis/time_bins.h"
#include "analysis/timing_analyzer.h"
#include "analysis/uptime_analyzer.h"

#include <fmt/format.h>
#include "bmslink/protocol/builtin.h"

namespace bmslink::analysis {

using namespace detail;

namespace {

// tracked_id_bit for every standard id, looked up per frame.
const std::array<std::int8_t, 2048> kTrackedBit = [] {
  std::array<std::int8_t, 2048> t{};
  for (std::uint32_t id = 0; id < 2048; ++id)
    t[id] = static_cast<std::int8_t>(tracked_id_bit(id, false));
  return t;
}();

}  // namespace

struct CaptureAnalyzer::State {
  State(const protocol::Decoder* d, AnalyzerOptions o)
      : options(o), signals(d), uptime(o.inverter_timeout_ms * 1'000'000) {
    if (d == nullptr) return;
    limits = protocol::device_limits(d->database());
    for (const auto& m : d->database().messages) {
      const Side side = transmitter_side(m.transmitter);
      if (!m.extended && side != Side::kOther) sides.set(m.id, side);
    }
  }
  AnalyzerOptions options;
  std::optional<protocol::DeviceLimits> limits;
  SideMap sides;
  TimingAnalyzer timing;
  TimeBins bins;
  AckAnalyzer ack;
  BusErrorAnalyzer bus;
  ConflictAnalyzer conflicts;
  SignalAnalyzer signals;
  UptimeAnalyzer uptime;
  PlausibilityAnalyzer plausibility;
};

CaptureAnalyzer::CaptureAnalyzer(const protocol::Decoder* decoder, AnalyzerOptions options)
    : s_(std::make_unique<State>(decoder, options)) {}
CaptureAnalyzer::CaptureAnalyzer(CaptureAnalyzer&&) noexcept = default;
CaptureAnalyzer& CaptureAnalyzer::operator=(CaptureAnalyzer&&) noexcept = default;
CaptureAnalyzer::~CaptureAnalyzer() = default;

void CaptureAnalyzer::add(const can::Frame& f) {
  State& s = *s_;
  s.timing.add(f);
  const bool timed = f.has_timestamp();
  SecondBin* bin = timed ? s.bins.add(f.timestamp_ns, can::wire_bits(f)) : nullptr;
  if (f.error) {
    s.bus.add_error(f, timed);
    TimeBins::add_error(bin);
    s.conflicts.add_error(timed, f.timestamp_ns);
    return;
  }
  if (f.rtr) return;

  DataFacts d;
  d.key = key_of(f);
  d.hash = payload_hash(f);
  d.bit = f.extended || f.id >= 2048 ? -1 : kTrackedBit[f.id];
  d.side = s.sides.of(f.id, f.extended);
  d.timed = timed;
  d.t_ns = f.timestamp_ns;
  if (d.bit >= 0 && bin != nullptr) bin->id_mask |= std::uint64_t{1} << d.bit;
  s.ack.add(d);
  s.conflicts.add(d);
  s.uptime.add(d, !f.extended && f.id == PlausibilityAnalyzer::kLimitsId);
  s.plausibility.add(f);
  s.signals.add(f, d, bin);
}

std::int64_t CaptureAnalyzer::tick(std::int64_t now_ns) { return s_->uptime.tick(now_ns); }

void CaptureAnalyzer::merge(CaptureAnalyzer&& later_analyzer) {
  State& a = *s_;
  State& b = *later_analyzer.s_;
  a.timing.merge(std::move(b.timing));
  a.bins.merge(std::move(b.bins));
  a.ack.merge(std::move(b.ack));
  a.bus.merge(std::move(b.bus));
  a.conflicts.merge(std::move(b.conflicts));
  a.signals.merge(std::move(b.signals));
  a.uptime.merge(std::move(b.uptime));
  a.plausibility.merge(std::move(b.plausibility));
}

Evidence CaptureAnalyzer::finish(const protocol::Identification& identification) {
  State& s = *s_;
  Evidence e;
  auto timing = s.timing.finish(s.sides);
  e.inventory = std::move(timing.inventory);
  e.timing = std::move(timing.timing);
  e.bursts_seen = timing.bursts_seen;
  e.protocol = identification;
  e.timed = e.inventory.time_kind != TimeKind::kNone && e.inventory.untimed_frames == 0;
  e.absolute_time = e.inventory.time_kind == TimeKind::kAbsolute;
  e.duration_s = e.inventory.duration_s().value_or(0.0);

  e.ack = s.ack.finish(s.bus.no_ack_errors(), e.timing.inverter_frames);
  e.bus = s.bus.finish(s.bins, e.inventory.errors, e.timed, e.duration_s, s.options.bitrate_bps);
  e.conflicts = s.conflicts.finish();
  auto signals = s.signals.finish();
  e.signals = std::move(signals.signals);
  e.state = std::move(signals.state);
  ValueScales scales;
  e.plausibility = s.plausibility.finish(s.limits ? &*s.limits : nullptr, e.signals, e.inventory,
                                         e.bursts_seen, &scales);
  if (e.timed) {
    e.limit_following = limit_following(s.bins);
    for (auto& issue : limit_plausibility(s.bins, scales))
      e.plausibility.push_back(std::move(issue));
  } else {
    for (auto& issue : limit_snapshot(e.signals, scales))
      e.plausibility.push_back(std::move(issue));
  }
  // Complete means every frame the protocol requires (BmslinkRequired), not just the ids seen.
  e.uptime =
      s.uptime.finish(e.inventory, s.bins,
                      s.limits ? s.limits->required_ids : std::vector<std::uint32_t>{}, e.timed);
  // Frames nobody acknowledged are retransmissions, not a working link: a BMS repeating its
  // frames to a deaf bus is not "complete" however often they repeat.
  const bool repeats =
      e.ack.back_to_back >= 20 && e.ack.back_to_back * 20 >= e.inventory.data_frames;
  if (e.uptime.share && e.timing.inverter_frames == 0 && e.ack.ack_visible &&
      (repeats || e.ack.no_ack_errors >= 5)) {
    e.uptime.share.reset();
    e.uptime.not_judged = fmt::format(
        "nothing the BMS sent was acknowledged ({} retransmissions, {} no-ACK errors): frames on "
        "the bus are repeats, not a working link",
        e.ack.back_to_back, e.ack.no_ack_errors);
  }
  if (e.timed) {
    auto series = s.bins.finish(e.absolute_time, e.bus.error_frames);
    e.minutes = std::move(series.minutes);
    e.minute_width_s = series.minute_width_s;
    e.correlation = std::move(series.correlation);
  }
  return e;
}

}  // namespace bmslink::analysis
