// `analyze`: diagnose captures (or a live interface recorded for --duration first) — what is
// wrong, at which layer, the evidence and the fix. Arguments and printing only.

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <mutex>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bmslink/analysis/run.h"
#include "bmslink/core/time_zone.h"
#include "bmslink/diagnosis/pipeline.h"
#include "bmslink/link/live.h"
#include "bmslink/live/loop.h"
#include "bmslink/report/analysis_report.h"
#include "cli.h"

namespace bmslink::app {
namespace {

// Reading problems of one analysed file on stderr; returns the exit code for it.
int report_reading(const analysis::RunResult& run, const CollectingSink& sink) {
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
  bool as_one = false;  // the files are one recording (a logger's splits)
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

// Records a live interface for the duration into `output` through the live loop.
int record_iface(const std::string& iface, const std::string& output, const AnalyzeArgs& args) {
  live::LiveOptions lo;
  lo.bitrate_bps = args.bitrate;
  lo.timeout_s = args.timeout_s;
  lo.duration_s = args.duration_s;
  auto source = link::open_interface(iface, lo.link());
  if (!source) {
    fmt::print(stderr, "bmslink: {}\n", source.error().message);
    return kExitInput;
  }
  live::LiveLoop loop(**source, lo);
  live::Recorder recorder(output, {});
  loop.add_sink(recorder);
  // Ctrl-C ends the listening early: what was heard is diagnosed.
  const auto outcome = loop.run(stop_on_signals());
  const auto closed = recorder.close();
  if (outcome.end == live::LoopEnd::kFailed || !closed) {
    fmt::print(
        stderr, "bmslink: {}\n",
        !closed ? closed.error().message : (outcome.failure ? outcome.failure->message : "failed"));
    return kExitInput;
  }
  return kExitOk;
}

int cmd_analyze(const AnalyzeArgs& args) {
  if (!check_format(args.format)) return kExitUsage;
  analysis::RunOptions options;
  if (!args.format.empty()) options.format = capture::parse_format_name(args.format);
  options.analyzer.inverter_timeout_ms = static_cast<std::int64_t>(args.timeout_s * 1000.0);
  options.analyzer.bitrate_bps = args.bitrate;
  options.threads = args.threads;
  int rc = kExitOk;
  bool fault = false;
  auto zone = TimeZone::named(args.tz);
  if (!zone) {
    fmt::print(stderr, "bmslink: --tz: {}\n", zone.error().message);
    return kExitUsage;
  }
  const report::RenderOptions render{*zone};
  std::vector<report::CaptureReport> reports;
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
    const std::string output = fmt::format("{}/bmslink-{}-{}.log", tmp ? tmp : "/tmp", safe,
                                           static_cast<long long>(std::time(nullptr)));
    fmt::print(stderr, "bmslink: listening on {} for {:g} s into {}\n", path, args.duration_s,
               output);
    if (const int recorded = record_iface(path, output, args); recorded != kExitOk) return recorded;
    paths.push_back(output);
  }
  // --as-one: every file (and folder) given is one capture; a folder always is.
  std::vector<std::vector<std::string>> inputs;
  if (args.as_one && paths.size() > 1) {
    inputs.push_back(paths);
  } else {
    for (const auto& p : paths) inputs.push_back({p});
  }
  for (const auto& input : inputs) {
    const std::string& path = input.front();
    CollectingSink sink;
    ProgressBar bar("bmslink: " + path);
    options.progress = bar.callback();
    const auto capture = input.size() > 1 ? analysis::CaptureInput::paths(input)
                                          : analysis::CaptureInput::path(path);
    auto result = diagnosis::diagnose(capture, sink, options);
    bar.clear();
    if (!result) {
      fmt::print(stderr, "bmslink: {}\n", result.error().message);
      rc = kExitInput;
      continue;
    }
    const int read_rc = report_reading(result->run, sink);
    if (read_rc != kExitOk) rc = read_rc;
    if (result->run.stats.frames == 0) continue;
    report::CaptureReport report = std::move(*result);
    for (const auto& f : report.findings) fault |= f.severity == diagnosis::Severity::kFault;
    if (args.json) {
      all.push_back(report::analysis_json(report, render));
    } else {
      if (!reports.empty()) fmt::print("\n");
      fmt::print("{}", report::analysis_text(report, render));
    }
    reports.push_back(std::move(report));
  }
  if (args.json) {
    // Bytes from a capture (a channel name, a text signal) may not be UTF-8: shown as U+FFFD.
    const auto replace = nlohmann::json::error_handler_t::replace;
    fmt::print("{}\n", inputs.size() == 1 && !all.empty() ? all[0].dump(2, ' ', false, replace)
                                                          : all.dump(2, ' ', false, replace));
  }
  if (!args.html.empty() && !reports.empty()) {
    const std::string html = report::analysis_html(reports, render);
    if (!write_text(html, args.html)) return kExitInput;
  }
  // Reading problems (1) come first; a fault is only reported when asked for.
  if (rc == kExitOk && args.fail_on_fault && fault) return kExitFault;
  return rc;
}

}  // namespace

void add_analyze_command(CLI::App& app, Commands& commands) {
  auto aa = std::make_shared<AnalyzeArgs>();
  auto* analyze = app.add_subcommand(
      "analyze",
      "Diagnose captures: what is wrong, at which layer, the evidence and the fix; plus protocol, "
      "timing, talkers, errors and signals");
  analyze->add_option("FILE", aa->paths, "Capture file(s), or a live IFACE with --duration")
      ->required();
  analyze->add_flag("--as-one", aa->as_one,
                    "The files given are one recording (a logger's splits, rotated files): read "
                    "them as one capture in time order; a folder always is");
  analyze->add_option("--duration", aa->duration_s,
                      "For a live IFACE (slcan:..., socketcan:..., waveshare:..., replay:...): "
                      "seconds to record before the diagnosis");
  analyze->add_flag("--json", aa->json, "Machine-readable output (keys in docs/json.md)");
  analyze->add_option("--html", aa->html,
                      "Also write a self-contained HTML report (inline SVG charts) to this file");
  analyze
      ->add_option("--timeout", aa->timeout_s,
                   "Inverter timeout in seconds: longer BMS silences are dropouts (default 3)")
      ->check(CLI::Range(0.1, 3600.0));
  analyze
      ->add_option("--bitrate", aa->bitrate,
                   "Bus bit rate for the bus-load estimate (default 500000)")
      ->check(CLI::Range(10000, 8000000));
  analyze
      ->add_option("--threads", aa->threads,
                   "Threads for large candump logs (default: one per core)")
      ->check(CLI::Range(0, 256));
  add_format_option(analyze, aa->format);
  analyze->add_option("--tz", aa->tz,
                      "Time zone for times in the report: an IANA name (Europe/Berlin), UTC or "
                      "local (default); UTC is shown beside it");
  analyze->add_flag("--fail-on-fault", aa->fail_on_fault,
                    "Exit with status 3 when a fault is found (for scripts; 0 otherwise)");
  commands.add(analyze, [aa] { return cmd_analyze(*aa); });
}

}  // namespace bmslink::app
