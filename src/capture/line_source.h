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

// What the bytes of a text capture turned out to be. Windows tools save UTF-8 with a byte-order
// mark (Notepad) or UTF-16 (PowerShell's `>`); readers see UTF-8 without the mark either way.
enum class TextEncoding { kUtf8, kUtf8Bom, kUtf16Le, kUtf16Be };
std::string_view encoding_name(TextEncoding encoding);  // "UTF-8", "UTF-8 with BOM", "UTF-16LE"...

// How a text starts: its encoding and the length of its byte-order mark, from (up to) its first
// kTextStartBytes bytes. The one decision every read path makes alike: the buffered readers
// (DecodingSource) and the bulk candump path.
constexpr std::size_t kTextStartBytes = 64;
struct TextStart {
  TextEncoding encoding = TextEncoding::kUtf8;
  std::size_t mark_bytes = 0;
};
TextStart detect_text_start(std::string_view first_bytes);

// Detects the encoding from the first bytes, drops a byte-order mark and converts UTF-16 to
// UTF-8 (unpaired surrogates become U+FFFD). UTF-16 without a mark is recognised by the NUL
// byte beside every ASCII character, which no capture format here produces otherwise.
class DecodingSource final : public ByteSource {
 public:
  explicit DecodingSource(std::unique_ptr<ByteSource> inner) : inner_(std::move(inner)) {}
  std::ptrdiff_t read(char* out, std::size_t n) override;
  std::string error() const override { return inner_->error(); }
  // Valid after the first read().
  TextEncoding encoding() const { return encoding_; }
  std::size_t mark_bytes() const { return mark_bytes_; }

 private:
  bool detect();        // reads the first bytes into raw_; false on a read error
  bool fill_decoded();  // converts more UTF-16 into decoded_; false at the end or on error

  std::unique_ptr<ByteSource> inner_;
  bool detected_ = false;
  bool inner_done_ = false;
  bool failed_ = false;
  TextEncoding encoding_ = TextEncoding::kUtf8;
  std::size_t mark_bytes_ = 0;
  std::string raw_;      // undecoded input bytes
  std::string decoded_;  // UTF-8 not yet handed out
  std::size_t decoded_pos_ = 0;
  std::uint32_t high_surrogate_ = 0;
};

class LineSource {
 public:
  static constexpr std::size_t kDefaultBuffer = 256 * 1024;

  explicit LineSource(std::unique_ptr<ByteSource> source, std::size_t buffer = kDefaultBuffer);

  // The first bytes of the input, without consuming them: reads until `min_lines` complete lines
  // or `max_bytes` are buffered or the input ends, so a live pipe (candump | bmslink) is not kept
  // waiting for a full buffer. Only valid before the first next_line().
  std::string_view head(std::size_t min_lines = 32, std::size_t max_bytes = 64 * 1024);
  // May be called again after next_line() to look further ahead from the current line.
  // True when the input ended within what head() buffered.
  bool head_is_everything() const { return eof_; }

  // Next line without its line terminator (\n, \r\n). False at the end of input or on a read
  // error (then error() is set). `too_long` is set when the line exceeded the buffer and was cut.
  bool next_line(std::string_view& line, bool& too_long);

  std::uint64_t line_number() const { return line_number_; }
  // Bytes handed out as lines so far, terminators included.
  std::uint64_t bytes_consumed() const { return bytes_consumed_; }
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
  std::uint64_t bytes_consumed_ = 0;
  std::optional<std::string> error_;
};

}  // namespace bmslink::capture::detail
