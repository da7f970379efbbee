// The live bus: `monitor`, `scan-bitrate` and `record` (docs/live.md). Arguments and printing
// only; the sources are link's, the loop and its sinks live's.

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bmslink/link/live.h"
#include "bmslink/live/loop.h"
#include "bmslink/live/mqtt.h"
#include "cli.h"

namespace bmslink::app {
namespace {

void print_line(std::string_view line) {
  fmt::print("{}\n", line);
  std::fflush(stdout);
}
void print_note(std::string_view note) { fmt::print(stderr, "bmslink: {}\n", note); }

// The end of a live loop as an exit code, saying why when it failed.
int loop_exit(const live::LoopOutcome& outcome) {
  if (outcome.end != live::LoopEnd::kFailed) return 0;
  fmt::print(stderr, "bmslink: {}\n", outcome.failure ? outcome.failure->message : "failed");
  return 1;
}

struct MonitorArgs {
  std::string iface;
  bool json = false;
  std::string record, rotate;  // --record FILE [--rotate SPEC]: candump files on the side
  bool reopen = false;         // an adapter that fails or is not there is tried again
  live::LiveOptions live;
  live::MqttOptions mqtt;  // url empty: no MQTT; password: BMSLINK_MQTT_PASSWORD
};

struct ScanArgs {
  std::string iface;
  bool json = false;
  double seconds = 2;  // listened per bit rate
  bool assume_listen_only = false;
};

struct RecordArgs {
  std::string iface, output, rotate;
  live::LiveOptions live;
};

// Waits up to `seconds`, or until a signal asks to stop: true when it did.
bool wait_or_stop(const std::atomic<bool>& stop, double seconds) {
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  while (!stop.load() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return stop.load();
}

// A site gateway runs this for weeks: with --reopen a USB adapter that was unplugged or
// re-enumerated is opened again every few seconds, the recording going on in the next file.
int cmd_monitor(const MonitorArgs& a) {
  auto& stop = stop_on_signals();
  std::unique_ptr<live::Recorder> recorder;
  if (!a.record.empty()) {
    const auto rotation = live::parse_rotation(a.rotate);
    if (!rotation) {
      fmt::print(stderr, "bmslink: --rotate {}: expected a time (30m, 1h) or a size (100M, 1G)\n",
                 a.rotate);
      return 2;
    }
    recorder = std::make_unique<live::Recorder>(a.record, *rotation);
  } else if (!a.rotate.empty()) {
    fmt::print(stderr, "bmslink: --rotate goes with --record FILE\n");
    return 2;
  }
  live::LineSink lines(a.json, print_line, print_note);
  std::unique_ptr<live::MqttPublisher> mqtt;
  if (!a.mqtt.url.empty()) {
    live::MqttOptions opt = a.mqtt;
    if (const char* pw = std::getenv("BMSLINK_MQTT_PASSWORD")) opt.password = pw;
    auto p = live::MqttPublisher::connect(opt);
    if (!p) {
      fmt::print(stderr, "bmslink: {}\n", p.error().message);
      return 2;
    }
    mqtt = std::move(*p);
  }
  constexpr double kReopenSeconds = 3;
  auto finish = [&](int rc) {
    if (recorder) {
      if (auto closed = recorder->close(); !closed) {
        fmt::print(stderr, "bmslink: {}\n", closed.error().message);
        rc = 1;
      }
      fmt::print(stderr, "bmslink: recorded {} frames into {} file(s)\n", recorder->frames(),
                 recorder->files());
    }
    return rc;
  };
  for (;;) {
    auto source = link::open_interface(a.iface, a.live.link());
    if (!source) {
      fmt::print(stderr, "bmslink: {}\n", source.error().message);
      if (!a.reopen) return finish(1);
      fmt::print(stderr, "bmslink: trying {} again in {} s\n", a.iface, kReopenSeconds);
      if (wait_or_stop(stop, kReopenSeconds)) return finish(0);
      continue;
    }
    if (!a.json) fmt::print("monitoring {} (Ctrl-C stops)\n", (*source)->describe());
    std::fflush(stdout);
    live::LiveLoop loop(**source, a.live);
    loop.add_sink(lines);
    if (recorder) loop.add_sink(*recorder);
    if (mqtt) loop.add_sink(*mqtt);
    const auto outcome = loop.run(stop);
    if (outcome.end == live::LoopEnd::kFailed && a.reopen && !stop.load()) {
      fmt::print(stderr, "bmslink: {}: {}; opening it again in {} s\n", a.iface,
                 outcome.failure ? outcome.failure->message : "failed", kReopenSeconds);
      // Rotating, the file recorded so far is completed (the gap shows between two files);
      // one file stays open (it would be written over).
      if (recorder && !a.rotate.empty())
        if (auto closed = recorder->close(); !closed)
          fmt::print(stderr, "bmslink: {}\n", closed.error().message);
      if (wait_or_stop(stop, kReopenSeconds)) return finish(0);
      continue;
    }
    return finish(loop_exit(outcome));
  }
}

int cmd_scan_bitrate(const ScanArgs& a) {
  auto& stop = stop_on_signals();
  if (a.iface.starts_with("replay:")) {
    fmt::print(stderr, "bmslink: a replayed capture has no bit rate to scan\n");
    return 2;
  }
  nlohmann::json results = nlohmann::json::array();
  std::optional<std::uint32_t> best;
  std::uint64_t best_frames = 0;
  for (std::uint32_t rate : {125000U, 250000U, 500000U, 1000000U}) {
    link::LinkOptions lo;
    lo.bitrate_bps = rate;
    lo.listen_only = true;  // a scan never acknowledges: a wrong-rate node would jam the bus
    auto source = link::open_interface(a.iface, lo);
    if (!source) {
      fmt::print(stderr, "bmslink: {}\n", source.error().message);
      return 1;
    }
    if (!(*source)->listen_only() && !a.assume_listen_only) {
      fmt::print(stderr,
                 "bmslink: {} cannot confirm listen-only mode: a scan at a wrong bit rate with a "
                 "node that acknowledges would disturb the bus. Refusing (--assume-listen-only "
                 "if you know the adapter is silent)\n",
                 (*source)->describe());
      return 1;
    }
    std::uint64_t frames = 0, errors = 0;
    std::uint8_t flags = 0;
    const auto until = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(static_cast<int>(a.seconds * 1000));
    can::Frame f;
    while (std::chrono::steady_clock::now() < until && !stop.load()) {
      const auto got = (*source)->poll(f, 50);
      if (got == link::Poll::kEnded) break;
      if (got == link::Poll::kFrame) (f.error ? errors : frames) += 1;
    }
    flags = (*source)->status_flags();
    // The answer to F arrives with the next read.
    for (int i = 0; i < 4; ++i) (void)(*source)->poll(f, 25);
    flags |= (*source)->status_flags();
    const bool bus_errors = (flags & 0xA0) != 0;
    results.push_back({{"bitrate", rate},
                       {"frames", frames},
                       {"error_frames", errors},
                       {"bus_errors", bus_errors},
                       {"status_flags", flags}});
    // A faulty bus at its right rate still shows errors: the rate that gives the most valid
    // frames wins; a wrong rate gives none.
    if (frames > best_frames) {
      best = rate;
      best_frames = frames;
    }
    if (!a.json)
      fmt::print("{:>5} kbit/s: {:>6} frames, {} error frames{}\n", rate / 1000, frames, errors,
                 bus_errors ? ", bus errors" : "");
  }
  const nlohmann::json out = {{"bitrate", best ? nlohmann::json(*best) : nlohmann::json(nullptr)},
                              {"results", results}};
  if (a.json)
    fmt::print("{}\n", out.dump(2));
  else if (best)
    fmt::print("the bus runs at {} kbit/s\n", *best / 1000);
  else
    fmt::print(
        "no bit rate gave valid frames: is the adapter on the bus (CAN-H, CAN-L, GND) "
        "and is anything talking?\n");
  return best ? 0 : 1;
}

int cmd_record(const RecordArgs& a) {
  auto& stop = stop_on_signals();
  const auto rotation = live::parse_rotation(a.rotate);
  if (!rotation) {
    fmt::print(stderr, "bmslink: --rotate {}: expected a time (30m, 1h) or a size (100M, 1G)\n",
               a.rotate);
    return 2;
  }
  auto source = link::open_interface(a.iface, a.live.link());
  if (!source) {
    fmt::print(stderr, "bmslink: {}\n", source.error().message);
    return 1;
  }
  live::LiveLoop loop(**source, a.live);
  live::Recorder recorder(a.output, *rotation);
  loop.add_sink(recorder);
  int rc = loop_exit(loop.run(stop));
  if (auto closed = recorder.close(); !closed) {
    fmt::print(stderr, "bmslink: {}\n", closed.error().message);
    rc = 1;
  }
  fmt::print(stderr, "bmslink: recorded {} frames into {} file(s)\n", recorder.frames(),
             recorder.files());
  return rc;
}

}  // namespace

void add_live_commands(CLI::App& app, Commands& commands) {
  auto ma = std::make_shared<MonitorArgs>();
  auto* monitor = app.add_subcommand(
      "monitor", "Live values and link health with alarms (bms_silent, heartbeat_lost, ...)");
  monitor->add_option("IFACE", ma->iface, kIfaceHelp)->required();
  monitor->add_flag("--json", ma->json, "One JSON object per line: values every second, events");
  add_live_options(monitor, ma->live, true, true);
  monitor->add_option("--record", ma->record,
                      "Also record the bus to candump logs (numbered when rotating), as `record` "
                      "does: one adapter, one process");
  monitor->add_option("--rotate", ma->rotate, "With --record: a new file every 1h, 30m, 100M, 1G");
  monitor->add_flag("--reopen", ma->reopen,
                    "Keep going when the adapter fails or is not there: open it again every 3 s "
                    "(a USB adapter unplugged, a gateway's service)");
  monitor->add_option("--mqtt", ma->mqtt.url,
                      "Publish values, health and alarms to this broker (mqtt://host:1883 or "
                      "mqtts://host:8883), with Home Assistant discovery; password in "
                      "BMSLINK_MQTT_PASSWORD");
  monitor->add_option("--mqtt-user", ma->mqtt.user, "MQTT user name");
  monitor->add_option("--mqtt-id", ma->mqtt.id, "Device id in the topics (default bmslink)");
  monitor->add_option("--mqtt-ca", ma->mqtt.ca_file,
                      "mqtts: the CA file that signed the broker's certificate (default: the "
                      "system's CAs)");
  monitor->add_option("--mqtt-cert", ma->mqtt.cert_file, "mqtts: a client certificate (PEM)");
  monitor->add_option("--mqtt-key", ma->mqtt.key_file, "mqtts: the client certificate's key");
  commands.add(monitor, [ma] { return cmd_monitor(*ma); });

  auto sca = std::make_shared<ScanArgs>();
  auto* scan = app.add_subcommand(
      "scan-bitrate", "Which bit rate the bus runs at, listening only (125k, 250k, 500k, 1M)");
  scan->add_option("IFACE", sca->iface, kIfaceHelp)->required();
  scan->add_flag("--json", sca->json, "{\"bitrate\": N or null, \"results\": [...]}");
  scan->add_option("--seconds", sca->seconds, "Listening time per rate (default 2)")
      ->check(CLI::Range(0.1, 60.0));
  scan->add_flag("--assume-listen-only", sca->assume_listen_only,
                 "Scan with an adapter that cannot confirm listen-only (Waveshare USB-CAN-A)");
  commands.add(scan, [sca] { return cmd_scan_bitrate(*sca); });

  auto rca = std::make_shared<RecordArgs>();
  auto* record = app.add_subcommand(
      "record", "Record the bus to candump logs, rotating; every closed file is complete");
  record->add_option("IFACE", rca->iface, kIfaceHelp)->required();
  record->add_option("-o,--output", rca->output, "Output file (numbered when rotating)")
      ->required();
  record->add_option("--rotate", rca->rotate, "Start a new file every 1h, 30m, 100M, 1G ...");
  add_live_options(record, rca->live, false, true);
  commands.add(record, [rca] { return cmd_record(*rca); });
}

}  // namespace bmslink::app
