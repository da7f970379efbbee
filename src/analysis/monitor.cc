#include "bmslink/analysis/monitor.h"

#include <algorithm>
#include <array>
#include <deque>
#include <unordered_map>

#include <fmt/format.h>

#include "bmslink/analysis/run.h"
#include "bmslink/can/error_frame.h"
#include "bmslink/protocol/identify.h"

namespace bmslink::analysis {
namespace {

using nlohmann::json;

bool is_bms(const can::Frame& f) {
  return !f.extended && !f.error && ((f.id >= 0x350 && f.id <= 0x382));
}
bool is_inverter(const can::Frame& f) {
  return !f.extended && !f.error && f.id >= 0x300 && f.id <= 0x30F;
}

struct IdTrack {
  std::int64_t last_ns = 0;
  std::int64_t period_ns = 0;  // smoothed interval
  std::uint64_t count = 0;
};

}  // namespace

struct LinkMonitor::Impl {
  MonitorOptions options;
  std::optional<std::int64_t> start_ns;
  std::optional<std::int64_t> last_bms_ns, last_inverter_ns;
  std::map<std::uint32_t, IdTrack> bms_ids;
  std::deque<std::int64_t> errors;  // times of error frames in the last minute
  std::uint64_t frames = 0, error_frames = 0;
  std::string bus_state = "active";
  bool bms_silent = false, heartbeat_lost = false, errors_rising = false, bus_off = false;

  // Decoding, once enough frames were seen to identify the protocol.
  protocol::Identifier identifier;
  std::vector<can::Frame> ahead;
  bool identified = false;
  protocol::Identification identification;
  DecoderSetup setup;
  // The last value of each signal, by its definition; JSON only when a snapshot is asked for.
  struct Latest {
    double value = 0;
    std::string text;
  };
  std::unordered_map<const protocol::Signal*, Latest> latest;
  std::vector<protocol::SignalValue> scratch;
  std::array<char, 512> text{};

  MonitorEvent event(std::int64_t t, const char* name, std::string detail) {
    return {t, name, std::move(detail)};
  }

  void decode(const can::Frame& f) {
    if (!setup.decoder || f.error) return;
    const auto* md = setup.decoder->find(f.id, f.extended);
    if (md == nullptr) return;
    scratch.resize(md->signal_count());
    md->decode(f, scratch, text);
    for (const auto& v : scratch) {
      if (!v.present || v.signal == nullptr) continue;
      auto& slot = latest[v.signal];
      if (v.signal->is_text())
        slot.text.assign(v.text);
      else
        slot.value = v.value;
    }
  }

  void identify_now() {
    identified = true;
    identification = identifier.result();
    if (auto s = choose_decoder(identification, {})) setup = std::move(*s);
    for (const auto& f : ahead) decode(f);
    ahead.clear();
  }

  double errors_per_minute(std::int64_t now) {
    while (!errors.empty() && errors.front() < now - 60'000'000'000LL) errors.pop_front();
    return static_cast<double>(errors.size());
  }
};

LinkMonitor::LinkMonitor(MonitorOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
}
LinkMonitor::~LinkMonitor() = default;

std::vector<MonitorEvent> LinkMonitor::add(const can::Frame& f) {
  auto& m = *impl_;
  std::vector<MonitorEvent> out;
  const std::int64_t t = f.timestamp_ns;
  if (!m.start_ns) m.start_ns = t;
  ++m.frames;
  if (!m.identified) {
    m.identifier.add(f);
    m.ahead.push_back(f);
    if (m.ahead.size() >= m.options.identify_frames) m.identify_now();
  } else {
    m.decode(f);
  }
  if (f.error) {
    ++m.error_frames;
    m.errors.push_back(t);
    // An error flood: the alarm needs only the threshold's worth of the last minute.
    if (m.errors.size() > 100000) m.errors.pop_front();
    const auto info = can::decode_error_frame(f);
    if (info.bus_off) {
      m.bus_state = "off";
      if (!m.bus_off) {
        m.bus_off = true;
        out.push_back(m.event(t, "bus_off", "the controller reported bus-off"));
      }
    } else if (info.rx_passive || info.tx_passive) {
      m.bus_state = "passive";
    } else if (info.rx_warning || info.tx_warning) {
      m.bus_state = "warning";
    } else if (info.back_to_active) {
      m.bus_state = "active";
    }
    const double rate = m.errors_per_minute(t);
    if (!m.errors_rising && rate >= m.options.errors_per_minute_alarm) {
      m.errors_rising = true;
      out.push_back(
          m.event(t, "errors_rising", fmt::format("{:.0f} error frames in the last minute", rate)));
    }
    return out;
  }
  if (m.bus_off) {
    m.bus_off = false;
    m.bus_state = "active";
    out.push_back(m.event(t, "bus_off_cleared", "valid frames again"));
  }
  if (is_bms(f)) {
    auto& track = m.bms_ids[f.id];
    if (track.count > 0) {
      const std::int64_t gap = t - track.last_ns;
      track.period_ns = track.period_ns == 0 ? gap : (track.period_ns * 7 + gap) / 8;
    }
    track.last_ns = t;
    ++track.count;
    m.last_bms_ns = t;
    if (m.bms_silent) {
      m.bms_silent = false;
      out.push_back(m.event(t, "bms_silent_cleared", fmt::format("0x{:03X} again", f.id)));
    }
  }
  if (is_inverter(f)) {
    m.last_inverter_ns = t;
    if (m.heartbeat_lost) {
      m.heartbeat_lost = false;
      out.push_back(m.event(t, "heartbeat_lost_cleared", fmt::format("0x{:03X} again", f.id)));
    }
  }
  return out;
}

std::vector<MonitorEvent> LinkMonitor::tick(std::int64_t now) {
  auto& m = *impl_;
  std::vector<MonitorEvent> out;
  if (!m.start_ns) m.start_ns = now;
  const std::int64_t timeout = m.options.timeout_ms * 1'000'000;
  const std::int64_t bms_since = m.last_bms_ns.value_or(*m.start_ns);
  if (!m.bms_silent && now - bms_since > timeout) {
    m.bms_silent = true;
    out.push_back(m.event(now, "bms_silent",
                          m.last_bms_ns ? fmt::format("no BMS frame for {:.1f} s",
                                                      static_cast<double>(now - bms_since) / 1e9)
                                        : "no BMS frame since the monitor started"));
  }
  if (m.last_inverter_ns && !m.heartbeat_lost && now - *m.last_inverter_ns > timeout) {
    m.heartbeat_lost = true;
    out.push_back(m.event(now, "heartbeat_lost",
                          fmt::format("no inverter frame for {:.1f} s",
                                      static_cast<double>(now - *m.last_inverter_ns) / 1e9)));
  }
  const double rate = m.errors_per_minute(now);
  if (m.errors_rising && rate < m.options.errors_per_minute_alarm / 2) {
    m.errors_rising = false;
    out.push_back(m.event(now, "errors_rising_cleared",
                          fmt::format("{:.0f} error frames in the last minute", rate)));
  }
  // Nothing to identify from but a timeout's worth of frames: decode with what was seen.
  if (!m.identified && !m.ahead.empty() && now - *m.start_ns > timeout) m.identify_now();
  return out;
}

json LinkMonitor::snapshot(std::int64_t now) const {
  auto& m = *impl_;
  auto values_json = [&] {
    json out = json::object();
    for (const auto& [signal, v] : m.latest) {
      if (signal->is_text())
        out[signal->name] = v.text;
      else
        out[signal->name] = v.value;
    }
    return out;
  };
  // The BMS set is complete when every id seen at least twice came within 1.5 of its periods.
  bool complete = !m.bms_ids.empty();
  json missing = json::array();
  for (const auto& [id, t] : m.bms_ids) {
    if (t.count < 2 || t.period_ns <= 0) continue;
    if (now - t.last_ns > t.period_ns * 3 / 2) {
      complete = false;
      missing.push_back(fmt::format("0x{:03X}", id));
    }
  }
  auto age = [&](const std::optional<std::int64_t>& last) -> json {
    if (!last) return nullptr;
    return static_cast<double>(now - *last) / 1e9;
  };
  const std::int64_t timeout = m.options.timeout_ms * 1'000'000;
  return {{"t", static_cast<double>(now) / 1e9},
          {"values", values_json()},
          {"protocol", m.identified ? json(m.identification.protocol) : json(nullptr)},
          {"health",
           {{"bms_set_complete", complete},
            {"bms_missing", missing},
            {"bms_age_s", age(m.last_bms_ns)},
            {"inverter_heartbeat",
             m.last_inverter_ns.has_value() && now - *m.last_inverter_ns <= timeout},
            {"inverter_age_s", age(m.last_inverter_ns)},
            {"errors_per_minute",
             std::count_if(m.errors.begin(), m.errors.end(),
                           [&](std::int64_t e) { return e >= now - 60'000'000'000LL; })},
            {"bus_state", m.bus_state},
            {"frames", m.frames},
            {"error_frames", m.error_frames},
            {"alarms", active()}}}};
}

void LinkMonitor::shift_clock(std::int64_t step_ns) {
  auto& m = *impl_;
  for (auto* t : {&m.start_ns, &m.last_bms_ns, &m.last_inverter_ns})
    if (*t) **t += step_ns;
  for (auto& [id, track] : m.bms_ids) track.last_ns += step_ns;
  for (auto& e : m.errors) e += step_ns;
}

std::vector<std::string> LinkMonitor::active() const {
  const auto& m = *impl_;
  std::vector<std::string> out;
  if (m.bms_silent) out.push_back("bms_silent");
  if (m.heartbeat_lost) out.push_back("heartbeat_lost");
  if (m.errors_rising) out.push_back("errors_rising");
  if (m.bus_off) out.push_back("bus_off");
  return out;
}

}  // namespace bmslink::analysis
