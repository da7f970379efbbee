// Private: the JSON files of data/checks and data/devices, compiled into the binary
// (cmake/EmbedData.cmake), as (file name, text) in file-name order.
#pragma once

#include <string_view>
#include <utility>
#include <vector>

namespace bmslink::diagnosis::detail {

using EmbeddedFiles = std::vector<std::pair<std::string_view, std::string_view>>;
const EmbeddedFiles& embedded_checks();
const EmbeddedFiles& embedded_devices();

}  // namespace bmslink::diagnosis::detail
