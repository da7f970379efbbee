#include "bmslink/can/slcan.h"

#include <algorithm>
#include <array>

#include <fmt/format.h>

namespace bmslink::can::slcan {
namespace {

constexpr std::array<std::uint32_t, 9> kRates = {10000,  20000,  50000,  100000, 125000,
                                                 250000, 500000, 800000, 1000000};

std::optional<std::uint32_t> hex(std::string_view s) {
  if (s.empty() || s.size() > 8) return std::nullopt;
  std::uint32_t v = 0;
  for (char c : s) {
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= static_cast<std::uint32_t>(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= static_cast<std::uint32_t>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= static_cast<std::uint32_t>(c - 'A' + 10);
    else
      return std::nullopt;
  }
  return v;
}

// "t" / "T" / "r" / "R" lines, host or adapter side alike.
std::optional<FrameLine> parse_frame(std::string_view line) {
  if (line.empty()) return std::nullopt;
  const char kind = line[0];
  const bool extended = kind == 'T' || kind == 'R';
  const bool remote = kind == 'r' || kind == 'R';
  if (kind != 't' && kind != 'T' && kind != 'r' && kind != 'R') return std::nullopt;
  const std::size_t id_digits = extended ? 8 : 3;
  if (line.size() < 1 + id_digits + 1) return std::nullopt;
  const auto id = hex(line.substr(1, id_digits));
  const auto len = hex(line.substr(1 + id_digits, 1));
  if (!id || !len || *len > 8) return std::nullopt;
  if (*id > (extended ? kExtendedIdMask : kStandardIdMask)) return std::nullopt;
  FrameLine out;
  out.frame.id = *id;
  out.frame.extended = extended;
  out.frame.rtr = remote;
  out.frame.len = remote ? 0 : static_cast<std::uint8_t>(*len);
  out.frame.dlc = static_cast<std::uint8_t>(*len);
  std::size_t at = 2 + id_digits;
  if (!remote) {
    if (line.size() < at + 2U * *len) return std::nullopt;
    for (std::uint32_t i = 0; i < *len; ++i, at += 2) {
      const auto b = hex(line.substr(at, 2));
      if (!b) return std::nullopt;
      out.frame.data[i] = static_cast<std::uint8_t>(*b);
    }
  }
  const auto rest = line.substr(at);
  if (rest.size() == 4) {
    const auto ts = hex(rest);
    if (!ts || *ts > 0xFFFF) return std::nullopt;
    out.timestamp_ms = static_cast<std::uint16_t>(*ts);
  } else if (!rest.empty()) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::optional<int> bitrate_code(std::uint32_t bitrate_bps) {
  for (std::size_t i = 0; i < kRates.size(); ++i)
    if (kRates[i] == bitrate_bps) return static_cast<int>(i);
  return std::nullopt;
}

std::optional<std::uint32_t> code_bitrate(int code) {
  if (code < 0 || code >= static_cast<int>(kRates.size())) return std::nullopt;
  return kRates[static_cast<std::size_t>(code)];
}

std::string encode_frame(const Frame& f, std::optional<std::uint16_t> timestamp_ms) {
  std::string out;
  const char kind = f.rtr ? (f.extended ? 'R' : 'r') : (f.extended ? 'T' : 't');
  out += kind;
  out += f.extended ? fmt::format("{:08X}", f.id & kExtendedIdMask)
                    : fmt::format("{:03X}", f.id & kStandardIdMask);
  const std::uint8_t len = f.len > 8 ? 8 : f.len;
  out += fmt::format("{:X}", f.rtr ? (f.dlc > 8 ? 8 : f.dlc) : len);
  if (!f.rtr)
    for (std::uint8_t i = 0; i < len; ++i) out += fmt::format("{:02X}", f.data[i]);
  if (timestamp_ms) out += fmt::format("{:04X}", *timestamp_ms);
  out += kOk;
  return out;
}

Line parse_line(std::string_view line) {
  if (line.empty()) return Ok{};
  switch (line[0]) {
    case 't':
    case 'T':
    case 'r':
    case 'R':
      if (auto f = parse_frame(line)) return *f;
      return Unknown{std::string(line)};
    case 'V':
    case 'v':
      return Version{std::string(line)};
    case 'F':
      if (line.size() == 3)
        if (auto v = hex(line.substr(1, 2))) return Status{static_cast<std::uint8_t>(*v)};
      return Unknown{std::string(line)};
    case 'z':
    case 'Z':
      // An adapter's answer to a transmit: OK.
      if (line.size() == 1) return Ok{};
      return Unknown{std::string(line)};
    default:
      return Unknown{std::string(line)};
  }
}

std::optional<Line> LineSplitter::next() {
  for (std::size_t i = start_; i < buffer_.size(); ++i) {
    const char c = buffer_[i];
    if (c == kOk || c == '\n') {
      std::string_view line(buffer_.data() + start_, i - start_);
      start_ = i + 1;
      if (line.empty() && c == '\n') continue;  // a stray LF after CR
      return parse_line(line);
    }
    if (c == kError) {
      if (i > start_) ++dropped_;  // an unterminated fragment before the bell
      start_ = i + 1;
      return Bell{};
    }
  }
  if (buffer_.size() - start_ > kMaxLine) {
    ++dropped_;
    buffer_.clear();
    start_ = 0;
  }
  return std::nullopt;
}

Command parse_command(std::string_view line) {
  Command c;
  if (line.empty()) return c;
  auto digit = [&](std::size_t at) -> std::optional<int> {
    if (line.size() != at + 1 || line[at] < '0' || line[at] > '9') return std::nullopt;
    return line[at] - '0';
  };
  switch (line[0]) {
    case 'O':
      if (line.size() == 1) c.kind = Command::Kind::kOpen;
      break;
    case 'L':
      if (line.size() == 1) c.kind = Command::Kind::kListenOnly;
      break;
    case 'C':
      if (line.size() == 1) c.kind = Command::Kind::kClose;
      break;
    case 'V':
    case 'v':
      if (line.size() == 1) c.kind = Command::Kind::kVersion;
      break;
    case 'N':
      if (line.size() == 1) c.kind = Command::Kind::kSerial;
      break;
    case 'F':
      if (line.size() == 1) c.kind = Command::Kind::kStatus;
      break;
    case 'S':
    case 'Z':
    case 'M':
      if (auto d = digit(1)) {
        c.kind = line[0] == 'S'   ? Command::Kind::kBitrate
                 : line[0] == 'Z' ? Command::Kind::kTimestamps
                                  : Command::Kind::kMode;
        c.value = *d;
      }
      break;
    case 't':
    case 'T':
    case 'r':
    case 'R':
      if (auto f = parse_frame(line)) {
        c.kind = Command::Kind::kTransmit;
        c.frame = f->frame;
      }
      break;
    default:
      break;
  }
  return c;
}

std::int64_t AdapterClock::stamp(std::uint16_t adapter_ms, std::int64_t host_ns) {
  const std::int64_t ms = adapter_ms % kWrapMs;
  if (!started_) {
    started_ = true;
    last_ms_ = static_cast<std::uint16_t>(ms);
    last_host_ns_ = host_ns;
    adapter_ns_ = 0;
    offset_ns_ = host_ns;
    last_ns_ = host_ns;
    return host_ns;
  }
  // How far the adapter's clock moved, modulo a minute; whole minutes come from the host, which
  // cannot be wrong by half a minute.
  std::int64_t step_ms = ((ms - last_ms_) % kWrapMs + kWrapMs) % kWrapMs;
  const std::int64_t host_elapsed_ms = (host_ns - last_host_ns_) / 1'000'000;
  if (host_elapsed_ms > step_ms + kWrapMs / 2)
    step_ms += (host_elapsed_ms - step_ms + kWrapMs / 2) / kWrapMs * kWrapMs;
  last_ms_ = static_cast<std::uint16_t>(ms);
  last_host_ns_ = host_ns;
  adapter_ns_ += step_ms * 1'000'000;

  const std::int64_t candidate = host_ns - adapter_ns_;
  // Reads far later than the adapter's clock says are a host that stalled (its reads come in a
  // burst, then on time again) or an adapter whose clock fell back (reads stay late): only the
  // latter lasts.
  if (candidate - offset_ns_ > kReanchorNs) {
    if (!behind_since_ns_) behind_since_ns_ = host_ns;
  } else {
    behind_since_ns_.reset();
  }
  const bool fell_back = behind_since_ns_ && host_ns - *behind_since_ns_ >= kBehindNs;
  if (offset_ns_ - candidate > kReanchorNs || fell_back) {
    // The adapter's clock no longer tracks the host's (a reset adapter, a step of the host's
    // clock): start again from the host, even backwards, as a host-stamped source would.
    ++reanchors_;
    behind_since_ns_.reset();
    offset_ns_ = candidate;
    last_ns_ = host_ns;
    return host_ns;
  }
  if (candidate < offset_ns_)
    offset_ns_ = candidate;
  else  // milliseconds times parts per million are nanoseconds
    offset_ns_ += std::min(candidate - offset_ns_, step_ms * kSlewPpm);
  const std::int64_t t =
      std::clamp(adapter_ns_ + offset_ns_, last_ns_, std::max(host_ns, last_ns_));
  last_ns_ = t;
  return t;
}

}  // namespace bmslink::can::slcan
