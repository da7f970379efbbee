// bmslink sim: a virtual USB-CAN adapter on a pseudo-terminal (SLCAN, or the Waveshare USB-CAN-A),
// plugged into a simulated site. It answers the Lawicel commands as a CANable or USBtin does (V, v,
// N, S0..S8, Z0/Z1, O, L, M0/M1, C, F, transmits), and passes the site's frames in real time (or
// `speed` times faster) only while the channel is open at the site's bit rate; at another rate
// nothing gets through and the status flags show bus errors, as real hardware does. Error frames of
// the site's faults become status flags. Transmits are refused in listen-only mode. It makes the
// live path testable on a machine without SocketCAN, and serves for training. The site's clock
// starts when a host first opens the channel.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "bmslink/core/error.h"
#include "bmslink/sim/site.h"

namespace bmslink::sim {

// SLCAN (CANable, USBtin) or the Waveshare USB-CAN-A binary protocol (settings packet, frames
// only when its bit rate matches; it answers nothing, as the real one).
enum class Dialect : std::uint8_t { kSlcan, kWaveshare };

struct AdapterOptions {
  SiteOptions site;
  Dialect dialect = Dialect::kSlcan;
  std::uint32_t site_bitrate_bps = 500000;
  double speed = 1.0;  // site seconds per wall second
  // An adapter firmware without a silent mode (neither L nor M1): passive tasks must refuse it.
  bool listen_only_supported = true;
};

class VirtualAdapter {
 public:
  static Result<std::unique_ptr<VirtualAdapter>> open(const AdapterOptions& options);
  ~VirtualAdapter();
  VirtualAdapter(const VirtualAdapter&) = delete;
  VirtualAdapter& operator=(const VirtualAdapter&) = delete;

  // The device a host opens ("/dev/pts/3").
  const std::string& path() const;
  // Serves until `stop` is set; the site's bus goes quiet after its duration.
  void run(const std::atomic<bool>& stop);
  std::uint64_t frames_sent() const;

 private:
  VirtualAdapter() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bmslink::sim
