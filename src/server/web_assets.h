// The front end's built files (web/dist), compiled into the binary by cmake/EmbedWeb.cmake so
// `bmslink serve` works offline and from one file.
#pragma once

#include <string_view>

namespace bmslink::server {

struct WebAsset {
  std::string_view path;  // "/index.html", "/assets/index-3f2a.js"
  std::string_view body;
  std::string_view mime;
};

// nullptr when there is no such file.
const WebAsset* find_web_asset(std::string_view path);

}  // namespace bmslink::server
