// CSV captures, told apart by their header line:
//  - SavvyCAN / GVRET native: "Time Stamp,ID,Extended,Dir,Bus,LEN,D1,...,D8" (older exports lack
//    "Dir"; columns are found by name). Time Stamp is in microseconds: since the epoch when
//    SavvyCAN used system time, since the start of capture otherwise.
//  - python-can: "timestamp,arbitration_id,extended,remote,error,dlc,data", seconds as a float,
//    id as 0x-hex, flags as 0/1, data in base64.

#include <vector>

#include "capture/line_parser.h"
#include "capture/text_util.h"

namespace bmslink::capture::detail {
namespace {

constexpr std::int64_t kEpochFloorUs = 100'000'000LL * 1'000'000LL;

class CsvParser final : public LineParser {
 public:
  LineOutcome parse(std::string_view line, can::Frame& f, std::string_view& reason) override {
    const std::string_view t = trim(line);
    if (t.empty()) return LineOutcome::kIgnored;
    fields_.clear();
    std::size_t start = 0;
    for (;;) {
      const std::size_t comma = t.find(',', start);
      fields_.push_back(
          trim(t.substr(start, comma == std::string_view::npos ? comma : comma - start)));
      if (comma == std::string_view::npos || fields_.size() > 80) break;
      start = comma + 1;
    }
    if (!fields_.empty() && fields_.back().empty()) fields_.pop_back();  // trailing comma
    if (iequals(fields_[0], "timestamp") && fields_.size() == 7 &&
        iequals(fields_[1], "arbitration_id")) {
      python_can_ = true;
      header_seen_ = true;
      return LineOutcome::kIgnored;
    }
    if (istarts_with(fields_[0], "Time Stamp") || istarts_with(fields_[0], "Timestamp")) {
      python_can_ = false;
      read_header();
      return LineOutcome::kIgnored;
    }
    if (python_can_) return parse_python_can(f, reason);
    if (!header_seen_) {
      reason =
          "expected a CSV header first (SavvyCAN 'Time Stamp,ID,...' or python-can "
          "'timestamp,arbitration_id,...')";
      return LineOutcome::kMalformed;
    }
    if (fields_.size() < first_data_) {
      reason = "expected 'Time Stamp,ID,Extended,[Dir,]Bus,LEN,D1..Dn' fields";
      return LineOutcome::kMalformed;
    }
    const auto us = parse_dec_u64(fields_[col_time_]);
    if (!us || *us > 4'000'000'000'000'000ULL) {  // beyond year 2096: not a time stamp
      reason = "expected the time stamp in microseconds";
      return LineOutcome::kMalformed;
    }
    const auto us_value = static_cast<std::int64_t>(*us);
    f = can::Frame{};
    f.timestamp_ns = us_value * 1000;
    f.time_kind = us_value >= kEpochFloorUs ? TimeKind::kAbsolute : TimeKind::kRelative;
    std::string_view id_text = fields_[col_id_];
    if (has_hex_prefix(id_text)) id_text.remove_prefix(2);
    const auto id = parse_hex(id_text, 8);
    const std::string_view ext = fields_[col_ext_];
    if (!id || !(iequals(ext, "true") || iequals(ext, "false"))) {
      reason = "expected a hex ID and Extended 'true' or 'false'";
      return LineOutcome::kMalformed;
    }
    f.extended = iequals(ext, "true");
    if (*id > (f.extended ? can::kExtendedIdMask : can::kStandardIdMask)) {
      reason = "ID out of range for its Extended flag";
      return LineOutcome::kMalformed;
    }
    f.id = *id;
    if (col_dir_ != kNone) {
      const std::string_view d = fields_[col_dir_];
      f.direction = iequals(d, "Rx")   ? can::Direction::kRx
                    : iequals(d, "Tx") ? can::Direction::kTx
                                       : can::Direction::kUnknown;
    }
    f.channel.assign(fields_[col_bus_]);
    const auto len = parse_dec(fields_[col_len_], 2);
    if (!len || *len > 64 || (*len > 8 && !can::is_valid_fd_len(*len))) {
      reason = "expected LEN 0-8 (or a CAN FD length)";
      return LineOutcome::kMalformed;
    }
    if (fields_.size() < first_data_ + *len) {
      reason = "fewer data columns than LEN says";
      return LineOutcome::kMalformed;
    }
    for (std::size_t b = 0; b < *len; ++b) {
      const auto v = parse_byte_token(fields_[first_data_ + b]);
      if (!v) {
        reason = "expected hex data bytes in D1..Dn";
        return LineOutcome::kMalformed;
      }
      f.data[b] = *v;
    }
    f.len = static_cast<std::uint8_t>(*len);
    f.fd = *len > 8;
    f.dlc = f.fd ? can::len_to_fd_dlc(f.len) : f.len;
    return LineOutcome::kFrame;
  }

  Format format() const override { return Format::kCsv; }
  std::string variant() const override {
    if (python_can_) return "python-can CSV";
    return col_dir_ == kNone ? "SavvyCAN CSV (no Dir column)" : "SavvyCAN/GVRET CSV";
  }

 private:
  LineOutcome parse_python_can(can::Frame& f, std::string_view& reason) {
    if (fields_.size() < 6 || fields_.size() > 7) {
      reason = "expected 'timestamp,arbitration_id,extended,remote,error,dlc,data'";
      return LineOutcome::kMalformed;
    }
    f = can::Frame{};
    const auto ns = parse_seconds_ns(fields_[0]);
    std::string_view id_text = fields_[1];
    if (has_hex_prefix(id_text)) id_text.remove_prefix(2);
    const auto id = parse_hex(id_text, 8);
    const auto dlc = parse_dec(fields_[5], 2);
    auto flag = [](std::string_view v) { return v == "1" ? 1 : v == "0" ? 0 : -1; };
    const int ext = flag(fields_[2]), rtr = flag(fields_[3]), err = flag(fields_[4]);
    if (!ns || !id || !dlc || ext < 0 || rtr < 0 || err < 0) {
      reason = "expected seconds, 0x-hex id, 0/1 flags and a decimal dlc";
      return LineOutcome::kMalformed;
    }
    std::size_t n = 0;
    if (fields_.size() == 7 && !decode_base64(fields_[6], f, n)) {
      reason = "expected the data column in base64 (at most 64 bytes)";
      return LineOutcome::kMalformed;
    }
    if ((err == 1 || rtr == 1) && (n > 8 || (err == 1 && rtr == 1))) {
      reason = "error and remote frames carry at most 8 bytes and cannot be both";
      return LineOutcome::kMalformed;
    }
    f.timestamp_ns = *ns;
    f.time_kind = *ns >= 100'000'000LL * kNsPerSecond ? TimeKind::kAbsolute : TimeKind::kRelative;
    f.extended = ext == 1;
    f.rtr = rtr == 1;
    f.error = err == 1;
    f.id = *id & (f.extended || f.error ? can::kExtendedIdMask : can::kStandardIdMask);
    f.len = static_cast<std::uint8_t>(n);
    f.fd = n > 8;
    f.dlc =
        f.fd ? can::len_to_fd_dlc(n) : static_cast<std::uint8_t>(std::min<std::uint32_t>(*dlc, 15));
    if (f.rtr) f.len = static_cast<std::uint8_t>(std::min<std::uint32_t>(*dlc, 8));
    return LineOutcome::kFrame;
  }

  static bool decode_base64(std::string_view s, can::Frame& f, std::size_t& n) {
    n = 0;
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : s) {
      int v;
      if (c >= 'A' && c <= 'Z')
        v = c - 'A';
      else if (c >= 'a' && c <= 'z')
        v = c - 'a' + 26;
      else if (c >= '0' && c <= '9')
        v = c - '0' + 52;
      else if (c == '+')
        v = 62;
      else if (c == '/')
        v = 63;
      else if (c == '=')
        break;
      else
        return false;
      acc = (acc << 6) | static_cast<std::uint32_t>(v);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        if (n >= can::kMaxFdLen) return false;
        f.data[n++] = static_cast<std::uint8_t>((acc >> bits) & 0xFF);
      }
    }
    return n <= 8 || can::is_valid_fd_len(n);
  }

  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

  void read_header() {
    header_seen_ = true;
    col_dir_ = kNone;
    for (std::size_t i = 0; i < fields_.size(); ++i) {
      const std::string_view h = fields_[i];
      if (istarts_with(h, "Time"))
        col_time_ = i;
      else if (iequals(h, "ID"))
        col_id_ = i;
      else if (iequals(h, "Extended"))
        col_ext_ = i;
      else if (iequals(h, "Dir"))
        col_dir_ = i;
      else if (iequals(h, "Bus"))
        col_bus_ = i;
      else if (iequals(h, "LEN"))
        col_len_ = i;
      else if (iequals(h, "D1"))
        first_data_ = i;
    }
  }

  std::vector<std::string_view> fields_;
  bool header_seen_ = false;
  bool python_can_ = false;
  std::size_t col_time_ = 0, col_id_ = 1, col_ext_ = 2, col_dir_ = 3, col_bus_ = 4, col_len_ = 5,
              first_data_ = 6;
};

}  // namespace

std::unique_ptr<LineParser> make_csv_parser() { return std::make_unique<CsvParser>(); }

}  // namespace bmslink::capture::detail
