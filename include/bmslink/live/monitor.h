// bmslink live: the link monitor. Fed frames as they arrive and ticked by a clock, it keeps the
// decoded values and the link's health (BMS set complete, inverter heartbeat, errors per minute,
// bus state) and raises alarms as events the moment a condition holds — by the clock, not when
// the next frame happens to come — and clears each when it ends:
//   bms_silent      no BMS frame for longer than the inverter's timeout
//   heartbeat_lost  the inverter, heard before, silent for longer than the timeout
//   errors_rising   error frames in the last minute at or above the threshold
//   bus_off         the controller reported bus-off (cleared by the next valid frame)
// Which frames are the BMS's and which the inverter's comes from the identified protocol's
// definition (the sender node of each message in its DBC); the usual id ranges (BMS 0x350-0x382,
// inverter 0x300-0x30F) only decide for ids the definition does not know, or before the protocol
// is identified.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bmslink/analysis/run.h"
#include "bmslink/can/frame.h"

namespace bmslink::live {

enum class Alarm { kBmsSilent, kHeartbeatLost, kErrorsRising, kBusOff };
std::string_view alarm_name(Alarm alarm);
std::optional<Alarm> parse_alarm(std::string_view name);

struct MonitorOptions {
  std::int64_t timeout_ms = 3000;       // the inverter's BMS timeout (Victron: ~3 s)
  double errors_per_minute_alarm = 10;  // errors_rising at or above; cleared below half
  std::size_t identify_frames = 60;     // frames looked at before choosing the decoder
  analysis::ProtocolOptions protocol;   // a forced built-in, a user DBC on top
};

struct MonitorEvent {
  std::int64_t t_ns = 0;
  Alarm alarm = Alarm::kBmsSilent;
  bool raised = true;  // false: cleared
  std::string detail;
  // "bms_silent", "bms_silent_cleared": the event name of docs/monitor.md.
  std::string name() const;
};
// {"t", "event", "alarm", "state": "raised"|"cleared", "detail"} (docs/live.md).
nlohmann::json event_json(const MonitorEvent& event);

// Which node sends a frame.
enum class Side { kBms, kInverter, kOther };

// What a decoded value is, from its definition: for Home Assistant and the console.
struct ValueInfo {
  std::string name;   // the signal's name, the key in snapshot()["values"]
  std::string unit;   // as the definition writes it: "V", "A", "degC", "%", "" ...
  bool flag = false;  // a yes/no state: a one-bit signal, or a level with an "active" value
  std::optional<std::int64_t> active_raw;  // the value that means "active", when a table says
  std::string message;                     // the message's name ("alarms_warnings")
  bool text = false;
};

class LinkMonitor {
 public:
  explicit LinkMonitor(MonitorOptions options = {});
  ~LinkMonitor();
  LinkMonitor(const LinkMonitor&) = delete;
  LinkMonitor& operator=(const LinkMonitor&) = delete;

  // A frame; returns the events it raised or cleared.
  std::vector<MonitorEvent> add(const can::Frame& frame);
  // The clock at `now_ns` (the frames' clock): raises silence alarms as their time comes.
  std::vector<MonitorEvent> tick(std::int64_t now_ns);
  // {"t", "values": {signal: value or text}, "health": {...}, "protocol"} (docs/monitor.md).
  nlohmann::json snapshot(std::int64_t now_ns) const;
  // The clock the frames and ticks carry was stepped by step_ns (a wall clock set by NTP): every
  // time kept moves with it, so a step neither raises a silence nor hides one.
  void shift_clock(std::int64_t step_ns);
  // Alarms active now.
  std::vector<Alarm> active() const;
  // The side a frame comes from (see the header comment).
  Side side(const can::Frame& frame) const;
  // What each value decoded so far is, in name order.
  std::vector<ValueInfo> values() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bmslink::live
