// Private: whole zlib streams of a known size (BLF containers, MF4 DZ blocks) inflated by
// libdeflate, about twice as fast as zlib's streaming inflate on the same data. Anything it
// refuses (damage, a wrong declared size) goes back to the caller's zlib path, which recovers what
// it can and says why, so results never depend on which library ran.
#pragma once

#include <cstddef>

struct libdeflate_decompressor;

namespace bmslink::capture::detail {

class WholeInflater {
 public:
  WholeInflater();
  ~WholeInflater();
  WholeInflater(const WholeInflater&) = delete;
  WholeInflater& operator=(const WholeInflater&) = delete;

  // Inflates the first zlib stream of `in` into `out` (at most `capacity` bytes; bytes after the
  // stream are ignored, as zlib does); false when it cannot, and then `out` means nothing.
  bool inflate(const unsigned char* in, std::size_t n, unsigned char* out, std::size_t capacity,
               std::size_t& produced);

 private:
  libdeflate_decompressor* d_;
};

}  // namespace bmslink::capture::detail
