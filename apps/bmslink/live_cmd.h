// The live-bus commands of the CLI (live_cmd.cc).
#pragma once

#include <cstdint>
#include <string>

#include "bmslink/sim/virtual_adapter.h"

namespace bmslink::app {

struct MonitorArgs {
  std::string iface;
  bool json = false;
  double timeout_s = 3, interval_s = 1, duration_s = 0, errors_per_minute = 10;
  std::uint32_t bitrate = 500000;
  std::string mqtt, mqtt_user, mqtt_id = "bmslink";  // password: BMSLINK_MQTT_PASSWORD
};

struct ScanArgs {
  std::string iface;
  bool json = false;
  double seconds = 2;  // listened per bit rate
  bool assume_listen_only = false;
};

struct RecordArgs {
  std::string iface, output, rotate;
  double duration_s = 0;
  std::uint32_t bitrate = 500000;
};

int cmd_monitor(const MonitorArgs& args);
int cmd_scan_bitrate(const ScanArgs& args);
int cmd_record(const RecordArgs& args);
int cmd_simulate_pty(const sim::AdapterOptions& options);

}  // namespace bmslink::app
