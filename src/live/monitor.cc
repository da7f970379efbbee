#include "bmslink/live/monitor.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <deque>
#include <unordered_map>

#include <fmt/format.h>

#include "bmslink/can/error_frame.h"
#include "bmslink/protocol/identify.h"

namespace bmslink::live {
namespace {

using nlohmann::json;

constexpr std::array<std::pair<Alarm, std::string_view>, 4> kAlarmNames{{
    {Alarm::kBmsSilent, "bms_silent"},
    {Alarm::kHeartbeatLost, "heartbeat_lost"},
    {Alarm::kErrorsRising, "errors_rising"},
    {Alarm::kBusOff, "bus_off"},
}};

// The fallback when no definition knows the id: the ranges of the Pylon-style protocols.
Side side_by_range(const can::Frame& f) {
  if (f.extended || f.error) return Side::kOther;
  if (f.id >= 0x350 && f.id <= 0x382) return Side::kBms;
  if (f.id >= 0x300 && f.id <= 0x30F) return Side::kInverter;
  return Side::kOther;
}

// A DBC's sender node as a side: "BMS", "Battery", "Inverter", "Charger"; anything else is no
// side of this link.
std::optional<Side> side_of_node(std::string node) {
  for (auto& c : node) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (node.find("bms") != std::string::npos || node.find("batt") != std::string::npos)
    return Side::kBms;
  if (node.find("inverter") != std::string::npos || node.find("charger") != std::string::npos)
    return Side::kInverter;
  if (node.empty() || node == "vector__xxx") return std::nullopt;
  return Side::kOther;
}

std::uint64_t id_key(std::uint32_t id, bool extended) {
  return (static_cast<std::uint64_t>(extended) << 32) | id;
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
  // Sides by id from the chosen definition's sender nodes (empty until identified).
  std::unordered_map<std::uint64_t, Side> sides;
  bool bms_silent = false, heartbeat_lost = false, errors_rising = false, bus_off = false;

  // Decoding, once enough frames were seen to identify the protocol.
  protocol::Identifier identifier;
  std::vector<can::Frame> ahead;
  bool identified = false;
  protocol::Identification identification;
  analysis::DecoderSetup setup;
  // The last value of each signal, by its definition; JSON only when a snapshot is asked for.
  struct Latest {
    double value = 0;
    std::string text;
    const protocol::Message* message = nullptr;
  };
  std::unordered_map<const protocol::Signal*, Latest> latest;
  std::vector<protocol::SignalValue> scratch;
  std::array<char, 512> text{};

  static MonitorEvent raise(std::int64_t t, Alarm alarm, std::string detail) {
    return {t, alarm, true, std::move(detail)};
  }
  static MonitorEvent clear(std::int64_t t, Alarm alarm, std::string detail) {
    return {t, alarm, false, std::move(detail)};
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
      slot.message = &md->message();
      if (v.signal->is_text())
        slot.text.assign(v.text);
      else
        slot.value = v.value;
    }
  }

  void identify_now() {
    identified = true;
    identification = identifier.result();
    if (auto s = analysis::choose_decoder(identification, options.protocol)) setup = std::move(*s);
    if (setup.database)
      for (const auto& msg : setup.database->messages)
        if (const auto side = side_of_node(msg.transmitter))
          sides[id_key(msg.id, msg.extended)] = *side;
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
        out.push_back(m.raise(t, Alarm::kBusOff, "the controller reported bus-off"));
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
      out.push_back(m.raise(t, Alarm::kErrorsRising,
                            fmt::format("{:.0f} error frames in the last minute", rate)));
    }
    return out;
  }
  if (m.bus_off) {
    m.bus_off = false;
    m.bus_state = "active";
    out.push_back(m.clear(t, Alarm::kBusOff, "valid frames again"));
  }
  const Side from = side(f);
  if (from == Side::kBms) {
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
      out.push_back(m.clear(t, Alarm::kBmsSilent, fmt::format("0x{:03X} again", f.id)));
    }
  }
  if (from == Side::kInverter) {
    m.last_inverter_ns = t;
    if (m.heartbeat_lost) {
      m.heartbeat_lost = false;
      out.push_back(m.clear(t, Alarm::kHeartbeatLost, fmt::format("0x{:03X} again", f.id)));
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
    out.push_back(m.raise(now, Alarm::kBmsSilent,
                          m.last_bms_ns ? fmt::format("no BMS frame for {:.1f} s",
                                                      static_cast<double>(now - bms_since) / 1e9)
                                        : "no BMS frame since the monitor started"));
  }
  if (m.last_inverter_ns && !m.heartbeat_lost && now - *m.last_inverter_ns > timeout) {
    m.heartbeat_lost = true;
    out.push_back(m.raise(now, Alarm::kHeartbeatLost,
                          fmt::format("no inverter frame for {:.1f} s",
                                      static_cast<double>(now - *m.last_inverter_ns) / 1e9)));
  }
  const double rate = m.errors_per_minute(now);
  if (m.errors_rising && rate < m.options.errors_per_minute_alarm / 2) {
    m.errors_rising = false;
    out.push_back(m.clear(now, Alarm::kErrorsRising,
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
  json alarms = json::array();
  for (const auto a : active()) alarms.push_back(alarm_name(a));
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
            {"alarms", alarms}}}};
}

void LinkMonitor::shift_clock(std::int64_t step_ns) {
  auto& m = *impl_;
  for (auto* t : {&m.start_ns, &m.last_bms_ns, &m.last_inverter_ns})
    if (*t) **t += step_ns;
  for (auto& [id, track] : m.bms_ids) track.last_ns += step_ns;
  for (auto& e : m.errors) e += step_ns;
}

std::vector<Alarm> LinkMonitor::active() const {
  const auto& m = *impl_;
  std::vector<Alarm> out;
  if (m.bms_silent) out.push_back(Alarm::kBmsSilent);
  if (m.heartbeat_lost) out.push_back(Alarm::kHeartbeatLost);
  if (m.errors_rising) out.push_back(Alarm::kErrorsRising);
  if (m.bus_off) out.push_back(Alarm::kBusOff);
  return out;
}

Side LinkMonitor::side(const can::Frame& f) const {
  if (f.error) return Side::kOther;
  const auto& sides = impl_->sides;
  if (const auto it = sides.find(id_key(f.id, f.extended)); it != sides.end()) return it->second;
  return side_by_range(f);
}

std::vector<ValueInfo> LinkMonitor::values() const {
  std::vector<ValueInfo> out;
  for (const auto& [signal, latest] : impl_->latest) {
    ValueInfo v;
    v.name = signal->name;
    v.unit = signal->unit;
    v.text = signal->is_text();
    for (const auto& [raw, label] : signal->values)
      if (label == "active") v.active_raw = raw;
    v.flag = !v.text && (signal->length == 1 || v.active_raw.has_value());
    if (latest.message != nullptr) v.message = latest.message->name;
    out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(),
            [](const ValueInfo& a, const ValueInfo& b) { return a.name < b.name; });
  // Two messages may carry a signal of one name (cell extremes): one value, one entry.
  out.erase(std::unique(out.begin(), out.end(),
                        [](const ValueInfo& a, const ValueInfo& b) { return a.name == b.name; }),
            out.end());
  return out;
}

std::string_view alarm_name(Alarm alarm) {
  for (const auto& [a, name] : kAlarmNames)
    if (a == alarm) return name;
  return "unknown";
}

std::optional<Alarm> parse_alarm(std::string_view name) {
  for (const auto& [a, n] : kAlarmNames)
    if (n == name) return a;
  return std::nullopt;
}

std::string MonitorEvent::name() const {
  std::string out(alarm_name(alarm));
  if (!raised) out += "_cleared";
  return out;
}

json event_json(const MonitorEvent& e) {
  return {{"t", static_cast<double>(e.t_ns) / 1e9},
          {"event", e.name()},
          {"alarm", alarm_name(e.alarm)},
          {"state", e.raised ? "raised" : "cleared"},
          {"detail", e.detail}};
}

}  // namespace bmslink::live
