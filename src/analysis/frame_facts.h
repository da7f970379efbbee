// What every analyzer of one pass needs to know about a frame, worked out once per frame by
// CaptureAnalyzer: its key, payload hash, tracked-id bit, side and per-second bin.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <limits>

#include "bmslink/analysis/evidence.h"
#include "bmslink/can/frame.h"

namespace bmslink::analysis::detail {

constexpr std::int64_t kNsPerS = 1'000'000'000;
constexpr float kNoReading = std::numeric_limits<float>::quiet_NaN();

inline std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

inline std::uint64_t payload_hash(const can::Frame& f) {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ f.len;
  // Bytes beyond len are stale in a reused frame: only the payload counts.
  std::uint64_t first = 0;
  std::memcpy(&first, f.data.data(), 8);
  if (f.len < 8) first &= (std::uint64_t{1} << (8 * f.len)) - 1;
  h = (h ^ first) * 0x100000001b3ULL;
  for (std::size_t i = 8; i < f.len; ++i) h = (h ^ f.data[i]) * 0x100000001b3ULL;
  return h ^ (h >> 29);
}

inline std::uint32_t key_of(const can::Frame& f) {
  return f.extended ? (f.id | can::kEffFlag) : f.id;
}

// One second of the capture: what the timelines, uptime, bus load and correlation are built from.
struct SecondBin {
  std::uint64_t id_mask = 0;  // tracked ids present (tracked_id_bit)
  std::uint32_t frames = 0;
  std::uint32_t bits = 0;
  std::uint16_t errors = 0;
  std::uint8_t soc = 0xFF;
  float current_a = kNoReading;
  float voltage_v = kNoReading;
  float temperature_c = kNoReading;
  // The BMS's limits in force at the end of the second (0x351) and the charge enable flag of
  // 0x35C (0xFF: none this second), for the limit-following check.
  float ccl_a = kNoReading;
  float dcl_a = kNoReading;
  float cvl_v = kNoReading;
  float dvl_v = kNoReading;
  std::uint8_t charge_enable = 0xFF;
};

// Per data frame (not error, not remote).
struct DataFacts {
  std::uint32_t key = 0;
  std::uint64_t hash = 0;
  int bit = -1;  // tracked_id_bit, -1 when not tracked
  Side side = Side::kOther;
  bool timed = false;
  std::int64_t t_ns = 0;  // valid when timed
};

// Side of every standard id: the protocol definition's transmitter where it names one, the fact
// sheet's ranges otherwise.
class SideMap {
 public:
  SideMap();
  // `transmitter_side(name)` for each message of a definition.
  void set(std::uint32_t id, Side side) {
    if (id < table_.size()) table_[id] = side;
  }
  Side of(std::uint32_t id, bool extended) const {
    return extended || id >= table_.size() ? Side::kOther : table_[id];
  }

 private:
  std::array<Side, 2048> table_{};
};

// "BMS"/"Battery" -> kBms, "Inverter"/"GX"/"Charger" -> kInverter, anything else kOther.
Side transmitter_side(std::string_view transmitter);

}  // namespace bmslink::analysis::detail
