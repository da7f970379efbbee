// Signals and BMS state: decodes each message of the protocol definition when its payload changed
// and keeps, per signal, the count and min/last/max; per state flag (protection_*, alarm_*,
// warning_*, charge/discharge enable, force-charge requests) how many frames it was active and
// when. The latest pack current, voltage, temperature and SOC go into the per-second bin.
// Messages without text keep raw extremes and convert once at the end: no floating point per
// signal per frame (a 0x35A carries 26 flags).
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "analysis/frame_facts.h"
#include "bmslink/analysis/evidence.h"
#include "bmslink/protocol/decoder.h"

namespace bmslink::analysis::detail {

// The level a state signal reports when active; kNone for measurements.
StateLevel level_of(const protocol::Signal& signal);

class SignalAnalyzer {
 public:
  // `decoder` may be null (no signal evidence) and must outlive the analyzer.
  explicit SignalAnalyzer(const protocol::Decoder* decoder);

  void add(const can::Frame& f, const DataFacts& d, SecondBin* bin) {
    if (f.extended || f.id >= 2048) return;
    const std::int32_t mi = message_of_[f.id];
    if (mi == 0) return;
    MessageTrack& m = messages_[static_cast<std::size_t>(mi - 1)];
    if (!m.decoded || d.hash != m.last_hash) decode(m, f, d);
    ++m.since_decode;
    // When a flag stays active, its last time is this frame's: settled at the next decode.
    if (d.timed) m.last_frame_ns = d.t_ns;
    if (bin != nullptr) readings_to(m, *bin);
  }
  void merge(SignalAnalyzer&& later);

  struct Result {
    std::vector<SignalStats> signals;
    StateEvidence state;
  };
  Result finish();

 private:
  struct SignalTrack {
    bool text = false;
    bool seen = false;  // raw path: rmin/rmax/rlast hold something
    std::int64_t rmin = 0, rmax = 0, rlast = 0;
    bool present = false;  // in the cached decode
    bool active = false;   // in the cached decode
    std::uint64_t count = 0;
    double min = std::numeric_limits<double>::infinity();
    double max = -std::numeric_limits<double>::infinity();
    double last = 0.0;
    std::string text_value;
    StateLevel level = StateLevel::kNone;
    std::uint64_t active_frames = 0;
    std::optional<std::int64_t> first_active_ns, last_active_ns;
  };
  struct MessageTrack {
    const protocol::MessageDecoder* decoder = nullptr;
    std::uint64_t last_hash = 0;
    bool decoded = false;
    std::uint64_t since_decode = 0;  // frames (incl. the decoded one) the cached values stand for
    std::vector<protocol::SignalValue> values;
    std::vector<SignalTrack> signals;
    bool raw_path = false;
    std::vector<std::int64_t> raw;
    std::uint64_t present_bits = 0;
    std::optional<std::int64_t> last_frame_ns;  // time of the latest frame of this message
    int current_index = -1, voltage_index = -1, temperature_index = -1, soc_index = -1;
    int ccl_index = -1, dcl_index = -1, cvl_index = -1, dvl_index = -1, charge_enable_index = -1;
    bool binned = false;  // carries any of the readings above
  };

  void decode(MessageTrack& m, const can::Frame& f, const DataFacts& d);
  static void flush(MessageTrack& m);
  static bool reading(const MessageTrack& m, int index, double& out) {
    if (index < 0) return false;
    const auto i = static_cast<std::size_t>(index);
    if (m.raw_path) {
      if (!((m.present_bits >> i) & 1U)) return false;
      out = m.decoder->physical(i, m.raw[i]);
      return true;
    }
    if (!m.values[i].present) return false;
    out = m.values[i].value;
    return true;
  }
  static void readings_to(const MessageTrack& m, SecondBin& bin) {
    if (!m.binned) return;
    double x = 0;
    if (reading(m, m.ccl_index, x)) bin.ccl_a = static_cast<float>(x);
    if (reading(m, m.dcl_index, x)) bin.dcl_a = static_cast<float>(x);
    if (reading(m, m.cvl_index, x)) bin.cvl_v = static_cast<float>(x);
    if (reading(m, m.dvl_index, x)) bin.dvl_v = static_cast<float>(x);
    if (reading(m, m.charge_enable_index, x)) bin.charge_enable = x != 0 ? 1 : 0;
    if (reading(m, m.current_index, x)) bin.current_a = static_cast<float>(x);
    if (reading(m, m.voltage_index, x)) bin.voltage_v = static_cast<float>(x);
    if (reading(m, m.temperature_index, x)) bin.temperature_c = static_cast<float>(x);
    if (reading(m, m.soc_index, x))
      bin.soc = static_cast<std::uint8_t>(x < 0 ? 0 : x > 254 ? 254 : x);
  }

  std::vector<MessageTrack> messages_;
  std::array<std::int32_t, 2048> message_of_{};  // standard id -> index + 1
  std::array<char, 64> text_buffer_{};
};

}  // namespace bmslink::analysis::detail
