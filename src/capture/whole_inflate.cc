#include "capture/whole_inflate.h"

#include <libdeflate.h>

namespace bmslink::capture::detail {

WholeInflater::WholeInflater() : d_(libdeflate_alloc_decompressor()) {}

WholeInflater::~WholeInflater() {
  if (d_ != nullptr) libdeflate_free_decompressor(d_);
}

bool WholeInflater::inflate(const unsigned char* in, std::size_t n, unsigned char* out,
                            std::size_t capacity, std::size_t& produced) {
  produced = 0;
  if (d_ == nullptr) return false;  // no memory for its tables: zlib's path still works
  std::size_t used_in = 0;
  const auto rc = libdeflate_zlib_decompress_ex(d_, in, n, out, capacity, &used_in, &produced);
  return rc == LIBDEFLATE_SUCCESS;
}

}  // namespace bmslink::capture::detail
