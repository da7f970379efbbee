// bmslink protocol: CAN signal databases in the DBC format, and decoders built from them.
//
// parse_dbc() reads the parts of a DBC file that describe signals: BO_ (messages), SG_ (signals
// with Intel/Motorola order, sign, factor/offset, min/max, unit), VAL_ (value names), CM_
// (comments) and numeric BA_ attributes (of messages and of the whole database; "GenMsgCycleTime"
// also as cycle_time_ms). Everything else is skipped. A syntax error fails the
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

  bool is_text() const { return unit == "ascii"; }
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
