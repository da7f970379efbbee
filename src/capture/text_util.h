// Private: the small, allocation-free scanning helpers every text reader shares.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "bmslink/can/frame.h"

namespace bmslink::capture::detail {

inline constexpr std::array<std::int8_t, 256> kHexValue = [] {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int c = '0'; c <= '9'; ++c)
    t[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c)
    t[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c)
    t[static_cast<std::size_t>(c)] = static_cast<std::int8_t>(c - 'A' + 10);
  return t;
}();

inline int hex_digit(char c) { return kHexValue[static_cast<unsigned char>(c)]; }
inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// All hex digits, 1..max_digits of them; no prefix.
inline std::optional<std::uint32_t> parse_hex(std::string_view s, std::size_t max_digits = 8) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  std::uint32_t v = 0;
  for (char c : s) {
    const int d = hex_digit(c);
    if (d < 0) return std::nullopt;
    v = (v << 4) | static_cast<std::uint32_t>(d);
  }
  return v;
}

inline std::optional<std::uint32_t> parse_dec(std::string_view s, std::size_t max_digits = 9) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  std::uint32_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return v;
}

inline std::optional<std::uint64_t> parse_dec_u64(std::string_view s, std::size_t max_digits = 18) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

inline bool has_hex_prefix(std::string_view s) {
  return s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
}

// One data byte as people write it: "0E", "e", "0x0E".
inline std::optional<std::uint8_t> parse_byte_token(std::string_view s) {
  if (has_hex_prefix(s)) s.remove_prefix(2);
  if (s.empty() || s.size() > 2) return std::nullopt;
  const auto v = parse_hex(s, 2);
  if (!v) return std::nullopt;
  return static_cast<std::uint8_t>(*v);
}

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

inline bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// Whitespace tokenizer over a line; keeps at most kMax tokens (the rest stay in rest()). Token
// positions live in uninitialised storage: this runs once per line of multi-gigabyte captures.
class Tokens {
 public:
  static constexpr std::size_t kMax = 96;
  explicit Tokens(std::string_view line) : line_(line) {
    std::size_t i = 0;
    while (i < line.size() && count_ < kMax) {
      while (i < line.size() && is_space(line[i])) ++i;
      if (i >= line.size()) break;
      const std::size_t start = i;
      while (i < line.size() && !is_space(line[i])) ++i;
      spans_[count_++] =
          Span{static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(i - start)};
    }
    while (i < line.size() && is_space(line[i])) ++i;
    rest_ = line.substr(i);
  }
  std::size_t size() const { return count_; }
  std::string_view operator[](std::size_t i) const {
    return i < count_ ? line_.substr(spans_[i].begin, spans_[i].length) : std::string_view{};
  }
  // Unsplit text after the last kept token (non-empty only for very long lines).
  std::string_view rest() const { return rest_; }

 private:
  struct Span {
    std::uint32_t begin;
    std::uint32_t length;
  };
  std::string_view line_;
  Span spans_[kMax];  // deliberately uninitialised: only [0, count_) is read
  std::size_t count_ = 0;
  std::string_view rest_;
};

}  // namespace bmslink::capture::detail
