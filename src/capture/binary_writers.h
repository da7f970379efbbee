// Private: the BLF and MF4 writers behind make_writer().
#pragma once

#include <cstdio>
#include <memory>

#include "bmslink/capture/writer.h"

namespace bmslink::capture::detail {

std::unique_ptr<FrameWriter> make_blf_writer(std::FILE* out);
std::unique_ptr<FrameWriter> make_mf4_writer(std::FILE* out);

}  // namespace bmslink::capture::detail
