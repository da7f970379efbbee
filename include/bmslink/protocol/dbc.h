// bmslink protocol: CAN signal databases in the DBC format, and decoders built from them.
//
// parse_dbc() reads the parts of a DBC file that describe signals: BO_ (messages), SG_ (signals
// with Intel/Motorola order, sign, factor/offset, min/max, unit), VAL_ (value names), CM_
// (comments) and numeric BA_ attributes (of messages and of the whole database; "GenMsgCycleTime"
// also as cycle_time_ms), multiplexing (M, mN, mNM and SG_MUL_VAL_ ranges) and SIG_VALTYPE_
// (IEEE float and double). Everything else is skipped. What cannot be decoded right (a float that
// is not 32 bits, a multiplexed signal whose multiplexer cannot be told) is an error naming the
// line, never a silently wrong value. A syntax error fails the
// whole file with "name:line: expected …". A text signal is written as a plain DBC signal whose
// unit is "ascii" (other tools see a number; bmslink decodes the bytes as text).
// Database is a plain value; decoding is const and thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bmslink/core/error.h"

namespace bmslink::protocol {

enum class ByteOrder { kIntel, kMotorola };
// SIG_VALTYPE_: 0 integer (default), 1 IEEE float (32 bits), 2 IEEE double (64 bits).
enum class ValueType { kInteger, kFloat32, kFloat64 };

// Which values of which multiplexer select a signal (inclusive ranges).
struct MuxSelector {
  std::string multiplexer;  // the multiplexer signal's name
  std::vector<std::pair<std::int64_t, std::int64_t>> ranges;
  bool selects(std::int64_t v) const {
    for (const auto& [lo, hi] : ranges)
      if (v >= lo && v <= hi) return true;
    return false;
  }
};

struct Signal {
  std::string name;
  std::uint32_t start_bit = 0;  // DBC numbering: Intel = LSB, Motorola = MSB in sawtooth order
  std::uint32_t length = 0;     // bits, 1..64
  ByteOrder order = ByteOrder::kIntel;
  bool is_signed = false;
  double factor = 1.0;
  double offset = 0.0;
  double minimum = 0.0;
  double maximum = 0.0;
  std::string unit;
  std::map<std::int64_t, std::string> values;  // VAL_
  std::string comment;                         // CM_ SG_
  ValueType value_type = ValueType::kInteger;
  bool is_multiplexer = false;     // "M", or "mNM" for a nested one
  std::optional<MuxSelector> mux;  // present only when this multiplexer value selects it
  std::uint64_t line = 0;          // of its SG_ line, for messages

  bool is_text() const { return unit == "ascii"; }
  bool is_float() const { return value_type != ValueType::kInteger; }
};

struct Message {
  std::uint32_t id = 0;
  bool extended = false;
  std::string name;
  std::uint32_t dlc = 0;
  std::string transmitter;
  std::vector<Signal> signals;
  std::optional<std::uint32_t> cycle_time_ms;  // BA_ "GenMsgCycleTime"
  std::string comment;                         // CM_ BO_
  std::map<std::string, double> attributes;    // numeric BA_ ... BO_ values by name
};

struct Database {
  std::string name;
  std::vector<Message> messages;
  std::map<std::string, double> attributes;  // numeric network attributes (BA_ without object)

  const Message* find(std::uint32_t id, bool extended) const;
};

// Parses DBC text; `name` appears in error messages ("pylon_lv.dbc:12: expected ...").
Result<Database> parse_dbc(std::string_view text, std::string_view name);

}  // namespace bmslink::protocol
