// The one name table of each analysis vocabulary; the names are the JSON contract (docs/json.md).

#include <array>
#include <string_view>

#include "bmslink/analysis/evidence.h"

namespace bmslink::analysis {

std::string_view side_name(Side side) {
  static constexpr std::array<std::string_view, 3> kNames = {"other", "bms", "inverter"};
  return kNames[static_cast<std::size_t>(side)];
}

Side side_by_range(std::uint32_t id, bool extended) {
  if (extended) return Side::kOther;
  if (id >= 0x350 && id <= 0x382) return Side::kBms;
  if (id >= 0x300 && id <= 0x30F) return Side::kInverter;
  return Side::kOther;
}

std::string_view plausibility_kind_name(PlausibilityKind kind) {
  static constexpr std::array<std::string_view, 4> kNames = {"endianness", "scaling", "invalid",
                                                             "missing"};
  return kNames[static_cast<std::size_t>(kind)];
}

std::string_view state_level_name(StateLevel level) {
  static constexpr std::array<std::string_view, 6> kNames = {"",        "protection", "alarm",
                                                             "warning", "disabled",   "request"};
  return kNames[static_cast<std::size_t>(level)];
}

std::string_view limit_breach_name(LimitBreachKind kind) {
  static constexpr std::array<std::string_view, 3> kNames = {
      "charge_over_limit", "discharge_over_limit", "charge_while_disabled"};
  return kNames[static_cast<std::size_t>(kind)];
}

int tracked_id_bit(std::uint32_t id, bool extended) {
  if (extended) return -1;
  if (id >= 0x350 && id <= 0x35F) return static_cast<int>(id - 0x350);
  if (id >= 0x370 && id <= 0x37F) return static_cast<int>(id - 0x370 + 16);
  if (id == 0x360) return 32;
  if (id >= 0x380 && id <= 0x382) return static_cast<int>(id - 0x380 + 33);
  if (id >= 0x300 && id <= 0x30F) return static_cast<int>(id - 0x300 + 40);
  return -1;
}

std::uint32_t tracked_bit_id(int bit) {
  if (bit < 16) return 0x350 + static_cast<std::uint32_t>(bit);
  if (bit < 32) return 0x370 + static_cast<std::uint32_t>(bit - 16);
  if (bit == 32) return 0x360;
  if (bit < 40) return 0x380 + static_cast<std::uint32_t>(bit - 33);
  return 0x300 + static_cast<std::uint32_t>(bit - 40);
}

}  // namespace bmslink::analysis
