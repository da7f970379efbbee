// Private: pcap/pcapng through libpcap.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "bmslink/capture/reader.h"

namespace bmslink::capture::detail {

bool looks_like_pcap(std::string_view head);

// `path` empty means read `memory` instead.
Result<std::unique_ptr<FrameReader>> open_pcap(const std::string& path, std::string_view memory,
                                               std::string name, DiagnosticSink& sink);

}  // namespace bmslink::capture::detail
