// candump log (-l/-L) and candump console output. Layouts follow can-utils lib.c/candump.c:
// 3 hex digits = 11-bit id, 8 = 29-bit id (CAN_ERR_FLAG marks an error frame), "##<flags>" = FD.

#include <cmath>
#include <cstring>
#include <optional>
#include <vector>

#include "bmslink/can/error_frame.h"
#include "capture/line_parser.h"
#include "capture/text_util.h"

namespace bmslink::capture::detail {
namespace {

constexpr std::int64_t kEpochFloorNs = 100'000'000LL * kNsPerSecond;  // 1973: below is relative

// Hex payload with optional '.' separators between bytes (candump -l never writes them, but
// cansend syntax allows them and people paste it).
bool parse_hex_payload(std::string_view s, can::Frame& f, std::size_t max_len) {
  std::size_t n = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '.') {
      ++i;
      continue;
    }
    if (i + 1 >= s.size()) return false;
    const int hi = hex_digit(s[i]);
    const int lo = hex_digit(s[i + 1]);
    if (hi < 0 || lo < 0 || n >= max_len) return false;
    f.data[n++] = static_cast<std::uint8_t>((hi << 4) | lo);
    i += 2;
  }
  f.len = static_cast<std::uint8_t>(n);
  return true;
}

}  // namespace

bool parse_candump_frame_token(std::string_view token, can::Frame& f, std::string_view& reason) {
  const std::size_t hash = token.find('#');
  if (hash == std::string_view::npos) {
    reason = "expected '<id>#<data>' (3 or 8 hex digit id)";
    return false;
  }
  const std::string_view id_text = token.substr(0, hash);
  std::string_view rest = token.substr(hash + 1);
  const auto id = parse_hex(id_text, 8);
  if (!id || (id_text.size() != 3 && id_text.size() != 8)) {
    reason = "expected a 3 (11-bit) or 8 (29-bit) hex digit CAN id before '#'";
    return false;
  }
  f.extended = false;
  f.rtr = f.error = f.fd = f.brs = f.esi = false;
  f.len = 0;
  f.dlc = 0;
  if (id_text.size() == 3) {
    if (*id > can::kStandardIdMask) {
      reason = "11-bit CAN id above 0x7FF";
      return false;
    }
    f.id = *id;
  } else if (*id & can::kErrFlag) {
    f.error = true;
    f.id = *id & can::kExtendedIdMask;
  } else {
    f.extended = true;
    f.id = *id & can::kExtendedIdMask;
  }

  if (!rest.empty() && rest.front() == '#') {  // CAN FD: "##<flags nibble><data>"
    if (f.error) {
      reason = "an error frame cannot be CAN FD";
      return false;
    }
    rest.remove_prefix(1);
    const int flags = rest.empty() ? -1 : hex_digit(rest.front());
    if (flags < 0) {
      reason = "expected a hex flags digit after '##' (CAN FD)";
      return false;
    }
    rest.remove_prefix(1);
    f.fd = true;
    f.brs = (flags & 0x1) != 0;
    f.esi = (flags & 0x2) != 0;
    if (!parse_hex_payload(rest, f, can::kMaxFdLen) || !can::is_valid_fd_len(f.len)) {
      reason =
          "CAN FD payload must be hex byte pairs of a valid FD length (0-8,12,16,20,24,32,48,64)";
      return false;
    }
    f.dlc = can::len_to_fd_dlc(f.len);
    return true;
  }

  if (!rest.empty() && (rest.front() == 'R' || rest.front() == 'r')) {
    if (f.error) {
      reason = "an error frame cannot be a remote frame";
      return false;
    }
    f.rtr = true;
    rest.remove_prefix(1);
    if (!rest.empty()) {
      const int d = hex_digit(rest.front());
      if (d < 0 || d > 8 || rest.size() > 1) {
        reason = "expected an optional DLC digit 0-8 after 'R'";
        return false;
      }
      f.len = f.dlc = static_cast<std::uint8_t>(d);
    }
    return true;
  }

  // Classic frame; "_<dlc>" carries a raw DLC 9..F for 8-byte frames (len8_dlc).
  std::uint8_t raw_dlc = 0;
  if (const std::size_t us = rest.find('_'); us != std::string_view::npos) {
    const std::string_view d = rest.substr(us + 1);
    const int v = d.size() == 1 ? hex_digit(d.front()) : -1;
    rest = rest.substr(0, us);
    if (v < 9) {
      reason = "expected a DLC digit 9-F after '_'";
      return false;
    }
    raw_dlc = static_cast<std::uint8_t>(v);
  }
  if (!parse_hex_payload(rest, f, can::kMaxClassicLen)) {
    reason = "classic CAN payload must be 0-8 hex byte pairs";
    return false;
  }
  if (raw_dlc != 0 && f.len != 8) {
    reason = "a DLC above 8 needs 8 data bytes";
    return false;
  }
  f.dlc = raw_dlc != 0 ? raw_dlc : f.len;
  return true;
}

namespace {

class CandumpLogParser final : public LineParser {
 public:
  LineOutcome parse(std::string_view line, can::Frame& f, std::string_view& reason) override {
    const std::string_view t = trim(line);
    if (t.empty()) return LineOutcome::kIgnored;
    if (t.front() != '(') {
      reason = "expected '(<seconds>) <interface> <id>#<data>'";
      return LineOutcome::kMalformed;
    }
    const std::size_t close = t.find(')');
    if (close == std::string_view::npos) {
      reason = "expected ')' closing the timestamp";
      return LineOutcome::kMalformed;
    }
    const auto ns = parse_seconds_ns(t.substr(1, close - 1));
    if (!ns) {
      reason = "expected the timestamp as decimal seconds, e.g. (1700000000.123456)";
      return LineOutcome::kMalformed;
    }
    const Tokens tok(t.substr(close + 1));
    if (tok.size() < 2 || tok.size() > 3) {
      reason = "expected '<interface> <id>#<data> [R|T]' after the timestamp";
      return LineOutcome::kMalformed;
    }
    if (!parse_candump_frame_token(tok[1], f, reason)) return LineOutcome::kMalformed;
    f.direction = can::Direction::kUnknown;
    if (tok.size() == 3) {
      if (tok[2] == "R") {
        f.direction = can::Direction::kRx;
      } else if (tok[2] == "T") {
        f.direction = can::Direction::kTx;
      } else {
        reason = "expected 'R' or 'T' (direction) after the frame";
        return LineOutcome::kMalformed;
      }
    }
    f.timestamp_ns = *ns;
    f.time_kind = *ns >= kEpochFloorNs ? TimeKind::kAbsolute : TimeKind::kRelative;
    f.channel.assign(tok[0]);
    return LineOutcome::kFrame;
  }
  Format format() const override { return Format::kCandumpLog; }
};

// Console output. Timestamps: -ta "(1700000000.123456)", -tA "(2023-03-22 10:11:12.123456)",
// -tz "(000.000000)" zero-based, -td "(000.000123)" delta to the previous frame; none without -t.
// "-x" adds "RX|TX <brs> <esi>", "-a" a quoted ASCII column, "-e" "ERRORFRAME" plus tab-indented
// decode lines. Battery-Emulator logs ("(12.345) RX0 351 [8] 1 2 ...") share the layout.
class CandumpConsoleParser final : public LineParser {
 public:
  void prescan(std::span<const std::string_view> lines) override {
    std::int64_t prev = 0;
    bool have_prev = false;
    for (std::string_view line : lines) {
      const std::string_view t = trim(line);
      if (t.empty() || t.front() != '(') continue;
      const std::size_t close = t.find(')');
      if (close == std::string_view::npos) continue;
      const auto ns = parse_seconds_ns(t.substr(1, close - 1));
      if (!ns) continue;
      if (*ns >= kEpochFloorNs) return;  // absolute (-ta)
      if (have_prev && *ns < prev) {
        delta_ = true;
        return;
      }
      prev = *ns;
      have_prev = true;
    }
  }

  LineOutcome parse(std::string_view line, can::Frame& f, std::string_view& reason) override {
    if (!line.empty() && line.front() == '\t') return LineOutcome::kIgnored;  // -e decode text
    std::string_view t = trim(line);
    if (t.empty()) return LineOutcome::kIgnored;
    f.time_kind = TimeKind::kNone;
    f.timestamp_ns = 0;
    if (t.front() == '(') {
      const std::size_t close = t.find(')');
      if (close == std::string_view::npos) {
        reason = "expected ')' closing the timestamp";
        return LineOutcome::kMalformed;
      }
      if (!parse_time(t.substr(1, close - 1), f)) {
        reason =
            "expected a timestamp like (1700000000.123456), (000.000123) or (2023-03-22 "
            "10:11:12.123456)";
        return LineOutcome::kMalformed;
      }
      t = t.substr(close + 1);
    }
    const Tokens tok(t);
    std::size_t i = 0;
    if (tok.size() < 2) {
      reason = "expected '<interface> <id> [<len>] <data bytes>'";
      return LineOutcome::kMalformed;
    }
    f.direction = can::Direction::kUnknown;
    std::string_view iface = tok[i++];
    if (iface.size() >= 3 && (iface.substr(0, 2) == "RX" || iface.substr(0, 2) == "TX") &&
        parse_dec(iface.substr(2), 3)) {  // Battery-Emulator "RX0"/"TX1"
      f.direction = iface[0] == 'R' ? can::Direction::kRx : can::Direction::kTx;
      iface = iface.substr(2);
      battery_emulator_ = true;
    }
    f.channel.assign(iface);
    f.fd = f.brs = f.esi = false;
    if (tok[i] == "RX" || tok[i] == "TX") {  // candump -x
      f.direction = tok[i] == "RX" ? can::Direction::kRx : can::Direction::kTx;
      const std::string_view b = tok[i + 1], e = tok[i + 2];
      if ((b != "B" && b != "-") || (e != "E" && e != "-")) {
        reason = "expected '<B|-> <E|->' after RX/TX (candump -x)";
        return LineOutcome::kMalformed;
      }
      f.brs = b == "B";
      f.esi = e == "E";
      i += 3;
    }
    const std::string_view id_text = tok[i++];
    const auto id = parse_hex(id_text, 8);
    if (!id || (id_text.size() != 3 && id_text.size() != 8)) {
      reason = "expected a 3 or 8 hex digit CAN id after the interface";
      return LineOutcome::kMalformed;
    }
    f.rtr = f.error = f.extended = false;
    if (id_text.size() == 8 && (*id & can::kErrFlag)) {
      f.error = true;
      f.id = *id & can::kExtendedIdMask;
    } else if (id_text.size() == 8) {
      f.extended = true;
      f.id = *id & can::kExtendedIdMask;
    } else {
      if (*id > can::kStandardIdMask) {
        reason = "11-bit CAN id above 0x7FF";
        return LineOutcome::kMalformed;
      }
      f.id = *id;
    }
    std::string_view len_text = tok[i];
    if (len_text.size() < 3 || len_text.front() != '[' || len_text.back() != ']') {
      reason = "expected the length in brackets, e.g. [8], after the id";
      return LineOutcome::kMalformed;
    }
    ++i;
    len_text = len_text.substr(1, len_text.size() - 2);
    const auto len = parse_dec(len_text, 2);
    // Two digits ("[08]", "[12]") is how candump prints CAN FD lengths.
    const bool fd = len_text.size() == 2 || f.brs || f.esi;
    if (!len || (fd ? !can::is_valid_fd_len(*len) : *len > 8)) {
      reason = "length must be 0-8 (classic) or a CAN FD length in two digits";
      return LineOutcome::kMalformed;
    }
    f.fd = fd;
    f.len = static_cast<std::uint8_t>(*len);
    f.dlc = fd ? can::len_to_fd_dlc(f.len) : f.len;
    if (tok[i] == "remote" && tok[i + 1] == "request") {
      if (fd || f.error) {
        reason = "only classic data frames can be remote requests";
        return LineOutcome::kMalformed;
      }
      f.rtr = true;
      i += 2;
      return tail_ok(tok, i, reason) ? LineOutcome::kFrame : LineOutcome::kMalformed;
    }
    for (std::size_t b = 0; b < f.len; ++b, ++i) {
      const std::string_view bt = tok[i];
      const auto v = (bt.size() == 2 || (battery_emulator_ && bt.size() == 1)) ? parse_hex(bt, 2)
                                                                               : std::nullopt;
      if (!v) {
        reason = "fewer data bytes than the length in brackets, or a byte that is not 2 hex digits";
        return LineOutcome::kMalformed;
      }
      f.data[b] = static_cast<std::uint8_t>(*v);
    }
    return tail_ok(tok, i, reason) ? LineOutcome::kFrame : LineOutcome::kMalformed;
  }

  Format format() const override { return Format::kCandumpConsole; }
  std::string variant() const override {
    if (battery_emulator_) return "Battery-Emulator log";
    switch (mode_) {
      case Mode::kNone:
        return "candump console, no timestamps";
      case Mode::kAbsolute:
        return "candump console, absolute timestamps (-ta/-tA)";
      case Mode::kZero:
        return "candump console, relative timestamps (-tz)";
      case Mode::kDelta:
        return "candump console, delta timestamps (-td)";
    }
    return "candump console";
  }

 private:
  enum class Mode { kNone, kAbsolute, kZero, kDelta };

  // What may follow the payload: the -a ASCII column in quotes, or ERRORFRAME and its decode.
  static bool tail_ok(const Tokens& tok, std::size_t i, std::string_view& reason) {
    if (i >= tok.size()) return true;
    const std::string_view next = tok[i];
    if (next.front() == '\'' || next == "ERRORFRAME") return true;
    reason = "unexpected text after the data bytes (more bytes than the length in brackets?)";
    return false;
  }

  bool parse_time(std::string_view s, can::Frame& f) {
    if (s.size() >= 19 && s[4] == '-' && s[7] == '-' && s[10] == ' ') {  // -tA
      const auto y = parse_dec(s.substr(0, 4), 4), mo = parse_dec(s.substr(5, 2), 2),
                 d = parse_dec(s.substr(8, 2), 2), h = parse_dec(s.substr(11, 2), 2),
                 mi = parse_dec(s.substr(14, 2), 2);
      if (!y || !mo || !d || !h || !mi || s[13] != ':' || s[16] != ':' || *y < 1970 || *y > 2100 ||
          *mo < 1 || *mo > 12 || *d < 1 || *d > 31 || *h > 23 || *mi > 59)
        return false;
      const auto sec = parse_seconds_ns(s.substr(17));
      if (!sec || *sec >= 61 * kNsPerSecond) return false;
      const std::int64_t days = days_from_civil(static_cast<int>(*y), *mo, *d);
      f.timestamp_ns = (days * 86400 + *h * 3600LL + *mi * 60LL) * kNsPerSecond + *sec;
      f.time_kind = TimeKind::kAbsolute;
      mode_ = Mode::kAbsolute;
      return true;
    }
    const auto ns = parse_seconds_ns(s);
    if (!ns || *ns < 0) return false;
    if (*ns >= kEpochFloorNs) {
      f.timestamp_ns = *ns;
      f.time_kind = TimeKind::kAbsolute;
      mode_ = Mode::kAbsolute;
    } else if (delta_) {
      if (!timestamp_in_range(running_ns_ + *ns)) return false;
      running_ns_ += *ns;
      f.timestamp_ns = running_ns_;
      f.time_kind = TimeKind::kRelative;
      mode_ = Mode::kDelta;
    } else {
      f.timestamp_ns = *ns;
      f.time_kind = TimeKind::kRelative;
      mode_ = Mode::kZero;
    }
    return true;
  }

  bool delta_ = false;
  bool battery_emulator_ = false;
  std::int64_t running_ns_ = 0;
  Mode mode_ = Mode::kNone;
};

}  // namespace

std::unique_ptr<LineParser> make_candump_log_parser() {
  return std::make_unique<CandumpLogParser>();
}
std::unique_ptr<LineParser> make_candump_console_parser() {
  return std::make_unique<CandumpConsoleParser>();
}

}  // namespace bmslink::capture::detail
