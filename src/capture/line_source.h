// Private: buffered line splitting over a file descriptor or memory, with a fixed-size buffer so
// a multi-gigabyte capture is read in constant memory. Over-long lines are cut and flagged rather
// than grown without bound.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bmslink/core/error.h"

namespace bmslink::capture::detail {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to n bytes; 0 at end; -1 on error (message in error()).
  virtual std::ptrdiff_t read(char* out, std::size_t n) = 0;
  virtual std::string error() const { return {}; }
};

class FdSource final : public ByteSource {
 public:
  FdSource(int fd, bool owned) : fd_(fd), owned_(owned) {}
  ~FdSource() override;
  std::ptrdiff_t read(char* out, std::size_t n) override;
  std::string error() const override { return error_; }

 private:
  int fd_;
  bool owned_;
  std::string error_;
};

class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::string_view bytes) : bytes_(bytes) {}
  std::ptrdiff_t read(char* out, std::size_t n) override;

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

class LineSource {
 public:
  static constexpr std::size_t kDefaultBuffer = 256 * 1024;

  explicit LineSource(std::unique_ptr<ByteSource> source, std::size_t buffer = kDefaultBuffer);

  // The first bytes of the input, without consuming them: reads until `min_lines` complete lines
  // or `max_bytes` are buffered or the input ends, so a live pipe (candump | bmslink) is not kept
  // waiting for a full buffer. Only valid before the first next_line().
  std::string_view head(std::size_t min_lines = 32, std::size_t max_bytes = 64 * 1024);
  // True when the input ended within what head() buffered.
  bool head_is_everything() const { return eof_; }

  // Next line without its line terminator (\n, \r\n). False at the end of input or on a read
  // error (then error() is set). `too_long` is set when the line exceeded the buffer and was cut.
  bool next_line(std::string_view& line, bool& too_long);

  std::uint64_t line_number() const { return line_number_; }
  const std::optional<std::string>& error() const { return error_; }

 private:
  bool fill();  // reads more after end_; false when nothing more can come

  std::unique_ptr<ByteSource> source_;
  std::vector<char> buf_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  bool eof_ = false;
  bool skipping_ = false;  // discarding the rest of an over-long line
  std::uint64_t line_number_ = 0;
  std::optional<std::string> error_;
};

}  // namespace bmslink::capture::detail
