// bmslink sim: a simulated battery-inverter site on a simulated bus, with injectable faults.
//
// A pack model (current from solar charging, household load events and noise; temperature over
// the day; SOC integrating the current; LFP 16S voltage) feeds a BMS emulator that sends its set
// once per cycle as one burst with jitter, using the built-in protocol definitions to encode
// (Pylontech V1.2, Victron, SMA), and an inverter emulator that answers (0x305 heartbeat, Victron
// GX 0x307 "VIC", Sunny Island 0x300-0x309). A fault changes what goes on the bus the way the real
// fault does: a wrong bit rate leaves only error frames, a missing ACK makes the BMS repeat its
// first frame back to back, a second battery on the same ids interleaves its payloads, and so on.
// Deterministic: the same options give the same frames.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bmslink/can/frame.h"
#include "bmslink/can/frame_source.h"
#include "bmslink/core/error.h"

namespace bmslink::sim {

enum class Variant : std::uint8_t { kPylon, kVictron, kSma };
std::string_view variant_name(Variant v);  // "pylon", "victron", "sma"

struct SiteOptions {
  std::string fault = "healthy";  // one of fault_names()
  Variant variant = Variant::kPylon;
  double duration_s = 3600.0;
  std::uint64_t seed = 1;
  std::int64_t start_ns = 1780293600LL * 1'000'000'000;  // 2026-06-01 06:00:00 UTC
  // Shifts the day's ambient temperature (19-30 °C by default): -14 gives a cold site at 5-16 °C.
  double ambient_offset_c = 0.0;
  // Scales the injected fault (1 = as designed), so tests can find where a rule stops firing:
  // error rates (bus_errors, emi, thermal), the share of unacknowledged cycles (no_ack, up to 1),
  // dropout lengths (intermittent_dropouts), the inverse of the second pack's lag
  // (can_id_conflict).
  double fault_strength = 1.0;
  // thermal_or_time_pattern: errors while the pack is cold (below 8 °C, "cold mornings") instead
  // of hot (above 25 °C).
  bool cold_errors = false;
};

// "healthy" and one fault per cause a capture can show, named by its cause id, plus signatures
// of a cause that look different on the bus ("limits_ignored": the inverter talks but ignores the
// BMS's current limits, an inverter_protocol_mismatch).
const std::vector<std::string_view>& fault_names();
// The cause id a fault shows: the fault's own name, or the cause a signature belongs to.
std::string_view fault_cause(std::string_view fault);

// Calls `emit` with every frame in time order. Fails on an unknown fault or a duration outside
// (0, 31 days].
Result<std::uint64_t> simulate(const SiteOptions& options,
                               const std::function<void(const can::Frame&)>& emit);

// The same site as a frame source pulled one frame at a time (the live-feed seam): frames in time
// order, second by second, with the simulated clock as now_ns(). Same frames as simulate().
class SiteSource final : public can::FrameSource {
 public:
  static Result<std::unique_ptr<SiteSource>> open(const SiteOptions& options);
  ~SiteSource() override;
  SiteSource(const SiteSource&) = delete;
  SiteSource& operator=(const SiteSource&) = delete;

  bool next(can::Frame& frame) override;
  std::optional<std::int64_t> now_ns() const override;
  // Set when the protocol definition could not encode a frame (the source then ends).
  const std::optional<Error>& failure() const;

 private:
  struct Impl;
  explicit SiteSource(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bmslink::sim
