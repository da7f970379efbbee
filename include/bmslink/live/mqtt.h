// bmslink live: the link monitor on MQTT (libmosquitto), as Home Assistant reads it. Values and
// link health go to <base>/<id>/state (retained JSON, the monitor's snapshot), alarms to
// <base>/<id>/event, and <base>/<id>/availability is "online", with "offline" as the last will.
// Home Assistant discovery configs are sent on every (re)connect, so a broker that restarted
// knows the device again:
//   - flags (a one-bit signal, a level whose table names "active") are binary_sensors, alarms,
//     warnings and protections with device_class "problem";
//   - numbers are sensors with state_class "measurement" and, where the definition's unit is a
//     quantity Home Assistant knows, its device_class (voltage, current, temperature, battery);
//     a unit only where the value is that quantity;
//   - link health (BMS set, inverter heartbeat, errors per minute, bus state, each alarm) is
//     entity_category "diagnostic";
//   - names are words ("Pack voltage"), object ids are <id>_<key>, the same on every start.
// mqtts:// connects with TLS (a CA file, a client certificate); while the broker is away nothing is
// queued: states are dropped and counted, and the next one after the reconnect carries the current
// health.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "bmslink/core/error.h"
#include "bmslink/live/loop.h"

namespace bmslink::live {

struct MqttOptions {
  std::string url;  // mqtt://host[:1883] or mqtts://host[:8883]
  std::string user, password;
  std::string ca_file;              // mqtts: the CA that signed the broker's certificate
  std::string cert_file, key_file;  // mqtts: a client certificate, when the broker asks for one
  std::string id = "bmslink";       // device id in topics and discovery
  std::string base_topic = "bmslink";
  std::string discovery_prefix = "homeassistant";
};

// A human name for a signal or health key: "pack_voltage" -> "Pack voltage", "soc" -> "State of
// charge", "bms_set_complete" -> "BMS set complete".
std::string entity_name(const std::string& key);

// The discovery config of one value as Home Assistant reads it ({"component": "sensor" |
// "binary_sensor", "config": {...}}); exposed for tests.
nlohmann::json discovery_for(const ValueInfo& value, const MqttOptions& options,
                             const std::string& state_topic, const std::string& availability);

class MqttPublisher final : public LiveSink {
 public:
  static Result<std::unique_ptr<MqttPublisher>> connect(const MqttOptions& options);
  ~MqttPublisher() override;  // publishes "offline" and disconnects
  MqttPublisher(const MqttPublisher&) = delete;
  MqttPublisher& operator=(const MqttPublisher&) = delete;

  // LiveSink: alarms to the event topic, snapshots to the state topic (announcing new values).
  void event(const MonitorEvent& e) override;
  void values(const nlohmann::json& snapshot, const LinkMonitor& monitor) override;

  bool connected() const;
  std::uint64_t dropped() const;  // states not sent while the broker was away

  struct Impl;  // public for libmosquitto's C callbacks

 private:
  MqttPublisher() = default;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bmslink::live
