// The per-frame path touches fixed-size arrays only (tracked ids are a 64-bit mask, conflict
// tracks an array of 64); anything that needs sorting or statistics waits for finish().

#include "bmslink/analysis/capture_analyzer.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "bmslink/can/error_frame.h"

namespace bmslink::analysis {

Side side_of(std::uint32_t id, bool extended) {
  if (extended) return Side::kOther;
  if (id >= 0x350 && id <= 0x382) return Side::kBms;
  if (id >= 0x300 && id <= 0x30F) return Side::kInverter;
  return Side::kOther;
}

int tracked_id_bit(std::uint32_t id, bool extended) {
  if (extended) return -1;
  if (id >= 0x350 && id <= 0x35F) return static_cast<int>(id - 0x350);
  if (id >= 0x370 && id <= 0x37F) return static_cast<int>(id - 0x370 + 16);
  if (id == 0x360) return 32;
  if (id >= 0x380 && id <= 0x382) return static_cast<int>(id - 0x380 + 33);
  if (id >= 0x300 && id <= 0x30F) return static_cast<int>(id - 0x300 + 40);
  return -1;
}

std::uint32_t tracked_bit_id(int bit) {
  if (bit < 16) return 0x350 + static_cast<std::uint32_t>(bit);
  if (bit < 32) return 0x370 + static_cast<std::uint32_t>(bit - 16);
  if (bit == 32) return 0x360;
  if (bit < 40) return 0x380 + static_cast<std::uint32_t>(bit - 33);
  return 0x300 + static_cast<std::uint32_t>(bit - 40);
}

namespace {

// tracked_id_bit for every standard id, looked up per frame.
const std::array<std::int8_t, 2048> kTrackedBit = [] {
  std::array<std::int8_t, 2048> t{};
  for (std::uint32_t id = 0; id < 2048; ++id)
    t[id] = static_cast<std::int8_t>(tracked_id_bit(id, false));
  return t;
}();

constexpr std::int64_t kNsPerS = 1'000'000'000;
constexpr std::int64_t kRepeatWindowNs = 2'000'000;  // a retransmission follows within a frame time
constexpr std::int64_t kErrorAfterNs = 2'000'000;
constexpr std::size_t kMaxGapsKept = 200;
constexpr float kNoReading = std::numeric_limits<float>::quiet_NaN();

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::uint64_t payload_hash(const can::Frame& f) {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ f.len;
  // Bytes beyond len are stale in a reused frame: only the payload counts.
  std::uint64_t first = 0;
  std::memcpy(&first, f.data.data(), 8);
  if (f.len < 8) first &= (std::uint64_t{1} << (8 * f.len)) - 1;
  h = (h ^ first) * 0x100000001b3ULL;
  for (std::size_t i = 8; i < f.len; ++i) h = (h ^ f.data[i]) * 0x100000001b3ULL;
  return h ^ (h >> 29);
}

struct SecondBin {
  std::uint64_t id_mask = 0;
  std::uint32_t frames = 0;
  std::uint32_t bits = 0;
  std::uint16_t errors = 0;
  std::uint8_t soc = 0xFF;
  float current_a = kNoReading;
  float voltage_v = kNoReading;
  float temperature_c = kNoReading;
};

struct ConflictTrack {
  std::uint64_t h1 = 0, h2 = 0;  // payload hashes one and two frames back
  std::uint64_t count = 0;
  std::uint64_t alternations = 0;
  std::uint64_t changes = 0;
  std::uint64_t errors_after = 0;
  std::uint64_t short_intervals = 0;  // a frame under kShortIntervalNs after the previous one
  std::optional<std::int64_t> last_ns;
};
constexpr std::int64_t kShortIntervalNs = 25'000'000;

// Gaps of one stream of frames (the limits frame, or any BMS frame) longer than a timeout.
struct GapTrack {
  std::optional<std::int64_t> first_ns, last_ns;
  std::vector<Gap> gaps;
  std::uint64_t count = 0;
  std::int64_t longest = 0;

  void note(std::int64_t start, std::int64_t length, std::int64_t timeout) {
    longest = std::max(longest, length);
    if (length <= timeout) return;
    ++count;
    if (gaps.size() < kMaxGapsKept) gaps.push_back({start, length});
  }
  void add(std::int64_t t, std::int64_t timeout) {
    if (!first_ns) first_ns = t;
    if (last_ns && t > *last_ns) note(*last_ns, t - *last_ns, timeout);
    last_ns = t;
  }
  void merge(GapTrack&& b, std::int64_t timeout) {
    if (last_ns && b.first_ns && *b.first_ns > *last_ns)
      note(*last_ns, *b.first_ns - *last_ns, timeout);
    for (const auto& g : b.gaps)
      if (gaps.size() < kMaxGapsKept) gaps.push_back(g);
    count += b.count;
    longest = std::max(longest, b.longest);
    if (!first_ns) first_ns = b.first_ns;
    if (b.last_ns) last_ns = b.last_ns;
  }
};

// Signals whose state matters: which value means "the battery is refusing or complaining".
enum class Level : std::uint8_t { kNone, kProtection, kAlarm, kWarning, kDisabled, kRequest };

Level level_of(const protocol::Signal& s) {
  const std::string& n = s.name;
  if (n == "charge_enable" || n == "discharge_enable") return Level::kDisabled;
  if (n.starts_with("force_charge_request") || n == "full_charge_request") return Level::kRequest;
  if (n.starts_with("protection_")) return Level::kProtection;
  if (n.starts_with("alarm_")) return Level::kAlarm;
  if (n.starts_with("warning_")) return Level::kWarning;
  return Level::kNone;
}

bool is_active(Level level, const protocol::SignalValue& v) {
  if (!v.present) return false;
  switch (level) {
    case Level::kDisabled:
      return v.raw == 0;
    case Level::kNone:
      return false;
    default:
      return v.raw == 1;  // 1 bit flags; 2-bit fields: 1 = active, 2 = ok, 0/3 = not supported
  }
}

const char* level_name(Level l) {
  switch (l) {
    case Level::kProtection:
      return "protection";
    case Level::kAlarm:
      return "alarm";
    case Level::kWarning:
      return "warning";
    case Level::kDisabled:
      return "disabled";
    case Level::kRequest:
      return "request";
    case Level::kNone:
      break;
  }
  return "";
}

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
  Level level = Level::kNone;
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
  // Messages without text keep raw extremes and convert once at the end: no floating point per
  // signal per frame (a 0x35A carries 26 flags).
  bool raw_path = false;
  std::vector<std::int64_t> raw;
  std::uint64_t present_bits = 0;
  bool any_active = false;
  std::optional<std::int64_t> last_frame_ns;  // time of the latest frame of this message
  int current_index = -1, voltage_index = -1, temperature_index = -1, soc_index = -1;
};

}  // namespace

struct CaptureAnalyzer::State {
  const protocol::Decoder* decoder = nullptr;
  AnalyzerOptions options;
  std::int64_t timeout_ns = 0;
  InventoryBuilder inventory;

  // Per-second bins from base_second (absolute seconds on the capture clock).
  std::optional<std::int64_t> base_second;
  std::vector<SecondBin> bins;
  std::uint64_t unbinned_frames = 0;

  // ACK: back-to-back repeats of the previous data frame.
  std::uint32_t prev_key = 0;
  std::uint64_t prev_hash = 0;
  std::optional<std::int64_t> prev_ns;
  bool have_prev = false;
  std::uint32_t run = 0;
  std::uint64_t back_to_back = 0;
  std::uint32_t longest_run = 0;
  std::uint32_t longest_run_key = 0;
  std::optional<std::int64_t> first_repeat_ns;
  // First data frame, to join a chunk boundary.
  bool have_first = false;
  std::uint32_t first_key = 0;
  std::uint64_t first_hash = 0;
  std::optional<std::int64_t> first_ns;
  // Last data frame's tracked bit and time, for "error right after this id".
  int last_bit = -1;
  std::optional<std::int64_t> last_data_ns;

  BusErrorEvidence bus;
  std::array<ConflictTrack, 64> conflicts{};

  GapTrack limits_gaps, bms_gaps;

  std::vector<MessageTrack> messages;
  std::array<std::int32_t, 2048> message_of{};  // standard id -> index + 1
  std::array<char, 64> text_buffer{};

  // The second of the previous frame: nearly every frame lands in it, and a 64-bit division
  // per frame is measurable at a million frames per second.
  bool cache_valid = false;
  std::int64_t cache_lo_ns = 0, cache_hi_ns = 0;
  std::size_t cache_idx = 0;

  SecondBin* bin_for(std::int64_t ns) {
    if (cache_valid && ns >= cache_lo_ns && ns < cache_hi_ns) return &bins[cache_idx];
    SecondBin* b = bin_slow(ns);
    if (b != nullptr) {
      cache_valid = true;
      cache_idx = static_cast<std::size_t>(b - bins.data());
      cache_lo_ns = (*base_second + static_cast<std::int64_t>(cache_idx)) * kNsPerS;
      cache_hi_ns = cache_lo_ns + kNsPerS;
    }
    return b;
  }

  SecondBin* bin_slow(std::int64_t ns) {
    const std::int64_t sec = floor_div(ns, kNsPerS);
    if (!base_second) base_second = sec;
    if (sec < *base_second) {
      // Earlier than anything seen (a disordered capture, or a later chunk merged first): grow
      // at the front when that stays within the cap.
      const std::int64_t grow = *base_second - sec;
      if (static_cast<std::uint64_t>(grow) + bins.size() > kMaxSeconds) return nullptr;
      bins.insert(bins.begin(), static_cast<std::size_t>(grow), SecondBin{});
      base_second = sec;
      cache_valid = false;
    }
    const auto idx = static_cast<std::uint64_t>(sec - *base_second);
    if (idx >= kMaxSeconds) return nullptr;
    if (idx >= bins.size()) bins.resize(idx + 1);
    return &bins[idx];
  }
};

CaptureAnalyzer::CaptureAnalyzer(const protocol::Decoder* decoder, AnalyzerOptions options)
    : s_(std::make_unique<State>()) {
  s_->decoder = decoder;
  s_->options = options;
  s_->timeout_ns = options.inverter_timeout_ms * 1'000'000;
  if (decoder != nullptr) {
    for (const auto& m : decoder->database().messages) {
      if (m.extended || m.id >= 2048) continue;
      const auto* md = decoder->find(m.id, false);
      if (md == nullptr || s_->message_of[m.id] != 0) continue;
      MessageTrack t;
      t.decoder = md;
      t.values.resize(md->signal_count());
      t.signals.resize(md->signal_count());
      t.raw_path = !md->has_text() && md->signal_count() <= 64;
      t.raw.assign(md->signal_count(), std::int64_t{0});
      for (std::size_t i = 0; i < md->signal_count(); ++i) {
        const auto& sig = md->message().signals[i];
        t.signals[i].level = level_of(sig);
        t.signals[i].text = sig.is_text();
        const int idx = static_cast<int>(i);
        if (sig.name == "pack_current") t.current_index = idx;
        if (sig.name == "pack_voltage") t.voltage_index = idx;
        if (sig.name == "pack_temperature") t.temperature_index = idx;
        if (sig.name == "soc") t.soc_index = idx;
      }
      s_->messages.push_back(std::move(t));
      s_->message_of[m.id] = static_cast<std::int32_t>(s_->messages.size());
    }
  }
}

CaptureAnalyzer::CaptureAnalyzer(CaptureAnalyzer&&) noexcept = default;
CaptureAnalyzer& CaptureAnalyzer::operator=(CaptureAnalyzer&&) noexcept = default;
CaptureAnalyzer::~CaptureAnalyzer() = default;

namespace {

// The physical value of signal `index` in the cached decode, when present.
bool reading(const MessageTrack& m, int index, double& out) {
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

// Adds the frames the cached decode stood for to each signal's count and active time.
void flush_message(MessageTrack& m) {
  if (!m.decoded || m.since_decode == 0) return;
  for (auto& st : m.signals) {
    if (st.present) st.count += m.since_decode;
    if (st.active) {
      st.active_frames += m.since_decode;
      if (m.last_frame_ns) st.last_active_ns = m.last_frame_ns;
    }
  }
  m.since_decode = 0;
}

}  // namespace

void CaptureAnalyzer::add(const can::Frame& f) {
  State& s = *s_;
  s.inventory.add(f);
  const bool timed = f.has_timestamp();
  SecondBin* bin = nullptr;
  if (timed) {
    bin = s.bin_for(f.timestamp_ns);
    if (bin == nullptr) {
      ++s.unbinned_frames;
    } else {
      ++bin->frames;
      bin->bits += can::wire_bits(f);
    }
  }

  if (f.error) {
    ++s.bus.error_frames;
    if (bin != nullptr && bin->errors < 0xFFFF) ++bin->errors;
    if (timed && !s.bus.first_error_ns) s.bus.first_error_ns = f.timestamp_ns;
    const auto info = can::decode_error_frame(f);
    if (info.bus_off) ++s.bus.bus_off;
    if (info.rx_passive || info.tx_passive) ++s.bus.error_passive;
    if (info.rx_warning || info.tx_warning) ++s.bus.error_warning;
    if (info.protocol_violation) {
      for (const auto& k : info.violation_kinds) {
        if (k == "bit" || k == "form" || k == "stuff" || k == "bit0" || k == "bit1") {
          ++s.bus.protocol_violations;
          break;
        }
      }
    }
    if (info.tx_error_counter)
      s.bus.max_tec = std::max<std::uint8_t>(s.bus.max_tec.value_or(0), *info.tx_error_counter);
    if (info.rx_error_counter)
      s.bus.max_rec = std::max<std::uint8_t>(s.bus.max_rec.value_or(0), *info.rx_error_counter);
    if (s.last_bit >= 0 && timed && s.last_data_ns &&
        f.timestamp_ns - *s.last_data_ns <= kErrorAfterNs) {
      ++s.conflicts[static_cast<std::size_t>(s.last_bit)].errors_after;
    }
    return;
  }
  if (f.rtr) return;

  const std::uint32_t key = f.extended ? (f.id | can::kEffFlag) : f.id;
  const std::uint64_t h = payload_hash(f);
  // ACK: an unacknowledged frame is sent again at once, so a listen-only capture shows it twice
  // or more within a frame time. A BMS burst never repeats an id back to back.
  if (s.have_prev && key == s.prev_key && h == s.prev_hash && timed && s.prev_ns &&
      f.timestamp_ns - *s.prev_ns <= kRepeatWindowNs) {
    ++s.back_to_back;
    ++s.run;
    if (!s.first_repeat_ns) s.first_repeat_ns = f.timestamp_ns;
    if (s.run > s.longest_run) {
      s.longest_run = s.run;
      s.longest_run_key = key;
    }
  } else {
    s.run = 0;
  }
  if (!s.have_first) {
    s.have_first = true;
    s.first_key = key;
    s.first_hash = h;
    if (timed) s.first_ns = f.timestamp_ns;
  }
  s.have_prev = true;
  s.prev_key = key;
  s.prev_hash = h;
  s.prev_ns = timed ? std::optional<std::int64_t>(f.timestamp_ns) : std::nullopt;

  const int bit = f.extended || f.id >= 2048 ? -1 : kTrackedBit[f.id];
  s.last_bit = bit;
  s.last_data_ns = s.prev_ns;
  if (bit >= 0) {
    if (bin != nullptr) bin->id_mask |= std::uint64_t{1} << bit;
    auto& c = s.conflicts[static_cast<std::size_t>(bit)];
    if (c.count >= 2 && h != c.h1 && h == c.h2) ++c.alternations;
    if (c.count >= 1 && h != c.h1) ++c.changes;
    if (timed) {
      // Back-to-back identical repeats are the ACK signature, not a second sender.
      if (c.last_ns && f.timestamp_ns - *c.last_ns < kShortIntervalNs && h != c.h1)
        ++c.short_intervals;
      c.last_ns = f.timestamp_ns;
    }
    ++c.count;
    c.h2 = c.h1;
    c.h1 = h;
  }
  if (timed && !f.extended && f.id >= 0x350 && f.id <= 0x382) {  // the BMS side (side_of)
    s.bms_gaps.add(f.timestamp_ns, s.timeout_ns);
    if (f.id == 0x351) s.limits_gaps.add(f.timestamp_ns, s.timeout_ns);
  }

  if (f.extended || f.id >= 2048) return;
  const std::int32_t mi = s.message_of[f.id];
  if (mi == 0) return;
  MessageTrack& m = s.messages[static_cast<std::size_t>(mi - 1)];
  if ((!m.decoded || h != m.last_hash) && m.raw_path) {
    m.present_bits = m.decoder->decode_raw(f, m.raw);
    m.decoded = true;
    m.last_hash = h;
    m.any_active = false;
    const std::uint64_t since = m.since_decode;
    m.since_decode = 0;
    for (std::size_t i = 0; i < m.signals.size(); ++i) {
      auto& st = m.signals[i];
      if (st.present) st.count += since;
      if (st.active) {
        st.active_frames += since;
        if (m.last_frame_ns) st.last_active_ns = m.last_frame_ns;
      }
      st.present = (m.present_bits >> i) & 1U;
      if (!st.present) {
        st.active = false;
        continue;
      }
      const std::int64_t r = m.raw[i];
      st.active = st.level != Level::kNone && (st.level == Level::kDisabled ? r == 0 : r == 1);
      if (!st.seen) {
        st.seen = true;
        st.rmin = st.rmax = r;
      } else {
        st.rmin = std::min(st.rmin, r);
        st.rmax = std::max(st.rmax, r);
      }
      st.rlast = r;
      if (st.active) {
        m.any_active = true;
        if (timed && !st.first_active_ns) st.first_active_ns = f.timestamp_ns;
      }
    }
  } else if (!m.decoded || h != m.last_hash) {
    m.decoder->decode(f, m.values, s.text_buffer);
    m.decoded = true;
    m.last_hash = h;
    m.any_active = false;
    const std::uint64_t since = m.since_decode;
    m.since_decode = 0;
    for (std::size_t i = 0; i < m.values.size(); ++i) {
      const auto& v = m.values[i];
      auto& st = m.signals[i];
      // Frames the previous decode stood for, counted once here rather than per frame.
      if (st.present) st.count += since;
      if (st.active) {
        st.active_frames += since;
        if (m.last_frame_ns) st.last_active_ns = m.last_frame_ns;
      }
      st.present = v.present;
      st.active = is_active(st.level, v);
      if (!v.present) continue;
      if (st.text) {
        if (st.text_value != v.text) st.text_value.assign(v.text);
        continue;
      }
      st.min = std::min(st.min, v.value);
      st.max = std::max(st.max, v.value);
      st.last = v.value;
      if (st.active) {
        m.any_active = true;
        if (timed && !st.first_active_ns) st.first_active_ns = f.timestamp_ns;
      }
    }
  }
  ++m.since_decode;
  // When a flag stays active, its last time is this frame's: settled at the next decode.
  if (timed) m.last_frame_ns = f.timestamp_ns;
  if (bin != nullptr) {
    double x = 0;
    if (reading(m, m.current_index, x)) bin->current_a = static_cast<float>(x);
    if (reading(m, m.voltage_index, x)) bin->voltage_v = static_cast<float>(x);
    if (reading(m, m.temperature_index, x)) bin->temperature_c = static_cast<float>(x);
    if (reading(m, m.soc_index, x)) bin->soc = static_cast<std::uint8_t>(std::clamp(x, 0.0, 254.0));
  }
}

void CaptureAnalyzer::merge(CaptureAnalyzer&& later_analyzer) {
  State& a = *s_;
  State& b = *later_analyzer.s_;
  a.inventory.merge(std::move(b.inventory));
  // Bins: both indexed by absolute second; copy b's into a's range.
  if (b.base_second) {
    for (std::size_t i = 0; i < b.bins.size(); ++i) {
      const SecondBin& src = b.bins[i];
      if (src.frames == 0) continue;
      SecondBin* dst = a.bin_for((*b.base_second + static_cast<std::int64_t>(i)) * kNsPerS);
      if (dst == nullptr) {
        a.unbinned_frames += src.frames;
        continue;
      }
      dst->id_mask |= src.id_mask;
      dst->frames += src.frames;
      dst->bits += src.bits;
      dst->errors = static_cast<std::uint16_t>(
          std::min<std::uint32_t>(0xFFFF, std::uint32_t{dst->errors} + std::uint32_t{src.errors}));
      if (!std::isnan(src.current_a)) dst->current_a = src.current_a;
      if (!std::isnan(src.voltage_v)) dst->voltage_v = src.voltage_v;
      if (!std::isnan(src.temperature_c)) dst->temperature_c = src.temperature_c;
      if (src.soc != 0xFF) dst->soc = src.soc;
    }
  }
  a.unbinned_frames += b.unbinned_frames;

  // ACK repeats across the boundary.
  if (a.have_prev && b.have_first && a.prev_key == b.first_key && a.prev_hash == b.first_hash &&
      a.prev_ns && b.first_ns && *b.first_ns - *a.prev_ns <= kRepeatWindowNs) {
    ++a.back_to_back;
  }
  a.back_to_back += b.back_to_back;
  if (b.longest_run > a.longest_run) {
    a.longest_run = b.longest_run;
    a.longest_run_key = b.longest_run_key;
  }
  if (!a.first_repeat_ns) a.first_repeat_ns = b.first_repeat_ns;
  if (!a.have_first) {
    a.have_first = b.have_first;
    a.first_key = b.first_key;
    a.first_hash = b.first_hash;
    a.first_ns = b.first_ns;
  }
  if (b.have_prev) {
    a.have_prev = true;
    a.prev_key = b.prev_key;
    a.prev_hash = b.prev_hash;
    a.prev_ns = b.prev_ns;
    a.run = b.run;
    a.last_bit = b.last_bit;
    a.last_data_ns = b.last_data_ns;
  }

  BusErrorEvidence& x = a.bus;
  const BusErrorEvidence& y = b.bus;
  x.error_frames += y.error_frames;
  x.bus_off += y.bus_off;
  x.error_passive += y.error_passive;
  x.error_warning += y.error_warning;
  x.protocol_violations += y.protocol_violations;
  if (y.max_tec) x.max_tec = std::max(x.max_tec.value_or(0), *y.max_tec);
  if (y.max_rec) x.max_rec = std::max(x.max_rec.value_or(0), *y.max_rec);
  if (!x.first_error_ns) x.first_error_ns = y.first_error_ns;

  for (std::size_t i = 0; i < a.conflicts.size(); ++i) {
    auto& c = a.conflicts[i];
    const auto& d = b.conflicts[i];
    if (d.count == 0) continue;
    c.count += d.count;
    c.alternations += d.alternations;
    c.changes += d.changes;
    c.errors_after += d.errors_after;
    c.short_intervals += d.short_intervals;
    if (d.last_ns) c.last_ns = d.last_ns;
    c.h2 = d.count >= 2 ? d.h2 : c.h1;
    c.h1 = d.h1;
  }
  a.limits_gaps.merge(std::move(b.limits_gaps), a.timeout_ns);
  a.bms_gaps.merge(std::move(b.bms_gaps), a.timeout_ns);

  for (std::size_t i = 0; i < a.messages.size() && i < b.messages.size(); ++i) {
    MessageTrack& ma = a.messages[i];
    MessageTrack& mb = b.messages[i];
    flush_message(ma);
    flush_message(mb);
    for (std::size_t k = 0; k < ma.signals.size(); ++k) {
      auto& sa = ma.signals[k];
      const auto& sb = mb.signals[k];
      if (sb.count == 0 && sb.text_value.empty()) continue;
      sa.count += sb.count;
      if (sb.seen) {
        sa.rmin = sa.seen ? std::min(sa.rmin, sb.rmin) : sb.rmin;
        sa.rmax = sa.seen ? std::max(sa.rmax, sb.rmax) : sb.rmax;
        sa.rlast = sb.rlast;
        sa.seen = true;
      }
      sa.min = std::min(sa.min, sb.min);
      sa.max = std::max(sa.max, sb.max);
      if (sb.count > 0) sa.last = sb.last;
      if (!sb.text_value.empty()) sa.text_value = sb.text_value;
      sa.active_frames += sb.active_frames;
      if (!sa.first_active_ns) sa.first_active_ns = sb.first_active_ns;
      if (sb.last_active_ns) sa.last_active_ns = sb.last_active_ns;
    }
    if (mb.decoded) {
      ma.decoded = true;
      ma.last_hash = mb.last_hash;
      ma.values = mb.values;  // numbers only are read from it later; text views are not
      ma.raw = mb.raw;
      ma.present_bits = mb.present_bits;
      ma.any_active = mb.any_active;
      ma.last_frame_ns = mb.last_frame_ns;
      for (std::size_t k = 0; k < ma.signals.size(); ++k) {
        ma.signals[k].present = mb.signals[k].present;
        ma.signals[k].active = mb.signals[k].active;
      }
    }
  }
}

std::optional<double> spearman(const std::vector<double>& x, const std::vector<double>& y) {
  const std::size_t n = std::min(x.size(), y.size());
  if (n < 3) return std::nullopt;
  auto ranks = [n](const std::vector<double>& v) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](std::size_t i, std::size_t j) { return v[i] < v[j]; });
    std::vector<double> r(n);
    for (std::size_t i = 0; i < n;) {
      std::size_t j = i;
      while (j + 1 < n && v[order[j + 1]] == v[order[i]]) ++j;
      const double avg = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
      for (std::size_t k = i; k <= j; ++k) r[order[k]] = avg;
      i = j + 1;
    }
    return r;
  };
  const auto rx = ranks(x), ry = ranks(y);
  const double mean = (static_cast<double>(n) + 1.0) / 2.0;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    sxy += (rx[i] - mean) * (ry[i] - mean);
    sxx += (rx[i] - mean) * (rx[i] - mean);
    syy += (ry[i] - mean) * (ry[i] - mean);
  }
  if (sxx == 0 || syy == 0) return std::nullopt;
  return sxy / std::sqrt(sxx * syy);
}

namespace {

double median_of(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// Error rate (errors per frame-carrying minute) in the top versus bottom quarter of `key`.
std::optional<double> quartile_ratio(const std::vector<double>& key,
                                     const std::vector<double>& err) {
  if (key.size() < 8) return std::nullopt;
  std::vector<std::size_t> order(key.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::size_t i, std::size_t j) { return key[i] < key[j]; });
  const std::size_t q = key.size() / 4;
  double low = 0, high = 0;
  for (std::size_t i = 0; i < q; ++i) {
    low += err[order[i]];
    high += err[order[key.size() - 1 - i]];
  }
  return (high + 1.0) / (low + 1.0);  // +1: a quiet bottom quarter does not make it infinite
}

std::uint16_t u16le(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }
std::uint16_t u16be(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[1] | p[0] << 8); }

struct Readings {
  std::optional<double> cvl, ccl, dcl, dvl, pack_v;
};

Readings read_raw(const IdStats* limits, const IdStats* meas, bool big_endian) {
  Readings r;
  auto u = [big_endian](const std::uint8_t* p) { return big_endian ? u16be(p) : u16le(p); };
  auto s = [&u](const std::uint8_t* p) { return static_cast<std::int16_t>(u(p)); };
  if (limits != nullptr) {
    const auto* d = limits->last_data.data();
    if (limits->last_len >= 2) r.cvl = u(d) * 0.1;
    if (limits->last_len >= 4) r.ccl = s(d + 2) * 0.1;
    if (limits->last_len >= 6) r.dcl = s(d + 4) * 0.1;
    if (limits->last_len >= 8) r.dvl = u(d + 6) * 0.1;
  }
  if (meas != nullptr && meas->last_len >= 2) r.pack_v = s(meas->last_data.data()) * 0.01;
  return r;
}

bool lv_voltage(double v) { return v >= 8.0 && v <= 70.0; }

// Voltages that belong to one low-voltage pack: limits and pack voltage in range and consistent.
bool plausible(const Readings& r) {
  if (r.cvl && !lv_voltage(*r.cvl)) return false;
  if (r.dvl && !lv_voltage(*r.dvl)) return false;
  if (r.pack_v && !lv_voltage(*r.pack_v)) return false;
  if (r.cvl && r.pack_v && (*r.cvl < 0.85 * *r.pack_v || *r.cvl > 1.4 * *r.pack_v)) return false;
  return true;
}

std::string fmt_v(const std::optional<double>& v) {
  return v ? fmt::format("{:.1f} V", *v) : std::string("-");
}

}  // namespace

Evidence CaptureAnalyzer::finish(const protocol::Identification& identification) {
  State& s = *s_;
  Evidence e;
  e.inventory = s.inventory.finish();
  e.protocol = identification;
  e.timed = e.inventory.time_kind != TimeKind::kNone && e.inventory.untimed_frames == 0;
  e.absolute_time = e.inventory.time_kind == TimeKind::kAbsolute;
  e.duration_s = e.inventory.duration_s().value_or(0.0);

  // Timing and sides.
  std::vector<double> bms_periods;
  std::uint64_t bms_max_count = 0;
  for (const auto& st : e.inventory.ids) {
    const std::uint32_t key = st.extended ? (st.id | can::kEffFlag) : st.id;
    switch (side_of(st.id, st.extended)) {
      case Side::kBms:
        e.timing.bms_ids.push_back(key);
        e.timing.bms_frames += st.count;
        bms_max_count = std::max(bms_max_count, st.count);
        if (st.period_ms) bms_periods.push_back(*st.period_ms);
        break;
      case Side::kInverter:
        e.timing.inverter_ids.push_back(key);
        e.timing.inverter_frames += st.count;
        break;
      case Side::kOther:
        e.timing.other_ids.push_back(key);
        e.timing.other_frames += st.count;
        break;
    }
  }
  if (!bms_periods.empty()) e.timing.bms_period_ms = median_of(bms_periods);
  e.bursts_seen = bms_max_count;

  // ACK.
  e.ack.no_ack_errors = e.inventory.errors.contains("no-ack") ? e.inventory.errors.at("no-ack") : 0;
  e.ack.back_to_back = s.back_to_back;
  e.ack.longest_repeat_run = s.longest_run;
  e.ack.repeated_id = s.longest_run_key;
  e.ack.first_repeat_ns = s.first_repeat_ns;
  e.ack.ack_visible =
      !(e.timing.inverter_frames == 0 && e.ack.no_ack_errors == 0 && e.ack.back_to_back == 0);

  // Bus errors and load.
  e.bus = s.bus;
  e.bus.by_kind = e.inventory.errors;
  double busiest_bits = 0, total_bits = 0;
  std::uint64_t seconds_with_frames = 0;
  std::uint32_t peak_minute_errors = 0;
  for (std::size_t i = 0; i < s.bins.size(); i += 60) {
    std::uint32_t m = 0;
    for (std::size_t k = i; k < std::min(s.bins.size(), i + 60); ++k) m += s.bins[k].errors;
    peak_minute_errors = std::max(peak_minute_errors, m);
  }
  for (const auto& b : s.bins) {
    if (b.frames == 0) continue;
    ++seconds_with_frames;
    busiest_bits = std::max(busiest_bits, static_cast<double>(b.bits));
    total_bits += b.bits;
  }
  if (e.timed && e.duration_s > 0) {
    e.bus.errors_per_minute = static_cast<double>(e.bus.error_frames) / (e.duration_s / 60.0);
    if (e.duration_s >= 60) e.bus.peak_errors_per_minute = peak_minute_errors;
  }
  if (e.timed && !s.bins.empty()) {
    e.bus.bus_load = busiest_bits / s.options.bitrate_bps;
    e.bus.mean_bus_load = total_bits / std::max<double>(1.0, static_cast<double>(s.bins.size())) /
                          s.options.bitrate_bps;
  }

  // Id conflicts: an id arriving in pairs (a second copy within a few ms of the first, so twice
  // its cycle rate) whose payload alternates between two streams.
  {
    for (std::size_t bit = 0; bit < 40; ++bit) {
      const auto& c = s.conflicts[bit];
      if (c.count < 4 || c.short_intervals >= c.count) continue;
      IdConflict ic;
      ic.key = tracked_bit_id(static_cast<int>(bit));
      ic.rate_ratio =
          static_cast<double>(c.count) / static_cast<double>(c.count - c.short_intervals);
      ic.alternation = static_cast<double>(c.alternations) / static_cast<double>(c.count - 2);
      ic.errors_after = c.errors_after;
      if (ic.rate_ratio >= 1.6 && ic.alternation >= 0.3) e.conflicts.push_back(ic);
    }
  }

  // Signals and state.
  for (auto& m : s.messages) {
    flush_message(m);
    const auto& msg = m.decoder->message();
    std::uint64_t msg_frames = 0;
    for (std::size_t i = 0; i < m.signals.size(); ++i) {
      const auto& st = m.signals[i];
      const auto& sig = msg.signals[i];
      msg_frames = std::max(msg_frames, st.count);
      if (st.count == 0 && st.text_value.empty()) continue;
      SignalStats out;
      out.name = sig.name;
      out.unit = sig.unit;
      out.key = msg.id;
      out.count = st.count;
      if (m.raw_path && st.seen) {
        const double lo = m.decoder->physical(i, st.rmin), hi = m.decoder->physical(i, st.rmax);
        out.min = std::min(lo, hi);  // a negative factor turns the raw order round
        out.max = std::max(lo, hi);
        out.last = m.decoder->physical(i, st.rlast);
      } else if (!sig.is_text()) {
        out.min = st.min;
        out.max = st.max;
        out.last = st.last;
      }
      out.text = st.text_value;
      e.signals.push_back(std::move(out));
      if (st.level != Level::kNone && st.active_frames > 0) {
        e.state.active.push_back({msg.id, sig.name, level_name(st.level), st.active_frames,
                                  st.first_active_ns, st.last_active_ns});
      }
    }
    bool carries_state = false;
    for (const auto& st : m.signals) carries_state |= st.level != Level::kNone;
    if (carries_state) e.state.state_frames += msg_frames;
  }
  std::stable_sort(e.state.active.begin(), e.state.active.end(),
                   [](const auto& x, const auto& y) { return x.frames > y.frames; });

  // Plausibility from the last payloads (raw, so both byte orders and scales can be tried) and
  // from the decoded extremes.
  const IdStats* limits = nullptr;
  const IdStats* meas = nullptr;
  for (const auto& st : e.inventory.ids) {
    if (st.extended) continue;
    if (st.id == 0x351) limits = &st;
    if (st.id == 0x356) meas = &st;
  }
  const bool lv_family = identification.family == "pylon-lv";
  if (lv_family && (limits != nullptr || meas != nullptr)) {
    const Readings le = read_raw(limits, meas, false);
    const Readings be = read_raw(limits, meas, true);
    if (!plausible(le) && plausible(be)) {
      e.plausibility.push_back(
          {"endianness", limits != nullptr ? "0x351" : "0x356",
           fmt::format("little-endian reading gives charge limit {}, pack {}; big-endian gives "
                       "{}, pack {}",
                       fmt_v(le.cvl), fmt_v(le.pack_v), fmt_v(be.cvl), fmt_v(be.pack_v)),
           true});
    } else if (!plausible(le)) {
      // Try one field at another decimal scale.
      for (const double k : {0.1, 10.0}) {
        Readings r = le;
        bool fixed = false;
        std::string what;
        for (auto [field, name] : {std::pair{&Readings::cvl, "charge_voltage_limit"},
                                   std::pair{&Readings::dvl, "discharge_voltage_limit"},
                                   std::pair{&Readings::pack_v, "pack_voltage"}}) {
          if (!(le.*field) || lv_voltage(*(le.*field))) continue;
          r.*field = *(le.*field) * k;
          what += fmt::format("{}{} reads {:.2f} V, plausible ×{}", what.empty() ? "" : "; ", name,
                              *(le.*field), k);
          fixed = true;
        }
        if (fixed && plausible(r)) {
          e.plausibility.push_back({"scaling", "0x351/0x356", what, true});
          break;
        }
      }
    }
  }
  auto signal = [&e](std::string_view name) -> const SignalStats* {
    for (const auto& x : e.signals)
      if (x.name == name && x.count > 0) return &x;
    return nullptr;
  };
  const bool byte_order_or_scale_wrong = !e.plausibility.empty();
  if (lv_family && !byte_order_or_scale_wrong) {
    if (const auto* d = signal("discharge_current_limit"); d && d->min < 0) {
      e.plausibility.push_back({"invalid", d->name,
                                fmt::format("negative discharge current limit {:.1f} A (limits "
                                            "are magnitudes; inverters ignore or fault on it)",
                                            d->min),
                                true});
    }
    if (const auto* c = signal("charge_current_limit"); c && c->min < 0) {
      e.plausibility.push_back({"invalid", c->name,
                                fmt::format("negative charge current limit {:.1f} A", c->min),
                                true});
    }
    const auto* cvl = signal("charge_voltage_limit");
    const auto* dvl = signal("discharge_voltage_limit");
    const auto* pv = signal("pack_voltage");
    if (cvl && dvl && dvl->last > 0 && cvl->last <= dvl->last) {
      e.plausibility.push_back({"invalid", "charge_voltage_limit",
                                fmt::format("charge voltage limit {:.1f} V is not above the "
                                            "discharge voltage limit {:.1f} V",
                                            cvl->last, dvl->last),
                                true});
    }
    if (cvl && pv && pv->last > 5 && (cvl->last < 0.9 * pv->last || cvl->last > 1.35 * pv->last)) {
      e.plausibility.push_back({"invalid", "charge_voltage_limit",
                                fmt::format("charge voltage limit {:.1f} V is outside the range "
                                            "of a pack at {:.2f} V",
                                            cvl->last, pv->last),
                                true});
    }
    for (const char* n : {"soc", "soh"}) {
      if (const auto* x = signal(n); x && x->max > 100) {
        e.plausibility.push_back(
            {"invalid", n, fmt::format("{} {:.0f} % is above 100 %", n, x->max), true});
      }
    }
    if (const auto* t = signal("pack_temperature"); t && (t->max > 90 || t->min < -40)) {
      e.plausibility.push_back({"invalid", t->name,
                                fmt::format("pack temperature {:.1f} .. {:.1f} °C is outside "
                                            "-40 .. 90 °C",
                                            t->min, t->max),
                                false});
    }
    const auto* cmin = signal("cell_min_voltage");
    const auto* cmax = signal("cell_max_voltage");
    if (cmin && cmax && pv && cmin->last > 1.5 && cmax->last < 5 && pv->last > 5) {
      const double cells = pv->last / ((cmin->last + cmax->last) / 2);
      const double nearest = std::round(cells);
      // The pack voltage is the sum of cells lying between the min and the max cell.
      const double lo = pv->last / cmax->last - 0.5, hi = pv->last / cmin->last + 0.5;
      if (nearest < 1 || std::floor(hi) < std::ceil(lo)) {
        e.plausibility.push_back(
            {"invalid", "cell_min_voltage",
             fmt::format("pack {:.2f} V is not a whole number of cells between {:.3f} and {:.3f} "
                         "V ({:.1f} cells)",
                         pv->last, cmin->last, cmax->last, cells),
             false});
      }
    }
    if (const auto* mc = signal("module_count"); mc && mc->max == 0) {
      const auto* marker = signal("protocol_marker");
      std::string text;
      for (const auto& x : e.signals)
        if (x.name == "protocol_marker") text = x.text;
      (void)marker;
      e.plausibility.push_back(
          {"invalid", "0x359",
           fmt::format("0x359 reports 0 modules{}", text.empty() ? " and no \"PN\" marker" : ""),
           false});
    }
  }
  // Missing frames: the core every Pylon LV variant sends, and 0x359/0x35C for V1.2.
  if (lv_family) {
    std::vector<std::uint32_t> required = {0x351, 0x355, 0x356};
    if (identification.variant == "pylon-1.2") required.insert(required.end(), {0x359, 0x35C});
    for (std::uint32_t id : required) {
      const bool present =
          std::any_of(e.inventory.ids.begin(), e.inventory.ids.end(),
                      [id](const IdStats& x) { return !x.extended && x.id == id; });
      if (!present) {
        e.plausibility.push_back(
            {"missing", fmt::format("0x{:03X}", id),
             fmt::format("0x{:03X} never seen in {} BMS cycles", id, e.bursts_seen),
             e.bursts_seen >= 2});
      }
    }
  }

  // Uptime: ids that repeat at least every 1.5 s make the set the inverter watches.
  e.uptime.timeout_ns = s.timeout_ns;
  std::uint64_t set_mask = 0;
  for (const auto& st : e.inventory.ids) {
    const int bit = tracked_id_bit(st.id, st.extended);
    if (bit < 0 || bit >= 40) continue;
    if (st.period_ms && *st.period_ms <= 1500 && st.count >= 3) {
      set_mask |= std::uint64_t{1} << bit;
      e.uptime.set.push_back(st.id);
    }
  }
  if (e.timed && !s.bins.empty()) {
    e.uptime.seconds = s.bins.size();
    for (std::size_t i = 0; i < s.bins.size(); ++i) {
      // A 1 s cycle lands in one of two adjacent seconds; look back one.
      const std::uint64_t seen = s.bins[i].id_mask | (i > 0 ? s.bins[i - 1].id_mask : 0);
      if (set_mask != 0 && (seen & set_mask) == set_mask) ++e.uptime.complete_seconds;
    }
    if (set_mask != 0)
      e.uptime.share =
          static_cast<double>(e.uptime.complete_seconds) / static_cast<double>(e.uptime.seconds);
  }
  const GapTrack& gaps = s.limits_gaps.first_ns ? s.limits_gaps : s.bms_gaps;
  e.uptime.dropouts = gaps.gaps;
  e.uptime.dropout_stream = s.limits_gaps.first_ns ? "0x351" : "BMS frames";
  e.uptime.dropout_count = gaps.count;
  e.uptime.longest_outage_ns = gaps.longest;

  // Minute bins and correlation.
  if (e.timed && s.base_second) {
    const std::size_t per = s.bins.size() <= 60 * 4000 ? 60 : (s.bins.size() / 4000 + 59) / 60 * 60;
    e.minute_width_s = static_cast<std::uint32_t>(per);
    for (std::size_t i = 0; i < s.bins.size(); i += per) {
      MinuteBin mb;
      mb.start_ns = (*s.base_second + static_cast<std::int64_t>(i)) * kNsPerS;
      double v = 0, c = 0, t = 0, soc = 0;
      int nv = 0, nc = 0, nt = 0, ns = 0;
      for (std::size_t k = i; k < std::min(s.bins.size(), i + per); ++k) {
        const auto& b = s.bins[k];
        mb.frames += b.frames;
        mb.errors += b.errors;
        mb.id_mask |= b.id_mask;
        if (!std::isnan(b.voltage_v)) v += static_cast<double>(b.voltage_v), ++nv;
        if (!std::isnan(b.current_a)) c += static_cast<double>(b.current_a), ++nc;
        if (!std::isnan(b.temperature_c)) t += static_cast<double>(b.temperature_c), ++nt;
        if (b.soc != 0xFF) soc += b.soc, ++ns;
      }
      if (nv) mb.voltage_v = v / nv;
      if (nc) mb.current_a = c / nc;
      if (nt) mb.temperature_c = t / nt;
      if (ns) mb.soc = soc / ns;
      e.minutes.push_back(mb);
    }
    // Correlation over minutes (of the 60 s grid; coarser grids average more).
    std::vector<double> cur, err_c, temp, err_t;
    std::vector<double> by_hour(24, 0.0), hour_minutes(24, 0.0);
    for (std::size_t i = 0; i < s.bins.size(); i += 60) {
      double abs_c = 0, t = 0;
      int nc = 0, nt = 0;
      std::uint32_t errs = 0, frames = 0;
      for (std::size_t k = i; k < std::min(s.bins.size(), i + 60); ++k) {
        const auto& b = s.bins[k];
        errs += b.errors;
        frames += b.frames;
        if (!std::isnan(b.current_a)) abs_c += std::fabs(static_cast<double>(b.current_a)), ++nc;
        if (!std::isnan(b.temperature_c)) t += static_cast<double>(b.temperature_c), ++nt;
      }
      if (frames == 0) continue;
      if (nc) {
        cur.push_back(abs_c / nc);
        err_c.push_back(errs);
      }
      if (nt) {
        temp.push_back(t / nt);
        err_t.push_back(errs);
      }
      if (e.absolute_time) {
        const std::int64_t sec = *s.base_second + static_cast<std::int64_t>(i);
        const auto hour = static_cast<std::size_t>(floor_div(sec, 3600) % 24 + 24) % 24;
        by_hour[hour] += errs;
        hour_minutes[hour] += 1;
      }
    }
    e.correlation.binned_minutes = std::max(cur.size(), temp.size());
    e.correlation.hours_covered = static_cast<double>(s.bins.size()) / 3600.0;
    if (e.bus.error_frames > 0) {
      e.correlation.rho_current = spearman(cur, err_c);
      e.correlation.rho_temperature = spearman(temp, err_t);
      e.correlation.current_rate_ratio = quartile_ratio(cur, err_c);
      e.correlation.temperature_rate_ratio = quartile_ratio(temp, err_t);
    }
    if (!cur.empty()) {
      const double top = *std::max_element(cur.begin(), cur.end());
      const int bands = 8;
      const double width = std::max(1.0, top / bands);
      std::vector<double> e_sum(bands, 0), m_sum(bands, 0);
      for (std::size_t i = 0; i < cur.size(); ++i) {
        const auto b = std::min<std::size_t>(bands - 1, static_cast<std::size_t>(cur[i] / width));
        e_sum[b] += err_c[i];
        m_sum[b] += 1;
      }
      for (int b = 0; b < bands; ++b) {
        if (m_sum[static_cast<std::size_t>(b)] > 0)
          e.correlation.rate_by_current.emplace_back(
              (b + 0.5) * width,
              e_sum[static_cast<std::size_t>(b)] / m_sum[static_cast<std::size_t>(b)]);
      }
    }
    if (e.absolute_time) {
      e.correlation.errors_by_hour = by_hour;
      const double total = std::accumulate(by_hour.begin(), by_hour.end(), 0.0);
      if (total > 0 && e.correlation.hours_covered >= 20) {
        double best = -1;
        for (int h = 0; h < 24; ++h) {
          double w = 0;
          for (int k = 0; k < 3; ++k) w += by_hour[static_cast<std::size_t>((h + k) % 24)];
          if (w > best) {
            best = w;
            e.correlation.busiest_hour = h;
          }
        }
        e.correlation.hour_concentration = best / total;
      }
    }
  }
  return e;
}

}  // namespace bmslink::analysis
