// SavvyCAN / GVRET native CSV: "Time Stamp,ID,Extended,Dir,Bus,LEN,D1,...,D8". Older exports lack
// "Dir". Columns are found by header name. Time Stamp is in microseconds: since the epoch when
// SavvyCAN used system time, since the start of capture otherwise.

#include <vector>

#include "capture/line_parser.h"
#include "capture/text_util.h"

namespace bmslink::capture::detail {
namespace {

constexpr std::int64_t kEpochFloorUs = 100'000'000LL * 1'000'000LL;

class SavvyCsvParser final : public LineParser {
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
    if (istarts_with(fields_[0], "Time Stamp") || istarts_with(fields_[0], "Timestamp")) {
      read_header();
      return LineOutcome::kIgnored;
    }
    if (!header_seen_) {
      reason = "expected the SavvyCAN header 'Time Stamp,ID,Extended,Dir,Bus,LEN,D1,...' first";
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

  Format format() const override { return Format::kSavvyCsv; }
  std::string variant() const override {
    return col_dir_ == kNone ? "SavvyCAN CSV (no Dir column)" : "SavvyCAN/GVRET CSV";
  }

 private:
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
  std::size_t col_time_ = 0, col_id_ = 1, col_ext_ = 2, col_dir_ = 3, col_bus_ = 4, col_len_ = 5,
              first_data_ = 6;
};

}  // namespace

std::unique_ptr<LineParser> make_savvy_csv_parser() { return std::make_unique<SavvyCsvParser>(); }

}  // namespace bmslink::capture::detail
