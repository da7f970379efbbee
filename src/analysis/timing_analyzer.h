// Timing and sides: the inventory (per-id count, period, jitter, gaps, talkers) and which ids
// belong to the BMS, the inverter or neither, by the protocol definition's transmitters
// (SideMap), with the median BMS period and the number of BMS cycles seen.
#pragma once

#include <cstdint>

#include "analysis/frame_facts.h"
#include "bmslink/analysis/evidence.h"
#include "bmslink/analysis/inventory.h"

namespace bmslink::analysis::detail {

class TimingAnalyzer {
 public:
  void add(const can::Frame& f) { inventory_.add(f); }
  void merge(TimingAnalyzer&& later) { inventory_.merge(std::move(later.inventory_)); }

  struct Result {
    Inventory inventory;
    TimingEvidence timing;
    std::uint64_t bursts_seen = 0;
  };
  Result finish(const SideMap& sides);

 private:
  InventoryBuilder inventory_;
};

// The sides alone, from an inventory already built.
TimingEvidence sides_of(const Inventory& inventory, const SideMap& sides,
                        std::uint64_t* bursts_seen);

}  // namespace bmslink::analysis::detail
