// bmslink protocol: signal decoding built once from a Database.
//
// Decoder precomputes, per signal, which bytes to load, the shift and the mask, so decoding a frame
// is a table lookup plus a few shifts per signal, without allocation. A signal whose bytes lie
// beyond the frame's length is absent (never zero): a 6-byte 0x351 has no discharge voltage limit.
// Text signals (unit "ascii") decode the bytes that are present. Decoders are immutable after
// construction and may be shared between threads; they refer to the Database, which must outlive
// them.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bmslink/can/frame.h"
#include "bmslink/core/error.h"
#include "bmslink/protocol/dbc.h"

namespace bmslink::protocol {

struct SignalValue {
  const Signal* signal = nullptr;
  // False when the signal's bytes lie beyond the frame, or its multiplexer does not select it.
  bool present = false;
  // Sign-extended when the signal is signed; the IEEE bit pattern for float and double signals.
  std::int64_t raw = 0;
  double value = 0.0;     // raw * factor + offset, rounded to the factor's decimal resolution
  std::string_view text;  // text signals: printable bytes, padding trimmed (points into `buffer`)
};

// One signal's value for MessageDecoder::encode: a physical value, or text for text signals.
struct SignalInput {
  std::string_view name;
  double value = 0.0;
  std::string_view text;
};

class MessageDecoder {
 public:
  explicit MessageDecoder(const Message& message);

  const Message& message() const { return *message_; }
  std::size_t signal_count() const { return plans_.size(); }

  // Fills out[0 .. signal_count()) (out must be that large); returns how many are present. Text
  // values point into `text_buffer`, which must hold at least 64 bytes and outlive their use.
  std::size_t decode(const can::Frame& frame, std::span<SignalValue> out,
                     std::span<char> text_buffer) const noexcept;

  // The raw (sign-extended) values of the numeric signals only, without the physical conversion:
  // for analyzers that keep extremes per signal and convert once at the end. Bit i of the result
  // is set when signal i is present (only the first 64 signals; text signals never).
  std::uint64_t decode_raw(const can::Frame& frame, std::span<std::int64_t> raw) const noexcept;
  // What decode() gives as `value` for signal i with this raw value.
  double physical(std::size_t signal, std::int64_t raw) const noexcept;
  bool has_text() const noexcept { return has_text_; }
  // Float/double signals: their raw values are bit patterns, not ordered numbers.
  bool has_float() const noexcept { return has_float_; }

  // A frame of the message's length with the given signals set (others 0): the inverse of
  // decode, for simulators and round-trip tests. Fails naming the signal when a name is unknown or
  // a value does not fit its raw range.
  Result<can::Frame> encode(std::span<const SignalInput> inputs) const;

 private:
  struct Plan {
    const Signal* signal;
    std::uint32_t first_byte;  // first payload byte the signal touches
    std::uint32_t last_byte;   // last payload byte it touches
    std::uint32_t shift;       // right shift of the loaded 128-bit window
    std::uint64_t mask;
    bool motorola;
    bool wide;  // needs more than a 64-bit window (start offset + length > 64)
    bool is_signed;
    bool text;  // unit "ascii"; cached: comparing the unit string per frame showed in profiles
    ValueType value_type;
    int mux;  // index of the multiplexer that must select this signal, -1 for none
    const MuxSelector* selector;
    std::uint32_t length;
    double rounding;  // 10^decimals of the factor: 0.1 -> 10, so 3 * 0.1 prints as 0.3
    double factor;    // copies of the signal's, next to the plan: no pointer chase per value
    double offset;
  };
  static std::int64_t extract(const Plan& p, const std::uint8_t* padded) noexcept;
  static double to_physical(const Plan& p, std::int64_t raw) noexcept;
  const Message* message_;
  std::vector<Plan> plans_;
  // Multiplexed signals, multiplexers before what they select: judged after extraction.
  std::vector<std::size_t> mux_order_;
  bool has_text_ = false;
  bool has_float_ = false;
  bool direct_ = true;  // every window fits in Frame::data: decode_raw needs no padded copy
};

class Decoder {
 public:
  explicit Decoder(const Database& db);
  // nullptr when the database has no such message.
  const MessageDecoder* find(std::uint32_t id, bool extended) const noexcept;
  const Database& database() const { return *db_; }

 private:
  const Database* db_;
  std::vector<MessageDecoder> decoders_;
  std::array<std::int32_t, 2048> standard_{};  // index into decoders_ + 1; 0 = none
  std::unordered_map<std::uint32_t, std::size_t> extended_;
};

// One decoded frame as a JSON line (docs/json.md): {"t":…,"id":"0x351","name":"limits",
// "signals":{"charge_voltage_limit":{"value":53.2,"unit":"V"},…}}. Absent signals are left out;
// text signals carry a string value; signals with VAL_ names add "label".
void append_decoded_json(std::string& out, const can::Frame& frame, const MessageDecoder& decoder,
                         std::span<const SignalValue> values);

// Bits [start, start+length) of the payload in DBC numbering, read bit by bit. The reference the
// fast path is tested against; not for production use.
std::uint64_t extract_bits_reference(std::span<const std::uint8_t> payload, std::uint32_t start_bit,
                                     std::uint32_t length, ByteOrder order);

}  // namespace bmslink::protocol
