#include "analysis/timing_analyzer.h"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <vector>

namespace bmslink::analysis::detail {

Side transmitter_side(std::string_view t) {
  auto is = [t](std::string_view w) {
    if (t.size() != w.size()) return false;
    for (std::size_t i = 0; i < t.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(t[i])) != w[i]) return false;
    return true;
  };
  if (is("bms") || is("battery")) return Side::kBms;
  if (is("inverter") || is("charger") || is("gx")) return Side::kInverter;
  return Side::kOther;
}

SideMap::SideMap() {
  for (std::uint32_t id = 0; id < table_.size(); ++id) table_[id] = side_by_range(id, false);
}

namespace {

double median_of(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

}  // namespace

TimingEvidence sides_of(const Inventory& inventory, const SideMap& sides,
                        std::uint64_t* bursts_seen) {
  TimingEvidence t;
  std::vector<double> bms_periods;
  std::uint64_t bms_max_count = 0;
  for (const auto& st : inventory.ids) {
    const std::uint32_t key = st.extended ? (st.id | can::kEffFlag) : st.id;
    switch (sides.of(st.id, st.extended)) {
      case Side::kBms:
        t.bms_ids.push_back(key);
        t.bms_frames += st.count;
        bms_max_count = std::max(bms_max_count, st.count);
        if (st.period_ms) bms_periods.push_back(*st.period_ms);
        break;
      case Side::kInverter:
        t.inverter_ids.push_back(key);
        t.inverter_frames += st.count;
        break;
      case Side::kOther:
        t.other_ids.push_back(key);
        t.other_frames += st.count;
        break;
    }
  }
  if (!bms_periods.empty()) t.bms_period_ms = median_of(bms_periods);
  if (bursts_seen != nullptr) *bursts_seen = bms_max_count;
  return t;
}

TimingAnalyzer::Result TimingAnalyzer::finish(const SideMap& sides) {
  Result r;
  r.inventory = inventory_.finish();
  r.timing = sides_of(r.inventory, sides, &r.bursts_seen);
  return r;
}

}  // namespace bmslink::analysis::detail
