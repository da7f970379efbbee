#include "bmslink/analysis/inventory.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include <fmt/format.h>

#include "bmslink/can/error_frame.h"

namespace bmslink::analysis {
namespace {

__extension__ typedef unsigned __int128 Uint128;

double ns_to_ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

template <typename T>
T percentile(std::vector<T> v, double q) {
  const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// Payload equality without a libc call for classic frames (data arrays are 64 bytes, so an
// 8-byte load is always in bounds).
bool same_payload(const std::uint8_t* a, const std::uint8_t* b, std::size_t len) {
  if (len <= 8) {
    std::uint64_t x = 0, y = 0;
    std::memcpy(&x, a, 8);
    std::memcpy(&y, b, 8);
    const std::uint64_t mask = len == 8 ? ~0ULL : ((1ULL << (8 * len)) - 1);
    return ((x ^ y) & mask) == 0;
  }
  return std::memcmp(a, b, len) == 0;
}

std::uint64_t mix(std::uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  return k;
}

}  // namespace

void InventoryBuilder::AdjacencyTable::grow() {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> old = std::move(slots);
  slots.assign(old.empty() ? 256 : old.size() * 2, {0, 0});
  used = 0;
  for (const auto& [k, n] : old)
    if (k != 0) add(k, n);
}

void InventoryBuilder::AdjacencyTable::add(std::uint64_t key, std::uint64_t n) {
  const bool needs_room = (used + 1) * 2 > slots.size();
  const bool full = needs_room && used >= kMaxPairs;  // then count into existing pairs only
  if (needs_room && !full) grow();
  const std::size_t m = slots.size() - 1;
  for (std::size_t i = mix(key) & m;; i = (i + 1) & m) {
    if (slots[i].first == key) {
      slots[i].second += n;
      return;
    }
    if (slots[i].first == 0) {
      if (full) {
        dropped += n;
      } else {
        slots[i] = {key, n};
        ++used;
      }
      return;
    }
  }
}

std::optional<double> Inventory::duration_s() const {
  if (!first_ns || !last_ns) return std::nullopt;
  return static_cast<double>(*last_ns - *first_ns) / 1e9;
}

std::string key_hex(std::uint32_t key) {
  if (key & can::kEffFlag) return fmt::format("0x{:08X}", key & can::kExtendedIdMask);
  return fmt::format("0x{:03X}", key);
}

void InventoryBuilder::add(const can::Frame& f) {
  ++inv_.frames;
  bool same_channel = last_channel_count_ != nullptr && f.channel.size() == last_channel_.size();
  for (std::size_t i = 0; same_channel && i < f.channel.size(); ++i)
    same_channel = f.channel[i] == last_channel_[i];
  if (!same_channel) {
    last_channel_ = f.channel;
    last_channel_count_ = &inv_.channels[f.channel];  // std::map nodes never move
  }
  ++*last_channel_count_;
  if (f.has_timestamp()) {
    if (last_timed_ns_ && f.timestamp_ns < *last_timed_ns_)
      step_back(*last_timed_ns_, f.timestamp_ns);
    if (!first_timed_ns_) first_timed_ns_ = f.timestamp_ns;
    last_timed_ns_ = f.timestamp_ns;
    if (inv_.time_kind == TimeKind::kNone) inv_.time_kind = f.time_kind;
    if (!inv_.first_ns || f.timestamp_ns < *inv_.first_ns) inv_.first_ns = f.timestamp_ns;
    if (!inv_.last_ns || f.timestamp_ns > *inv_.last_ns) inv_.last_ns = f.timestamp_ns;
  } else {
    ++inv_.untimed_frames;
  }
  if (f.error) {
    ++inv_.error_frames;
    const auto words = can::decode_error_frame(f).summary();
    if (words.empty()) ++inv_.errors["unspecified"];
    for (const auto& w : words) ++inv_.errors[w];
    return;  // error frames belong to no talker
  }
  if (f.rtr)
    ++inv_.remote_frames;
  else
    ++inv_.data_frames;
  if (f.fd) ++inv_.fd_frames;
  if (f.extended) ++inv_.extended_frames;

  const std::uint32_t key = key_of(f);
  Track* cached = nullptr;
  auto& ext_slot = extended_cache_[(key ^ (key >> 8) ^ (key >> 16)) & 0xFF];
  if (!f.extended && f.id < 2048)
    cached = standard_tracks_[f.id];
  else if (f.extended && ext_slot.second != nullptr && ext_slot.first == key)
    cached = ext_slot.second;
  auto it = cached != nullptr ? tracks_.end() : tracks_.find(key);
  if (cached == nullptr && it == tracks_.end()) {
    if (tracks_.size() >= kMaxIds) {
      ++inv_.ids_beyond_cap;
      return;
    }
    it = tracks_.emplace(key, Track{}).first;
    it->second.stats.id = f.id;
    it->second.stats.extended = f.extended;
    it->second.stats.min_len = f.len;
    it->second.stats.max_len = f.len;
    it->second.first_len = f.len;
    it->second.first_data = f.data;
    if (f.has_timestamp()) it->second.first_ns = f.timestamp_ns;
  }
  if (!first_key_) {
    first_key_ = key;
    if (f.has_timestamp()) first_frame_ns_ = f.timestamp_ns;
  }
  if (cached == nullptr) {
    cached = &it->second;
    if (!f.extended && f.id < 2048)
      standard_tracks_[f.id] = cached;
    else if (f.extended)
      ext_slot = {key, cached};
  }
  Track& t = *cached;
  IdStats& s = t.stats;
  if (s.count > 0 &&
      (s.last_len != f.len || !same_payload(s.last_data.data(), f.data.data(), f.len))) {
    ++s.payload_changes;
  }
  ++s.count;
  s.min_len = std::min(s.min_len, f.len);
  s.max_len = std::max(s.max_len, f.len);
  if (f.len <= 8)
    std::memcpy(s.last_data.data(), f.data.data(), 8);
  else
    std::memcpy(s.last_data.data(), f.data.data(), f.len);
  s.last_len = f.len;

  if (f.has_timestamp()) {
    if (t.last_ns && f.timestamp_ns >= *t.last_ns) {
      const std::int64_t dt = f.timestamp_ns - *t.last_ns;
      t.max_gap_ns = std::max(t.max_gap_ns, dt);
      ++t.intervals_seen;
      if (t.intervals.size() < kIntervalSample) {
        t.intervals.push_back(dt);
      } else {
        // Reservoir sampling with a fixed-seed generator: same capture, same numbers.
        rng_ = rng_ * 6364136223846793005ULL + 1442695040888963407ULL;
        // Multiply-shift instead of a 64-bit modulo: the division cost showed per frame.
        const auto j =
            static_cast<std::uint64_t>((static_cast<Uint128>(rng_) * t.intervals_seen) >> 64);
        if (j < kIntervalSample) t.intervals[j] = dt;
      }
    }
    t.last_ns = f.timestamp_ns;
  }

  // Bursts: consecutive data frames closer than kBurstGapNs (or untimed neighbours).
  const bool same_burst =
      prev_key_ && (!f.has_timestamp() || !prev_ns_ || f.timestamp_ns - *prev_ns_ <= kBurstGapNs);
  if (same_burst) {
    if (*prev_key_ != key) {
      const auto pair = std::minmax(*prev_key_, key);
      adjacency_.add(static_cast<std::uint64_t>(pair.first) << 32 | pair.second);
    }
  } else {
    if (burst_first_ && burst_start_ns_ && prev_ns_ && *prev_ns_ > *burst_start_ns_) {
      auto& spans = spans_by_first_[*burst_first_];
      if (spans.size() < kSpanSample) spans.push_back(*prev_ns_ - *burst_start_ns_);
    }
    burst_first_ = key;
    burst_start_ns_ =
        f.has_timestamp() ? std::optional<std::int64_t>(f.timestamp_ns) : std::nullopt;
  }
  prev_key_ = key;
  prev_ns_ = f.has_timestamp() ? std::optional<std::int64_t>(f.timestamp_ns) : std::nullopt;
}

void InventoryBuilder::step_back(std::int64_t from_ns, std::int64_t to_ns) {
  const std::int64_t back = from_ns - to_ns;
  if (back <= Inventory::kBackwardToleranceNs) return;
  ++inv_.backward_steps;
  inv_.largest_backward_ns = std::max(inv_.largest_backward_ns, back);
  if (!inv_.first_backward_ns) inv_.first_backward_ns = to_ns;
}

void InventoryBuilder::merge(InventoryBuilder&& later) {
  Inventory& a = inv_;
  Inventory& b = later.inv_;
  if (last_timed_ns_ && later.first_timed_ns_ && *later.first_timed_ns_ < *last_timed_ns_)
    step_back(*last_timed_ns_, *later.first_timed_ns_);
  a.backward_steps += b.backward_steps;
  a.largest_backward_ns = std::max(a.largest_backward_ns, b.largest_backward_ns);
  if (!a.first_backward_ns) a.first_backward_ns = b.first_backward_ns;
  if (!first_timed_ns_) first_timed_ns_ = later.first_timed_ns_;
  if (later.last_timed_ns_) last_timed_ns_ = later.last_timed_ns_;
  a.frames += b.frames;
  a.data_frames += b.data_frames;
  a.remote_frames += b.remote_frames;
  a.error_frames += b.error_frames;
  a.fd_frames += b.fd_frames;
  a.extended_frames += b.extended_frames;
  a.untimed_frames += b.untimed_frames;
  a.ids_beyond_cap += b.ids_beyond_cap;
  if (a.time_kind == TimeKind::kNone) a.time_kind = b.time_kind;
  if (b.first_ns && (!a.first_ns || *b.first_ns < *a.first_ns)) a.first_ns = b.first_ns;
  if (b.last_ns && (!a.last_ns || *b.last_ns > *a.last_ns)) a.last_ns = b.last_ns;
  for (const auto& [k, n] : b.errors) a.errors[k] += n;
  for (const auto& [k, n] : b.channels) a.channels[k] += n;
  last_channel_count_ = nullptr;

  standard_tracks_.fill(nullptr);  // rebuilt lazily; merging may add nodes
  extended_cache_.fill({0, nullptr});
  for (auto& [key, tb] : later.tracks_) {
    auto it = tracks_.find(key);
    if (it == tracks_.end()) {
      if (tracks_.size() >= kMaxIds) {
        a.ids_beyond_cap += tb.stats.count;
        continue;
      }
      tracks_.emplace(key, std::move(tb));
      continue;
    }
    Track& ta = it->second;
    IdStats& sa = ta.stats;
    const IdStats& sb = tb.stats;
    if (sa.last_len != tb.first_len ||
        !same_payload(sa.last_data.data(), tb.first_data.data(), tb.first_len)) {
      ++sa.payload_changes;
    }
    sa.payload_changes += sb.payload_changes;
    sa.count += sb.count;
    sa.min_len = std::min(sa.min_len, sb.min_len);
    sa.max_len = std::max(sa.max_len, sb.max_len);
    sa.last_data = sb.last_data;
    sa.last_len = sb.last_len;
    ta.max_gap_ns = std::max(ta.max_gap_ns, tb.max_gap_ns);
    std::vector<std::int64_t> joined_b = std::move(tb.intervals);
    std::uint64_t seen_b = tb.intervals_seen;
    if (ta.last_ns && tb.first_ns && *tb.first_ns >= *ta.last_ns) {
      const std::int64_t dt = *tb.first_ns - *ta.last_ns;
      ta.max_gap_ns = std::max(ta.max_gap_ns, dt);
      joined_b.push_back(dt);
      ++seen_b;
    }
    // One reservoir from two: draw from each side in proportion to the intervals it stands for.
    if (ta.intervals.size() + joined_b.size() <= kIntervalSample) {
      ta.intervals.insert(ta.intervals.end(), joined_b.begin(), joined_b.end());
    } else {
      std::vector<std::int64_t> out;
      out.reserve(kIntervalSample);
      std::size_t ia = 0, ib = 0;
      const double pa =
          static_cast<double>(ta.intervals_seen) / static_cast<double>(ta.intervals_seen + seen_b);
      while (out.size() < kIntervalSample && (ia < ta.intervals.size() || ib < joined_b.size())) {
        rng_ = rng_ * 6364136223846793005ULL + 1442695040888963407ULL;
        const double u = static_cast<double>(rng_ >> 11) / 9007199254740992.0;
        if ((u < pa && ia < ta.intervals.size()) || ib >= joined_b.size())
          out.push_back(ta.intervals[ia++]);
        else
          out.push_back(joined_b[ib++]);
      }
      ta.intervals = std::move(out);
    }
    ta.intervals_seen += seen_b;
    if (tb.last_ns) ta.last_ns = tb.last_ns;
    if (!ta.first_ns) ta.first_ns = tb.first_ns;
  }
  for (const auto& [packed, n] : later.adjacency_.slots)
    if (packed != 0) adjacency_.add(packed, n);
  if (prev_key_ && later.first_key_ && *prev_key_ != *later.first_key_ && prev_ns_ &&
      later.first_frame_ns_ && *later.first_frame_ns_ - *prev_ns_ <= kBurstGapNs) {
    const auto pair = std::minmax(*prev_key_, *later.first_key_);
    adjacency_.add(static_cast<std::uint64_t>(pair.first) << 32 | pair.second);
  }
  // The burst open at the end of this chunk is closed here; the later chunk's first burst was
  // recorded from its own first frame, which is good enough for a median span.
  if (burst_first_ && burst_start_ns_ && prev_ns_ && *prev_ns_ > *burst_start_ns_) {
    auto& spans = spans_by_first_[*burst_first_];
    if (spans.size() < kSpanSample) spans.push_back(*prev_ns_ - *burst_start_ns_);
  }
  for (auto& [k, v] : later.spans_by_first_) {
    auto& spans = spans_by_first_[k];
    for (auto x : v)
      if (spans.size() < kSpanSample) spans.push_back(x);
  }
  if (!first_key_) {
    first_key_ = later.first_key_;
    first_frame_ns_ = later.first_frame_ns_;
  }
  if (later.prev_key_) {
    prev_key_ = later.prev_key_;
    prev_ns_ = later.prev_ns_;
    burst_first_ = later.burst_first_;
    burst_start_ns_ = later.burst_start_ns_;
  }
}

namespace {

// Within a cluster: a second sender's copy or an ACK repeat, far shorter than any BMS cycle.
constexpr std::int64_t kClusterNs = 25'000'000;

}  // namespace

void InventoryBuilder::period_of(Track& t) {
  const auto& iv = t.intervals;
  std::vector<std::int64_t> shorts, longs;
  for (auto x : iv) (x < kClusterNs ? shorts : longs).push_back(x);
  // Clustered: copies come in bursts far shorter than the cycle (a second sender 2-3 ms behind,
  // ACK repeats 0.3 ms apart), on average at least 1.5 per cycle. A fast id with jitter (every
  // 20 ms, some intervals over 25 ms) is not: its short and long intervals are alike.
  if (iv.size() >= 4 && longs.size() >= 2 && !shorts.empty()) {
    const double short_ms = ns_to_ms(percentile(shorts, 0.5));
    const double long_ms = ns_to_ms(percentile(longs, 0.5));
    const double copies = static_cast<double>(iv.size()) / static_cast<double>(longs.size());
    if (long_ms >= 10 * short_ms && copies >= 1.5) {
      t.stats.per_cycle = static_cast<std::uint32_t>(std::lround(copies));
      // The mean cycle: one long interval plus the short ones inside a cluster.
      t.stats.period_ms = long_ms + (copies - 1) * short_ms;
      t.stats.jitter_ms = ns_to_ms(percentile(longs, 0.9)) - ns_to_ms(percentile(longs, 0.1));
      return;
    }
  }
  t.stats.period_ms = ns_to_ms(percentile(iv, 0.5));
  t.stats.jitter_ms = ns_to_ms(percentile(iv, 0.9)) - ns_to_ms(percentile(iv, 0.1));
}

Inventory InventoryBuilder::finish() {
  if (burst_first_ && burst_start_ns_ && prev_ns_ && *prev_ns_ > *burst_start_ns_) {
    auto& spans = spans_by_first_[*burst_first_];
    if (spans.size() < kSpanSample) spans.push_back(*prev_ns_ - *burst_start_ns_);
  }
  std::vector<std::uint32_t> keys;
  keys.reserve(tracks_.size());
  for (auto& [key, t] : tracks_) {
    keys.push_back(key);
    if (!t.intervals.empty()) {
      period_of(t);
      t.stats.max_gap_ms = ns_to_ms(t.max_gap_ns);
    }
  }
  std::sort(keys.begin(), keys.end(), [](std::uint32_t a, std::uint32_t b) {
    return (a & can::kExtendedIdMask) != (b & can::kExtendedIdMask)
               ? (a & can::kExtendedIdMask) < (b & can::kExtendedIdMask)
               : a < b;
  });
  for (std::uint32_t k : keys) inv_.ids.push_back(tracks_[k].stats);

  // Without timestamps there are no bursts to group ids by: no talkers rather than one made up.
  if (!inv_.first_ns) return std::move(inv_);
  // Union ids that were adjacent in at least half the bursts the rarer of the two appeared in.
  std::map<std::uint32_t, std::uint32_t> parent;
  for (std::uint32_t k : keys) parent[k] = k;
  auto find = [&](std::uint32_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  std::vector<std::pair<std::uint64_t, std::uint64_t>> pairs;
  for (const auto& slot : adjacency_.slots)
    if (slot.first != 0) pairs.push_back(slot);
  std::sort(pairs.begin(), pairs.end());  // unions in a fixed order: same capture, same groups
  for (const auto& [packed, n] : pairs) {
    const auto first = static_cast<std::uint32_t>(packed >> 32);
    const auto second = static_cast<std::uint32_t>(packed & 0xFFFFFFFFU);
    const auto a = tracks_.find(first), b = tracks_.find(second);
    if (a == tracks_.end() || b == tracks_.end()) continue;
    const std::uint64_t rarer = std::min(a->second.stats.count, b->second.stats.count);
    if (rarer >= 2 && n * 2 >= rarer) parent[find(first)] = find(second);
  }
  std::map<std::uint32_t, Talker> groups;
  for (std::uint32_t k : keys) groups[find(k)].ids.push_back(k);
  for (auto& [root, g] : groups) {
    std::vector<double> periods;
    std::vector<std::int64_t> spans;
    for (std::uint32_t k : g.ids) {
      if (const auto& p = tracks_[k].stats.period_ms) periods.push_back(*p);
      if (const auto it = spans_by_first_.find(k); it != spans_by_first_.end()) {
        spans.insert(spans.end(), it->second.begin(), it->second.end());
      }
    }
    if (!periods.empty()) g.period_ms = percentile(periods, 0.5);
    if (!spans.empty() && g.ids.size() > 1) g.burst_span_ms = ns_to_ms(percentile(spans, 0.5));
    inv_.talkers.push_back(std::move(g));
  }
  std::stable_sort(inv_.talkers.begin(), inv_.talkers.end(),
                   [](const Talker& a, const Talker& b) { return a.ids.size() > b.ids.size(); });
  return std::move(inv_);
}

}  // namespace bmslink::analysis
