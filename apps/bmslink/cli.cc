#include "cli.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "bmslink/protocol/builtin.h"

namespace bmslink::app {
namespace {
std::atomic<bool> g_stop{false};
extern "C" void bmslink_on_stop_signal(int) { g_stop.store(true); }
}  // namespace

std::atomic<bool>& stop_on_signals() {
  static const bool installed = [] {
    struct sigaction sa {};
    sa.sa_handler = bmslink_on_stop_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    return true;
  }();
  (void)installed;
  return g_stop;
}

std::optional<int> Commands::run_parsed() const {
  for (const auto& [command, run] : list_)
    if (command->parsed()) return run();
  return std::nullopt;
}

bool AtomicOutput::open() {
  if (!to_file_) {
    file_ = stdout;
    return true;
  }
  file_ = std::fopen(temp().c_str(), "wb");
  if (file_ == nullptr)
    fmt::print(stderr, "bmslink: cannot write {}: {}\n", path_, std::strerror(errno));
  return file_ != nullptr;
}

bool AtomicOutput::commit() {
  if (!to_file_) return std::fflush(stdout) == 0;
  const bool closed = file_ != nullptr && std::fclose(file_) == 0;
  file_ = nullptr;
  if (!closed || std::rename(temp().c_str(), path_.c_str()) != 0) {
    fmt::print(stderr, "bmslink: cannot write {}: {}\n", path_, std::strerror(errno));
    std::remove(temp().c_str());
    return false;
  }
  return true;
}

void AtomicOutput::abandon() {
  if (!to_file_ || file_ == nullptr) return;
  std::fclose(file_);
  file_ = nullptr;
  std::remove(temp().c_str());
}

bool write_text(std::string_view text, const std::string& path) {
  AtomicOutput out(path);
  if (!out.open()) return false;
  if (std::fwrite(text.data(), 1, text.size(), out.file()) != text.size()) {
    fmt::print(stderr, "bmslink: cannot write {}: {}\n", path.empty() ? "-" : path,
               std::strerror(errno));
    return false;
  }
  return out.commit();
}

std::optional<std::string> read_text(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = fmt::format("{}: cannot open: {}", path, std::strerror(errno));
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string format_choices() {
  std::string s;
  for (auto f : capture::all_formats()) {
    if (!s.empty()) s += ", ";
    s += capture::format_name(f);
  }
  return s;
}

void add_format_option(CLI::App* command, std::string& format) {
  command->add_option(
      "--format", format,
      "Read the input as this format instead of detecting it (" + format_choices() + ")");
}

bool check_format(const std::string& format) {
  if (format.empty() || capture::parse_format_name(format)) return true;
  fmt::print(stderr, "bmslink: unknown format '{}'; one of: {}\n", format, format_choices());
  return false;
}

std::unique_ptr<capture::FrameReader> open_or_report(const std::string& path,
                                                     const std::string& format,
                                                     DiagnosticSink& sink) {
  capture::ReaderOptions options;
  if (!format.empty()) {
    options.format = capture::parse_format_name(format);
    if (!check_format(format)) return nullptr;
  }
  auto reader = capture::open_capture(path, sink, options);
  if (!reader) {
    fmt::print(stderr, "bmslink: {}\n", reader.error().message);
    return nullptr;
  }
  return std::move(*reader);
}

std::unique_ptr<capture::FrameReader> open_or_report(const std::vector<std::string>& paths,
                                                     const std::string& format,
                                                     DiagnosticSink& sink) {
  if (!capture::is_capture_set(paths)) return open_or_report(paths.front(), format, sink);
  capture::ReaderOptions options;
  if (!format.empty()) {
    options.format = capture::parse_format_name(format);
    if (!check_format(format)) return nullptr;
  }
  auto set = capture::open_capture_set(paths, sink, options);
  if (!set) {
    fmt::print(stderr, "bmslink: {}\n", set.error().message);
    return nullptr;
  }
  return std::move(*set);
}

int report_problems(const std::string& name, const capture::ReaderStats& st,
                    const std::optional<Error>& failure, const CollectingSink& sink,
                    std::string_view read_as) {
  // The junk before the first frame is the sink's first diagnostic, reported once.
  const std::size_t junk_diagnostics = st.junk > 0 && !sink.kept().empty() ? 1 : 0;
  if (junk_diagnostics > 0)
    fmt::print(stderr, "bmslink: {}\n", format_diagnostic(sink.kept().front()));
  if (st.malformed > 0) {
    fmt::print(stderr, "bmslink: {}: {} malformed line(s) skipped\n", name, st.malformed);
    for (std::size_t i = junk_diagnostics; i < sink.kept().size() && i < 5 + junk_diagnostics; ++i)
      fmt::print(stderr, "  {}\n", format_diagnostic(sink.kept()[i]));
    if (st.malformed > 5) {
      fmt::print(stderr, "  by reason:\n");
      for (const auto& [reason, n] : sink.by_reason())
        fmt::print(stderr, "  {:>10}  {}\n", n, reason);
    }
  }
  if (failure) fmt::print(stderr, "bmslink: {}\n", failure->message);
  if (st.frames == 0) {
    fmt::print(stderr, "bmslink: {}: no CAN frame could be read (read as {})\n", name, read_as);
    return kExitInput;
  }
  return kExitOk;
}

int finish_reading(const capture::FrameReader& reader, const CollectingSink& sink) {
  return report_problems(reader.name(), reader.stats(), reader.failure(), sink, reader.variant());
}

std::unique_ptr<records::Store> open_store(const std::string& db) {
  auto s = records::open_store(db.empty() ? records::default_store_url() : db);
  if (!s) {
    fmt::print(stderr, "bmslink: {}\n", s.error().message);
    return nullptr;
  }
  return std::move(*s);
}

const char* const kDbHelp =
    "Records: sqlite:///path/file.db (or a path) or postgresql://...; default: the SQLite file "
    "in your data directory";
const char* const kIfaceHelp =
    "slcan:/dev/ttyACM0[@BAUD], waveshare:/dev/ttyUSB0, socketcan:can0 or replay:FILE[@SPEED]";

CLI::Validator iso_date() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        const auto digits = [&](std::size_t from, std::size_t n) {
          for (std::size_t i = from; i < from + n; ++i)
            if (i >= v.size() || v[i] < '0' || v[i] > '9') return false;
          return true;
        };
        const bool date = v.size() >= 10 && digits(0, 4) && v[4] == '-' && digits(5, 2) &&
                          v[7] == '-' && digits(8, 2);
        const bool rest = v.size() == 10 || (v.size() >= 11 && v[10] == 'T');
        return date && rest ? "" : "expected a date as YYYY-MM-DD (or an ISO 8601 UTC time)";
      },
      "DATE");
}

void add_live_options(CLI::App* c, live::LiveOptions& o, bool monitor, bool duration,
                      const std::string& prefix) {
  c->add_option("--" + prefix + "bitrate", o.bitrate_bps,
                "Bus bit rate (default 500000; 0 leaves a SocketCAN interface as configured)")
      ->check(CLI::Range(0, 1000000));
  if (duration)
    c->add_option("--" + prefix + "duration", o.duration_s,
                  "Stop after this many seconds of bus time (default: never)")
        ->check(CLI::Range(0.0, 1e9));
  if (!monitor) return;
  c->add_option("--" + prefix + "timeout", o.timeout_s,
                "The inverter's BMS timeout in s (default 3)")
      ->check(CLI::Range(0.1, 3600.0));
  c->add_option("--" + prefix + "interval", o.interval_s,
                "Seconds between value snapshots (default 1)")
      ->check(CLI::Range(0.1, 3600.0));
  c->add_option("--" + prefix + "errors-per-minute", o.errors_per_minute,
                "errors_rising at this many error frames a minute (default 10)")
      ->check(CLI::Range(0.0, 1e6));
  std::vector<std::string> names;
  for (const auto& p : protocol::builtin_protocols()) names.emplace_back(p.name);
  c->add_option("--" + prefix + "protocol", o.protocol.protocol,
                "Decode with this built-in protocol instead of the identified one")
      ->check(CLI::IsMember(names));
}

}  // namespace bmslink::app
