#include "bmslink/server/mqtt.h"

#include <mosquitto.h>

#include <atomic>
#include <mutex>
#include <set>

#include <fmt/format.h>

namespace bmslink::server {
namespace {

using nlohmann::json;

std::once_flag g_lib;

// Units Home Assistant shows, from the signal's canonical name.
std::string unit_of(const std::string& name) {
  if (name.find("voltage") != std::string::npos) return "V";
  if (name.find("current") != std::string::npos) return "A";
  if (name.find("temperature") != std::string::npos) return "°C";
  if (name == "soc" || name == "soh") return "%";
  return "";
}

}  // namespace

struct MqttPublisher::Impl {
  MqttOptions options;
  mosquitto* mosq = nullptr;
  std::atomic<bool> connected{false};
  std::atomic<std::uint64_t> dropped{0};
  std::mutex mutex;  // discovery keys and the last state, between the loop thread and callers
  std::set<std::string> keys;  // numeric values announced
  std::string state_topic, event_topic, availability_topic;

  std::string device_json() const {
    return json{{"identifiers", {options.id}},
                {"name", "bmslink " + options.id},
                {"manufacturer", "bmslink"},
                {"model", "CAN link monitor"}}
        .dump();
  }

  void publish(const std::string& topic, const std::string& payload, int qos, bool retain) {
    mosquitto_publish(mosq, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                      payload.data(), qos, retain);
  }

  void announce(const std::string& key, bool binary, const std::string& template_path) {
    const std::string object = fmt::format("{}_{}", options.id, key);
    json config = {{"name", key},
                   {"unique_id", object},
                   {"state_topic", state_topic},
                   {"availability_topic", availability_topic},
                   {"value_template", "{{ value_json" + template_path + " }}"},
                   {"device", json::parse(device_json())}};
    if (binary) {
      config["payload_on"] = "True";
      config["payload_off"] = "False";
    } else if (const auto unit = unit_of(key); !unit.empty()) {
      config["unit_of_measurement"] = unit;
    }
    publish(fmt::format("{}/{}/{}/config", options.discovery_prefix,
                        binary ? "binary_sensor" : "sensor", object),
            config.dump(), 1, true);
  }

  // Everything a broker that forgot us must learn again.
  void on_connect() {
    publish(availability_topic, "online", 1, true);
    // Bracket lookups: `value_json.values` would be the dict's method in Home Assistant's Jinja.
    announce("bms_set_complete", true, "['health']['bms_set_complete']");
    announce("inverter_heartbeat", true, "['health']['inverter_heartbeat']");
    announce("errors_per_minute", false, "['health']['errors_per_minute']");
    announce("bus_state", false, "['health']['bus_state']");
    std::lock_guard lock(mutex);
    for (const auto& k : keys) announce(k, false, "['values']['" + k + "']");
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
  if (rest.starts_with("mqtt://"))
    rest = rest.substr(7);
  else if (rest.find("://") != std::string::npos)
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("--mqtt {}: expected mqtt://host[:port]", o.url));
  int port = 1883;
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

void MqttPublisher::publish_state(const json& snapshot) {
  auto& m = *impl_;
  if (snapshot.contains("values") && snapshot["values"].is_object()) {
    std::lock_guard lock(m.mutex);
    for (const auto& [k, v] : snapshot["values"].items())
      if (v.is_number() && m.keys.insert(k).second && m.connected)
        m.announce(k, false, "['values']['" + k + "']");
  }
  if (!m.connected) {
    ++m.dropped;
    return;
  }
  m.publish(m.state_topic, snapshot.dump(-1, ' ', false, json::error_handler_t::replace), 0, true);
}

void MqttPublisher::publish_event(const json& event) {
  auto& m = *impl_;
  if (!m.connected) {
    ++m.dropped;
    return;
  }
  m.publish(m.event_topic, event.dump(-1, ' ', false, json::error_handler_t::replace), 1, false);
}

bool MqttPublisher::connected() const { return impl_->connected; }
std::uint64_t MqttPublisher::dropped() const { return impl_->dropped; }

}  // namespace bmslink::server
