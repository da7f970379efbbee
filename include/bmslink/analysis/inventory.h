// bmslink analysis: what a capture contains, before any protocol knowledge.
//
// InventoryBuilder streams frames and keeps, per CAN id, the count, the period (median interval),
// jitter, payload lengths and how often the payload changes; it counts error frames by kind and
// groups ids into talkers: ids that repeatedly leave the bus back to back (within a few ms) come
// from the same node, because a BMS sends its set as one burst. Memory is bounded by the number
// of distinct ids (capped) and a fixed interval sample per id, not by capture length.
// Not thread-safe; one builder per stream.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "bmslink/can/frame.h"

namespace bmslink::analysis {

struct IdStats {
  std::uint32_t id = 0;
  bool extended = false;
  std::uint64_t count = 0;
  std::optional<double> period_ms;   // median interval; absent without timestamps
  std::optional<double> jitter_ms;   // 90th minus 10th percentile of the intervals
  std::optional<double> max_gap_ms;  // longest silence between two frames of this id
  std::uint8_t min_len = 0;
  std::uint8_t max_len = 0;
  std::uint64_t payload_changes = 0;  // frames whose payload differs from the previous one
  // Copies per cycle when the id comes in clusters (a second sender 1-25 ms behind, ACK
  // repeats): then period_ms is the cycle, not the short interval inside the cluster.
  std::uint32_t per_cycle = 1;
  std::array<std::uint8_t, 64> last_data{};
  std::uint8_t last_len = 0;
};

struct Talker {
  std::vector<std::uint32_t> ids;       // sorted; 29-bit ids carry can::kEffFlag
  std::optional<double> period_ms;      // median of the members' periods
  std::optional<double> burst_span_ms;  // median time from the first to the last frame of a burst
};

struct Inventory {
  std::uint64_t frames = 0;
  std::uint64_t data_frames = 0;
  std::uint64_t remote_frames = 0;
  std::uint64_t error_frames = 0;
  std::uint64_t fd_frames = 0;
  std::uint64_t extended_frames = 0;
  std::uint64_t untimed_frames = 0;
  std::uint64_t ids_beyond_cap = 0;  // frames of ids not tracked individually
  TimeKind time_kind = TimeKind::kNone;
  std::optional<std::int64_t> first_ns;
  std::optional<std::int64_t> last_ns;
  std::vector<IdStats> ids;                       // sorted by id
  std::vector<Talker> talkers;                    // largest first
  std::map<std::string, std::uint64_t> errors;    // "no-ack" -> count, from decode_error_frame
  std::map<std::string, std::uint64_t> channels;  // frames per channel
  // Timestamps that run backwards by more than kBackwardToleranceNs (joined or re-sorted
  // captures): how often, the largest step back and where the first one happened. Intervals
  // across such a step are not measured.
  static constexpr std::int64_t kBackwardToleranceNs = 1'000'000;
  std::uint64_t backward_steps = 0;
  std::int64_t largest_backward_ns = 0;
  std::optional<std::int64_t> first_backward_ns;  // the timestamp after the step

  std::optional<double> duration_s() const;
};

class InventoryBuilder {
 public:
  static constexpr std::size_t kMaxIds = 4096;
  static constexpr std::size_t kIntervalSample = 2048;
  static constexpr std::int64_t kBurstGapNs = 5'000'000;  // frames closer than this are one burst

  void add(const can::Frame& frame);
  // Appends the inventory of the frames that follow this builder's (a later chunk of the same
  // capture); `later` is consumed. Interval samples are merged as one reservoir.
  void merge(InventoryBuilder&& later);
  Inventory finish();

 private:
  struct Track {
    IdStats stats;
    std::optional<std::int64_t> last_ns;
    std::vector<std::int64_t> intervals;  // reservoir sample
    std::uint64_t intervals_seen = 0;
    std::int64_t max_gap_ns = 0;
    std::optional<std::int64_t> first_ns;
    std::array<std::uint8_t, 64> first_data{};
    std::uint8_t first_len = 0;
  };
  static constexpr std::size_t kSpanSample = 256;  // burst spans kept per first id
  static std::uint32_t key_of(const can::Frame& f) {
    return f.extended ? (f.id | can::kEffFlag) : f.id;
  }

  Inventory inv_;
  std::unordered_map<std::uint32_t, Track> tracks_;
  // Standard ids straight to their track (map nodes never move): skips hashing per frame.
  std::array<Track*, 2048> standard_tracks_{};
  // 29-bit ids: a direct-mapped cache in front of the map.
  std::array<std::pair<std::uint32_t, Track*>, 256> extended_cache_{};
  // Open-addressing table of (lower key << 32 | higher key) -> count: the per-frame hot spot,
  // so no node allocation and one probe in the common case. Key 0 marks an empty slot (a pair
  // always has two different keys, so it is never 0).
  struct AdjacencyTable {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> slots;
    std::size_t used = 0;
    std::uint64_t dropped = 0;  // pairs beyond kMaxPairs
    static constexpr std::size_t kMaxPairs = 1U << 20;
    void add(std::uint64_t key, std::uint64_t n = 1);
    void grow();
  };
  AdjacencyTable adjacency_;
  std::string last_channel_;
  std::uint64_t* last_channel_count_ = nullptr;
  std::optional<std::uint32_t> prev_key_;
  std::optional<std::int64_t> prev_ns_;
  std::optional<std::int64_t> burst_start_ns_;
  std::map<std::uint32_t, std::vector<std::int64_t>> spans_by_first_;
  std::optional<std::uint32_t> first_key_;  // first data frame, for merging the chunk boundary
  std::optional<std::int64_t> first_frame_ns_;
  std::optional<std::uint32_t> burst_first_;
  std::optional<std::int64_t> last_timed_ns_;   // of any frame, for backward steps
  std::optional<std::int64_t> first_timed_ns_;  // of any frame, for the chunk boundary
  void step_back(std::int64_t from_ns, std::int64_t to_ns);
  static void period_of(Track& t);
  std::uint64_t rng_ = 0x9E3779B97F4A7C15ULL;
};

// "0x351" or "0x18FF50E5" for a talker/inventory key.
std::string key_hex(std::uint32_t key);

}  // namespace bmslink::analysis
