#include "bmslink/core/time.h"

#include <fmt/format.h>

namespace bmslink {
namespace {

// Integer and fraction parts of a decimal, scaled to 10^-9 units of `unit_ns`.
std::optional<std::int64_t> parse_decimal_scaled(std::string_view text, std::int64_t unit_ns,
                                                 int unit_digits) {
  if (text.empty()) return std::nullopt;
  bool negative = false;
  if (text.front() == '-' || text.front() == '+') {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  std::int64_t whole = 0;
  std::size_t i = 0;
  std::size_t int_digits = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++int_digits) {
    if (int_digits >= 12) return std::nullopt;  // > 10^12 units is not a capture timestamp
    whole = whole * 10 + (text[i] - '0');
  }
  std::int64_t frac = 0;
  int frac_digits = 0;
  if (i < text.size() && (text[i] == '.' || text[i] == ',')) {
    ++i;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (frac_digits < unit_digits) {
        frac = frac * 10 + (text[i] - '0');
        ++frac_digits;
      }
    }
  }
  if (i != text.size() || (int_digits == 0 && frac_digits == 0)) return std::nullopt;
  if (whole > kMaxTimestampNs / unit_ns) return std::nullopt;
  for (int d = frac_digits; d < unit_digits; ++d) frac *= 10;
  const std::int64_t value = whole * unit_ns + frac;
  if (value > kMaxTimestampNs) return std::nullopt;
  return negative ? -value : value;
}

}  // namespace

std::optional<std::int64_t> parse_seconds_ns(std::string_view text) {
  return parse_decimal_scaled(text, kNsPerSecond, 9);
}

std::optional<std::int64_t> parse_duration_s(std::string_view text) {
  std::int64_t unit = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 's':
        unit = 1;
        text.remove_suffix(1);
        break;
      case 'm':
        unit = 60;
        text.remove_suffix(1);
        break;
      case 'h':
        unit = 3600;
        text.remove_suffix(1);
        break;
      case 'd':
        unit = 86400;
        text.remove_suffix(1);
        break;
      default:
        break;
    }
  }
  if (text.empty() || text.size() > 12) return std::nullopt;
  std::int64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  if (n > 100LL * 365 * 86400 / unit) return std::nullopt;
  return n * unit;
}

std::optional<std::int64_t> parse_milliseconds_ns(std::string_view text) {
  return parse_decimal_scaled(text, 1'000'000, 6);
}

std::int64_t days_from_civil(int year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const int era = (year >= 0 ? year : year - 399) / 400;
  const auto yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::string format_seconds(std::int64_t ns, int decimals) {
  const bool negative = ns < 0;
  const std::uint64_t abs_ns =
      negative ? static_cast<std::uint64_t>(-(ns + 1)) + 1 : static_cast<std::uint64_t>(ns);
  std::uint64_t scale = 1;
  for (int d = decimals; d < 9; ++d) scale *= 10;
  const std::uint64_t whole = abs_ns / 1'000'000'000ULL;
  const std::uint64_t frac = (abs_ns % 1'000'000'000ULL) / scale;
  if (decimals <= 0) return fmt::format("{}{}", negative ? "-" : "", whole);
  return fmt::format("{}{}.{:0{}}", negative ? "-" : "", whole, frac, decimals);
}

}  // namespace bmslink
