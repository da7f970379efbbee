// Vector ASC (CANoe/CANalyzer ASCII logging). Header: "date ...", "base hex|dec timestamps
// absolute|relative", "[no] internal events logged", "// version", "Begin Triggerblock".
// Classic: "<t> <ch> <id>[x] Rx|Tx d <dlc> <bytes> [Length = ...]", remote "... r [dlc]",
// "<t> <ch> ErrorFrame"; FD: "<t> CANFD <ch> Rx|Tx <id>[x] [name] <brs> <esi> <dlc> <len> <bytes>".
// "timestamps absolute" counts from the measurement start (the date line), "relative" from the
// previous event. The date carries no time zone; it is read as UTC.

#include <array>

#include <fmt/format.h>

#include "bmslink/can/error_frame.h"
#include "capture/line_parser.h"
#include "capture/text_util.h"

namespace bmslink::capture::detail {
namespace {

std::optional<unsigned> month_number(std::string_view m) {
  static constexpr std::array<std::pair<std::string_view, unsigned>, 16> kMonths = {{
      {"jan", 1},
      {"feb", 2},
      {"mar", 3},
      {"apr", 4},
      {"may", 5},
      {"jun", 6},
      {"jul", 7},
      {"aug", 8},
      {"sep", 9},
      {"oct", 10},
      {"nov", 11},
      {"dec", 12},
      // German CANoe installations write these.
      {"mai", 5},
      {"okt", 10},
      {"dez", 12},
      {"m\xc3\xa4r", 3},
  }};
  for (const auto& [name, num] : kMonths) {
    if (istarts_with(m, name)) return num;
  }
  return std::nullopt;
}

// "Wed Apr 16 09:21:13.159 am 2014" (weekday already included) -> epoch ns, read as UTC.
std::optional<std::int64_t> parse_asc_date(std::string_view text) {
  const Tokens t(text);
  if (t.size() < 4) return std::nullopt;
  std::size_t i = 0;
  if (!month_number(t[i])) ++i;  // weekday
  const auto month = month_number(t[i++]);
  const auto day = parse_dec(t[i++], 2);
  const std::string_view clock = t[i++];
  if (!month || !day || *day < 1 || *day > 31) return std::nullopt;
  bool pm = false, am = false;
  if (iequals(t[i], "pm") || iequals(t[i], "am")) {
    pm = iequals(t[i], "pm");
    am = !pm;
    ++i;
  }
  const auto year = parse_dec(t[i], 4);
  if (!year || *year < 1970 || *year > 2100 || clock.size() < 8 || clock[2] != ':' ||
      clock[5] != ':') {
    return std::nullopt;
  }
  auto hour = parse_dec(clock.substr(0, 2), 2);
  const auto minute = parse_dec(clock.substr(3, 2), 2);
  const auto sec = parse_seconds_ns(clock.substr(6));
  if (!hour || !minute || !sec || *hour > 23 || *minute > 59) return std::nullopt;
  if (pm && *hour < 12) *hour += 12;
  if (am && *hour == 12) *hour = 0;
  const std::int64_t days = days_from_civil(static_cast<int>(*year), *month, *day);
  return (days * 86400 + *hour * 3600LL + *minute * 60LL) * kNsPerSecond + *sec;
}

class AscParser final : public LineParser {
 public:
  LineOutcome parse(std::string_view line, can::Frame& f, std::string_view& reason) override {
    const std::string_view t = trim(line);
    if (t.empty() || t.starts_with("//")) return LineOutcome::kIgnored;
    const Tokens tok(t);
    const std::string_view first = tok[0];
    if (iequals(first, "date")) {
      start_ns_ = parse_asc_date(t.substr(4));
      return LineOutcome::kIgnored;
    }
    if (iequals(first, "base")) {
      if (iequals(tok[1], "dec")) base_ = 10;
      if (iequals(tok[1], "hex")) base_ = 16;
      if (iequals(tok[2], "timestamps")) relative_ = iequals(tok[3], "relative");
      return LineOutcome::kIgnored;
    }
    if (iequals(first, "begin") && iequals(tok[1], "triggerblock")) {
      if (!tok[2].empty()) {
        const auto at = static_cast<std::size_t>(tok[2].data() - t.data());
        if (auto start = parse_asc_date(t.substr(at))) start_ns_ = start;
      }
      last_ns_ = 0;
      return LineOutcome::kIgnored;
    }
    const auto ts = parse_seconds_ns(first);
    if (!ts) {
      // "internal events logged", "End TriggerBlock", other headers.
      return LineOutcome::kIgnored;
    }
    const std::int64_t offset = relative_ ? last_ns_ + *ts : *ts;
    // A 1970-01-01 date is how a capture without calendar time is written (ours, log2asc's).
    const bool dated = start_ns_ && *start_ns_ >= 86400 * kNsPerSecond;
    if (!timestamp_in_range(offset) || (dated && !timestamp_in_range(*start_ns_ + offset))) {
      reason = "timestamp out of range (more than a century from the measurement start)";
      return LineOutcome::kMalformed;
    }
    last_ns_ = offset;
    if (dated) {
      f.timestamp_ns = *start_ns_ + offset;
      f.time_kind = TimeKind::kAbsolute;
    } else {
      f.timestamp_ns = offset;
      f.time_kind = TimeKind::kRelative;
    }
    f.fd = f.brs = f.esi = f.rtr = f.error = f.extended = false;
    f.direction = can::Direction::kUnknown;
    if (tok[1] == "CANFD") return parse_fd(tok, f, reason);
    const auto ch = parse_dec(tok[1], 3);
    if (!ch) return LineOutcome::kIgnored;  // "Start of measurement", statistics, J1939 events
    f.channel.assign(tok[1]);
    if (iequals(tok[2], "ErrorFrame")) {
      f = error_frame(f);
      return LineOutcome::kFrame;
    }
    if (tok[3] != "Rx" && tok[3] != "Tx" && tok[3] != "TxRq") {
      return LineOutcome::kIgnored;  // "CAN 1 Status:...", "SV:", environment variables
    }
    if (!parse_id(tok[2], f)) {
      reason = base_ == 16 ? "expected a hex CAN id (trailing 'x' for 29-bit)"
                           : "expected a decimal CAN id (trailing 'x' for 29-bit)";
      return LineOutcome::kMalformed;
    }
    f.direction = tok[3] == "Rx" ? can::Direction::kRx : can::Direction::kTx;
    if (tok[4] == "r" || tok[4] == "R") {
      f.rtr = true;
      f.len = f.dlc = 0;
      if (!tok[5].empty()) {
        if (const auto d = parse_number(tok[5]); d && *d <= 8)
          f.len = f.dlc = static_cast<std::uint8_t>(*d);
      }
      return LineOutcome::kFrame;
    }
    if (tok[4] != "d" && tok[4] != "D") {
      reason = "expected 'd' (data) or 'r' (remote) after the direction";
      return LineOutcome::kMalformed;
    }
    const auto dlc = parse_number(tok[5]);
    if (!dlc || *dlc > 15) {
      reason = "expected the DLC (0-15) after 'd'";
      return LineOutcome::kMalformed;
    }
    f.dlc = static_cast<std::uint8_t>(*dlc);
    f.len = static_cast<std::uint8_t>(std::min<std::uint32_t>(*dlc, 8));
    for (std::size_t b = 0; b < f.len; ++b) {
      const auto v = parse_number(tok[6 + b]);
      if (!v || *v > 0xFF) {
        reason = "fewer data bytes than the DLC says, or a byte out of range";
        return LineOutcome::kMalformed;
      }
      f.data[b] = static_cast<std::uint8_t>(*v);
    }
    return LineOutcome::kFrame;
  }

  Format format() const override { return Format::kVectorAsc; }
  std::string variant() const override {
    return fmt::format("ASC base {}, {} timestamps", base_ == 16 ? "hex" : "dec",
                       relative_ ? "relative" : "absolute");
  }

 private:
  std::optional<std::uint32_t> parse_number(std::string_view s) const {
    return base_ == 16 ? parse_hex(s, 8) : parse_dec(s, 10);
  }

  bool parse_id(std::string_view s, can::Frame& f) const {
    if (!s.empty() && (s.back() == 'x' || s.back() == 'X')) {
      f.extended = true;
      s.remove_suffix(1);
    }
    const auto id = parse_number(s);
    if (!id || *id > (f.extended ? can::kExtendedIdMask : can::kStandardIdMask)) return false;
    f.id = *id;
    return true;
  }

  static can::Frame error_frame(const can::Frame& timing) {
    // ASC names the event but not its cause: an error frame with no class bits.
    can::Frame e = can::make_error_frame(0, {});
    e.timestamp_ns = timing.timestamp_ns;
    e.time_kind = timing.time_kind;
    e.channel = timing.channel;
    e.direction = timing.direction;
    return e;
  }

  LineOutcome parse_fd(const Tokens& tok, can::Frame& f, std::string_view& reason) {
    if (!parse_dec(tok[2], 3) || (tok[3] != "Rx" && tok[3] != "Tx")) {
      reason = "expected 'CANFD <channel> Rx|Tx ...'";
      return LineOutcome::kMalformed;
    }
    f.channel.assign(tok[2]);
    f.direction = tok[3] == "Rx" ? can::Direction::kRx : can::Direction::kTx;
    if (iequals(tok[4], "ErrorFrame")) {
      f = error_frame(f);
      return LineOutcome::kFrame;
    }
    if (!parse_id(tok[4], f)) {
      reason = "expected the CAN id after 'CANFD <channel> <dir>'";
      return LineOutcome::kMalformed;
    }
    std::size_t i = 5;
    if (tok[i] != "0" && tok[i] != "1") ++i;  // symbolic message name
    if ((tok[i] != "0" && tok[i] != "1") || (tok[i + 1] != "0" && tok[i + 1] != "1")) {
      reason = "expected '<brs 0|1> <esi 0|1> <dlc> <data length>' after the CAN FD id";
      return LineOutcome::kMalformed;
    }
    f.brs = tok[i] == "1";
    f.esi = tok[i + 1] == "1";
    const auto dlc = parse_hex(tok[i + 2], 1);
    const auto len = parse_dec(tok[i + 3], 2);
    if (!dlc || !len || !can::is_valid_fd_len(*len)) {
      reason = "expected the CAN FD DLC (hex digit) and data length (0-64)";
      return LineOutcome::kMalformed;
    }
    i += 4;
    if (*len == 0 && *dlc != 0) {  // FD lines also carry classic remote frames this way
      f.rtr = true;
      f.len = 0;
      f.dlc = static_cast<std::uint8_t>(*dlc);
      return LineOutcome::kFrame;
    }
    f.fd = true;
    f.len = static_cast<std::uint8_t>(*len);
    f.dlc = can::len_to_fd_dlc(f.len);
    for (std::size_t b = 0; b < f.len; ++b) {
      const auto v = parse_number(tok[i + b]);
      if (!v || *v > 0xFF) {
        reason = "fewer CAN FD data bytes than the data length says";
        return LineOutcome::kMalformed;
      }
      f.data[b] = static_cast<std::uint8_t>(*v);
    }
    // After the bytes: message duration, message length, flags. Flag bit 12 (EDL) clear means a
    // classic frame logged on an FD channel.
    if (const auto flags = parse_hex(tok[i + f.len + 2], 8);
        flags && (*flags & 0x1000U) == 0 && f.len <= 8 && !f.brs) {
      f.fd = false;
      f.dlc = f.len;
    }
    return LineOutcome::kFrame;
  }

  int base_ = 16;
  bool relative_ = false;
  std::optional<std::int64_t> start_ns_;
  std::int64_t last_ns_ = 0;
};

}  // namespace

std::unique_ptr<LineParser> make_asc_parser() { return std::make_unique<AscParser>(); }

}  // namespace bmslink::capture::detail
