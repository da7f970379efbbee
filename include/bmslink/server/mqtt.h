// bmslink server: the live monitor on MQTT (libmosquitto). Values and link health go to
// <base>/<id>/state (retained JSON, the monitor's snapshot), alarms to <base>/<id>/event, and
// <base>/<id>/availability is "online", with "offline" as the last will. Home Assistant discovery
// configs (<discovery>/sensor|binary_sensor/...) are sent on every (re)connect, so a broker that
// restarted knows the device again. While the broker is away nothing is queued: states are
// dropped and counted, and the next one after the reconnect carries the current health.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "bmslink/core/error.h"

namespace bmslink::server {

struct MqttOptions {
  std::string url;  // mqtt://host[:1883]
  std::string user, password;
  std::string id = "bmslink";  // device id in topics and discovery
  std::string base_topic = "bmslink";
  std::string discovery_prefix = "homeassistant";
};

class MqttPublisher {
 public:
  static Result<std::unique_ptr<MqttPublisher>> connect(const MqttOptions& options);
  ~MqttPublisher();  // publishes "offline" and disconnects
  MqttPublisher(const MqttPublisher&) = delete;
  MqttPublisher& operator=(const MqttPublisher&) = delete;

  void publish_state(const nlohmann::json& snapshot);
  void publish_event(const nlohmann::json& event);
  bool connected() const;
  std::uint64_t dropped() const;  // states not sent while the broker was away

  struct Impl;  // public for libmosquitto's C callbacks

 private:
  MqttPublisher() = default;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bmslink::server
