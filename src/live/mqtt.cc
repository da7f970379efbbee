#include "bmslink/live/mqtt.h"

#include <mosquitto.h>

#include <atomic>
#include <initializer_list>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace bmslink::live {
namespace {

using nlohmann::json;

std::once_flag g_lib;

bool starts_with_any(const std::string& s, std::initializer_list<const char*> prefixes) {
  for (const char* p : prefixes)
    if (s.starts_with(p)) return true;
  return false;
}

// Home Assistant's unit and device class for a definition's unit; the class only where the value
// is that quantity.
struct Quantity {
  std::string unit, device_class, state_class = "measurement";
};
Quantity quantity_of(const ValueInfo& v) {
  const std::string& u = v.unit;
  if (u == "V" || u == "mV") return {u, "voltage"};
  if (u == "A" || u == "mA") return {u, "current"};
  if (u == "degC" || u == "°C" || u == "C") return {"°C", "temperature"};
  if (u == "W" || u == "kW") return {u, "power"};
  // Energy counters (BYD's charged and discharged kWh) only grow: HA's energy statistics.
  if (u == "Wh" || u == "kWh") return {u, "energy", "total_increasing"};
  if (u == "%" && (v.name == "soc" || v.name.starts_with("soc_"))) return {"%", "battery"};
  return {u, ""};
}

bool is_problem(const ValueInfo& v) {
  if (starts_with_any(v.name, {"alarm_", "warning_", "protection_", "fault_", "error_"}))
    return true;
  for (const char* word : {"alarm", "warning", "protection", "fault"})
    if (v.message.find(word) != std::string::npos) return true;
  return false;
}

// Bracket lookups with .get: `value_json.values` would be the dict's method in Home Assistant's
// Jinja, and a value not in this state renders "None", which Home Assistant reads as unknown.
std::string value_path(const std::string& key) { return "value_json['values'].get('" + key + "')"; }

}  // namespace

std::string entity_name(const std::string& key) {
  static const std::pair<const char*, const char*> kWords[] = {{"soc", "state of charge"},
                                                               {"soh", "state of health"},
                                                               {"bms", "BMS"},
                                                               {"ccl", "CCL"},
                                                               {"dcl", "DCL"},
                                                               {"cvl", "CVL"},
                                                               {"id", "ID"},
                                                               {"can", "CAN"}};
  std::string out;
  std::size_t at = 0;
  while (at <= key.size()) {
    auto end = key.find('_', at);
    if (end == std::string::npos) end = key.size();
    std::string word = key.substr(at, end - at);
    for (const auto& [from, to] : kWords)
      if (word == from) word = to;
    if (!word.empty()) {
      if (!out.empty()) out += ' ';
      out += word;
    }
    at = end + 1;
  }
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 32);
  return out;
}

namespace {

json device_json(const MqttOptions& o) {
  return {{"identifiers", {o.id}},
          {"name", "bmslink " + o.id},
          {"manufacturer", "bmslink"},
          {"model", "CAN link monitor"}};
}

json base_config(const MqttOptions& o, const std::string& component, const std::string& key,
                 const std::string& state_topic, const std::string& availability) {
  const std::string object = fmt::format("{}_{}", o.id, key);
  return {{"name", entity_name(key)},   {"unique_id", object},
          {"object_id", object},        {"default_entity_id", component + "." + object},
          {"state_topic", state_topic}, {"availability_topic", availability},
          {"device", device_json(o)}};
}

// The link's own health: diagnostics of the link, not the battery's values.
std::vector<std::pair<std::string, json>> health_configs(const MqttOptions& o,
                                                         const std::string& state,
                                                         const std::string& avail) {
  std::vector<std::pair<std::string, json>> out;
  auto binary = [&](const std::string& key, const std::string& test, const char* cls) {
    json c = base_config(o, "binary_sensor", key, state, avail);
    c["value_template"] = "{{ 'ON' if " + test + " else 'OFF' }}";
    c["payload_on"] = "ON";
    c["payload_off"] = "OFF";
    c["device_class"] = cls;
    c["entity_category"] = "diagnostic";
    out.emplace_back("binary_sensor", std::move(c));
  };
  binary("bms_set_complete", "value_json['health']['bms_set_complete']", "connectivity");
  binary("inverter_heartbeat", "value_json['health']['inverter_heartbeat']", "connectivity");
  for (const auto a :
       {Alarm::kBmsSilent, Alarm::kHeartbeatLost, Alarm::kErrorsRising, Alarm::kBusOff}) {
    const std::string name(alarm_name(a));
    binary(name, "'" + name + "' in value_json['health']['alarms']", "problem");
  }
  json e = base_config(o, "sensor", "errors_per_minute", state, avail);
  e["value_template"] = "{{ value_json['health']['errors_per_minute'] }}";
  e["state_class"] = "measurement";
  e["unit_of_measurement"] = "errors/min";
  e["entity_category"] = "diagnostic";
  out.emplace_back("sensor", std::move(e));
  json b = base_config(o, "sensor", "bus_state", state, avail);
  b["value_template"] = "{{ value_json['health']['bus_state'] }}";
  b["device_class"] = "enum";
  b["options"] = {"active", "warning", "passive", "off"};
  b["entity_category"] = "diagnostic";
  out.emplace_back("sensor", std::move(b));
  return out;
}

}  // namespace

json discovery_for(const ValueInfo& v, const MqttOptions& o, const std::string& state_topic,
                   const std::string& availability) {
  if (v.flag) {
    json c = base_config(o, "binary_sensor", v.name, state_topic, availability);
    const std::string on = std::to_string(v.active_raw.value_or(1));
    c["value_template"] = "{% set v = " + value_path(v.name) +
                          " %}{{ 'None' if v is none else ('ON' if v == " + on + " else 'OFF') }}";
    c["payload_on"] = "ON";
    c["payload_off"] = "OFF";
    if (is_problem(v)) c["device_class"] = "problem";
    return {{"component", "binary_sensor"}, {"config", std::move(c)}};
  }
  json c = base_config(o, "sensor", v.name, state_topic, availability);
  c["value_template"] = "{{ " + value_path(v.name) + " }}";
  const auto q = quantity_of(v);
  c["state_class"] = q.state_class;
  if (!q.unit.empty()) c["unit_of_measurement"] = q.unit;
  if (!q.device_class.empty()) c["device_class"] = q.device_class;
  return {{"component", "sensor"}, {"config", std::move(c)}};
}

struct MqttPublisher::Impl {
  MqttOptions options;
  mosquitto* mosq = nullptr;
  std::atomic<bool> connected{false};
  std::atomic<std::uint64_t> dropped{0};
  std::mutex mutex;  // discovery keys and the last state, between the loop thread and callers
  std::map<std::string, ValueInfo> announced;  // values announced, by key
  std::string state_topic, event_topic, availability_topic;

  void publish(const std::string& topic, const std::string& payload, int qos, bool retain) {
    mosquitto_publish(mosq, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                      payload.data(), qos, retain);
  }

  void send_config(const std::string& component, const json& config) {
    publish(fmt::format("{}/{}/{}/config", options.discovery_prefix, component,
                        config["unique_id"].get<std::string>()),
            config.dump(), 1, true);
  }

  void announce(const ValueInfo& v) {
    const auto d = discovery_for(v, options, state_topic, availability_topic);
    const auto component = d["component"].get<std::string>();
    send_config(component, d["config"]);
    // Versions before 0.2 announced flags as numeric sensors: their retained configs are removed
    // (an empty retained message), so Home Assistant drops the stale entity.
    if (component == "binary_sensor")
      publish(fmt::format("{}/sensor/{}/config", options.discovery_prefix,
                          d["config"]["unique_id"].get<std::string>()),
              "", 1, true);
  }

  // Everything a broker that forgot us must learn again.
  void on_connect() {
    publish(availability_topic, "online", 1, true);
    for (const auto& [component, config] : health_configs(options, state_topic, availability_topic))
      send_config(component, config);
    std::lock_guard lock(mutex);
    for (const auto& [k, v] : announced) announce(v);
  }
};

extern "C" {
static void bmslink_on_connect(mosquitto*, void* user, int rc) {
  auto* m = static_cast<MqttPublisher::Impl*>(user);
  if (rc != 0) return;
  m->connected = true;
  m->on_connect();
}
static void bmslink_on_disconnect(mosquitto*, void* user, int) {
  static_cast<MqttPublisher::Impl*>(user)->connected = false;
}
}

Result<std::unique_ptr<MqttPublisher>> MqttPublisher::connect(const MqttOptions& o) {
  std::string rest = o.url;
  bool tls = false;
  if (rest.starts_with("mqtt://")) {
    rest = rest.substr(7);
  } else if (rest.starts_with("mqtts://")) {
    rest = rest.substr(8);
    tls = true;
  } else if (rest.find("://") != std::string::npos) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("--mqtt {}: expected mqtt://host[:port] or mqtts://host[:port]", o.url));
  }
  if (!tls && (!o.ca_file.empty() || !o.cert_file.empty()))
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("--mqtt {}: a CA file or client certificate needs mqtts://", o.url));
  if (o.cert_file.empty() != o.key_file.empty())
    return make_error(
        ErrorCode::kInvalidArgument,
        "--mqtt-cert and --mqtt-key go together (the client certificate and its key)");
  int port = tls ? 8883 : 1883;
  if (const auto colon = rest.rfind(':'); colon != std::string::npos) {
    char* end = nullptr;
    const long p = std::strtol(rest.c_str() + colon + 1, &end, 10);
    if (*end != '\0' || p <= 0 || p > 65535)
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("--mqtt {}: the port must be 1-65535", o.url));
    port = static_cast<int>(p);
    rest = rest.substr(0, colon);
  }
  if (rest.empty())
    return make_error(ErrorCode::kInvalidArgument, fmt::format("--mqtt {}: no host", o.url));
  std::call_once(g_lib, [] { mosquitto_lib_init(); });
  std::unique_ptr<MqttPublisher> p(new MqttPublisher());
  p->impl_ = std::make_unique<Impl>();
  auto& m = *p->impl_;
  m.options = o;
  m.state_topic = fmt::format("{}/{}/state", o.base_topic, o.id);
  m.event_topic = fmt::format("{}/{}/event", o.base_topic, o.id);
  m.availability_topic = fmt::format("{}/{}/availability", o.base_topic, o.id);
  m.mosq = mosquitto_new(fmt::format("bmslink-{}", o.id).c_str(), true, &m);
  if (m.mosq == nullptr) return make_error(ErrorCode::kIo, "mosquitto_new failed");
  mosquitto_connect_callback_set(m.mosq, bmslink_on_connect);
  mosquitto_disconnect_callback_set(m.mosq, bmslink_on_disconnect);
  mosquitto_will_set(m.mosq, m.availability_topic.c_str(), 7, "offline", 1, true);
  if (!o.user.empty())
    mosquitto_username_pw_set(m.mosq, o.user.c_str(),
                              o.password.empty() ? nullptr : o.password.c_str());
  if (tls) {
    // Without a CA file the system's trusted CAs check the broker.
    const char* ca = o.ca_file.empty() ? nullptr : o.ca_file.c_str();
    const char* capath = o.ca_file.empty() ? "/etc/ssl/certs" : nullptr;
    const int trc =
        mosquitto_tls_set(m.mosq, ca, capath, o.cert_file.empty() ? nullptr : o.cert_file.c_str(),
                          o.key_file.empty() ? nullptr : o.key_file.c_str(), nullptr);
    if (trc != MOSQ_ERR_SUCCESS)
      return make_error(
          ErrorCode::kInvalidArgument,
          fmt::format("--mqtt {}: TLS: {} (CA file {}, certificate {}, key {})", o.url,
                      mosquitto_strerror(trc), o.ca_file.empty() ? "(system)" : o.ca_file,
                      o.cert_file.empty() ? "(none)" : o.cert_file,
                      o.key_file.empty() ? "(none)" : o.key_file));
  }
  // Reconnects by itself, backing off from 1 s to 10 s; QoS 1 messages in flight are bounded.
  mosquitto_reconnect_delay_set(m.mosq, 1, 10, true);
  mosquitto_max_inflight_messages_set(m.mosq, 20);
  const int rc = mosquitto_connect_async(m.mosq, rest.c_str(), port, 10);
  if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_ERRNO)
    return make_error(ErrorCode::kIo, fmt::format("--mqtt {}: {}", o.url, mosquitto_strerror(rc)));
  if (mosquitto_loop_start(m.mosq) != MOSQ_ERR_SUCCESS)
    return make_error(ErrorCode::kIo, "mosquitto: cannot start its network thread");
  return p;
}

MqttPublisher::~MqttPublisher() {
  if (!impl_ || impl_->mosq == nullptr) return;
  auto& m = *impl_;
  if (m.connected) m.publish(m.availability_topic, "offline", 1, true);
  mosquitto_disconnect(m.mosq);
  mosquitto_loop_stop(m.mosq, false);
  mosquitto_destroy(m.mosq);
}

void MqttPublisher::values(const json& snapshot, const LinkMonitor& monitor) {
  auto& m = *impl_;
  if (snapshot.contains("values") && snapshot["values"].is_object()) {
    std::lock_guard lock(m.mutex);
    if (m.announced.size() < snapshot["values"].size()) {
      for (auto& v : monitor.values()) {
        if (v.text || m.announced.contains(v.name)) continue;
        if (m.connected) m.announce(v);
        m.announced.emplace(v.name, std::move(v));
      }
    }
  }
  if (!m.connected) {
    ++m.dropped;
    return;
  }
  m.publish(m.state_topic, snapshot.dump(-1, ' ', false, json::error_handler_t::replace), 0, true);
}

void MqttPublisher::event(const MonitorEvent& e) {
  auto& m = *impl_;
  if (!m.connected) {
    ++m.dropped;
    return;
  }
  m.publish(m.event_topic, event_json(e).dump(-1, ' ', false, json::error_handler_t::replace), 1,
            false);
}

bool MqttPublisher::connected() const { return impl_->connected; }
std::uint64_t MqttPublisher::dropped() const { return impl_->dropped; }

}  // namespace bmslink::live
