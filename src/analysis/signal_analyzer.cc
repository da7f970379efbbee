#include "analysis/signal_analyzer.h"

#include <cmath>

#include <algorithm>

namespace bmslink::analysis::detail {

StateLevel level_of(const protocol::Signal& s) {
  const std::string& n = s.name;
  if (n == "charge_enable" || n == "discharge_enable") return StateLevel::kDisabled;
  if (n.starts_with("force_charge_request") || n == "full_charge_request")
    return StateLevel::kRequest;
  if (n.starts_with("protection_")) return StateLevel::kProtection;
  if (n.starts_with("alarm_")) return StateLevel::kAlarm;
  if (n.starts_with("warning_")) return StateLevel::kWarning;
  return StateLevel::kNone;
}

namespace {

// An enable flag is "active" (worth reporting) when it is 0; the other flags when 1 (1-bit flags;
// 2-bit fields: 1 = active, 2 = ok, 0/3 = not supported).
bool is_active(StateLevel level, std::int64_t raw) {
  if (level == StateLevel::kNone) return false;
  return level == StateLevel::kDisabled ? raw == 0 : raw == 1;
}

}  // namespace

SignalAnalyzer::SignalAnalyzer(const protocol::Decoder* decoder) {
  if (decoder == nullptr) return;
  for (const auto& m : decoder->database().messages) {
    if (m.extended || m.id >= 2048) continue;
    const auto* md = decoder->find(m.id, false);
    if (md == nullptr || message_of_[m.id] != 0) continue;
    MessageTrack t;
    t.decoder = md;
    t.values.resize(md->signal_count());
    t.signals.resize(md->signal_count());
    // Float bit patterns are not ordered like their values: those messages take the value path.
    t.raw_path = !md->has_text() && !md->has_float() && md->signal_count() <= 64;
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
      if (sig.name == "charge_current_limit") t.ccl_index = idx;
      if (sig.name == "discharge_current_limit") t.dcl_index = idx;
      if (sig.name == "charge_voltage_limit") t.cvl_index = idx;
      if (sig.name == "discharge_voltage_limit") t.dvl_index = idx;
      if (sig.name == "charge_enable") t.charge_enable_index = idx;
    }
    t.binned = t.current_index >= 0 || t.voltage_index >= 0 || t.temperature_index >= 0 ||
               t.soc_index >= 0 || t.ccl_index >= 0 || t.dcl_index >= 0 || t.cvl_index >= 0 ||
               t.dvl_index >= 0 || t.charge_enable_index >= 0;
    messages_.push_back(std::move(t));
    message_of_[m.id] = static_cast<std::int32_t>(messages_.size());
  }
}

void SignalAnalyzer::decode(MessageTrack& m, const can::Frame& f, const DataFacts& d) {
  m.decoded = true;
  m.last_hash = d.hash;
  const std::uint64_t since = m.since_decode;
  m.since_decode = 0;
  if (m.raw_path) {
    m.present_bits = m.decoder->decode_raw(f, m.raw);
  } else {
    m.decoder->decode(f, m.values, text_buffer_);
  }
  for (std::size_t i = 0; i < m.signals.size(); ++i) {
    auto& st = m.signals[i];
    // Frames the previous decode stood for, counted once here rather than per frame.
    if (st.present) st.count += since;
    if (st.active) {
      st.active_frames += since;
      if (m.last_frame_ns) st.last_active_ns = m.last_frame_ns;
    }
    if (m.raw_path) {
      st.present = (m.present_bits >> i) & 1U;
      if (!st.present) {
        st.active = false;
        continue;
      }
      const std::int64_t r = m.raw[i];
      st.active = is_active(st.level, r);
      if (!st.seen) {
        st.seen = true;
        st.rmin = st.rmax = r;
      } else {
        st.rmin = std::min(st.rmin, r);
        st.rmax = std::max(st.rmax, r);
      }
      st.rlast = r;
    } else {
      const auto& v = m.values[i];
      st.present = v.present;
      st.active = v.present && is_active(st.level, v.raw);
      if (!v.present) continue;
      if (st.text) {
        if (st.text_value != v.text) st.text_value.assign(v.text);
        continue;
      }
      st.min = std::min(st.min, v.value);
      st.max = std::max(st.max, v.value);
      st.last = v.value;
    }
    if (st.active && d.timed && !st.first_active_ns) st.first_active_ns = d.t_ns;
  }
}

void SignalAnalyzer::flush(MessageTrack& m) {
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

void SignalAnalyzer::merge(SignalAnalyzer&& b) {
  for (std::size_t i = 0; i < messages_.size() && i < b.messages_.size(); ++i) {
    MessageTrack& ma = messages_[i];
    MessageTrack& mb = b.messages_[i];
    flush(ma);
    flush(mb);
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
      ma.last_frame_ns = mb.last_frame_ns;
      for (std::size_t k = 0; k < ma.signals.size(); ++k) {
        ma.signals[k].present = mb.signals[k].present;
        ma.signals[k].active = mb.signals[k].active;
      }
    }
  }
}

SignalAnalyzer::Result SignalAnalyzer::finish() {
  Result out;
  for (auto& m : messages_) {
    flush(m);
    const auto& msg = m.decoder->message();
    std::uint64_t msg_frames = 0;
    bool carries_state = false;
    for (std::size_t i = 0; i < m.signals.size(); ++i) {
      const auto& st = m.signals[i];
      const auto& sig = msg.signals[i];
      msg_frames = std::max(msg_frames, st.count);
      carries_state |= st.level != StateLevel::kNone;
      if (st.count == 0 && st.text_value.empty()) continue;
      SignalStats s;
      s.name = sig.name;
      s.unit = sig.unit;
      s.key = msg.id;
      s.count = st.count;
      if (m.raw_path && st.seen) {
        const double lo = m.decoder->physical(i, st.rmin), hi = m.decoder->physical(i, st.rmax);
        s.min = std::min(lo, hi);  // a negative factor turns the raw order round
        s.max = std::max(lo, hi);
        s.last = m.decoder->physical(i, st.rlast);
      } else if (!sig.is_text()) {
        s.min = st.min;
        s.max = st.max;
        s.last = st.last;
      }
      s.text = st.text_value;
      if (!sig.values.empty() && !sig.is_text()) {
        auto label = [&sig](double v) -> std::string {
          if (sig.factor == 0) return {};
          const auto raw = static_cast<std::int64_t>(std::llround((v - sig.offset) / sig.factor));
          const auto it = sig.values.find(raw);
          if (it == sig.values.end()) return {};
          std::string name = it->second;
          for (char& c : name)
            if (c == '_') c = ' ';  // "not_supported" reads as "not supported"
          return name;
        };
        s.min_label = label(s.min);
        s.last_label = label(s.last);
        s.max_label = label(s.max);
      }
      out.signals.push_back(std::move(s));
      if (st.level != StateLevel::kNone && st.active_frames > 0) {
        out.state.active.push_back(
            {msg.id, sig.name, st.level, st.active_frames, st.first_active_ns, st.last_active_ns});
      }
    }
    if (carries_state) out.state.state_frames += msg_frames;
  }
  std::stable_sort(out.state.active.begin(), out.state.active.end(),
                   [](const auto& x, const auto& y) { return x.frames > y.frames; });
  return out;
}

}  // namespace bmslink::analysis::detail
