// bmslink analysis: the live monitor. Fed frames as they arrive and ticked by a clock, it keeps the
// decoded values and the link's health (BMS set complete, inverter heartbeat, errors per minute,
// bus state) and raises alarms as events the moment a condition holds — by the clock, not when
// the next frame happens to come — each with its "..._cleared" when it ends:
//   bms_silent      no BMS frame for longer than the inverter's timeout
//   heartbeat_lost  the inverter, heard before, silent for longer than the timeout
//   errors_rising   error frames in the last minute at or above the threshold
//   bus_off         the controller reported bus-off (cleared by the next valid frame)
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bmslink/can/frame.h"

namespace bmslink::analysis {

struct MonitorOptions {
  std::int64_t timeout_ms = 3000;       // the inverter's BMS timeout (Victron: ~3 s)
  double errors_per_minute_alarm = 10;  // errors_rising at or above; cleared below half
  std::size_t identify_frames = 60;     // frames looked at before choosing the decoder
};

struct MonitorEvent {
  std::int64_t t_ns = 0;
  std::string event;  // "bms_silent", "bms_silent_cleared", ...
  std::string detail;
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
  std::vector<std::string> active() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bmslink::analysis
