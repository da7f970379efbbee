// bmslink command line: parses arguments, calls the library, prints. Exit codes: 0 done,
// 1 the input was unusable, 2 wrong usage.

#include <unistd.h>

#include <array>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "bmslink/analysis/inventory.h"
#include "bmslink/analysis/run.h"
#include "bmslink/can/error_frame.h"
#include "bmslink/capture/reader.h"
#include "bmslink/capture/writer.h"
#include "bmslink/diagnosis/findings.h"
#include "bmslink/diagnosis/pipeline.h"
#include "bmslink/protocol/builtin.h"
#include "bmslink/protocol/decoder.h"
#include "bmslink/protocol/identify.h"
#include "bmslink/report/analysis_report.h"
#include "bmslink/sim/site.h"
#include "guided_cmd.h"
#include "live_cmd.h"
#include "records_cmd.h"
#include "serve_cmd.h"

namespace {

using bmslink::capture::FrameReader;

constexpr int kExitOk = 0;
constexpr int kExitInput = 1;
constexpr int kExitUsage = 2;
// Only with analyze --fail-on-fault: the input was read and a fault was found.
constexpr int kExitFault = 3;

std::string format_choices() {
  std::string s;
  for (auto f : bmslink::capture::all_formats()) {
    if (!s.empty()) s += ", ";
    s += bmslink::capture::format_name(f);
  }
  return s;
}

// Opens or prints why not. Returns nullptr on failure.
std::unique_ptr<FrameReader> open_or_report(const std::string& path, const std::string& format,
                                            bmslink::DiagnosticSink& sink) {
  bmslink::capture::ReaderOptions options;
  if (!format.empty()) {
    options.format = bmslink::capture::parse_format_name(format);
    if (!options.format) {
      fmt::print(stderr, "bmslink: unknown format '{}'; one of: {}\n", format, format_choices());
      return nullptr;
    }
  }
  auto reader = bmslink::capture::open_capture(path, sink, options);
  if (!reader) {
    fmt::print(stderr, "bmslink: {}\n", reader.error().message);
    return nullptr;
  }
  return std::move(*reader);
}

// What went wrong while reading, on stderr: malformed lines (the first five, then counts by
// reason), a read failure, no frame at all. Returns kExitInput when nothing could be read.
int report_problems(const std::string& name, const bmslink::capture::ReaderStats& st,
                    const std::optional<bmslink::Error>& failure,
                    const bmslink::CollectingSink& sink, std::string_view read_as) {
  // The junk before the first frame is the sink's first diagnostic, reported once.
  const std::size_t junk_diagnostics = st.junk > 0 && !sink.kept().empty() ? 1 : 0;
  if (junk_diagnostics > 0)
    fmt::print(stderr, "bmslink: {}\n", bmslink::format_diagnostic(sink.kept().front()));
  if (st.malformed > 0) {
    fmt::print(stderr, "bmslink: {}: {} malformed line(s) skipped\n", name, st.malformed);
    for (std::size_t i = junk_diagnostics; i < sink.kept().size() && i < 5 + junk_diagnostics; ++i)
      fmt::print(stderr, "  {}\n", bmslink::format_diagnostic(sink.kept()[i]));
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

int finish_reading(const FrameReader& reader, const bmslink::CollectingSink& sink) {
  return report_problems(reader.name(), reader.stats(), reader.failure(), sink, reader.variant());
}

// candump-console-like line for people: time only when the capture had one.
void append_frame_text(std::string& out, const bmslink::can::Frame& f) {
  auto it = std::back_inserter(out);
  if (f.has_timestamp()) fmt::format_to(it, "({}) ", bmslink::format_seconds(f.timestamp_ns, 6));
  fmt::format_to(it, "{:<6} ", f.channel.empty() ? "-" : f.channel);
  if (f.direction != bmslink::can::Direction::kUnknown) {
    out += f.direction == bmslink::can::Direction::kRx ? "RX " : "TX ";
  }
  const std::string id = bmslink::can::id_hex(f).substr(2);
  fmt::format_to(it, "{:>8}  {}  ", id,
                 f.fd ? fmt::format("[{:02}]", f.len) : fmt::format("[{}]", f.len));
  if (f.rtr) {
    out += "remote request";
  } else {
    for (std::size_t i = 0; i < f.len; ++i) fmt::format_to(it, "{}{:02X}", i ? " " : "", f.data[i]);
  }
  if (f.error) {
    const auto words = bmslink::can::decode_error_frame(f).summary();
    fmt::format_to(it, "  ERRORFRAME {}",
                   words.empty() ? "unspecified" : fmt::format("{}", fmt::join(words, ",")));
  }
  out += '\n';
}

int cmd_frames(const std::string& path, const std::string& format, bool json) {
  bmslink::CollectingSink sink;
  auto reader = open_or_report(path, format, sink);
  if (!reader) return kExitInput;
  bmslink::can::Frame f;
  std::string out;
  out.reserve(1 << 17);
  while (reader->next(f)) {
    if (json) {
      bmslink::capture::append_json_line(out, f);
    } else {
      append_frame_text(out, f);
    }
    if (out.size() > (1 << 16)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return finish_reading(*reader, sink);
}

// Writes to OUT through a temporary file renamed into place on success, so a failed conversion
// never destroys an existing OUT.
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
  // Prints why not.
  bool open() {
    if (!to_file_) {
      file_ = stdout;
      return true;
    }
    file_ = std::fopen(temp().c_str(), "wb");
    if (file_ == nullptr)
      fmt::print(stderr, "bmslink: cannot write {}: {}\n", path_, std::strerror(errno));
    return file_ != nullptr;
  }
  // Closes and renames into place; prints why not.
  bool commit() {
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
  void abandon() {
    if (!to_file_ || file_ == nullptr) return;
    std::fclose(file_);
    file_ = nullptr;
    std::remove(temp().c_str());
  }

 private:
  std::string temp() const { return path_ + ".bmslink-partial"; }
  std::string path_;
  bool to_file_;
  std::FILE* file_ = nullptr;
};

int cmd_convert(const std::string& path, const std::string& format, const std::string& to,
                const std::string& output) {
  bmslink::CollectingSink sink;
  auto reader = open_or_report(path, format, sink);
  if (!reader) return kExitInput;
  AtomicOutput out(output);
  if (!out.open()) return kExitInput;
  auto writer =
      bmslink::capture::make_writer(to == "asc" ? bmslink::capture::OutputFormat::kVectorAsc
                                                : bmslink::capture::OutputFormat::kCandumpLog,
                                    out.file());
  bmslink::can::Frame f;
  while (reader->next(f)) writer->write(f);
  const auto written = writer->finish();
  const int read_rc = finish_reading(*reader, sink);
  if (out.to_file()) {
    if (!written || read_rc != kExitOk) {
      out.abandon();
      if (!written) fmt::print(stderr, "bmslink: {}: {}\n", output, written.error().message);
      if (read_rc == kExitOk) return kExitInput;
      fmt::print(stderr, "bmslink: {} left unchanged\n", output);
      return read_rc;
    }
    if (!out.commit()) return kExitInput;
  } else if (!written) {
    fmt::print(stderr, "bmslink: {}\n", written.error().message);
    return kExitInput;
  }
  if (writer->untimed() > 0) {
    fmt::print(stderr, "bmslink: {} frame(s) had no timestamp in {}; written at time 0\n",
               writer->untimed(), reader->name());
  }
  return read_rc;
}

// Reading problems of one analysed file on stderr; returns the exit code for it.
int report_reading(const bmslink::analysis::RunResult& run, const bmslink::CollectingSink& sink) {
  const int rc = report_problems(run.file, run.stats, run.failure, sink, run.variant);
  return rc == kExitOk && run.failure ? kExitInput : rc;
}

// A progress bar on stderr, redrawn at most every 100 ms; only when stderr is a terminal.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label) : label_(std::move(label)), tty_(::isatty(2) == 1) {}
  ~ProgressBar() { clear(); }
  // Removes the bar before anything else is written to the terminal.
  void clear() {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (drawn_) fmt::print(stderr, "\r\033[K");
    drawn_ = false;
    tty_ = false;
  }
  std::function<void(std::uint64_t, std::uint64_t)> callback() {
    if (!tty_) return {};
    return [this](std::uint64_t done, std::uint64_t total) { draw(done, total); };
  }

 private:
  void draw(std::uint64_t done, std::uint64_t total) {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (!tty_) return;
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_ < std::chrono::milliseconds(100) && done < total) return;
    last_ = now;
    drawn_ = true;
    const double share = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
    const int width = 30;
    const int filled = static_cast<int>(share * width);
    fmt::print(stderr, "\r{} [{:=<{}}{: <{}}] {:3.0f} % of {:.0f} MB", label_, "", filled, "",
               width - filled, share * 100, static_cast<double>(total) / 1e6);
  }
  std::string label_;
  bool tty_;
  bool drawn_ = false;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point last_{};
};

struct AnalyzeArgs {
  std::vector<std::string> paths;
  std::string format;
  std::string tz = "local";
  bool fail_on_fault = false;
  bool json = false;
  std::string html;
  double timeout_s = 3.0;
  unsigned bitrate = 500000;
  unsigned threads = 0;
  double duration_s = 0;  // for a live IFACE: how long to record before the diagnosis
};

bool is_iface(const std::string& path) {
  for (const char* kind : {"slcan:", "socketcan:", "waveshare:", "replay:"})
    if (path.starts_with(kind)) return true;
  return false;
}

int cmd_analyze(const AnalyzeArgs& args) {
  bmslink::analysis::RunOptions options;
  if (!args.format.empty()) options.format = bmslink::capture::parse_format_name(args.format);
  options.analyzer.inverter_timeout_ms = static_cast<std::int64_t>(args.timeout_s * 1000.0);
  options.analyzer.bitrate_bps = args.bitrate;
  options.threads = args.threads;
  int rc = kExitOk;
  bool fault = false;
  auto zone = bmslink::TimeZone::named(args.tz);
  if (!zone) {
    fmt::print(stderr, "bmslink: --tz: {}\n", zone.error().message);
    return kExitUsage;
  }
  const bmslink::report::RenderOptions render{*zone};
  std::vector<bmslink::report::CaptureReport> reports;
  nlohmann::json all = nlohmann::json::array();
  // A live interface is recorded for --duration seconds first, then diagnosed like a file; the
  // recording is kept and named, so the technician can send it on.
  std::vector<std::string> paths;
  for (const auto& path : args.paths) {
    if (!is_iface(path)) {
      paths.push_back(path);
      continue;
    }
    if (args.duration_s <= 0) {
      fmt::print(stderr, "bmslink: analyze {} needs --duration SECONDS (how long to listen)\n",
                 path);
      return kExitUsage;
    }
    const char* tmp = std::getenv("TMPDIR");
    std::string safe;
    for (char c : path) safe += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    bmslink::app::RecordArgs ra;
    ra.iface = path;
    ra.output = fmt::format("{}/bmslink-{}-{}.log", tmp ? tmp : "/tmp", safe,
                            static_cast<long long>(std::time(nullptr)));
    ra.duration_s = args.duration_s;
    ra.bitrate = args.bitrate;
    fmt::print(stderr, "bmslink: listening on {} for {:g} s into {}\n", path, args.duration_s,
               ra.output);
    if (const int recorded = bmslink::app::cmd_record(ra); recorded != kExitOk) return recorded;
    paths.push_back(ra.output);
  }
  for (const auto& path : paths) {
    bmslink::CollectingSink sink;
    ProgressBar bar("bmslink: " + path);
    options.progress = bar.callback();
    auto result =
        bmslink::diagnosis::diagnose(bmslink::analysis::CaptureInput::path(path), sink, options);
    bar.clear();
    if (!result) {
      fmt::print(stderr, "bmslink: {}\n", result.error().message);
      rc = kExitInput;
      continue;
    }
    const int read_rc = report_reading(result->run, sink);
    if (read_rc != kExitOk) rc = read_rc;
    if (result->run.stats.frames == 0) continue;
    bmslink::report::CaptureReport report = std::move(*result);
    for (const auto& f : report.findings)
      fault |= f.severity == bmslink::diagnosis::Severity::kFault;
    if (args.json) {
      all.push_back(bmslink::report::analysis_json(report, render));
    } else {
      if (!reports.empty()) fmt::print("\n");
      fmt::print("{}", bmslink::report::analysis_text(report, render));
    }
    reports.push_back(std::move(report));
  }
  if (args.json) {
    // Bytes from a capture (a channel name, a text signal) may not be UTF-8: shown as U+FFFD.
    const auto replace = nlohmann::json::error_handler_t::replace;
    fmt::print("{}\n", args.paths.size() == 1 && !all.empty() ? all[0].dump(2, ' ', false, replace)
                                                              : all.dump(2, ' ', false, replace));
  }
  if (!args.html.empty() && !reports.empty()) {
    const std::string html = bmslink::report::analysis_html(reports, render);
    AtomicOutput out(args.html);
    if (!out.open()) return kExitInput;
    if (std::fwrite(html.data(), 1, html.size(), out.file()) != html.size()) {
      fmt::print(stderr, "bmslink: cannot write {}: {}\n", args.html, std::strerror(errno));
      return kExitInput;
    }
    if (!out.commit()) return kExitInput;
  }
  // Reading problems (1) come first; a fault is only reported when asked for.
  if (rc == kExitOk && args.fail_on_fault && fault) return kExitFault;
  return rc;
}

// The protocol to decode with: a user DBC file, or a built-in definition by name.
std::unique_ptr<bmslink::protocol::Database> load_protocol(const std::string& dbc_path,
                                                           const std::string& name) {
  if (!dbc_path.empty()) {
    std::FILE* in = std::fopen(dbc_path.c_str(), "rb");
    if (in == nullptr) {
      fmt::print(stderr, "bmslink: cannot open {}: {}\n", dbc_path, std::strerror(errno));
      return nullptr;
    }
    std::string text;
    char buf[65536];
    std::size_t got = 0;
    while ((got = std::fread(buf, 1, sizeof buf, in)) > 0 && text.size() < (64U << 20))
      text.append(buf, got);
    std::fclose(in);
    auto db = bmslink::protocol::parse_dbc(text, dbc_path);
    if (!db) {
      fmt::print(stderr, "bmslink: {}\n", db.error().message);
      return nullptr;
    }
    return std::make_unique<bmslink::protocol::Database>(std::move(*db));
  }
  auto db = bmslink::protocol::builtin_database(name);
  if (!db) {
    fmt::print(stderr, "bmslink: {}\n", db.error().message);
    return nullptr;
  }
  return std::make_unique<bmslink::protocol::Database>(**db);
}

void append_decoded_text(std::string& out, const bmslink::can::Frame& f,
                         const bmslink::protocol::MessageDecoder& d,
                         std::span<const bmslink::protocol::SignalValue> values) {
  auto it = std::back_inserter(out);
  if (f.has_timestamp()) fmt::format_to(it, "({}) ", bmslink::format_seconds(f.timestamp_ns, 6));
  fmt::format_to(it, "{} {}:", bmslink::can::id_hex(f), d.message().name);
  for (const auto& v : values) {
    if (!v.present) continue;
    if (v.signal->is_text()) {
      fmt::format_to(it, " {}=\"{}\"", v.signal->name, v.text);
    } else if (const auto label = v.signal->values.find(v.raw); label != v.signal->values.end()) {
      fmt::format_to(it, " {}={}", v.signal->name, label->second);
    } else {
      fmt::format_to(it, " {}={}{}", v.signal->name, v.value,
                     v.signal->unit.empty() ? "" : " " + v.signal->unit);
    }
  }
  out += '\n';
}

int cmd_decode(const std::string& path, const std::string& format, bool json,
               const std::string& dbc_path, const std::string& protocol) {
  bmslink::CollectingSink sink;
  auto reader = open_or_report(path, format, sink);
  if (!reader) return kExitInput;
  // A user's DBC is consulted first; ids it does not define fall back to the built-in protocol.
  std::unique_ptr<bmslink::protocol::Database> user_db;
  if (!dbc_path.empty()) {
    user_db = load_protocol(dbc_path, {});
    if (!user_db) return kExitInput;
  }
  bmslink::analysis::IdentifiedSource source(*reader);
  const auto& id = source.identification();
  bmslink::analysis::ProtocolOptions po;
  // Without any definition the Pylon LV V1.2 one shows what can be read.
  po.protocol = !protocol.empty() ? protocol : id.protocol.empty() ? "pylon_lv_1_2" : "";
  po.user_dbc = user_db.get();
  auto setup = bmslink::analysis::choose_decoder(id, po);
  if (!setup) {
    fmt::print(stderr, "bmslink: {}\n", setup.error().message);
    return kExitUsage;
  }
  if (protocol.empty()) {
    fmt::print(stderr, "bmslink: {} {}{}; decoding with {}\n", reader->name(), id.family,
               id.variant.empty() ? "" : " / " + id.variant, setup->name);
  }
  const bmslink::protocol::Decoder& decoder = *setup->decoder;
  std::vector<bmslink::protocol::SignalValue> values;
  std::array<char, 512> text{};
  std::map<std::string, std::uint64_t> unknown;
  std::string out;
  bmslink::can::Frame f;
  while (source.next(f)) {
    if (f.error) continue;
    const auto* md = decoder.find(f.id, f.extended);
    if (md == nullptr) {
      ++unknown[bmslink::can::id_hex(f)];
      continue;
    }
    values.resize(md->signal_count());
    md->decode(f, values, text);
    if (json) {
      bmslink::protocol::append_decoded_json(out, f, *md, values);
    } else {
      append_decoded_text(out, f, *md, values);
    }
    if (out.size() > (1 << 16)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  if (!unknown.empty()) {
    std::string ids;
    for (const auto& [uid, n] : unknown) ids += fmt::format(" {}({})", uid, n);
    fmt::print(stderr, "bmslink: frames of ids not in {}:{}\n", setup->name, ids);
  }
  return finish_reading(*reader, sink);
}

int cmd_identify(const std::vector<std::string>& paths, const std::string& format, bool json) {
  bmslink::analysis::RunOptions options;
  if (!format.empty()) options.format = bmslink::capture::parse_format_name(format);
  int rc = kExitOk;
  nlohmann::json all = nlohmann::json::array();
  bool first = true;
  for (const auto& path : paths) {
    bmslink::CollectingSink sink;
    auto result =
        bmslink::analysis::identify(bmslink::analysis::CaptureInput::path(path), sink, options);
    if (!result) {
      fmt::print(stderr, "bmslink: {}\n", result.error().message);
      rc = kExitInput;
      continue;
    }
    const int read_rc =
        report_problems(result->file, result->stats, result->failure, sink, result->variant);
    if (read_rc != kExitOk) {
      rc = read_rc;
      continue;
    }
    const auto& id = result->identification;
    if (json) {
      auto j = bmslink::report::identification_json(id);
      j["file"] = result->file;
      all.push_back(std::move(j));
      continue;
    }
    if (!first) fmt::print("\n");
    first = false;
    fmt::print("{}: {}{}{} (confidence {:.2f})\n", result->file, id.family,
               id.variant.empty() ? "" : " / " + id.variant,
               id.manufacturer.empty() ? "" : fmt::format(", manufacturer \"{}\"", id.manufacturer),
               id.confidence);
    if (!id.inverter.empty()) fmt::print("  inverter: {}\n", id.inverter);
    for (const auto& reason : id.reasons) fmt::print("  - {}\n", reason);
    for (const auto& a : id.ambiguities) fmt::print("  ! {}\n", a);
    if (!id.protocol.empty()) fmt::print("  decode with: {}\n", id.protocol);
  }
  if (json)
    fmt::print("{}\n", paths.size() == 1 && !all.empty()
                           ? all[0].dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                           : all.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  return rc;
}

int cmd_dbc_export(const std::string& name, const std::string& output) {
  for (const auto& p : bmslink::protocol::builtin_protocols()) {
    if (p.name != name) continue;
    std::FILE* out = output.empty() || output == "-" ? stdout : std::fopen(output.c_str(), "wb");
    if (out == nullptr) {
      fmt::print(stderr, "bmslink: cannot write {}: {}\n", output, std::strerror(errno));
      return kExitInput;
    }
    const bool ok = std::fwrite(p.dbc.data(), 1, p.dbc.size(), out) == p.dbc.size();
    if (out != stdout) std::fclose(out);
    return ok ? kExitOk : kExitInput;
  }
  std::string known;
  for (const auto& p : bmslink::protocol::builtin_protocols()) known += " " + std::string(p.name);
  fmt::print(stderr, "bmslink: no built-in protocol '{}'; known:{}\n", name, known);
  return kExitUsage;
}

int cmd_simulate(const bmslink::sim::SiteOptions& options, const std::string& to,
                 const std::string& output) {
  AtomicOutput out(output);
  if (!out.open()) return kExitInput;
  auto writer =
      bmslink::capture::make_writer(to == "asc" ? bmslink::capture::OutputFormat::kVectorAsc
                                                : bmslink::capture::OutputFormat::kCandumpLog,
                                    out.file());
  auto frames =
      bmslink::sim::simulate(options, [&](const bmslink::can::Frame& f) { writer->write(f); });
  if (!frames) {
    fmt::print(stderr, "bmslink: {}\n", frames.error().message);
    return kExitUsage;
  }
  if (auto closed = writer->finish(); !closed) {
    fmt::print(stderr, "bmslink: {}\n", closed.error().message);
    return kExitInput;
  }
  if (!out.commit()) return kExitInput;
  if (out.to_file()) {
    fmt::print(stderr, "bmslink: {} frames of a {} site ({}) over {} s written to {}\n", *frames,
               bmslink::sim::variant_name(options.variant), options.fault, options.duration_s,
               output);
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) try {
  CLI::App app{"bmslink: why a battery's BMS and an inverter are not talking over CAN"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");
  std::string format;
  const std::string format_help =
      "Read the input as this format instead of detecting it (" + format_choices() + ")";

  auto* frames = app.add_subcommand(
      "frames", "Print the raw frames of a capture (candump-style text, or JSON)");
  std::string frames_in;
  bool frames_json = false;
  frames->add_option("FILE", frames_in, "Capture file, '-' for standard input")->required();
  frames->add_flag("--json", frames_json, "One JSON object per frame (keys in docs/json.md)");
  frames->add_option("--format", format, format_help);

  auto* convert = app.add_subcommand("convert", "Convert a capture to candump log or Vector ASC");
  std::string convert_in, convert_to = "candump", convert_out;
  convert->add_option("FILE", convert_in, "Capture file, '-' for standard input")->required();
  convert->add_option("--to", convert_to, "Output format")
      ->check(CLI::IsMember({"candump", "asc"}));
  convert->add_option("-o,--output", convert_out, "Output file (standard output by default)");
  convert->add_option("--format", format, format_help);

  auto* analyze = app.add_subcommand(
      "analyze",
      "Diagnose captures: what is wrong, at which layer, the evidence and the fix; plus protocol, "
      "timing, talkers, errors and signals");
  AnalyzeArgs aa;
  analyze->add_option("FILE", aa.paths, "Capture file(s), or a live IFACE with --duration")
      ->required();
  analyze->add_option("--duration", aa.duration_s,
                      "For a live IFACE (slcan:..., socketcan:..., waveshare:..., replay:...): "
                      "seconds to record before the diagnosis");
  analyze->add_flag("--json", aa.json, "Machine-readable output (keys in docs/json.md)");
  analyze->add_option("--html", aa.html,
                      "Also write a self-contained HTML report (inline SVG charts) to this file");
  analyze
      ->add_option("--timeout", aa.timeout_s,
                   "Inverter timeout in seconds: longer BMS silences are dropouts (default 3)")
      ->check(CLI::Range(0.1, 3600.0));
  analyze
      ->add_option("--bitrate", aa.bitrate,
                   "Bus bit rate for the bus-load estimate (default 500000)")
      ->check(CLI::Range(10000, 8000000));
  analyze
      ->add_option("--threads", aa.threads,
                   "Threads for large candump logs (default: one per core)")
      ->check(CLI::Range(0, 256));
  analyze->add_option("--format", format, format_help);
  analyze->add_option("--tz", aa.tz,
                      "Time zone for times in the report: an IANA name (Europe/Berlin), UTC or "
                      "local (default); UTC is shown beside it");
  analyze->add_flag("--fail-on-fault", aa.fail_on_fault,
                    "Exit with status 3 when a fault is found (for scripts; 0 otherwise)");

  auto* decode =
      app.add_subcommand("decode", "Decoded signals of every frame (table, or JSON lines)");
  std::string decode_in, decode_dbc, decode_protocol;
  bool decode_json = false;
  decode->add_option("FILE", decode_in, "Capture file, '-' for standard input")->required();
  decode->add_flag("--json", decode_json, "One JSON object per decoded frame (docs/json.md)");
  decode->add_option("--protocol", decode_protocol,
                     "Built-in protocol to decode with (bmslink dbc list); identified from the "
                     "capture by default");
  decode->add_option(
      "--dbc", decode_dbc,
      "Add the messages of this DBC file; they take precedence over the built-in protocol");
  decode->add_option("--format", format, format_help);

  auto* identify =
      app.add_subcommand("identify", "Which battery protocol a capture speaks, and why");
  std::vector<std::string> identify_in;
  bool identify_json = false;
  identify->add_option("FILE", identify_in, "Capture file(s)")->required();
  identify->add_flag("--json", identify_json, "Machine-readable output (keys in docs/json.md)");
  identify->add_option("--format", format, format_help);

  auto* dbc = app.add_subcommand("dbc", "The built-in protocol definitions, for other CAN tools");
  dbc->require_subcommand(1);
  auto* dbc_list = dbc->add_subcommand("list", "Names of the built-in protocols");
  auto* dbc_export = dbc->add_subcommand("export", "Write a built-in protocol as a DBC file");
  std::string export_name, export_out;
  dbc_export->add_option("NAME", export_name, "Protocol name (bmslink dbc list)")->required();
  dbc_export->add_option("-o,--output", export_out, "Output file (standard output by default)");

  auto* simulate = app.add_subcommand(
      "simulate", "Write the capture of a simulated BMS-inverter site, healthy or with one fault");
  bmslink::sim::SiteOptions sim_options;
  std::string sim_variant = "pylon", sim_to = "candump", sim_out;
  std::vector<std::string> fault_choices;
  for (auto n : bmslink::sim::fault_names()) fault_choices.emplace_back(n);
  simulate->add_option("--fault", sim_options.fault, "Fault to inject (or healthy)")
      ->check(CLI::IsMember(fault_choices));
  simulate->add_option("--variant", sim_variant, "Protocol the BMS speaks")
      ->check(CLI::IsMember({"pylon", "victron", "sma"}));
  simulate->add_option("--duration", sim_options.duration_s, "Seconds to simulate (default 3600)")
      ->check(CLI::Range(1.0, 31.0 * 86400));
  simulate->add_option("--seed", sim_options.seed, "Random seed (same seed, same capture)");
  simulate
      ->add_option("--strength", sim_options.fault_strength,
                   "Scale the fault (1 = as designed; smaller to find where a rule stops firing)")
      ->check(CLI::Range(0.0, 100.0));
  simulate
      ->add_option("--ambient-offset", sim_options.ambient_offset_c,
                   "Shift the day's ambient temperature in °C (default 0: 19-30 °C)")
      ->check(CLI::Range(-60.0, 60.0));
  simulate->add_flag("--cold-errors", sim_options.cold_errors,
                     "thermal_or_time_pattern: errors while the pack is below 8 °C (cold "
                     "mornings) instead of above 25 °C");
  simulate->add_option("--to", sim_to, "Output format")->check(CLI::IsMember({"candump", "asc"}));
  simulate->add_option("-o,--output", sim_out, "Output file (standard output by default)");
  bool sim_pty = false, sim_waveshare = false;
  bmslink::sim::AdapterOptions pty_options;
  simulate->add_flag("--slcan-pty", sim_pty,
                     "Run the site live behind a virtual SLCAN adapter on a pseudo-terminal; "
                     "prints its path first (open it as slcan:PATH)");
  simulate->add_flag("--waveshare-pty", sim_waveshare,
                     "The same behind a virtual Waveshare USB-CAN-A (open it as waveshare:PATH)");
  simulate
      ->add_option("--bitrate", pty_options.site_bitrate_bps,
                   "The site's bus bit rate, for --slcan-pty (default 500000)")
      ->check(CLI::IsMember({125000, 250000, 500000, 1000000}));
  simulate->add_option("--speed", pty_options.speed, "Site seconds per second, for --slcan-pty")
      ->check(CLI::Range(0.01, 1000.0));
  bool pty_no_silent = false;
  simulate->add_flag("--adapter-without-listen-only", pty_no_silent,
                     "The virtual adapter refuses L and M1, as old firmwares do");

  // The live bus (docs/live.md).
  const std::string iface_help =
      "slcan:/dev/ttyACM0[@BAUD], waveshare:/dev/ttyUSB0, socketcan:can0 or replay:FILE[@SPEED]";
  auto* monitor = app.add_subcommand(
      "monitor", "Live values and link health with alarms (bms_silent, heartbeat_lost, ...)");
  bmslink::app::MonitorArgs ma;
  monitor->add_option("IFACE", ma.iface, iface_help)->required();
  monitor->add_flag("--json", ma.json, "One JSON object per line: values every second, events");
  monitor->add_option("--timeout", ma.timeout_s, "The inverter's BMS timeout in s (default 3)")
      ->check(CLI::Range(0.1, 3600.0));
  monitor->add_option("--interval", ma.interval_s, "Seconds between value lines (default 1)")
      ->check(CLI::Range(0.1, 3600.0));
  monitor->add_option("--duration", ma.duration_s, "Stop after this many seconds (default: never)");
  monitor->add_option("--errors-per-minute", ma.errors_per_minute,
                      "errors_rising at this many error frames a minute (default 10)");
  monitor->add_option("--bitrate", ma.bitrate, "Bus bit rate (default 500000)");
  monitor->add_option("--mqtt", ma.mqtt,
                      "Publish values, health and alarms to this broker (mqtt://host:1883), with "
                      "Home Assistant discovery; password in BMSLINK_MQTT_PASSWORD");
  monitor->add_option("--mqtt-user", ma.mqtt_user, "MQTT user name");
  monitor->add_option("--mqtt-id", ma.mqtt_id, "Device id in the topics (default bmslink)");
  auto* scan = app.add_subcommand(
      "scan-bitrate", "Which bit rate the bus runs at, listening only (125k, 250k, 500k, 1M)");
  bmslink::app::ScanArgs sca;
  scan->add_option("IFACE", sca.iface, iface_help)->required();
  scan->add_flag("--json", sca.json, "{\"bitrate\": N or null, \"results\": [...]}");
  scan->add_option("--seconds", sca.seconds, "Listening time per rate (default 2)")
      ->check(CLI::Range(0.1, 60.0));
  scan->add_flag("--assume-listen-only", sca.assume_listen_only,
                 "Scan with an adapter that cannot confirm listen-only (Waveshare USB-CAN-A)");
  auto* record = app.add_subcommand(
      "record", "Record the bus to candump logs, rotating; every closed file is complete");
  bmslink::app::RecordArgs rca;
  record->add_option("IFACE", rca.iface, iface_help)->required();
  record->add_option("-o,--output", rca.output, "Output file (numbered when rotating)")->required();
  record->add_option("--rotate", rca.rotate, "Start a new file every 1h, 30m, 100M, 1G ...");
  record->add_option("--duration", rca.duration_s, "Stop after this many seconds");
  record->add_option("--bitrate", rca.bitrate, "Bus bit rate (default 500000)");

  auto* diagnose = app.add_subcommand(
      "diagnose",
      "Guided five-layer diagnosis: the field method's checks, cheapest and most likely first, "
      "decided from your answers and a capture; interactive on a terminal");
  bmslink::app::GuidedArgs ga;
  diagnose->add_option("--answers", ga.answers,
                       "Answers file (JSON, docs/diagnose.md); interactive sessions resume and "
                       "save to it");
  diagnose->add_option("--capture", ga.capture, "A capture whose analysis pre-decides checks");
  diagnose->add_option("--save", ga.save, "Save the answers given interactively to this file");
  diagnose->add_flag("--json", ga.json, "Machine-readable result (docs/diagnose.md)");
  diagnose->add_flag("--interactive", ga.interactive,
                     "Ask the questions even when standard input is not a terminal");
  diagnose->add_option("--case", ga.case_id,
                       "Record the session in this case as it goes (and resume from it)");
  diagnose->add_option("--db", ga.db,
                       "Records (sqlite:///file.db, a path or postgresql://...): the case, and the "
                       "company's own check order once 20 cases are closed");
  diagnose->add_option("--checks", ga.check_files, "Your own check catalogue file(s) on top")
      ->expected(1);
  diagnose->add_option("--devices", ga.device_files, "Your own knowledge-base file(s) on top")
      ->expected(1);

  auto* devices = app.add_subcommand(
      "devices", "The device knowledge base: inverter menu values, pins, bit rates, known issues");
  bmslink::app::GuidedArgs da;
  std::string device_query;
  devices->add_option("MODEL", device_query, "An inverter or battery model to look up");
  devices->add_flag("--json", da.json, "Everything as JSON (for pickers)");
  devices->add_option("--devices", da.device_files, "Your own knowledge-base file(s) on top")
      ->expected(1);

  auto* hardcode = app.add_subcommand(
      "hardcode",
      "When every layer is exhausted: static inverter settings, whether hardcoding is acceptable, "
      "what is lost, and the customer's acknowledgment");
  bmslink::app::HardcodeArgs ha;
  hardcode->add_option("--chemistry", ha.chemistry, "Cell chemistry (lfp)");
  hardcode->add_option("--battery", ha.battery,
                       "The battery model: its cells in series and the maker's limits come from "
                       "the knowledge base");
  hardcode->add_option("--cells", ha.cells,
                       "Cells in series, as counted (15 on Pylontech US-series packs, 16 on most "
                       "51.2 V packs); needed when --battery is not given");
  hardcode->add_option("--capacity-ah", ha.capacity_ah, "Capacity in Ah")->required();
  hardcode->add_option("--kwh", ha.kwh, "Energy in kWh (default: cells x 3.2 V x Ah)");
  hardcode->add_option("--c-rate", ha.c_rate, "Usual current as a C-rate (e.g. 0.25)");
  hardcode->add_option("--spread-mv", ha.spread_mv, "Cell voltage spread in mV");
  hardcode->add_option("--soc-window", ha.soc_window, "SOC window used, e.g. 30-80");
  hardcode->add_flag("--indoor", ha.indoor, "Temperature-controlled indoors");
  hardcode->add_flag("--outdoor", ha.outdoor, "Outdoors, uncontrolled temperature");
  hardcode->add_flag("--commercial", ha.commercial,
                     "Commercial or critical use, warranty or insurance constraints");
  hardcode->add_flag("--json", ha.json, "Machine-readable output");

  // Service records (docs/records.md). Dates compare as ISO 8601 text, so a date written another
  // way would silently select the wrong cases.
  const CLI::Validator iso_date(
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
  auto* case_cmd = app.add_subcommand("case", "Service records: one case per call");
  case_cmd->require_subcommand(1);
  bmslink::app::CaseArgs ca;
  const std::string db_help =
      "Records: sqlite:///path/file.db (or a path) or postgresql://...; default: the SQLite file "
      "in your data directory";
  std::map<std::string, CLI::App*> case_sub;
  for (const auto& [name, what] : std::vector<std::pair<std::string, std::string>>{
           {"new", "Open a case; prints its id"},
           {"list", "The cases, oldest first"},
           {"show", "One case as JSON"},
           {"update", "Change a case"},
           {"close", "Close a case with its outcome"},
           {"delete", "Delete a case"},
           {"export", "Cases as JSON (an array, or --jsonl)"},
           {"import",
            "Import one case, an array or JSON lines; idempotent by id, all or nothing"}}) {
    auto* sub = case_cmd->add_subcommand(name, what);
    sub->add_option("--db", ca.db, db_help);
    case_sub[name] = sub;
  }
  case_sub["show"]->add_option("ID", ca.ids, "Case id")->required();
  case_sub["delete"]->add_option("ID", ca.ids, "Case id")->required();
  case_sub["import"]->add_option("FILE", ca.file, "Case JSON file")->required();
  case_sub["export"]->add_option("ID", ca.ids, "Case ids (default: all)");
  case_sub["export"]->add_option("-o,--output", ca.output, "Output file");
  case_sub["export"]->add_flag("--jsonl", ca.jsonl, "One case per line");
  for (const char* n : {"list", "export"}) {
    case_sub[n]
        ->add_option("--since", ca.since, "Cases opened on or after this date (2026-01-01)")
        ->check(iso_date);
    case_sub[n]->add_option("--installer", ca.installer, "Only this installer's cases");
  }
  case_sub["list"]->add_flag("--json", ca.json, "As JSON");
  case_sub["new"]->add_option("--id", ca.id, "The id (default: date, time and a random suffix)");
  for (const char* n : {"new", "update"}) {
    case_sub[n]->add_option("--symptom", ca.symptom, "The symptom as reported");
  }
  for (const char* n : {"new", "update"}) {
    auto* sub = case_sub[n];
    sub->add_option("--site", ca.site, "Site name");
    sub->add_option("--customer", ca.customer, "Customer");
    sub->add_option("--address", ca.address, "Address");
    sub->add_option("--installer", ca.installer, "Who does the call");
    sub->add_option("--bms-model", ca.bms_model, "BMS / battery model");
    sub->add_option("--bms-firmware", ca.bms_firmware, "BMS firmware");
    sub->add_option("--bms-count", ca.bms_count, "Batteries (modules) on the bus")
        ->check(CLI::Range(1, 64));
    sub->add_option("--energy-kwh", ca.energy_kwh, "Battery energy in kWh")
        ->check(CLI::PositiveNumber);
    sub->add_option("--inverter-model", ca.inverter_model, "Inverter model");
    sub->add_option("--inverter-firmware", ca.inverter_firmware, "Inverter firmware");
  }
  for (const char* n : {"update", "close"}) {
    auto* sub = case_sub[n];
    sub->add_option("ID", ca.ids, "Case id")->required();
    sub->add_option("--root-cause", ca.root_cause, "Cause id (docs/diagnosis.md), or null");
    sub->add_option("--layer", ca.layer, "Layer 1-5 (default: the cause's)");
    sub->add_option("--fix", ca.fix, "The fix applied");
    sub->add_option("--notes", ca.notes, "Notes");
    sub->add_option("--outcome", ca.outcome, "fixed, hardcoded, escalated or open");
    sub->add_option("--uptime-share", ca.uptime_share, "Verification: uptime share 0-1");
    sub->add_option("--hours", ca.hours, "Verification: hours watched");
    sub->add_option("--minutes", ca.minutes, "Minutes spent in a layer: LAYER=MINUTES (repeat)");
    sub->add_option("--acknowledged-by", ca.acknowledged_by, "The customer who acknowledged");
    sub->add_option("--hardcoded", ca.hardcoded,
                    "A hardcoded inverter setting: SETTING=VALUE (repeat), or none");
  }
  auto* stats = app.add_subcommand("stats", "Statistics of the service records");
  bmslink::app::StatsArgs sa;
  stats->add_option("--db", sa.db, db_help);
  stats->add_option("--since", sa.since, "Cases opened on or after this date (2026-01-01)")
      ->check(iso_date);
  stats->add_option("--installer", sa.installer, "Only this installer's cases");
  auto* stats_fmt = stats->add_option_group("format");
  stats_fmt->add_flag("--json", sa.json, "Machine-readable (docs/records.md)");
  stats_fmt->add_flag("--html", sa.html,
                      "One print-ready page with charts (causes, layer yield, minutes)");
  stats_fmt->require_option(0, 1);
  stats->add_option("-o,--output", sa.output, "Output file (default: standard output)");

  auto* report = app.add_subcommand(
      "report", "A case's report: for the technician, for the customer, or the acknowledgment");
  bmslink::app::ReportArgs ra;
  report->add_option("CASE", ra.id, "The case id")->required();
  report->add_option("--db", ra.db, db_help);
  auto* report_kind = report->add_option_group("kind");
  report_kind->add_flag_callback(
      "--technician", [&ra] { ra.kind = "technician"; },
      "Everything checked per layer with times, evidence and capture findings");
  report_kind->add_flag_callback(
      "--customer", [&ra] { ra.kind = "customer"; },
      "Plain words: what was wrong, what was done, what to watch for");
  report_kind->add_flag_callback(
      "--acknowledgment", [&ra] { ra.kind = "acknowledgment"; },
      "For a hardcoded system: what is lost, and the form the customer signs");
  report_kind->require_option(1);
  auto* report_fmt = report->add_option_group("format");
  report_fmt->add_flag_callback(
      "--html", [&ra] { ra.format = "html"; }, "One print-ready HTML file (A4 or Letter)");
  report_fmt->add_flag_callback(
      "--md", [&ra] { ra.format = "md"; }, "Markdown (the default, unless -o names a .html file)");
  report_fmt->require_option(0, 1);
  report->add_option("-o,--output", ra.output, "Output file (default: standard output)");

  auto* compat = app.add_subcommand(
      "compat", "The compatibility matrix: which BMS and firmware worked with which inverter");
  bmslink::app::CompatArgs cpa;
  compat->add_option("--db", cpa.db, db_help);
  auto* compat_fmt = compat->add_option_group("format");
  compat_fmt->add_flag_callback(
      "--json", [&cpa] { cpa.format = "json"; }, "As JSON");
  compat_fmt->add_flag_callback(
      "--csv", [&cpa] { cpa.format = "csv"; }, "As CSV");
  compat_fmt->add_flag_callback(
      "--md", [&cpa] { cpa.format = "md"; }, "As a Markdown post for a forum");
  compat_fmt->require_option(0, 1);
  compat->add_option("-o,--output", cpa.output, "Output file");

  auto* serve = app.add_subcommand(
      "serve", "The web console: cases, guided checks, capture upload, reports, statistics");
  bmslink::app::ServeArgs sva;
  serve->add_option("--port", sva.port, "TCP port (default 8080)")->check(CLI::Range(0, 65535));
  serve->add_option("--bind", sva.bind,
                    "Address to listen on (default 127.0.0.1: this machine only)");
  serve->add_option("--db", sva.db, db_help);
  serve->add_flag("--team", sva.team,
                  "Team mode: accounts (bmslink user add), sessions, CSRF protection, roles");
  serve->add_option("--max-upload-mb", sva.max_upload_mb, "Largest capture accepted (2048)")
      ->check(CLI::PositiveNumber);
  serve->add_option("--live", sva.live,
                    "Monitor this interface on the live page (slcan:/dev/ttyACM0, socketcan:can0, "
                    "waveshare:/dev/ttyUSB0, replay:FILE)");
  serve->add_option("--samples", sva.samples,
                    "Captures analysed into a demo case when the records are empty");

  auto* user = app.add_subcommand("user", "Team-mode accounts");
  user->require_subcommand(1);
  auto* user_add = user->add_subcommand(
      "add", "Add or replace an account; the password is read from standard input");
  bmslink::app::UserArgs ua;
  user_add->add_option("NAME", ua.name, "Login name")->required();
  user_add->add_option("--role", ua.role, "technician (default) or admin")
      ->check(CLI::IsMember({"technician", "admin"}));
  user_add->add_option("--db", ua.db, db_help);

  auto* help = app.add_subcommand("help", "Show help: 'bmslink help COMMAND' for one command");
  std::vector<std::string> help_topic;
  help->add_option("COMMAND", help_topic, "The command (and subcommand) to explain");
  app.set_version_flag("--version", std::string("bmslink ") + BMSLINK_VERSION);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  // A --format that names no reader is wrong usage, whichever command it was given to.
  if (!format.empty() && !bmslink::capture::parse_format_name(format)) {
    fmt::print(stderr, "bmslink: unknown format '{}'; one of: {}\n", format, format_choices());
    return kExitUsage;
  }
  if (*help) {
    if (help_topic.empty()) {
      fmt::print("{}", app.get_formatter()->make_help(&app, "bmslink", CLI::AppFormatMode::All));
      return kExitOk;
    }
    // "help dbc export": walk down the named subcommands.
    CLI::App* topic = &app;
    std::string path = "bmslink";  // the parents: CLI11 adds the command's own name
    std::string parent = path;
    for (const auto& word : help_topic) {
      CLI::App* sub = nullptr;
      try {
        sub = topic->get_subcommand(word);
      } catch (const CLI::OptionNotFound&) {
        sub = nullptr;
      }
      if (sub == nullptr || sub == help) {
        if (topic == &app)
          fmt::print(stderr, "bmslink: no command '{}'; 'bmslink help' lists them\n", word);
        else
          fmt::print(stderr, "bmslink: '{}' has no subcommand '{}'; 'bmslink help {}' shows it\n",
                     path, word, path.substr(8));
        return kExitUsage;
      }
      topic = sub;
      parent = path;
      path += " " + word;
    }
    fmt::print("{}", topic->help(parent));
    return kExitOk;
  }
  if (*frames) return cmd_frames(frames_in, format, frames_json);
  if (*convert) return cmd_convert(convert_in, format, convert_to, convert_out);
  if (*analyze) {
    aa.format = format;
    return cmd_analyze(aa);
  }
  if (*identify) return cmd_identify(identify_in, format, identify_json);
  if (*decode) return cmd_decode(decode_in, format, decode_json, decode_dbc, decode_protocol);
  if (*dbc_list) {
    for (const auto& p : bmslink::protocol::builtin_protocols()) fmt::print("{}\n", p.name);
    return kExitOk;
  }
  if (*dbc_export) return cmd_dbc_export(export_name, export_out);
  if (*diagnose) return bmslink::app::cmd_diagnose(ga);
  if (*case_cmd) {
    for (const auto& [name, sub] : case_sub)
      if (*sub) ca.action = name;
    return bmslink::app::cmd_case(ca);
  }
  if (*stats) return bmslink::app::cmd_stats(sa);
  if (*compat) return bmslink::app::cmd_compat(cpa);
  if (*report) return bmslink::app::cmd_report(ra);
  if (*serve) return bmslink::app::cmd_serve(sva);
  if (*monitor) return bmslink::app::cmd_monitor(ma);
  if (*scan) return bmslink::app::cmd_scan_bitrate(sca);
  if (*record) return bmslink::app::cmd_record(rca);
  if (*user_add) return bmslink::app::cmd_user_add(ua);
  if (*devices) return bmslink::app::cmd_devices(da, device_query);
  if (*hardcode) return bmslink::app::cmd_hardcode(ha);
  if (*simulate) {
    sim_options.variant = sim_variant == "victron" ? bmslink::sim::Variant::kVictron
                          : sim_variant == "sma"   ? bmslink::sim::Variant::kSma
                                                   : bmslink::sim::Variant::kPylon;
    if (sim_pty || sim_waveshare) {
      pty_options.site = sim_options;
      if (sim_waveshare) pty_options.dialect = bmslink::sim::Dialect::kWaveshare;
      pty_options.listen_only_supported = !pty_no_silent;
      return bmslink::app::cmd_simulate_pty(pty_options);
    }
    return cmd_simulate(sim_options, sim_to, sim_out);
  }
  return kExitUsage;
} catch (const std::exception& e) {
  fmt::print(stderr, "bmslink: internal error: {}\n", e.what());
  return kExitInput;
}
