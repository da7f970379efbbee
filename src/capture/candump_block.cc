// Most of a big log's parsing time went into splitting lines, tokens and copying the channel
// name; the canonical line shape is parsed here in one forward pass instead, and anything
// unusual falls back to the general parser line by line.

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "bmslink/capture/reader.h"
#include "capture/line_parser.h"
#include "capture/line_source.h"
#include "capture/text_util.h"

namespace bmslink::capture {
namespace {

constexpr std::size_t kMaxLine = 256U << 10;  // same limit as the buffered reader
constexpr std::int64_t kEpochFloorNs = 100'000'000LL * 1'000'000'000;  // as the log reader: 1973

int hex_value(char c) { return detail::kHexValue[static_cast<unsigned char>(c)]; }

// Whitespace as the general reader splits on it, plus the newline.
bool is_delim(char c) { return detail::is_space(c) || c == '\n'; }

// Eight ASCII digits in a little-endian word (first character in the low byte).
bool all_digits(std::uint64_t w) {
  return (w & 0xF0F0F0F0F0F0F0F0ULL) == 0x3030303030303030ULL &&
         ((w + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) == 0x3030303030303030ULL;
}
// Bytes 1..6 of ".DDDDDD)" are digits.
bool all_digits_mid6(std::uint64_t w) {
  const std::uint64_t m = 0x00FFFFFFFFFFFF00ULL;
  return ((w & 0xF0F0F0F0F0F0F0F0ULL & m) == (0x3030303030303030ULL & m)) &&
         (((w + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL & m) == (0x3030303030303030ULL & m));
}
// Value of eight digits (checked by all_digits), SWAR: pairs, then quads, then the whole.
std::uint32_t eight_digits(std::uint64_t w) {
  w -= 0x3030303030303030ULL;
  w = (w * 10 + (w >> 8)) & 0x00FF00FF00FF00FFULL;
  w = (w * 100 + (w >> 16)) & 0x0000FFFF0000FFFFULL;
  return static_cast<std::uint32_t>((w * 10000 + (w >> 32)) & 0xFFFFFFFFULL);
}

// Equal short strings without a libc call (interface names are a few bytes).
bool same_text(const std::string& a, const char* b, std::size_t n) {
  if (a.size() != n) return false;
  for (std::size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

// Parses one canonical line at p; on success returns the position after its newline (or end).
const char* parse_line(const char* p, const char* end, can::Frame& f, std::string_view& reason,
                       bool& token_malformed) {
  token_malformed = false;
  if (end - p < 24 || *p != '(') return nullptr;
  ++p;
  std::int64_t sec = 0;
  int digits = 0;
  std::uint64_t hi8 = 0, lo8 = 0;
  // "(DDDDDDDDDD.DDDDDD) ": the shape of every absolute candump time until 2286, eight digits at
  // a time; anything else takes the digit loop below.
  if (end - p >= 20 && p[10] == '.' && p[17] == ')') {
    std::memcpy(&hi8, p + 2, 8);
    std::memcpy(&lo8, p + 10, 8);  // ".DDDDDD)" -> check the six digits inside
    const bool two = p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9';
    if (two && all_digits(hi8) && all_digits_mid6(lo8)) {
      sec = (p[0] - '0') * 1'000'000'000LL + (p[1] - '0') * 100'000'000LL +
            static_cast<std::int64_t>(eight_digits(hi8));
      digits = 10;
      p += 10;
    }
  }
  if (digits == 0) {
    while (*p >= '0' && *p <= '9' && digits < 11) {
      sec = sec * 10 + (*p++ - '0');
      ++digits;
    }
  }
  if (digits == 0 || digits > 10 || sec > 4'000'000'000 || end - p < 12 || *p != '.')
    return nullptr;
  ++p;
  std::int64_t usec = 0;
  for (int i = 0; i < 6; ++i) {
    if (p[i] < '0' || p[i] > '9') return nullptr;
    usec = usec * 10 + (p[i] - '0');
  }
  p += 6;
  if (p[0] != ')' || p[1] != ' ') return nullptr;
  p += 2;
  const char* iface = p;
  while (p < end && !is_delim(*p)) ++p;
  if (p == iface || p >= end || *p != ' ' || p - iface > 15) return nullptr;
  const auto iface_len = static_cast<std::size_t>(p - iface);
  ++p;
  if (p >= end || *p == '\n' || *p == '\r')
    return nullptr;  // no frame token: the general reader words it
  const char* token = p;
  std::uint32_t id = 0;
  int id_digits = 0;
  int v = 0;
  while (p < end && (v = hex_value(*p)) >= 0 && id_digits < 9) {
    id = id << 4 | static_cast<std::uint32_t>(v);
    ++p;
    ++id_digits;
  }
  bool simple = p < end && *p == '#' &&
                ((id_digits == 3 && id <= 0x7FF) || (id_digits == 8 && (id & 0xE0000000U) == 0));
  const char* data = p + 1;
  std::size_t len = 0;
  std::array<std::uint8_t, 8> bytes{};
#if defined(__SSE2__)
  if (simple && end - data >= 17) {
    // Sixteen characters at once: which are hex digits, their values, pairs into bytes.
    const __m128i chars = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data));
    const __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(chars, _mm_set1_epi8('0' - 1)),
                                        _mm_cmplt_epi8(chars, _mm_set1_epi8('9' + 1)));
    const __m128i lower = _mm_or_si128(chars, _mm_set1_epi8(0x20));
    const __m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(lower, _mm_set1_epi8('a' - 1)),
                                        _mm_cmplt_epi8(lower, _mm_set1_epi8('f' + 1)));
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(digit, alpha)));
    const auto n = static_cast<unsigned>(__builtin_ctz(~mask));  // leading hex digits, <= 16
    if (n % 2 == 0 && data[n] == '\n') {
      const __m128i nib =
          _mm_or_si128(_mm_and_si128(digit, _mm_sub_epi8(chars, _mm_set1_epi8('0'))),
                       _mm_andnot_si128(digit, _mm_sub_epi8(lower, _mm_set1_epi8('a' - 10))));
      // 16-bit lane = first nibble | second << 8  ->  first << 4 | second in the low byte.
      const __m128i pairs = _mm_or_si128(
          _mm_and_si128(_mm_slli_epi16(nib, 4), _mm_set1_epi16(0x00F0)), _mm_srli_epi16(nib, 8));
      const __m128i packed = _mm_packus_epi16(pairs, pairs);
      std::uint64_t word = static_cast<std::uint64_t>(_mm_cvtsi128_si64(packed));
      len = n / 2;
      if (len < 8) word &= (std::uint64_t{1} << (8 * len)) - 1;
      std::memcpy(bytes.data(), &word, 8);
      p = data + n;
    } else {
      simple = false;
    }
  } else
#endif
      if (simple) {
    p = data;
    while (p + 1 < end && len < 9) {
      const int hi = hex_value(p[0]);
      if (hi < 0) break;
      const int lo = hex_value(p[1]);
      if (lo < 0) break;
      if (len < 8) bytes[len] = static_cast<std::uint8_t>(hi << 4 | lo);
      ++len;
      p += 2;
    }
    simple = len <= 8 && (p == end || *p == '\n');
  }
  if (!simple) {
    // FD, remote, _dlc, error frames, direction flags, CR: the general token parser decides.
    const char* q = token;
    while (q < end && !is_delim(*q)) ++q;
    if (q != end && *q != '\n') return nullptr;
    if (!detail::parse_candump_frame_token(
            std::string_view(token, static_cast<std::size_t>(q - token)), f, reason)) {
      token_malformed = true;
    }
    p = q;
  } else {
    f.id = id;
    f.extended = id_digits == 8;
    f.rtr = f.error = f.fd = f.brs = f.esi = false;
    f.len = f.dlc = static_cast<std::uint8_t>(len);
    std::memcpy(f.data.data(), bytes.data(), 8);
  }
  f.direction = can::Direction::kUnknown;
  f.timestamp_ns = sec * 1'000'000'000 + usec * 1000;
  f.time_kind = f.timestamp_ns >= kEpochFloorNs ? TimeKind::kAbsolute : TimeKind::kRelative;
  if (!same_text(f.channel, iface, iface_len)) f.channel.assign(iface, iface_len);
  return p < end ? p + 1 : p;
}

// Diagnostics of a reader that counts lines from 1, renumbered from `first_line`.
class RenumberingSink final : public DiagnosticSink {
 public:
  RenumberingSink(DiagnosticSink& inner, std::uint64_t first_line)
      : inner_(inner), first_line_(first_line) {}
  void report(Diagnostic d) override {
    if (d.line > 0) d.line += first_line_ - 1;
    inner_.report(std::move(d));
  }

 private:
  DiagnosticSink& inner_;
  std::uint64_t first_line_;
};

ReaderStats read_converted(std::string_view block, const std::string& name,
                           std::uint64_t first_line, DiagnosticSink& sink,
                           const std::function<void(const can::Frame&)>& on_frame) {
  RenumberingSink renumbered(sink, first_line);
  auto reader = open_capture_memory(block, name, renumbered, {Format::kCandumpLog});
  if (!reader) return {};
  can::Frame f;
  while ((*reader)->next(f)) on_frame(f);
  return (*reader)->stats();
}

}  // namespace

ReaderStats read_candump_log_block(std::string_view block, const std::string& name,
                                   std::uint64_t first_line, DiagnosticSink& sink,
                                   const std::function<void(const can::Frame&)>& on_frame,
                                   BlockStart where) {
  if (where == BlockStart::kFileStart) {
    // The text's start is read as every other path reads it: a UTF-8 mark is dropped, and UTF-16
    // (which the in-place parser cannot read) goes through the general reader, which converts it.
    const auto start = detail::detect_text_start(block);
    if (start.encoding == detail::TextEncoding::kUtf16Le ||
        start.encoding == detail::TextEncoding::kUtf16Be)
      return read_converted(block, name, first_line, sink, on_frame);
    block.remove_prefix(start.mark_bytes);
  }
  ReaderStats st;
  std::unique_ptr<detail::LineParser> general;
  can::Frame f;
  const char* p = block.data();
  const char* end = p + block.size();
  std::uint64_t line_no = first_line;
  auto report = [&](std::string_view line, std::string_view reason) {
    ++st.malformed;
    sink.report(Diagnostic{name, line_no, std::string(reason), excerpt_of(line)});
  };
  while (p < end) {
    ++st.lines;
    std::string_view reason;
    bool token_malformed = false;
    if (const char* next = parse_line(p, end, f, reason, token_malformed)) {
      if (token_malformed) {
        const char* stop = next > p && next[-1] == '\n' ? next - 1 : next;
        report(std::string_view(p, static_cast<std::size_t>(stop - p)), reason);
      } else {
        ++st.frames;
        on_frame(f);
      }
      p = next;
      ++line_no;
      continue;
    }
    const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
    const char* stop = nl != nullptr ? static_cast<const char*>(nl) : end;
    std::string_view line(p, static_cast<std::size_t>(stop - p));
    p = nl != nullptr ? stop + 1 : end;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxLine) {
      report(line.substr(0, 200), "line longer than the 256 KiB read buffer; skipped");
      ++line_no;
      continue;
    }
    if (!general) general = detail::make_line_parser(Format::kCandumpLog);
    switch (general->parse(line, f, reason)) {
      case detail::LineOutcome::kFrame:
        ++st.frames;
        on_frame(f);
        break;
      case detail::LineOutcome::kIgnored:
        ++st.ignored;
        break;
      case detail::LineOutcome::kMalformed:
        report(line, reason);
        break;
    }
    ++line_no;
  }
  return st;
}

}  // namespace bmslink::capture
