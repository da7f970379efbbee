#include "bmslink/protocol/decoder.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

namespace bmslink::protocol {
namespace {

__extension__ typedef unsigned __int128 u128;

// The 64-bit fast path loads payload words with memcpy and byte-swaps for Motorola signals.
static_assert(std::endian::native == std::endian::little, "decoder assumes a little-endian host");

// Big-endian bit index (0 = MSB of byte 0) of a Motorola signal's most significant bit.
std::uint32_t motorola_msb(std::uint32_t start_bit) {
  return (start_bit / 8) * 8 + (7 - start_bit % 8);
}

}  // namespace

MessageDecoder::MessageDecoder(const Message& message) : message_(&message) {
  plans_.reserve(message.signals.size());
  for (const auto& s : message.signals) {
    Plan p{};
    p.signal = &s;
    p.length = s.length;
    p.is_signed = s.is_signed;
    p.text = s.is_text();
    has_text_ |= p.text;
    p.factor = s.factor;
    p.offset = s.offset;
    p.value_type = s.value_type;
    p.mux = -1;
    p.selector = nullptr;
    // A float's bits are a pattern, never sign-extended.
    if (s.is_float()) {
      p.is_signed = false;
      has_float_ = true;
    }
    p.mask = s.length >= 64 ? ~0ULL : ((1ULL << s.length) - 1);
    // Decimal places of factor and offset (0.1 -> 1, 0.01 -> 2, 1 -> 0), up to 9.
    p.rounding = 1.0;
    for (int d = 0; d < 9; ++d) {
      const double scaled_factor = s.factor * p.rounding;
      const double scaled_offset = s.offset * p.rounding;
      if (std::fabs(scaled_factor - std::round(scaled_factor)) < 1e-9 &&
          std::fabs(scaled_offset - std::round(scaled_offset)) < 1e-9) {
        break;
      }
      p.rounding *= 10.0;
    }
    if (s.order == ByteOrder::kIntel) {
      p.first_byte = s.start_bit / 8;
      p.last_byte = (s.start_bit + s.length - 1) / 8;
      p.wide = s.start_bit % 8 + s.length > 64;
      p.shift = s.start_bit % 8;  // little-endian window starting at first_byte
      p.motorola = false;
    } else {
      const std::uint32_t msb = motorola_msb(s.start_bit);
      p.first_byte = msb / 8;
      p.last_byte = (msb + s.length - 1) / 8;
      p.wide = msb % 8 + s.length > 64;
      // Big-endian window starting at first_byte: 64 bits wide normally, 128 when the signal
      // straddles more than eight bytes.
      p.shift = (p.wide ? 128 : 64) - (msb % 8) - s.length;
      p.motorola = true;
    }
    if (p.wide || p.first_byte + 8 > can::kMaxFdLen) direct_ = false;
    plans_.push_back(p);
  }
  // Multiplexing: each selected signal's multiplexer by index, and an order in which every
  // multiplexer is judged before the signals it selects (the parser checked the chains end).
  std::vector<std::size_t> depth(plans_.size(), 0);
  for (std::size_t i = 0; i < plans_.size(); ++i) {
    const Signal& s = message.signals[i];
    if (!s.mux) continue;
    for (std::size_t k = 0; k < message.signals.size(); ++k)
      if (message.signals[k].name == s.mux->multiplexer) plans_[i].mux = static_cast<int>(k);
    plans_[i].selector = &*s.mux;
  }
  for (std::size_t i = 0; i < plans_.size(); ++i) {
    for (int at = plans_[i].mux; at >= 0 && depth[i] <= plans_.size();
         at = plans_[static_cast<std::size_t>(at)].mux)
      ++depth[i];
    if (plans_[i].mux >= 0) mux_order_.push_back(i);
  }
  std::stable_sort(mux_order_.begin(), mux_order_.end(),
                   [&depth](std::size_t a, std::size_t b) { return depth[a] < depth[b]; });
}

double MessageDecoder::to_physical(const Plan& p, std::int64_t raw) noexcept {
  double base;
  switch (p.value_type) {
    case ValueType::kFloat32: {
      const auto bits = static_cast<std::uint32_t>(static_cast<std::uint64_t>(raw));
      base = static_cast<double>(std::bit_cast<float>(bits));
      return base * p.factor + p.offset;  // no decimal rounding: a float has its own precision
    }
    case ValueType::kFloat64:
      base = std::bit_cast<double>(static_cast<std::uint64_t>(raw));
      return base * p.factor + p.offset;
    case ValueType::kInteger:
      break;
  }
  return static_cast<double>(raw) * p.factor + p.offset;
}

namespace {
// std::round without the libm call: half away from zero, exact for |x| < 2^52.
inline double round_half_away(double x) {
  if (!(std::fabs(x) < 4503599627370496.0)) return x;
  const auto i = static_cast<std::int64_t>(x + (x >= 0 ? 0.5 : -0.5));
  return static_cast<double>(i);
}
}  // namespace

[[gnu::always_inline]] inline std::int64_t MessageDecoder::extract(
    const Plan& p, const std::uint8_t* padded) noexcept {
  std::uint64_t raw;
  if (!p.wide) {
    std::uint64_t word;
    std::memcpy(&word, padded + p.first_byte,
                sizeof word);  // host is little-endian (x86-64, arm64)
    if (p.motorola) word = __builtin_bswap64(word);
    raw = (word >> p.shift) & p.mask;
  } else {
    u128 window = 0;
    if (p.motorola) {
      for (std::uint32_t b = 0; b < 16; ++b) window = (window << 8) | padded[p.first_byte + b];
    } else {
      for (std::uint32_t b = 16; b-- > 0;) window = (window << 8) | padded[p.first_byte + b];
    }
    raw = static_cast<std::uint64_t>(window >> p.shift) & p.mask;
  }
  std::int64_t value;
  if (p.is_signed && p.length < 64 && (raw >> (p.length - 1)) & 1U) {
    value = static_cast<std::int64_t>(raw | ~p.mask);
  } else {
    value = static_cast<std::int64_t>(raw);
  }
  return value;
}

std::uint64_t MessageDecoder::decode_raw(const can::Frame& frame,
                                         std::span<std::int64_t> raw) const noexcept {
  // Classic layouts read their 8-byte windows straight from the frame's 64-byte array; only
  // windows that could run past it need the padded copy.
  std::uint8_t padded[can::kMaxFdLen + 16];
  const std::uint8_t* bytes = frame.data.data();
  if (!direct_) {
    std::memcpy(padded, frame.data.data(), can::kMaxFdLen);
    std::memset(padded + can::kMaxFdLen, 0, 16);
    bytes = padded;
  }
  std::uint64_t present = 0;
  const std::size_t n = std::min<std::size_t>({plans_.size(), raw.size(), 64});
  for (std::size_t i = 0; i < n; ++i) {
    const Plan& p = plans_[i];
    if (p.text || p.last_byte >= frame.len) continue;
    raw[i] = extract(p, bytes);
    present |= std::uint64_t{1} << i;
  }
  for (std::size_t i : mux_order_) {
    if (i >= n) continue;
    const auto m = static_cast<std::size_t>(plans_[i].mux);
    const bool selected =
        m < n && ((present >> m) & 1U) != 0 && plans_[i].selector->selects(raw[m]);
    if (!selected) present &= ~(std::uint64_t{1} << i);
  }
  return present;
}

double MessageDecoder::physical(std::size_t signal, std::int64_t raw) const noexcept {
  const Plan& p = plans_[signal];
  double value = to_physical(p, raw);
  if (p.rounding > 1.0 && p.value_type == ValueType::kInteger)
    value = round_half_away(value * p.rounding) / p.rounding;
  return value;
}

std::size_t MessageDecoder::decode(const can::Frame& frame, std::span<SignalValue> out,
                                   std::span<char> text_buffer) const noexcept {
  // Payload padded so a 16-byte window never reads past it. Bytes beyond `len` may be stale, but
  // only signals lying wholly inside the payload are decoded and every window is masked to the
  // signal's bits, so they never reach a value; fixed sizes let the copy inline.
  std::uint8_t padded[can::kMaxFdLen + 16];
  std::memcpy(padded, frame.data.data(), can::kMaxFdLen);
  std::memset(padded + can::kMaxFdLen, 0, 16);
  std::size_t present = 0;
  std::size_t text_used = 0;
  for (std::size_t i = 0; i < plans_.size() && i < out.size(); ++i) {
    const Plan& p = plans_[i];
    SignalValue& v = out[i];
    v.signal = p.signal;
    v.present = false;
    v.raw = 0;
    v.value = 0.0;
    v.text = {};
    if (p.text) {
      // Whatever bytes of the field are present, padding (NUL, space) trimmed at the end.
      if (p.first_byte >= frame.len) continue;
      const std::uint32_t last = std::min<std::uint32_t>(p.last_byte, frame.len - 1U);
      const std::size_t start = text_used;
      for (std::uint32_t b = p.first_byte; b <= last && text_used < text_buffer.size(); ++b) {
        const auto c = static_cast<char>(frame.data[b]);
        text_buffer[text_used++] = (frame.data[b] >= 0x20 && frame.data[b] < 0x7F) ? c : '\0';
      }
      std::size_t end = text_used;
      while (end > start && (text_buffer[end - 1] == '\0' || text_buffer[end - 1] == ' ')) --end;
      for (std::size_t k = start; k < end; ++k) {
        if (text_buffer[k] == '\0') text_buffer[k] = '.';  // a NUL inside the text stays visible
      }
      v.text = std::string_view(text_buffer.data() + start, end - start);
      v.present = true;
      ++present;
      continue;
    }
    if (p.last_byte >= frame.len) continue;  // absent, never zero
    const std::int64_t value = extract(p, padded);
    v.raw = value;
    v.value = to_physical(p, value);
    if (p.rounding > 1.0 && p.value_type == ValueType::kInteger)
      v.value = round_half_away(v.value * p.rounding) / p.rounding;
    v.present = true;
    ++present;
  }
  // A multiplexed signal is there only when its multiplexer is there and selects it.
  for (std::size_t i : mux_order_) {
    if (i >= out.size() || !out[i].present) continue;
    const auto m = static_cast<std::size_t>(plans_[i].mux);
    const bool selected =
        m < out.size() && out[m].present && plans_[i].selector->selects(out[m].raw);
    if (selected) continue;
    out[i].present = false;
    out[i].raw = 0;
    out[i].value = 0.0;
    out[i].text = {};
    --present;
  }
  return present;
}

Result<can::Frame> MessageDecoder::encode(std::span<const SignalInput> inputs) const {
  can::Frame f;
  f.id = message_->id;
  f.extended = message_->extended;
  f.len = static_cast<std::uint8_t>(std::min<std::uint32_t>(message_->dlc, can::kMaxFdLen));
  f.fd = f.len > can::kMaxClassicLen;
  f.dlc = f.fd ? can::len_to_fd_dlc(f.len) : f.len;
  for (const auto& in : inputs) {
    const Signal* s = nullptr;
    for (const auto& candidate : message_->signals) {
      if (candidate.name == in.name) s = &candidate;
    }
    if (s == nullptr) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{} has no signal {}", message_->name, in.name));
    }
    std::uint64_t raw = 0;
    if (s->is_text()) {
      const std::uint32_t first = s->start_bit / 8;
      for (std::size_t i = 0; i < s->length / 8; ++i) {
        f.data[first + i] = i < in.text.size() ? static_cast<std::uint8_t>(in.text[i]) : 0;
      }
      continue;
    }
    if (s->is_float()) {
      const double base = (in.value - s->offset) / s->factor;
      raw = s->value_type == ValueType::kFloat32
                ? std::bit_cast<std::uint32_t>(static_cast<float>(base))
                : std::bit_cast<std::uint64_t>(base);
    }
    const double scaled = std::round((in.value - s->offset) / s->factor);
    const double lo = s->is_signed ? -std::ldexp(1.0, static_cast<int>(s->length) - 1) : 0.0;
    const double hi = s->is_signed ? std::ldexp(1.0, static_cast<int>(s->length) - 1) - 1
                                   : std::ldexp(1.0, static_cast<int>(s->length)) - 1;
    if (!s->is_float() && !(scaled >= lo && scaled <= hi)) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{} = {} does not fit {} bits{}", s->name, in.value, s->length,
                                    s->is_signed ? " signed" : ""));
    }
    if (!s->is_float()) raw = static_cast<std::uint64_t>(static_cast<std::int64_t>(scaled));
    // Bit by bit, in the same walk as the reference extractor: not a hot path.
    std::uint32_t bit = s->start_bit;
    for (std::uint32_t k = 0; k < s->length; ++k) {
      const std::uint32_t from = s->order == ByteOrder::kIntel ? k : s->length - 1 - k;
      const auto mask = static_cast<std::uint8_t>(1U << (bit % 8));
      if ((raw >> from) & 1U) {
        f.data[bit / 8] = static_cast<std::uint8_t>(f.data[bit / 8] | mask);
      } else {
        f.data[bit / 8] = static_cast<std::uint8_t>(f.data[bit / 8] & ~mask);
      }
      if (s->order == ByteOrder::kIntel) {
        ++bit;
      } else {
        bit = (bit % 8 == 0) ? bit + 15 : bit - 1;
      }
    }
  }
  return f;
}

Decoder::Decoder(const Database& db) : db_(&db) {
  decoders_.reserve(db.messages.size());
  for (const auto& m : db.messages) {
    decoders_.emplace_back(m);
    const std::size_t index = decoders_.size() - 1;
    if (m.extended) {
      extended_.emplace(m.id, index);
    } else if (m.id < standard_.size()) {
      standard_[m.id] = static_cast<std::int32_t>(index + 1);
    }
  }
}

const MessageDecoder* Decoder::find(std::uint32_t id, bool extended) const noexcept {
  if (!extended) {
    if (id >= standard_.size() || standard_[id] == 0) return nullptr;
    return &decoders_[static_cast<std::size_t>(standard_[id] - 1)];
  }
  const auto it = extended_.find(id);
  return it == extended_.end() ? nullptr : &decoders_[it->second];
}

namespace {
void append_json_text(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned char>(c));
      continue;
    }
    out += c;
  }
  out += '"';
}
}  // namespace

void append_decoded_json(std::string& out, const can::Frame& f, const MessageDecoder& decoder,
                         std::span<const SignalValue> values) {
  auto it = std::back_inserter(out);
  out += "{\"t\":";
  out += f.has_timestamp() ? format_seconds(f.timestamp_ns, f.timestamp_ns % 1000 ? 9 : 6) : "null";
  fmt::format_to(it, ",\"id\":\"{}\",\"name\":", can::id_hex(f));
  append_json_text(out, decoder.message().name);
  out += ",\"signals\":{";
  bool first = true;
  for (const auto& v : values) {
    if (!v.present) continue;
    if (!first) out += ',';
    first = false;
    append_json_text(out, v.signal->name);
    out += ":{\"value\":";
    if (v.signal->is_text()) {
      append_json_text(out, v.text);
    } else if (!std::isfinite(v.value)) {
      // A float signal can carry inf or NaN, which JSON cannot: null, and the IEEE name beside.
      fmt::format_to(it, "null,\"ieee\":\"{}\"",
                     std::isnan(v.value) ? "nan"
                     : v.value > 0       ? "inf"
                                         : "-inf");
    } else {
      fmt::format_to(it, "{}", v.value);
    }
    out += ",\"unit\":";
    append_json_text(out, v.signal->is_text() ? "" : v.signal->unit);
    if (const auto label = v.signal->values.find(v.raw);
        !v.signal->is_float() && label != v.signal->values.end()) {
      out += ",\"label\":";
      append_json_text(out, label->second);
    }
    out += '}';
  }
  out += "}}\n";
}

std::uint64_t extract_bits_reference(std::span<const std::uint8_t> payload, std::uint32_t start_bit,
                                     std::uint32_t length, ByteOrder order) {
  std::uint64_t raw = 0;
  if (order == ByteOrder::kIntel) {
    // Bit k of the signal is payload bit start+k, counting LSB-first within each byte.
    for (std::uint32_t k = 0; k < length; ++k) {
      const std::uint32_t bit = start_bit + k;
      const std::uint64_t b = (static_cast<std::uint32_t>(payload[bit / 8]) >> (bit % 8)) & 1U;
      raw |= b << k;
    }
  } else {
    // Start at the MSB and walk down: within a byte bit 7 -> 0, then bit 7 of the next byte.
    std::uint32_t bit = start_bit;
    for (std::uint32_t k = 0; k < length; ++k) {
      const std::uint64_t b = (static_cast<std::uint32_t>(payload[bit / 8]) >> (bit % 8)) & 1U;
      raw = (raw << 1) | b;
      bit = (bit % 8 == 0) ? bit + 15 : bit - 1;
    }
  }
  return raw;
}

}  // namespace bmslink::protocol
