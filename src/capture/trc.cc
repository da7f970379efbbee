// PEAK TRC, versions 1.0-2.1 (PEAK "TRC File Format" document). Header lines start with ';';
// ";$FILEVERSION=x.y", ";$STARTTIME=<OLE days since 1899-12-30>", ";$COLUMNS=N,O,T,B,I,d,R,L,D".
// 1.x rows: "N) <ms> [bus] [Rx|Tx|Warng|Error] <id> [-] <dlc> <bytes|RTR|ERROR ...>".
// 2.x rows follow $COLUMNS (defaults per version); types DT data, FD/FB/FE/BI CAN FD, RR remote,
// ER error frame, ST hardware status, EC error counter change, EV user event.
// PEAK error records (type, direction, position, RX counter, TX counter) are mapped onto the
// SocketCAN error-frame layout so every reader reports errors the same way.

#include <cmath>

#include <fmt/format.h>

#include "bmslink/can/error_frame.h"
#include "capture/line_parser.h"
#include "capture/text_util.h"

namespace bmslink::capture::detail {
namespace {

// 1899-12-30 (OLE automation date origin) is 25569 days before the Unix epoch.
constexpr double kOleEpochOffsetDays = 25569.0;

// PEAK error type bits and an ECC-style position code -> SocketCAN error frame.
can::Frame peak_error_frame(std::uint8_t type, std::uint8_t direction, std::uint8_t position,
                            std::uint8_t rx_counter, std::uint8_t tx_counter) {
  std::array<std::uint8_t, 8> d{};
  std::uint32_t cls = can::err::kProtocol | can::err::kBusError | can::err::kCounters;
  if (type & 0x01) d[2] |= can::err::kProtBit;
  if (type & 0x02) d[2] |= can::err::kProtForm;
  if (type & 0x04) d[2] |= can::err::kProtStuff;
  if (direction == 0) d[2] |= can::err::kProtTx;
  d[3] = position;
  // An error in the ACK slot is what a missing acknowledgement looks like.
  if (position == can::err::kLocAckSlot) cls |= can::err::kNoAck;
  d[6] = tx_counter;
  d[7] = rx_counter;
  return can::make_error_frame(cls, d);
}

// PCAN status word: 0x04 bus light, 0x08 bus heavy (warning), 0x40000 passive, 0x10 bus off.
can::Frame peak_status_frame(std::uint32_t status, std::string_view words) {
  std::array<std::uint8_t, 8> d{};
  std::uint32_t cls = 0;
  const bool off = (status & 0x10U) || words.find("BUSOFF") != std::string_view::npos;
  const bool passive = (status & 0x40000U) || words.find("BUSPASSIVE") != std::string_view::npos;
  const bool warning = (status & 0x0CU) || words.find("BUSHEAVY") != std::string_view::npos ||
                       words.find("BUSLIGHT") != std::string_view::npos ||
                       words.find("BUSWARNING") != std::string_view::npos;
  if (off) cls |= can::err::kBusOff;
  if (passive) {
    cls |= can::err::kController;
    d[1] |= can::err::kCtrlRxPassive | can::err::kCtrlTxPassive;
  } else if (warning) {
    cls |= can::err::kController;
    d[1] |= can::err::kCtrlRxWarning | can::err::kCtrlTxWarning;
  }
  if (status == 0 && !off && !passive && !warning) {  // back to error active
    cls |= can::err::kController;
    d[1] |= can::err::kCtrlActive;
  }
  return can::make_error_frame(cls, d);
}

class TrcParser final : public LineParser {
 public:
  LineOutcome parse(std::string_view line, can::Frame& f, std::string_view& reason) override {
    const std::string_view t = trim(line);
    if (t.empty()) return LineOutcome::kIgnored;
    if (t.front() == ';') {
      header(t);
      return LineOutcome::kIgnored;
    }
    const Tokens tok(t);
    if (major_ == 0) major_ = tok[0].back() == ')' ? 1 : 2;  // no $FILEVERSION: guess by shape
    return major_ == 1 ? parse_v1(tok, f, reason) : parse_v2(tok, f, reason);
  }

  Format format() const override { return Format::kPeakTrc; }
  std::string variant() const override {
    if (version_.empty()) return major_ == 2 ? "TRC 2.x" : "TRC 1.0";
    return "TRC " + version_;
  }

 private:
  void header(std::string_view t) {
    if (t.starts_with(";$FILEVERSION=")) {
      version_ = std::string(trim(t.substr(14)));
      major_ = version_.starts_with("2") ? 2 : 1;
      if (version_ == "2.0") columns_ = "NOTIdLD";  // 2.0 writes the DLC
      if (version_ == "2.1") columns_ = "NOTBIdRLD";
    } else if (t.starts_with(";$STARTTIME=")) {
      const std::string text(trim(t.substr(12)));
      char* end = nullptr;
      const double days = std::strtod(text.c_str(), &end);
      // Accept 1970..2100; python-can 4.1 writes 2080s here, still a date we can carry.
      if (end != text.c_str() && days > kOleEpochOffsetDays &&
          days < kOleEpochOffsetDays + 47482.0) {
        start_ns_ =
            static_cast<std::int64_t>(std::llround((days - kOleEpochOffsetDays) * 86400.0 * 1e6)) *
            1000;
      }
    } else if (t.starts_with(";$COLUMNS=")) {
      columns_.clear();
      for (char c : t.substr(10)) {
        if (c != ',' && !is_space(c)) columns_.push_back(c);
      }
    }
  }

  void set_time(std::int64_t offset_ns, can::Frame& f) const {
    if (start_ns_ && timestamp_in_range(*start_ns_ + offset_ns)) {
      f.timestamp_ns = *start_ns_ + offset_ns;
      f.time_kind = TimeKind::kAbsolute;
    } else {
      f.timestamp_ns = offset_ns;
      f.time_kind = TimeKind::kRelative;
    }
  }

  static bool set_id(std::string_view s, can::Frame& f) {
    const auto id = parse_hex(s, 8);
    if (!id) return false;
    f.extended = s.size() > 4;  // PEAK writes 4 digits for 11-bit ids and 8 for 29-bit
    if (*id > (f.extended ? can::kExtendedIdMask : can::kStandardIdMask)) return false;
    f.id = *id;
    return true;
  }

  static bool read_bytes(const Tokens& tok, std::size_t first, std::size_t n, can::Frame& f) {
    for (std::size_t b = 0; b < n; ++b) {
      const std::string_view bt = tok[first + b];
      const auto v = bt.size() == 2 ? parse_hex(bt, 2) : std::nullopt;
      if (!v) return false;
      f.data[b] = static_cast<std::uint8_t>(*v);
    }
    f.len = static_cast<std::uint8_t>(n);
    return true;
  }

  static void keep_context(can::Frame& e, const can::Frame& ctx) {
    e.timestamp_ns = ctx.timestamp_ns;
    e.time_kind = ctx.time_kind;
    e.channel = ctx.channel;
    e.direction = ctx.direction;
  }

  LineOutcome parse_v1(const Tokens& tok, can::Frame& f, std::string_view& reason) {
    if (tok[0].size() < 2 || tok[0].back() != ')' ||
        !parse_dec(tok[0].substr(0, tok[0].size() - 1), 10)) {
      reason = "expected a TRC 1.x row: '<number>) <time ms> ...'";
      return LineOutcome::kMalformed;
    }
    const auto ms = parse_milliseconds_ns(tok[1]);
    if (!ms) {
      reason = "expected the time offset in milliseconds after the message number";
      return LineOutcome::kMalformed;
    }
    f = can::Frame{};
    set_time(*ms, f);
    std::size_t i = 2;
    f.channel = "1";
    // 1.2+ put the bus number before the type column.
    if (parse_dec(tok[i], 2) && !parse_dec(tok[i + 1], 8) && tok[i].size() <= 2) {
      f.channel.assign(tok[i]);
      ++i;
    }
    std::string_view type;
    if (tok[i] == "Rx" || tok[i] == "Tx" || tok[i] == "Warng" || tok[i] == "Error") type = tok[i++];
    f.direction = type == "Tx" ? can::Direction::kTx : can::Direction::kRx;
    const std::string_view id_text = tok[i++];
    if (tok[i] == "-") ++i;  // 1.3 reserved column
    const auto dlc = parse_dec(tok[i++], 2);
    if (!dlc || *dlc > 8) {
      reason = "expected the data length (0-8) after the CAN id";
      return LineOutcome::kMalformed;
    }
    if (type == "Warng" || id_text == "FFFFFFFF") {
      std::uint32_t status = 0;
      for (std::size_t b = 0; b < *dlc; ++b) {
        const auto v = parse_hex(tok[i + b], 2);
        if (!v) break;
        status = (status << 8) | *v;
      }
      can::Frame e = peak_status_frame(status, tok.size() > i + *dlc ? tok[i + *dlc] : "");
      keep_context(e, f);
      f = e;
      return LineOutcome::kFrame;
    }
    if (tok[i] == "ERROR" || type == "Error") {  // id column holds the PEAK error type
      if (tok[i] == "ERROR") ++i;
      const auto kind = parse_hex(id_text, 8);
      std::array<std::uint8_t, 4> v{};
      for (std::size_t b = 0; b < 4; ++b) {
        const auto x = parse_hex(tok[i + b], 2);
        v[b] = x ? static_cast<std::uint8_t>(*x) : 0;
      }
      can::Frame e =
          peak_error_frame(static_cast<std::uint8_t>(kind.value_or(0)), v[0], v[1], v[2], v[3]);
      keep_context(e, f);
      f = e;
      return LineOutcome::kFrame;
    }
    if (!set_id(id_text, f)) {
      reason = "expected the CAN id in hex (4 digits 11-bit, 8 digits 29-bit)";
      return LineOutcome::kMalformed;
    }
    f.dlc = static_cast<std::uint8_t>(*dlc);
    if (tok[i] == "RTR") {
      f.rtr = true;
      f.len = f.dlc;
      return LineOutcome::kFrame;
    }
    if (!read_bytes(tok, i, *dlc, f) || tok.size() > i + *dlc) {
      reason = "expected exactly as many 2-digit hex data bytes as the data length says";
      return LineOutcome::kMalformed;
    }
    return LineOutcome::kFrame;
  }

  // Error and status records leave the id (and often the direction) column empty; a file whose
  // runs of spaces were collapsed (copied through a chat or a spreadsheet) no longer shows which
  // columns are empty. When the columns do not fit such a record, its length and data are read
  // from the end of the line: the last n tokens are the data, the one before them says n.
  LineOutcome parse_v2(const Tokens& tok, can::Frame& f, std::string_view& reason) {
    const LineOutcome by_columns = parse_v2_columns(tok, f, reason);
    if (by_columns != LineOutcome::kMalformed) return by_columns;
    const std::size_t type_at = columns_.find('T');
    if (type_at == std::string::npos || type_at >= tok.size()) return by_columns;
    const std::string_view type = tok[type_at];
    if (type != "ER" && type != "ST" && type != "EC") return by_columns;
    // The first columns up to the type are never empty: number, time offset.
    can::Frame ctx;
    ctx.channel = "1";
    for (std::size_t c = 0; c < type_at; ++c) {
      if (columns_[c] == 'O') {
        const auto ms = parse_milliseconds_ns(tok[c]);
        if (!ms) return by_columns;
        set_time(*ms, ctx);
      }
    }
    if (columns_.find('B') == type_at + 1 && parse_dec(tok[type_at + 1], 3))
      ctx.channel.assign(tok[type_at + 1]);
    // Largest plausible length first: "2 60 00" is a length of 2, not a length of 0 ("00").
    for (std::size_t at = type_at + 1; at < tok.size(); ++at) {
      const auto n = parse_dec(tok[at], 2);
      if (!n || at + 1 + *n != tok.size() || *n > 8) continue;
      std::array<std::uint8_t, 8> v{};
      bool hex = true;
      for (std::size_t b = 0; b < *n; ++b) {
        const auto x = parse_hex(tok[at + 1 + b], 2);
        hex = hex && x && tok[at + 1 + b].size() == 2;
        if (x) v[b] = static_cast<std::uint8_t>(*x);
      }
      if (!hex) continue;
      f = status_record(type, v);
      keep_context(f, ctx);
      return LineOutcome::kFrame;
    }
    return by_columns;
  }

  // An ER, ST or EC record's bytes as a SocketCAN error frame.
  can::Frame status_record(std::string_view type, const std::array<std::uint8_t, 8>& v) const {
    if (type == "ER") return peak_error_frame(v[0], v[1], v[2], v[3], v[4]);
    if (type == "ST")
      return peak_status_frame(static_cast<std::uint32_t>(v[0]) << 24 |
                                   static_cast<std::uint32_t>(v[1]) << 16 |
                                   static_cast<std::uint32_t>(v[2]) << 8 | v[3],
                               "");
    std::array<std::uint8_t, 8> d{};  // EC: RX counter, TX counter
    d[7] = v[0];
    d[6] = v[1];
    return can::make_error_frame(can::err::kCounters, d);
  }

  LineOutcome parse_v2_columns(const Tokens& tok, can::Frame& f, std::string_view& reason) {
    f = can::Frame{};
    f.channel = "1";
    std::string_view type = "DT";
    std::string_view id_text;
    std::optional<std::uint32_t> length;
    bool length_is_dlc = false;
    std::size_t data_at = 0;
    std::size_t i = 0;
    for (char col : columns_) {
      const std::string_view v = tok[i];
      switch (col) {
        case 'N':
          if (!parse_dec(v, 10)) {
            reason = "expected a TRC 2.x row: '<number> <time ms> <type> ...'";
            return LineOutcome::kMalformed;
          }
          break;
        case 'O': {
          const auto ms = parse_milliseconds_ns(v);
          if (!ms) {
            reason = "expected the time offset in milliseconds";
            return LineOutcome::kMalformed;
          }
          set_time(*ms, f);
          break;
        }
        case 'T':
          type = v;
          break;
        case 'B':
          if (!parse_dec(v, 3)) {
            reason = "expected the bus number";
            return LineOutcome::kMalformed;
          }
          f.channel.assign(v);
          break;
        case 'I':
          // Error and status records may leave the id column empty.
          if (v == "Rx" || v == "Tx") continue;
          id_text = v;
          break;
        case 'd':
          if (v != "Rx" && v != "Tx") {
            reason = "expected 'Rx' or 'Tx'";
            return LineOutcome::kMalformed;
          }
          f.direction = v == "Rx" ? can::Direction::kRx : can::Direction::kTx;
          break;
        case 'R':
          break;   // reserved, "-"
        case 'L':  // data length code: FD codes 9-15 stand for 12-64 bytes
          length = parse_dec(v, 2);
          length_is_dlc = true;
          break;
        case 'l':  // data length in bytes
          length = parse_dec(v, 2);
          length_is_dlc = false;
          break;
        case 'D':
          data_at = i;
          break;
        default:
          break;
      }
      ++i;
      if (col == 'D') break;
    }
    if (!length) {
      reason = "expected the data length column";
      return LineOutcome::kMalformed;
    }
    if (type == "EV") return LineOutcome::kIgnored;
    std::uint32_t len = *length;
    if (type == "FD" || type == "FB" || type == "FE" || type == "BI") {
      f.fd = true;
      f.brs = type == "FB" || type == "BI";
      f.esi = type == "FE" || type == "BI";
      if (length_is_dlc) len = len <= 15 ? can::fd_dlc_to_len(static_cast<std::uint8_t>(len)) : 99;
    }
    if (len > (f.fd ? 64U : 8U) || (f.fd && !can::is_valid_fd_len(len))) {
      reason = "data length out of range for the record type";
      return LineOutcome::kMalformed;
    }
    if (type == "ER" || type == "ST" || type == "EC") {
      std::array<std::uint8_t, 8> v{};
      for (std::size_t b = 0; b < std::min<std::size_t>(len, 8); ++b) {
        const auto x = parse_hex(tok[data_at + b], 2);
        if (!x) {
          reason = "expected hex data bytes in the error/status record";
          return LineOutcome::kMalformed;
        }
        v[b] = static_cast<std::uint8_t>(*x);
      }
      can::Frame e = status_record(type, v);
      keep_context(e, f);
      f = e;
      return LineOutcome::kFrame;
    }
    if (type != "DT" && type != "RR" && !f.fd) {
      reason = "unknown record type (expected DT, FD, FB, FE, BI, RR, ER, ST, EC or EV)";
      return LineOutcome::kMalformed;
    }
    if (!set_id(id_text, f)) {
      reason = "expected the CAN id in hex (4 digits 11-bit, 8 digits 29-bit)";
      return LineOutcome::kMalformed;
    }
    if (type == "RR") {
      f.rtr = true;
      f.len = f.dlc = static_cast<std::uint8_t>(len);
      return LineOutcome::kFrame;
    }
    if (data_at == 0 || !read_bytes(tok, data_at, len, f)) {
      reason = "expected as many 2-digit hex data bytes as the data length says";
      return LineOutcome::kMalformed;
    }
    f.dlc = f.fd ? can::len_to_fd_dlc(len) : static_cast<std::uint8_t>(len);
    return LineOutcome::kFrame;
  }

  int major_ = 0;
  std::string version_;
  std::string columns_ = "NOTIdLD";
  std::optional<std::int64_t> start_ns_;
};

}  // namespace

std::unique_ptr<LineParser> make_trc_parser() { return std::make_unique<TrcParser>(); }

}  // namespace bmslink::capture::detail
