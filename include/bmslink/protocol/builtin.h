// bmslink protocol: the protocol definitions built into the binary (data/protocols/*.dbc).
//
// The DBC text is compiled in, so `bmslink dbc export NAME` can hand other CAN tools exactly what
// bmslink decodes with. Parsed once on first use; thread-safe after that.
#pragma once

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

}  // namespace bmslink::protocol
