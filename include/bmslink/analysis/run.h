// bmslink analysis: one capture in, Evidence out — the one place that reads the first frames,
// identifies the protocol, chooses the definition to decode with (built-in, forced, or a user's
// DBC on top) and runs every analyzer over the frames.
//
// The input is a path, bytes in memory, an open stream (stdin, an upload) or any can::FrameSource
// (a live adapter, the simulated site). A large candump log on a regular file (asked through an
// Env, so tests can hand it memory) is split at line starts into ranges analysed on every core;
// their states merge in file order, so memory stays flat whatever the size. Diagnostics keep their
// true file line numbers in both paths. Progress is reported and the work can be cancelled.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bmslink/analysis/capture_analyzer.h"
#include "bmslink/analysis/evidence.h"
#include "bmslink/can/frame_source.h"
#include "bmslink/capture/reader.h"
#include "bmslink/core/diagnostics.h"
#include "bmslink/core/env.h"
#include "bmslink/core/error.h"
#include "bmslink/protocol/decoder.h"
#include "bmslink/protocol/identify.h"

namespace bmslink::analysis {

// Frames read ahead for identification before anything is decoded; a Pylon burst is 6-20 frames.
constexpr std::size_t kIdentifyFrames = 2000;

// Which definition decodes the capture.
struct ProtocolOptions {
  std::string protocol;                          // a built-in name; "" = the identified one
  const protocol::Database* user_dbc = nullptr;  // its messages win over the built-in's
};

// The definition chosen for one capture, owning what the decoder points into.
struct DecoderSetup {
  std::unique_ptr<protocol::Database> database;  // null: nothing to decode with
  std::unique_ptr<protocol::Decoder> decoder;
  std::string name;  // "pylon_lv_1_2", "pylon_lv_1_2 + user.dbc", ""
};
// Built-in `options.protocol`, else the identified protocol; the user's DBC on top of either.
// Fails on an unknown built-in name.
Result<DecoderSetup> choose_decoder(const protocol::Identification& identification,
                                    const ProtocolOptions& options);

// A source with its first frames read ahead and identified; next() replays them, then goes on.
class IdentifiedSource final : public can::FrameSource {
 public:
  explicit IdentifiedSource(can::FrameSource& source, std::size_t ahead = kIdentifyFrames);
  bool next(can::Frame& frame) override;
  std::optional<std::int64_t> now_ns() const override { return source_.now_ns(); }
  const protocol::Identification& identification() const { return identification_; }

 private:
  can::FrameSource& source_;
  std::vector<can::Frame> ahead_;
  std::size_t replayed_ = 0;
  protocol::Identification identification_;
};

// What a capture is and how to read it.
class CaptureInput {
 public:
  enum class Kind { kPath, kMemory, kStream, kSource, kPaths };
  static CaptureInput path(std::string path);  // "-" is standard input; a folder is a set
  // Several files and folders as one capture (capture::open_capture_set).
  static CaptureInput paths(std::vector<std::string> paths);
  static CaptureInput memory(std::string_view bytes, std::string name);  // bytes outlive the run
  static CaptureInput stream(int fd, std::string name);                  // fd stays the caller's
  static CaptureInput source(can::FrameSource& source, std::string name);

  Kind kind() const { return kind_; }
  const std::string& name() const { return name_; }
  std::string_view bytes() const { return bytes_; }
  int fd() const { return fd_; }
  can::FrameSource* frame_source() const { return source_; }
  const std::vector<std::string>& all_paths() const { return paths_; }

 private:
  Kind kind_ = Kind::kPath;
  std::string name_;
  std::string_view bytes_;
  int fd_ = -1;
  can::FrameSource* source_ = nullptr;
  std::vector<std::string> paths_;
};

struct RunOptions {
  AnalyzerOptions analyzer;
  ProtocolOptions protocol;
  std::optional<capture::Format> format;           // skip sniffing
  unsigned threads = 0;                            // 0: one per core
  std::uint64_t parallel_min_bytes = 32ULL << 20;  // smaller files take one pass
  std::size_t block_bytes = 4U << 20;              // per-thread read buffer
  unsigned ranges_per_thread = 4;  // the file is cut into threads x this, taken in turn
  const Env* env = nullptr;        // nullptr: Env::posix()
  // Called now and then (from the reading threads on the parallel path) with bytes done and
  // total; for streams and sources total is 0 and `done` counts frames.
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
  // Set from any thread to stop early: the run then fails with ErrorCode::kCancelled.
  const std::atomic<bool>* cancel = nullptr;
};

struct RunResult {
  Evidence evidence;
  std::string file;
  capture::Format format = capture::Format::kCandumpLog;
  std::string variant;  // reader detail, or "frame source"
  capture::ReaderStats stats;
  std::optional<Error> failure;  // reading stopped early (what was read is analysed)
  unsigned threads_used = 1;
  std::string decoded_with;  // DecoderSetup::name
};

// The whole analysis of one capture.
Result<RunResult> analyze(const CaptureInput& input, DiagnosticSink& sink,
                          const RunOptions& options = {});
// Same for a path ("-" is standard input).
Result<RunResult> analyze_capture(const std::string& path, DiagnosticSink& sink,
                                  const RunOptions& options = {});

// Identification from every frame of a capture (what `bmslink identify` reports).
struct IdentifyResult {
  protocol::Identification identification;
  std::string file;
  capture::Format format = capture::Format::kCandumpLog;
  std::string variant;
  capture::ReaderStats stats;
  std::optional<Error> failure;
};
Result<IdentifyResult> identify(const CaptureInput& input, DiagnosticSink& sink,
                                const RunOptions& options = {});

// Opens any input as a frame source: a capture reader, or the caller's source wrapped.
struct OpenedInput {
  std::unique_ptr<capture::FrameReader> reader;  // null for a kSource input
  can::FrameSource* source = nullptr;
  std::string name;
};
Result<OpenedInput> open_input(const CaptureInput& input, DiagnosticSink& sink,
                               std::optional<capture::Format> format);

}  // namespace bmslink::analysis
