// bmslink capture: read whatever capture a technician brings, as a stream of can::Frame.
//
// open_capture() looks at the content (never the file name) and picks a reader: candump log,
// candump console output (every -t variant, -x, -a, -e; also Battery-Emulator logs), Vector ASC,
// PEAK TRC 1.0-2.1, SavvyCAN/GVRET CSV, pcap/pcapng (SocketCAN link types), a dump pasted into
// a forum post, and the loggers' binary files: ASAM MDF 4 (MF4) and Vector BLF. Readers pull frames
// one at a time from a fixed-size buffer, so memory does not grow with the file. A malformed line
// goes to the DiagnosticSink (file, line, what was expected) and reading continues. A reader is
// single-threaded; the sink must outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bmslink/can/frame.h"
#include "bmslink/can/frame_source.h"
#include "bmslink/core/diagnostics.h"
#include "bmslink/core/error.h"

namespace bmslink::capture {

enum class Format {
  kCandumpLog,      // candump -l / -L: "(1700000000.123456) can0 351#1402..."
  kCandumpConsole,  // candump on a terminal: "(ts)  can0  351   [8]  14 02 ..."
  kVectorAsc,
  kPeakTrc,
  kCsv,     // SavvyCAN / GVRET native CSV
  kPcap,    // pcap and pcapng
  kPasted,  // frames embedded in free text
  kMf4,     // ASAM MDF 4 bus logs (CANedge and other loggers), finalised or not
  kBlf,     // Vector binary logging format
};

std::string_view format_name(Format format);  // "candump-log", "candump", "asc", ...
std::optional<Format> parse_format_name(std::string_view name);
// Every format in the order sniffing tries them, for error messages and help.
const std::vector<Format>& all_formats();
// True when the first bytes of a capture are a format whose reader seeks (pcap, pcapng, MF4): such
// a capture must be kept whole before it is read; text formats and BLF are read as they stream.
bool needs_whole_file(std::string_view head);

struct ReaderStats {
  std::uint64_t lines = 0;      // text lines seen (records for pcap)
  std::uint64_t frames = 0;     // frames delivered
  std::uint64_t malformed = 0;  // reported to the sink and skipped
  std::uint64_t ignored = 0;    // recognised non-frame content: headers, comments, free text
  std::uint64_t junk = 0;       // lines before the first frame that no reader takes (reported once)
  std::uint64_t notes = 0;      // reported to the sink about frames kept (repaired or as logged)
};

// A capture reader is a frame source (can/frame_source.h) with a name, a format and counters.
class FrameReader : public can::FrameSource {
 public:
  ~FrameReader() override = default;
  FrameReader(const FrameReader&) = delete;
  FrameReader& operator=(const FrameReader&) = delete;

  // Fills `frame` with the next frame; false at the end of the input or after a read failure
  // (see failure()). Malformed records never end the stream.
  bool next(can::Frame& frame) override = 0;

  virtual Format format() const = 0;
  // Detail of the format found, e.g. "TRC 2.1", "ASC base hex, absolute timestamps".
  virtual std::string variant() const = 0;

  const ReaderStats& stats() const { return stats_; }
  // Set when reading stopped early because the input could not be read further.
  const std::optional<Error>& failure() const { return failure_; }
  const std::string& name() const { return name_; }
  // Byte offset in the file of the first line after a byte-order mark and junk, for callers that
  // read the rest in ranges; meaningless when the text was converted (UTF-16).
  std::uint64_t text_offset() const { return text_offset_; }
  // Line number (1-based count of lines before it) where that text starts.
  std::uint64_t first_line() const { return first_line_; }
  bool transcoded() const { return transcoded_; }

 protected:
  explicit FrameReader(std::string name) : name_(std::move(name)) {}
  ReaderStats stats_;
  std::optional<Error> failure_;
  std::string name_;
  std::uint64_t text_offset_ = 0;
  std::uint64_t first_line_ = 0;
  bool transcoded_ = false;
};

struct ReaderOptions {
  std::optional<Format> format;  // skip sniffing and use this reader
  bool archives = true;          // read a zip as a folder (false inside a zip: no zip in a zip)
};

// Opens a capture file ("-" is standard input; pcap and MF4 need a real file there).
// Fails when the file cannot be read, is empty, or no reader recognises any frame in its first
// 64 KiB; the message then names every format tried.
Result<std::unique_ptr<FrameReader>> open_capture(const std::string& path, DiagnosticSink& sink,
                                                  ReaderOptions options = {});

// Same over an open stream (a pipe, a socket, standard input), reported under `name`; `fd` stays
// the caller's. pcap and MF4 need a path or memory.
Result<std::unique_ptr<FrameReader>> open_capture_fd(int fd, std::string name, DiagnosticSink& sink,
                                                     ReaderOptions options = {});

// Same over bytes in memory, reported under `name`. `bytes` must outlive the reader.
Result<std::unique_ptr<FrameReader>> open_capture_memory(std::string_view bytes, std::string name,
                                                         DiagnosticSink& sink,
                                                         ReaderOptions options = {});

// ---- several files as one capture ----

// Time between two files of a set that no file covers (more than a second).
struct FileGap {
  std::int64_t start_ns = 0;   // the last frame of `before`
  std::int64_t length_ns = 0;  // to the first frame of `after`
  std::string before, after;
  // True between splits of one CANedge session: the logger ran and the bus was silent. False
  // otherwise: the time was not recorded (logger off, or files from different recordings).
  bool recorded = false;
};

// A logger's folder (CANedge SD card: LOG/<device>/<session>/<split>.MF4), rotated candump
// files, or several files, read in time order as one capture, one file open at a time.
class CaptureSet : public FrameReader {
 public:
  // The gaps met so far between files, in time order; complete once next() returned false.
  const std::vector<FileGap>& gaps() const { return gaps_; }

 protected:
  explicit CaptureSet(std::string name) : FrameReader(std::move(name)) {}
  std::vector<FileGap> gaps_;
};

// Opens the files and folders (searched recursively, hidden files skipped) as one capture.
// Files no reader takes (a logger's configuration) are left out and reported to the sink.
Result<std::unique_ptr<CaptureSet>> open_capture_set(const std::vector<std::string>& inputs,
                                                     DiagnosticSink& sink,
                                                     ReaderOptions options = {});
// True when `inputs` need open_capture_set: more than one, or a folder.
bool is_capture_set(const std::vector<std::string>& inputs);

}  // namespace bmslink::capture

namespace bmslink::capture {

// The bulk path for what `candump -l` writes, for callers that split a big log into blocks and
// read them on several cores: parses `block` (which starts at a line start) and calls `on_frame`
// for each frame. Lines of the canonical shape "(1700000000.123456) can0 351#1402..." are parsed
// in place; every other line goes through the full candump log reader, so results and
// diagnostics are the same as open_capture's, with line numbers counted from `first_line`.
// A block at the file's start has its start read as open_capture reads it (a byte-order mark
// dropped, UTF-16 converted); one further in is the text after that (FrameReader::text_offset).
enum class BlockStart { kFileStart, kInsideText };
ReaderStats read_candump_log_block(std::string_view block, const std::string& name,
                                   std::uint64_t first_line, DiagnosticSink& sink,
                                   const std::function<void(const can::Frame&)>& on_frame,
                                   BlockStart where = BlockStart::kFileStart);

}  // namespace bmslink::capture
