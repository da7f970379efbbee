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
  std::size_t lines = 0;
  std::size_t counted = begin_;
  while (end_ - begin_ < max_bytes && lines < min_lines) {
    lines += static_cast<std::size_t>(std::count(buf_.data() + counted, buf_.data() + end_, '\n'));
    counted = end_;
    if (lines >= min_lines || !fill()) break;
  }
  return {buf_.data() + begin_, end_ - begin_};
}

bool LineSource::next_line(std::string_view& line, bool& too_long) {
  too_long = false;
  for (;;) {
    const char* start = buf_.data() + begin_;
    const auto* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
    if (nl != nullptr) {
      const auto len = static_cast<std::size_t>(nl - start);
      begin_ += len + 1;
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
