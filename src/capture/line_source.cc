#include "capture/line_source.h"

#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

namespace bmslink::capture::detail {

FdSource::~FdSource() {
  if (owned_ && fd_ >= 0) ::close(fd_);
}

std::ptrdiff_t FdSource::read(char* out, std::size_t n) {
  for (;;) {
    const ssize_t got = ::read(fd_, out, n);
    if (got >= 0) return got;
    if (errno == EINTR) continue;
    error_ = std::strerror(errno);
    return -1;
  }
}

std::ptrdiff_t MemorySource::read(char* out, std::size_t n) {
  const std::size_t take = std::min(n, bytes_.size() - pos_);
  std::memcpy(out, bytes_.data() + pos_, take);
  pos_ += take;
  return static_cast<std::ptrdiff_t>(take);
}

std::string_view encoding_name(TextEncoding encoding) {
  switch (encoding) {
    case TextEncoding::kUtf8:
      return "UTF-8";
    case TextEncoding::kUtf8Bom:
      return "UTF-8 with BOM";
    case TextEncoding::kUtf16Le:
      return "UTF-16LE";
    case TextEncoding::kUtf16Be:
      return "UTF-16BE";
  }
  return "UTF-8";
}

namespace {

constexpr std::size_t kDetectBytes = kTextStartBytes;
constexpr std::size_t kRawChunk = 64 * 1024;

bool ascii_text(unsigned char c) {
  return c == '\t' || c == '\n' || c == '\r' || (c >= 0x20 && c < 0x7F);
}

// True when the pairs look like ASCII text with the NUL half at `zero` (0: big-endian, 1: little).
bool looks_utf16(std::string_view b, int zero) {
  const std::size_t pairs = b.size() / 2;
  if (pairs < 4) return false;
  for (std::size_t i = 0; i < pairs; ++i) {
    const auto hi = static_cast<unsigned char>(b[2 * i + static_cast<std::size_t>(zero)]);
    const auto lo = static_cast<unsigned char>(b[2 * i + static_cast<std::size_t>(1 - zero)]);
    if (hi != 0 || !ascii_text(lo)) return false;
  }
  return true;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

constexpr std::uint32_t kReplacement = 0xFFFD;

}  // namespace

TextStart detect_text_start(std::string_view b) {
  b = b.substr(0, kTextStartBytes);
  if (b.starts_with("\xEF\xBB\xBF")) return {TextEncoding::kUtf8Bom, 3};
  if (b.starts_with("\xFF\xFE")) return {TextEncoding::kUtf16Le, 2};
  if (b.starts_with("\xFE\xFF")) return {TextEncoding::kUtf16Be, 2};
  const auto pairs = b.substr(0, b.size() & ~std::size_t{1});
  if (looks_utf16(pairs, 1)) return {TextEncoding::kUtf16Le, 0};
  if (looks_utf16(pairs, 0)) return {TextEncoding::kUtf16Be, 0};
  return {};
}

bool DecodingSource::detect() {
  detected_ = true;
  char buf[kDetectBytes];
  std::size_t have = 0;
  while (have < kDetectBytes) {
    const std::ptrdiff_t got = inner_->read(buf + have, kDetectBytes - have);
    if (got < 0) return false;
    if (got == 0) {
      inner_done_ = true;
      break;
    }
    have += static_cast<std::size_t>(got);
  }
  std::string_view b(buf, have);
  const auto start = detect_text_start(b);
  encoding_ = start.encoding;
  mark_bytes_ = start.mark_bytes;
  raw_.assign(b.substr(mark_bytes_));
  return true;
}

bool DecodingSource::fill_decoded() {
  decoded_.clear();
  decoded_pos_ = 0;
  while (decoded_.empty()) {
    if (raw_.size() < 2 && !inner_done_) {
      const std::size_t old = raw_.size();
      raw_.resize(old + kRawChunk);
      const std::ptrdiff_t got = inner_->read(raw_.data() + old, kRawChunk);
      if (got < 0) {
        failed_ = true;
        return false;
      }
      raw_.resize(old + static_cast<std::size_t>(std::max<std::ptrdiff_t>(got, 0)));
      if (got == 0) inner_done_ = true;
      continue;
    }
    if (raw_.size() < 2) {
      if (!raw_.empty() || high_surrogate_ != 0) append_utf8(decoded_, kReplacement);
      raw_.clear();
      high_surrogate_ = 0;
      return !decoded_.empty();
    }
    const bool le = encoding_ == TextEncoding::kUtf16Le;
    std::size_t i = 0;
    for (; i + 1 < raw_.size(); i += 2) {
      const std::uint32_t a = static_cast<unsigned char>(raw_[i]);
      const std::uint32_t b = static_cast<unsigned char>(raw_[i + 1]);
      const std::uint32_t unit = le ? (a | (b << 8)) : ((a << 8) | b);
      if (unit >= 0xD800 && unit < 0xDC00) {
        if (high_surrogate_ != 0) append_utf8(decoded_, kReplacement);
        high_surrogate_ = unit;
      } else if (unit >= 0xDC00 && unit < 0xE000) {
        if (high_surrogate_ != 0) {
          append_utf8(decoded_, 0x10000 + ((high_surrogate_ - 0xD800) << 10) + (unit - 0xDC00));
        } else {
          append_utf8(decoded_, kReplacement);
        }
        high_surrogate_ = 0;
      } else {
        if (high_surrogate_ != 0) append_utf8(decoded_, kReplacement);
        high_surrogate_ = 0;
        append_utf8(decoded_, unit);
      }
    }
    raw_.erase(0, i);
  }
  return true;
}

std::ptrdiff_t DecodingSource::read(char* out, std::size_t n) {
  if (!detected_ && !detect()) return -1;
  if (encoding_ == TextEncoding::kUtf8 || encoding_ == TextEncoding::kUtf8Bom) {
    if (!raw_.empty()) {
      const std::size_t take = std::min(n, raw_.size());
      std::memcpy(out, raw_.data(), take);
      raw_.erase(0, take);
      return static_cast<std::ptrdiff_t>(take);
    }
    if (inner_done_) return 0;
    return inner_->read(out, n);
  }
  if (decoded_pos_ == decoded_.size() && !fill_decoded()) return failed_ ? -1 : 0;
  const std::size_t take = std::min(n, decoded_.size() - decoded_pos_);
  std::memcpy(out, decoded_.data() + decoded_pos_, take);
  decoded_pos_ += take;
  return static_cast<std::ptrdiff_t>(take);
}

LineSource::LineSource(std::unique_ptr<ByteSource> source, std::size_t buffer)
    : source_(std::move(source)), buf_(buffer) {}

bool LineSource::fill() {
  if (eof_) return false;
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == buf_.size()) return false;
  const std::ptrdiff_t got = source_->read(buf_.data() + end_, buf_.size() - end_);
  if (got < 0) {
    error_ = source_->error();
    eof_ = true;
    return false;
  }
  if (got == 0) {
    eof_ = true;
    return false;
  }
  end_ += static_cast<std::size_t>(got);
  return true;
}

std::string_view LineSource::head(std::size_t min_lines, std::size_t max_bytes) {
  max_bytes = std::min(max_bytes, buf_.size());
  if (begin_ > 0) {  // looking ahead again after next_line(): start the window at the buffer
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  std::size_t lines = 0;
  std::size_t counted = 0;
  while (end_ < max_bytes && lines < min_lines) {
    lines += static_cast<std::size_t>(std::count(buf_.data() + counted, buf_.data() + end_, '\n'));
    counted = end_;
    if (lines >= min_lines || !fill()) break;
  }
  return {buf_.data(), end_};
}

bool LineSource::next_line(std::string_view& line, bool& too_long) {
  too_long = false;
  for (;;) {
    const char* start = buf_.data() + begin_;
    const auto* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
    if (nl != nullptr) {
      const auto len = static_cast<std::size_t>(nl - start);
      begin_ += len + 1;
      bytes_consumed_ += len + 1;
      if (skipping_) {  // tail of a line already reported as too long
        skipping_ = false;
        continue;
      }
      line = std::string_view(start, len);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      ++line_number_;
      return true;
    }
    if (begin_ == 0 && end_ == buf_.size()) {
      // No newline in a full buffer: hand out the cut line once, drop the rest up to '\n'.
      const bool was_skipping = skipping_;
      line = std::string_view(buf_.data(), end_);
      bytes_consumed_ += end_;
      begin_ = end_;
      skipping_ = true;
      if (was_skipping) continue;
      ++line_number_;
      too_long = true;
      return true;
    }
    if (!fill()) {
      if (begin_ == end_) return false;
      line = std::string_view(buf_.data() + begin_, end_ - begin_);
      bytes_consumed_ += end_ - begin_;
      begin_ = end_;
      if (skipping_) {
        skipping_ = false;
        return false;
      }
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      ++line_number_;
      return true;
    }
  }
}

}  // namespace bmslink::capture::detail
