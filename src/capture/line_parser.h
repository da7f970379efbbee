// Private: the contract between the generic text reader and one text format.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "bmslink/can/frame.h"
#include "bmslink/capture/reader.h"

namespace bmslink::capture::detail {

enum class LineOutcome { kFrame, kIgnored, kMalformed };

class LineParser {
 public:
  virtual ~LineParser() = default;
  // Parses one line (without terminator). On kFrame `frame` is filled completely; on kMalformed
  // `reason` says what was expected. Parsers may keep state (headers, base, running time).
  virtual LineOutcome parse(std::string_view line, can::Frame& frame, std::string_view& reason) = 0;
  // Sees the first lines before any parse(), for choices that need lookahead (delta timestamps).
  virtual void prescan(std::span<const std::string_view> /*lines*/) {}
  virtual Format format() const = 0;
  virtual std::string variant() const { return std::string(format_name(format())); }
};

std::unique_ptr<LineParser> make_candump_log_parser();
std::unique_ptr<LineParser> make_candump_console_parser();
std::unique_ptr<LineParser> make_asc_parser();
std::unique_ptr<LineParser> make_trc_parser();
std::unique_ptr<LineParser> make_csv_parser();
std::unique_ptr<LineParser> make_pasted_parser();
std::unique_ptr<LineParser> make_line_parser(Format format);  // nullptr for binary formats

// Shared by the candump log reader and the pasted-dump reader: "351#1122", "1CFF50E5#R",
// "123##1AABB", "20000080#00...". Fills id/flags/data; leaves time and channel alone.
bool parse_candump_frame_token(std::string_view token, can::Frame& frame, std::string_view& reason);

}  // namespace bmslink::capture::detail
