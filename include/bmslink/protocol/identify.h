// bmslink protocol: which battery protocol a capture speaks.
//
// Identifier looks at the set of ids, their lengths, the text of 0x35E (manufacturer) and 0x382
// (product), the inverter's frames (0x305 zeros, Victron GX 0x307 "VIC", SMA Sunny Island
// 0x300-0x309) and id ranges of neighbouring protocols (Pylontech HV, BYD HVS, Pytes native,
// Growatt, Solax, SMA HV, J1939/RV-C). One burst of six frames is enough; a day-long log only
// firms it up. Memory is bounded by the number of distinct ids (capped). Not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bmslink/can/frame.h"

namespace bmslink::protocol {

struct Identification {
  std::string family;        // "pylon-lv", "pylon-hv", "byd-hvs", "pytes-native", "growatt-lv",
                             // "growatt-hv", "solax", "sma-hv", "rv-c", "j1939", "unknown"
  std::string variant;       // pylon-lv: "pylon-1.2", "pylon-1.3", "victron", "byd-lvs", "sma",
                             // "deye"; "" when undetermined
  std::string manufacturer;  // 0x35E text, "" when not sent
  std::string product;       // 0x382 text, "" when not sent
  std::string inverter;      // "victron-gx", "sma-sunny-island", "pylon-heartbeat" or ""
  double confidence = 0.0;   // 0..1
  std::vector<std::string> reasons;
  std::vector<std::string> ambiguities;  // readings chosen where sources disagree
  std::string protocol;                  // built-in definition to decode with, "" when none fits
};

class Identifier {
 public:
  static constexpr std::size_t kMaxIds = 4096;

  void add(const can::Frame& frame);
  Identification result() const;

 private:
  struct Seen {
    std::uint64_t count = 0;
    std::uint8_t min_len = 64;
    std::uint8_t max_len = 0;
    std::uint8_t len = 0;
    std::array<std::uint8_t, 8> data{};  // last payload (first 8 bytes)
    bool nonzero = false;                // any payload byte ever non-zero
  };
  std::map<std::uint32_t, Seen> standard_;
  std::map<std::uint32_t, Seen> extended_;
};

}  // namespace bmslink::protocol
