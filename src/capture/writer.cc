#include "bmslink/capture/writer.h"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <string_view>

#include <fmt/format.h>

#include "bmslink/can/error_frame.h"
#include "capture/binary_writers.h"

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

void append_uint(std::string& s, std::uint64_t v) {
  char tmp[24];
  std::size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) s += tmp[--n];
}

std::string_view uint_text(std::uint64_t v, char* buf) {
  std::string tmp;
  append_uint(tmp, v);
  std::memcpy(buf, tmp.data(), tmp.size());
  return {buf, tmp.size()};
}

// "12.345678" for ns; negative offsets (disordered captures) keep their sign.
std::string_view seconds_text(std::int64_t ns, char* buf) {
  std::size_t n = 0;
  std::uint64_t abs_ns = static_cast<std::uint64_t>(ns);
  if (ns < 0) {
    buf[n++] = '-';
    abs_ns = ~abs_ns + 1;
  }
  const std::uint64_t us = abs_ns / 1000;
  char tmp[24];
  std::size_t t = 0;
  std::uint64_t whole = us / 1'000'000;
  do {
    tmp[t++] = static_cast<char>('0' + whole % 10);
    whole /= 10;
  } while (whole != 0);
  while (t > 0) buf[n++] = tmp[--t];
  buf[n++] = '.';
  std::uint64_t frac = us % 1'000'000;
  for (int d = 5; d >= 0; --d) {
    buf[n + static_cast<std::size_t>(d)] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  return {buf, n + 6};
}

std::string_view id_text(const can::Frame& f, char* buf) {
  std::size_t n = 0;
  bool started = false;
  for (int shift = 28; shift >= 0; shift -= 4) {
    const auto nibble = (f.id >> shift) & 0xF;
    if (nibble != 0 || started || shift == 0) {
      buf[n++] = kHex[nibble];
      started = true;
    }
  }
  if (f.extended) buf[n++] = 'x';
  return {buf, n};
}

void append_padded(std::string& s, std::string_view text, std::size_t width, bool left) {
  if (!left && text.size() < width) s.append(width - text.size(), ' ');
  s += text;
  if (left && text.size() < width) s.append(width - text.size(), ' ');
}

void append_bytes(std::string& s, const can::Frame& f) {
  for (std::size_t i = 0; i < f.len; ++i) {
    s += ' ';
    s += kHex[f.data[i] >> 4];
    s += kHex[f.data[i] & 0xF];
  }
}

// JSON string with the escapes JSON requires; other bytes pass through (channel names are ASCII
// in practice, and invalid UTF-8 stays the caller's input).
void append_json_string(std::string& s, std::string_view text) {
  s += '"';
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      s += '\\';
      s += c;
    } else if (u < 0x20 || u >= 0x7F) {
      s += "\\u00";
      s += kHex[u >> 4];
      s += kHex[u & 0xF];
    } else {
      s += c;
    }
  }
  s += '"';
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
    // Hand-formatted: this runs per frame on multi-gigabyte conversions, where fmt's runtime
    // format parsing cost more than the rest of the pipeline.
    const int ch = channel_number(f.channel);
    const char* dir = f.direction == can::Direction::kTx ? "Tx" : "Rx";
    char num[40];
    append_padded(buf_, seconds_text(rel, num), 11, false);
    buf_ += ' ';
    if (f.error) {
      append_uint(buf_, static_cast<std::uint64_t>(ch));
      buf_ += "  ErrorFrame\n";
    } else if (f.fd) {
      buf_ += "CANFD ";
      append_padded(buf_, uint_text(static_cast<std::uint64_t>(ch), num), 3, false);
      buf_ += ' ';
      buf_ += dir;
      buf_ += ' ';
      append_padded(buf_, id_text(f, num), 8, false);
      buf_.append(33, ' ');  // empty symbolic name, right-aligned in 32 columns
      buf_ += f.brs ? " 1" : " 0";
      buf_ += f.esi ? " 1 " : " 0 ";
      buf_ += kHex[f.dlc & 0xF];
      buf_ += ' ';
      append_padded(buf_, uint_text(f.len, num), 2, false);
      append_bytes(buf_, f);
      // duration, bit count, flags (EDL, BRS, ESI), crc, bit timings: unknown -> 0
      const unsigned flags = 0x1000U | (f.brs ? 0x2000U : 0U) | (f.esi ? 0x4000U : 0U);
      fmt::format_to(std::back_inserter(buf_),
                     " {:>8} {:>4} {:>8X} {:>8} {:>8} {:>8} {:>8} {:>8}\n", 0, 0, flags, 0, 0, 0, 0,
                     0);
    } else {
      append_uint(buf_, static_cast<std::uint64_t>(ch));
      buf_ += "  ";
      append_padded(buf_, id_text(f, num), 15, true);
      buf_ += ' ';
      buf_ += dir;
      buf_ += f.rtr ? "   r " : "   d ";
      buf_ += kHex[f.dlc & 0xF];
      if (!f.rtr) append_bytes(buf_, f);
      buf_ += '\n';
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
  if (format == OutputFormat::kBlf) return detail::make_blf_writer(out);
  if (format == OutputFormat::kMf4) return detail::make_mf4_writer(out);
  return std::make_unique<CandumpWriter>(out);
}

void append_json_line(std::string& out, const can::Frame& f) {
  char num[48];
  out += "{\"t\":";
  if (f.has_timestamp()) {
    if (f.timestamp_ns % 1000 != 0) {
      out += format_seconds(f.timestamp_ns, 9);
    } else {
      out += seconds_text(f.timestamp_ns, num);
    }
  } else {
    out += "null";
  }
  out += ",\"id\":\"";
  out += can::id_hex(f);
  out += f.extended ? "\",\"ext\":true" : "\",\"ext\":false";
  out += f.rtr ? ",\"rtr\":true" : ",\"rtr\":false";
  out += f.error ? ",\"err\":true" : ",\"err\":false";
  out += f.fd ? ",\"fd\":true" : ",\"fd\":false";
  out += ",\"dlc\":";
  append_uint(out, f.dlc);
  out += ",\"len\":";
  append_uint(out, f.len);
  out += ",\"data\":\"";
  for (std::size_t i = 0; i < f.len; ++i) {
    out += kHex[f.data[i] >> 4];
    out += kHex[f.data[i] & 0xF];
  }
  out += "\",\"channel\":";
  if (f.channel.empty()) {
    out += "null";
  } else {
    append_json_string(out, f.channel);
  }
  out += ",\"dir\":";
  out += f.direction == can::Direction::kRx   ? "\"rx\""
         : f.direction == can::Direction::kTx ? "\"tx\""
                                              : "null";
  if (f.fd) {
    out += f.brs ? ",\"brs\":true" : ",\"brs\":false";
    out += f.esi ? ",\"esi\":true" : ",\"esi\":false";
  }
  if (f.error) {
    out += ",\"error\":[";
    bool first = true;
    for (const auto& w : can::decode_error_frame(f).summary()) {
      if (!first) out += ',';
      first = false;
      append_json_string(out, w);
    }
    out += ']';
  }
  out += "}\n";
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
