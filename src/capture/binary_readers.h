// Private: the binary logger formats, Vector BLF and ASAM MDF 4 (MF4), and the small pieces of
// input plumbing they share with reader.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "bmslink/capture/reader.h"
#include "capture/line_source.h"

namespace bmslink::capture::detail {

// Serves bytes already read (the sniffed head) before the rest of the inner source, so a pipe
// can be sniffed without losing its first bytes.
class PrefixSource final : public ByteSource {
 public:
  PrefixSource(std::string prefix, std::unique_ptr<ByteSource> inner)
      : prefix_(std::move(prefix)), inner_(std::move(inner)) {}
  std::ptrdiff_t read(char* out, std::size_t n) override;
  std::string error() const override { return inner_->error(); }

 private:
  std::string prefix_;
  std::size_t pos_ = 0;
  std::unique_ptr<ByteSource> inner_;
};

// Reads up to `n` bytes from the start of `source` (fewer only at its end); empty on error.
std::string read_head(ByteSource& source, std::size_t n);

bool looks_like_blf(std::string_view head);  // "LOGG"
bool looks_like_mf4(std::string_view head);  // "MDF     " or "UnFinMF "

// BLF is a sequence of containers: it streams, from a pipe too.
Result<std::unique_ptr<FrameReader>> open_blf(std::unique_ptr<ByteSource> bytes, std::string name,
                                              DiagnosticSink& sink);

// MF4 blocks link to each other by absolute offset: the reader needs the whole file, through
// `fd` (owned, read with pread) or, when fd < 0, `memory`.
Result<std::unique_ptr<FrameReader>> open_mf4(int fd, std::string_view memory, std::string name,
                                              DiagnosticSink& sink);

bool looks_like_zip(std::string_view head);  // "PK\3\4"

// A zip of a logger's folder (or of several captures): unpacked into a private temporary folder
// (bounded: 10,000 entries, 64 times its size and 32 GiB, 512 MB left free), read as one
// capture (open_capture_set), and removed with the reader. `path` empty: read `memory`.
Result<std::unique_ptr<FrameReader>> open_zip(const std::string& path, std::string_view memory,
                                              std::string name, DiagnosticSink& sink,
                                              ReaderOptions options);

}  // namespace bmslink::capture::detail
