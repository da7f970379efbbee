// bmslink protocol: the protocol definitions built into the binary (data/protocols/*.dbc).
//
// The DBC text is compiled in, so `bmslink dbc export NAME` can hand other CAN tools exactly what
// bmslink decodes with. Parsed once on first use; thread-safe after that.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "bmslink/core/error.h"
#include "bmslink/protocol/dbc.h"

namespace bmslink::protocol {

struct BuiltinProtocol {
  std::string_view name;  // file name without ".dbc", e.g. "pylon_lv_1_2"
  std::string_view dbc;   // the file's text
};

const std::vector<BuiltinProtocol>& builtin_protocols();

// The parsed database of a built-in protocol, or an error naming the known ones.
Result<const Database*> builtin_database(std::string_view name);

// Facts about the devices a definition describes, kept in the DBC as attributes so they live next
// to the frames: "BmslinkPackVoltageMin"/"Max" (network, volts) give the pack voltage range limits
// must fall in; "BmslinkRequired" 1 on a message puts it in the set every BMS of the protocol must
// send. Other tools ignore these attributes.
struct DeviceLimits {
  std::optional<double> pack_voltage_min_v;
  std::optional<double> pack_voltage_max_v;
  std::vector<std::uint32_t> required_ids;  // standard ids, ascending
};
DeviceLimits device_limits(const Database& database);

}  // namespace bmslink::protocol
