// Frames pasted into forum posts, issue threads and serial-monitor logs. Recognised shapes:
//   "0x351 14 02 74 0E"                         hex id with 0x, bytes
//   "351 48 02 00 05 00 05 AE 01"               bare 3- or 8-digit hex id, bytes
//   "ID: 351 Buffer: 14 2 C0 12"                keyword forms, unpadded bytes
//   "Standard ID: 0x351 DLC: 8 Data: 0x44 ..."  keyword forms with DLC (checked against the bytes)
//   "can0 351#1402..."                          candump compact frames without a timestamp
//   "... Received CAN message: 0x351 - 10 02"   a frame at the end of a log line
// A leading time of day ("21:22:39.226") becomes a relative timestamp; anything else leaves the
// time absent. Lines with no frame shape are free text and ignored; a line that starts a frame
// shape and breaks it is malformed. Never guesses a frame out of prose: the bytes must run to the
// end of the line.

#include <cctype>

#include "capture/line_parser.h"
#include "capture/text_util.h"

namespace bmslink::capture::detail {
namespace {

// Reads byte tokens separated by spaces or commas to the end of `s`. False if anything else.
bool read_byte_run(std::string_view s, can::Frame& f, std::size_t& count) {
  count = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (is_space(s[i]) || s[i] == ',')) ++i;
    if (i >= s.size()) break;
    const std::size_t start = i;
    while (i < s.size() && !is_space(s[i]) && s[i] != ',') ++i;
    const auto v = parse_byte_token(s.substr(start, i - start));
    if (!v || count >= can::kMaxFdLen) return false;
    f.data[count++] = *v;
  }
  return true;
}

std::optional<std::uint32_t> parse_id_token(std::string_view s) {
  if (has_hex_prefix(s)) s.remove_prefix(2);
  return parse_hex(s, 8);
}

// Finds `key` (case-insensitive) at a word start; returns the offset just after it.
std::size_t find_key(std::string_view line, std::string_view key) {
  for (std::size_t i = 0; i + key.size() <= line.size(); ++i) {
    if ((i == 0 || !std::isalnum(static_cast<unsigned char>(line[i - 1]))) &&
        iequals(line.substr(i, key.size()), key)) {
      return i + key.size();
    }
  }
  return std::string_view::npos;
}

class PastedParser final : public LineParser {
 public:
  LineOutcome parse(std::string_view line, can::Frame& f, std::string_view& reason) override {
    std::string_view t = trim(line);
    if (t.empty()) return LineOutcome::kIgnored;
    f = can::Frame{};
    t = take_time_of_day(t, f);
    if (const std::size_t id_at = find_id_keyword(t); id_at != std::string_view::npos) {
      return keyword_form(t, id_at, f, reason);
    }
    const Tokens tok(t);
    // candump compact without timestamp: "[iface] 351#11223344"
    for (std::size_t i = 0; i < std::min<std::size_t>(tok.size(), 2); ++i) {
      const std::string_view token = tok[i];
      if (token.find('#') != std::string_view::npos && tok.size() == i + 1 && token.size() > 1 &&
          hex_digit(token[0]) >= 0) {
        if (!parse_candump_frame_token(tok[i], f, reason)) return LineOutcome::kMalformed;
        if (i == 1) f.channel.assign(tok[0]);
        return LineOutcome::kFrame;
      }
    }
    // "0x351 - 10 02 ..." anywhere in the line, bytes running to the end.
    for (std::size_t i = 0; i < tok.size(); ++i) {
      if (!has_hex_prefix(tok[i])) continue;
      const auto id = parse_id_token(tok[i]);
      if (!id) continue;
      std::size_t j = i + 1;
      if (tok[j] == "-" || tok[j] == ":" || tok[j] == "=>" || tok[j] == "|" || tok[j] == "->") ++j;
      if (j >= tok.size()) continue;
      const auto bytes_at = static_cast<std::size_t>(tok[j].data() - t.data());
      std::size_t n = 0;
      if (!read_byte_run(t.substr(bytes_at), f, n)) {
        if (i == 0) {
          reason = "expected data bytes (hex, space separated) after the id";
          return LineOutcome::kMalformed;
        }
        continue;
      }
      // Only 8 digits (or a value above 0x7FF, see finish) make an id 29-bit: "0x0400" is 11-bit.
      return finish(*id, tok[i].size() - 2 == 8, n, std::nullopt, f, reason);
    }
    // Bare "[iface] 351 [8] 48 02 ..." with a 3- or 8-digit id first.
    std::size_t i = 0;
    if (tok.size() > 2 && !parse_hex(tok[0], 8) && tok[0].size() <= 16 &&
        std::isalpha(static_cast<unsigned char>(tok[0].front()))) {
      f.channel.assign(tok[0]);
      i = 1;
    }
    const std::string_view id_text = tok[i];
    if ((id_text.size() == 3 || id_text.size() == 8) && parse_hex(id_text, 8) &&
        tok.size() > i + 1) {
      std::size_t j = i + 1;
      std::optional<std::uint32_t> dlc;
      if (tok[j].size() >= 3 && tok[j].front() == '[' && tok[j].back() == ']') {
        dlc = parse_dec(tok[j].substr(1, tok[j].size() - 2), 2);
        ++j;
      }
      const auto bytes_at =
          j < tok.size() ? static_cast<std::size_t>(tok[j].data() - t.data()) : t.size();
      std::size_t n = 0;
      if (read_byte_run(t.substr(bytes_at), f, n) && (n > 0 || dlc)) {
        return finish(*parse_hex(id_text, 8), id_text.size() == 8, n, dlc, f, reason);
      }
      if (i == 1) {  // "can0 351 ..." is clearly meant as a frame
        reason = "expected hex data bytes after the id";
        return LineOutcome::kMalformed;
      }
    }
    if (!f.channel.empty()) f.channel.clear();
    return LineOutcome::kIgnored;
  }

  Format format() const override { return Format::kPasted; }
  std::string variant() const override { return "pasted dump"; }

 private:
  static std::string_view take_time_of_day(std::string_view t, can::Frame& f) {
    std::string_view s = t;
    if (!s.empty() && s.front() == '[') s.remove_prefix(1);
    if (s.size() < 8 || s[2] != ':' || s[5] != ':') return t;
    const auto h = parse_dec(s.substr(0, 2), 2), m = parse_dec(s.substr(3, 2), 2);
    std::size_t end = 6;
    while (end < s.size() && (is_digit(s[end]) || s[end] == '.')) ++end;
    const auto sec = parse_seconds_ns(s.substr(6, end - 6));
    if (!h || !m || !sec || *h > 23 || *m > 59 || *sec >= 61 * kNsPerSecond) return t;
    f.timestamp_ns = (*h * 3600LL + *m * 60LL) * kNsPerSecond + *sec;
    f.time_kind = TimeKind::kRelative;
    if (end < s.size() && s[end] == ']') ++end;
    return trim(s.substr(end));
  }

  static std::size_t find_id_keyword(std::string_view t) {
    for (std::string_view key : {"id:", "id =", "id=", "ident:"}) {
      if (const std::size_t at = find_key(t, key); at != std::string_view::npos) return at;
    }
    return std::string_view::npos;
  }

  static LineOutcome keyword_form(std::string_view t, std::size_t id_at, can::Frame& f,
                                  std::string_view& reason) {
    const Tokens after(t.substr(id_at));
    const auto id = parse_id_token(after[0]);
    if (!id) {
      reason = "expected a hex CAN id after 'ID:'";
      return LineOutcome::kMalformed;
    }
    const bool extended_word = find_key(t, "extended") != std::string_view::npos ||
                               find_key(t, "xtd") != std::string_view::npos;
    std::string_view id_digits = after[0];
    if (has_hex_prefix(id_digits)) id_digits.remove_prefix(2);
    std::optional<std::uint32_t> dlc;
    for (std::string_view key : {"dlc:", "len:", "length:", "dlc="}) {
      if (const std::size_t at = find_key(t, key); at != std::string_view::npos) {
        const Tokens d(t.substr(at));
        dlc = parse_dec(d[0], 2);
        if (!dlc) {
          reason = "expected a decimal number after 'DLC:'";
          return LineOutcome::kMalformed;
        }
        break;
      }
    }
    std::size_t data_at = std::string_view::npos;
    for (std::string_view key : {"data:", "buffer:", "payload:", "data=", "bytes:"}) {
      data_at = find_key(t, key);
      if (data_at != std::string_view::npos) break;
    }
    if (data_at == std::string_view::npos) {
      reason = "expected 'Data:' or 'Buffer:' followed by the bytes after 'ID:'";
      return LineOutcome::kMalformed;
    }
    std::size_t n = 0;
    if (!read_byte_run(t.substr(data_at), f, n)) {
      reason = "expected only hex data bytes after 'Data:'/'Buffer:'";
      return LineOutcome::kMalformed;
    }
    return finish(*id, extended_word || id_digits.size() == 8, n, dlc, f, reason);
  }

  static LineOutcome finish(std::uint32_t id, bool extended, std::size_t n,
                            std::optional<std::uint32_t> dlc, can::Frame& f,
                            std::string_view& reason) {
    if (!extended && id > can::kStandardIdMask) extended = true;
    if (id > can::kExtendedIdMask) {
      reason = "CAN id above 0x1FFFFFFF";
      return LineOutcome::kMalformed;
    }
    if (dlc && *dlc != n) {
      reason = "the DLC does not match the number of data bytes";
      return LineOutcome::kMalformed;
    }
    if (n > can::kMaxClassicLen && !can::is_valid_fd_len(n)) {
      reason = "more than 8 data bytes and not a CAN FD length";
      return LineOutcome::kMalformed;
    }
    f.id = id;
    f.extended = extended;
    f.len = static_cast<std::uint8_t>(n);
    f.fd = n > can::kMaxClassicLen;
    f.dlc = f.fd ? can::len_to_fd_dlc(n) : f.len;
    return LineOutcome::kFrame;
  }
};

}  // namespace

std::unique_ptr<LineParser> make_pasted_parser() { return std::make_unique<PastedParser>(); }

}  // namespace bmslink::capture::detail
