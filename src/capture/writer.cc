#include "bmslink/capture/writer.h"

#include <cerrno>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "bmslink/can/error_frame.h"

namespace bmslink::capture {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

class BufferedWriter : public FrameWriter {
 protected:
  explicit BufferedWriter(std::FILE* out) : out_(out) { buf_.reserve(kFlushAt + 512); }

  void maybe_flush() {
    if (buf_.size() >= kFlushAt) flush();
  }
  void flush() {
    if (!buf_.empty() && std::fwrite(buf_.data(), 1, buf_.size(), out_) != buf_.size())
      failed_ = errno;
    buf_.clear();
  }
  Result<void> done() {
    flush();
    if (std::fflush(out_) != 0 && failed_ == 0) failed_ = errno;
    if (failed_ != 0)
      return make_error(ErrorCode::kIo, fmt::format("write failed: {}", std::strerror(failed_)));
    return {};
  }

  static constexpr std::size_t kFlushAt = 64 * 1024;
  std::FILE* out_;
  std::string buf_;
  int failed_ = 0;
};

void append_timestamp(std::string& s, std::int64_t ns) {
  // candump prints seconds with 10 digits and microseconds with 6.
  const std::int64_t us = ns / 1000;
  fmt::format_to(std::back_inserter(s), "({:010}.{:06})", us / 1'000'000, us % 1'000'000);
}

void append_frame_token(std::string& s, const can::Frame& f) {
  const std::uint32_t id = can::socketcan_id(f) & ~(can::kRtrFlag | can::kEffFlag);
  if (f.extended || f.error) {
    fmt::format_to(std::back_inserter(s), "{:08X}", id);
  } else {
    fmt::format_to(std::back_inserter(s), "{:03X}", id);
  }
  s += '#';
  if (f.rtr) {
    s += 'R';
    if (f.len > 0 && f.len <= 8) s += kHex[f.len];
    return;
  }
  if (f.fd) {
    s += '#';
    s += kHex[(f.brs ? 1 : 0) | (f.esi ? 2 : 0)];
  }
  for (std::size_t i = 0; i < f.len; ++i) {
    s += kHex[f.data[i] >> 4];
    s += kHex[f.data[i] & 0xF];
  }
  if (!f.fd && !f.error && f.len == 8 && f.dlc > 8) {
    s += '_';
    s += kHex[f.dlc & 0xF];
  }
}

std::string channel_token(const std::string& channel) {
  if (channel.empty()) return "can0";
  std::string c = channel;
  for (char& ch : c) {
    if (ch == ' ' || ch == '\t') ch = '_';
  }
  return c;
}

class CandumpWriter final : public BufferedWriter {
 public:
  explicit CandumpWriter(std::FILE* out) : BufferedWriter(out) {}
  void write(const can::Frame& f) override {
    if (!f.has_timestamp()) ++untimed_;
    append_timestamp(buf_, f.has_timestamp() ? f.timestamp_ns : 0);
    buf_ += ' ';
    buf_ += channel_token(f.channel);
    buf_ += ' ';
    append_frame_token(buf_, f);
    if (f.direction == can::Direction::kRx) buf_ += " R";
    if (f.direction == can::Direction::kTx) buf_ += " T";
    buf_ += '\n';
    maybe_flush();
  }
  Result<void> finish() override { return done(); }
};

class AscWriter final : public BufferedWriter {
 public:
  explicit AscWriter(std::FILE* out) : BufferedWriter(out) {}

  void write(const can::Frame& f) override {
    if (!header_written_) header(f);
    if (!f.has_timestamp()) ++untimed_;
    const std::int64_t rel = f.has_timestamp() ? f.timestamp_ns - start_ns_ : last_ns_;
    last_ns_ = rel;
    const std::string seconds = format_seconds(rel, 6);
    const int ch = channel_number(f.channel);
    const char* dir = f.direction == can::Direction::kTx ? "Tx" : "Rx";
    auto it = std::back_inserter(buf_);
    if (f.error) {
      fmt::format_to(it, "{:>11} {}  ErrorFrame\n", seconds, ch);
    } else if (f.fd) {
      const std::string id = f.extended ? fmt::format("{:X}x", f.id) : fmt::format("{:X}", f.id);
      fmt::format_to(it, "{:>11} CANFD {:>3} {} {:>8} {:>32} {} {} {:X} {:>2}", seconds, ch, dir,
                     id, "", f.brs ? 1 : 0, f.esi ? 1 : 0, f.dlc, f.len);
      for (std::size_t i = 0; i < f.len; ++i) fmt::format_to(it, " {:02X}", f.data[i]);
      // duration, bit count, flags (EDL, BRS, ESI), crc, bit timings: unknown -> 0
      const unsigned flags = 0x1000U | (f.brs ? 0x2000U : 0U) | (f.esi ? 0x4000U : 0U);
      fmt::format_to(it, " {:>8} {:>4} {:>8X} {:>8} {:>8} {:>8} {:>8} {:>8}\n", 0, 0, flags, 0, 0,
                     0, 0, 0);
    } else {
      const std::string id = f.extended ? fmt::format("{:X}x", f.id) : fmt::format("{:X}", f.id);
      if (f.rtr) {
        fmt::format_to(it, "{:>11} {}  {:<15} {}   r {:X}\n", seconds, ch, id, dir, f.dlc);
      } else {
        fmt::format_to(it, "{:>11} {}  {:<15} {}   d {:X}", seconds, ch, id, dir, f.dlc);
        for (std::size_t i = 0; i < f.len; ++i) fmt::format_to(it, " {:02X}", f.data[i]);
        buf_ += '\n';
      }
    }
    maybe_flush();
  }

  Result<void> finish() override {
    if (!header_written_) header(can::Frame{});
    buf_ += "End TriggerBlock\n";
    return done();
  }

 private:
  void header(const can::Frame& first) {
    header_written_ = true;
    // Relative captures have no calendar date; 1970-01-01 keeps their offsets intact. The date
    // line has millisecond resolution, so offsets count from the start rounded down to it.
    const std::int64_t abs_ns = first.time_kind == TimeKind::kAbsolute ? first.timestamp_ns : 0;
    start_ns_ = abs_ns - abs_ns % 1'000'000;
    const std::time_t secs = abs_ns / kNsPerSecond;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const int hour12 = tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12;
    const std::string date = fmt::format("{} {} {:02} {:02}:{:02}:{:02}.{:03} {} {}",
                                         kDays[tm.tm_wday], kMonths[tm.tm_mon], tm.tm_mday, hour12,
                                         tm.tm_min, tm.tm_sec, (abs_ns % kNsPerSecond) / 1'000'000,
                                         tm.tm_hour < 12 ? "am" : "pm", tm.tm_year + 1900);
    fmt::format_to(std::back_inserter(buf_),
                   "date {}\nbase hex  timestamps absolute\nno internal events logged\n"
                   "// version 9.0.0\n// written by bmslink\nBegin Triggerblock {}\n"
                   "{:>11} Start of measurement\n",
                   date, date, "0.000000");
  }

  int channel_number(const std::string& name) {
    const auto it = channels_.find(name);
    if (it != channels_.end()) return it->second;
    const int n = static_cast<int>(channels_.size()) + 1;
    channels_.emplace(name, n);
    return n;
  }

  bool header_written_ = false;
  std::int64_t start_ns_ = 0;
  std::int64_t last_ns_ = 0;
  std::map<std::string, int> channels_;
};

}  // namespace

std::unique_ptr<FrameWriter> make_writer(OutputFormat format, std::FILE* out) {
  if (format == OutputFormat::kVectorAsc) return std::make_unique<AscWriter>(out);
  return std::make_unique<CandumpWriter>(out);
}

std::string candump_log_line(const can::Frame& f) {
  std::string s;
  append_timestamp(s, f.has_timestamp() ? f.timestamp_ns : 0);
  s += ' ';
  s += channel_token(f.channel);
  s += ' ';
  append_frame_token(s, f);
  return s;
}

}  // namespace bmslink::capture
