// bmslink capture: writers for the formats other tools read best.
//
// candump log ("(1700000000.123456) can0 351#1402...") is what can-utils, python-can, cantools and
// Wireshark all read; Vector ASC is what vendors' engineers open in CANalyzer; BLF and MF4 go to
// Vector's tools, asammdf and CANedge's tools. Frames without a
// timestamp are written at 0 (the count is returned by untimed()) rather than given invented
// times. Output goes to a caller-provided FILE*; the writer buffers and never closes it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "bmslink/can/frame.h"
#include "bmslink/core/error.h"

namespace bmslink::capture {

// kBlf and kMf4 are binary; they write their counts back at the end when `out` can seek (a file)
// and stay valid without (a pipe: the MF4 is then left unfinalised, as a logger leaves it).
enum class OutputFormat { kCandumpLog, kVectorAsc, kBlf, kMf4 };

class FrameWriter {
 public:
  virtual ~FrameWriter() = default;
  virtual void write(const can::Frame& frame) = 0;
  // Writes any trailer and flushes; reports a failed write (disk full, closed pipe).
  virtual Result<void> finish() = 0;
  std::uint64_t untimed() const { return untimed_; }

 protected:
  std::uint64_t untimed_ = 0;
};

std::unique_ptr<FrameWriter> make_writer(OutputFormat format, std::FILE* out);

// One candump log line for a frame, without the newline.
std::string candump_log_line(const can::Frame& frame);

// Appends the frame as one JSON object and a newline (keys in docs/json.md): t, id, ext, rtr, err,
// fd, dlc, len, data, channel, dir, plus brs/esi on FD frames and the decoded error kinds.
void append_json_line(std::string& out, const can::Frame& frame);

}  // namespace bmslink::capture
