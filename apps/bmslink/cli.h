// bmslink command line: what every command file shares — exit codes, the registration of commands,
// atomic output files, reading problems on stderr, the records store, common option help.
// Each command lives in its own file and registers itself through one add_*() function listed in
// main.cc; the library does the work, a command parses, calls and prints.
#pragma once

#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "bmslink/capture/reader.h"
#include "bmslink/core/diagnostics.h"
#include "bmslink/core/error.h"
#include "bmslink/live/loop.h"
#include "bmslink/records/store.h"

namespace bmslink::app {

// Exit codes: 0 done, 1 the input was unusable, 2 wrong usage; 3 only with analyze
// --fail-on-fault (the input was read and a fault was found).
constexpr int kExitOk = 0;
constexpr int kExitInput = 1;
constexpr int kExitUsage = 2;
constexpr int kExitFault = 3;

// The commands a file registered: each subcommand with what runs it when it was given.
class Commands {
 public:
  void add(CLI::App* command, std::function<int()> run) {
    list_.emplace_back(command, std::move(run));
  }
  // The run of the command given on the command line (a nested one first).
  std::optional<int> run_parsed() const;

 private:
  std::vector<std::pair<CLI::App*, std::function<int()>>> list_;
};

// One per command file (registration table in main.cc).
void add_capture_commands(CLI::App& app, Commands& commands);  // frames, convert, decode, ...
void add_analyze_command(CLI::App& app, Commands& commands);
void add_simulate_command(CLI::App& app, Commands& commands);
void add_live_commands(CLI::App& app, Commands& commands);  // monitor, scan-bitrate, record
void add_diagnose_command(CLI::App& app, Commands& commands);
void add_hardcode_commands(CLI::App& app, Commands& commands);  // hardcode, devices
void add_case_command(CLI::App& app, Commands& commands);
void add_records_commands(CLI::App& app, Commands& commands);  // stats, report, compat
void add_serve_commands(CLI::App& app, Commands& commands);    // serve, user

// Sets a flag on SIGINT or SIGTERM (installed at the first call): long-running commands stop
// cleanly when it is set.
std::atomic<bool>& stop_on_signals();

// An output file that appears only complete: written as "<path>.bmslink-partial" and renamed
// by commit(), so a failed run never destroys an existing file. "" or "-" is standard output.
class AtomicOutput {
 public:
  explicit AtomicOutput(std::string path)
      : path_(std::move(path)), to_file_(!path_.empty() && path_ != "-") {}
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;
  ~AtomicOutput() { abandon(); }

  bool to_file() const { return to_file_; }
  std::FILE* file() const { return file_; }
  bool open();    // prints why not
  bool commit();  // closes and renames into place; prints why not
  void abandon();

 private:
  std::string temp() const { return path_ + ".bmslink-partial"; }
  std::string path_;
  bool to_file_;
  std::FILE* file_ = nullptr;
};

// `text` to `path` through an AtomicOutput ("" or "-": standard output); prints why not.
bool write_text(std::string_view text, const std::string& path);
// A whole file, or why not in `error` ("PATH: cannot open: ...").
std::optional<std::string> read_text(const std::string& path, std::string& error);

// The readers' names, for --format help and errors.
std::string format_choices();
// The --format option every capture command takes.
void add_format_option(CLI::App* command, std::string& format);
// False (and says so) when --format names no reader.
bool check_format(const std::string& format);

// Opens or prints why not. Returns nullptr on failure.
std::unique_ptr<capture::FrameReader> open_or_report(const std::string& path,
                                                     const std::string& format,
                                                     DiagnosticSink& sink);
// Several files, or a folder: one capture in time order (capture::open_capture_set).
std::unique_ptr<capture::FrameReader> open_or_report(const std::vector<std::string>& paths,
                                                     const std::string& format,
                                                     DiagnosticSink& sink);
// What went wrong while reading, on stderr: malformed lines (the first five, then counts by
// reason), a read failure, no frame at all. Returns kExitInput when nothing could be read.
int report_problems(const std::string& name, const capture::ReaderStats& stats,
                    const std::optional<Error>& failure, const CollectingSink& sink,
                    std::string_view read_as);
int finish_reading(const capture::FrameReader& reader, const CollectingSink& sink);

// The records store (--db or the default file), or nullptr after saying why.
std::unique_ptr<records::Store> open_store(const std::string& db);
extern const char* const kDbHelp;
extern const char* const kIfaceHelp;
// Dates compare as ISO 8601 text, so a date written another way would select the wrong cases.
CLI::Validator iso_date();

// The live options (docs/live.md) on a command: the bit rate always; with `monitor`, the
// monitor's too (--timeout, --errors-per-minute, --interval, --protocol); with `duration`,
// --duration. `prefix` is "" or "live-" (serve).
void add_live_options(CLI::App* command, live::LiveOptions& options, bool monitor, bool duration,
                      const std::string& prefix = "");

}  // namespace bmslink::app
