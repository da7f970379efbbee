// The live bus: `monitor`, `scan-bitrate`, `record`, and `simulate --slcan-pty`. Arguments and
// printing only; the sources are link's, the alarms analysis's, the virtual adapter sim's.

#include "live_cmd.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bmslink/analysis/monitor.h"
#include "bmslink/capture/writer.h"
#include "bmslink/link/live.h"
#include "bmslink/server/mqtt.h"
#include "bmslink/sim/virtual_adapter.h"

namespace bmslink::app {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }

void catch_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

std::string clock_text(std::int64_t ns) {
  const std::time_t s = ns / 1'000'000'000;
  std::tm tm{};
  ::gmtime_r(&s, &tm);
  return fmt::format("{:02}:{:02}:{:02}.{:01}", tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (ns / 100'000'000) % 10);
}

std::string value_text(const nlohmann::json& values, const char* name, const char* unit) {
  if (!values.contains(name) || !values[name].is_number()) return "";
  return fmt::format(" {:.1f} {}", values[name].get<double>(), unit);
}

// Parses "1h", "30m", "100M", "2G" for --rotate: seconds or bytes.
struct Rotation {
  std::int64_t seconds = 0;
  std::uint64_t bytes = 0;
};
std::optional<Rotation> parse_rotation(const std::string& s) {
  if (s.empty()) return Rotation{};
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !(v > 0)) return std::nullopt;
  const std::string unit(end);
  Rotation r;
  if (unit == "s")
    r.seconds = static_cast<std::int64_t>(v);
  else if (unit == "m" || unit == "min")
    r.seconds = static_cast<std::int64_t>(v * 60);
  else if (unit == "h")
    r.seconds = static_cast<std::int64_t>(v * 3600);
  else if (unit == "K" || unit == "k")
    r.bytes = static_cast<std::uint64_t>(v * 1024);
  else if (unit == "M")
    r.bytes = static_cast<std::uint64_t>(v * 1024 * 1024);
  else if (unit == "G")
    r.bytes = static_cast<std::uint64_t>(v * 1024 * 1024 * 1024);
  else
    return std::nullopt;
  return r;
}

}  // namespace

// Frames taken in one go before the monitor's clock ticks (a minute of a 1 Mbit/s bus is
// 480 000; this bounds how long the clock may wait, not what is kept).
constexpr int kDrainMost = 20000;

int cmd_monitor(const MonitorArgs& a) {
  catch_signals();
  link::LinkOptions lo;
  lo.bitrate_bps = a.bitrate;
  auto source = link::open_interface(a.iface, lo);
  if (!source) {
    fmt::print(stderr, "bmslink: {}\n", source.error().message);
    return 1;
  }
  auto& src = **source;
  if (!a.json) fmt::print("monitoring {} (Ctrl-C stops)\n", src.describe());
  std::fflush(stdout);
  analysis::MonitorOptions mo;
  mo.timeout_ms = static_cast<std::int64_t>(a.timeout_s * 1000);
  mo.errors_per_minute_alarm = a.errors_per_minute;
  analysis::LinkMonitor monitor(mo);
  std::unique_ptr<server::MqttPublisher> mqtt;
  if (!a.mqtt.empty()) {
    server::MqttOptions opt;
    opt.url = a.mqtt;
    opt.user = a.mqtt_user;
    if (const char* pw = std::getenv("BMSLINK_MQTT_PASSWORD")) opt.password = pw;
    opt.id = a.mqtt_id;
    auto p = server::MqttPublisher::connect(opt);
    if (!p) {
      fmt::print(stderr, "bmslink: {}\n", p.error().message);
      return 2;
    }
    mqtt = std::move(*p);
  }
  std::optional<std::int64_t> start, next_values;
  auto print_events = [&](const std::vector<analysis::MonitorEvent>& events) {
    for (const auto& e : events) {
      if (mqtt)
        mqtt->publish_event(
            {{"t", static_cast<double>(e.t_ns) / 1e9}, {"event", e.event}, {"detail", e.detail}});
      if (a.json) {
        fmt::print("{}\n", nlohmann::json{{"t", static_cast<double>(e.t_ns) / 1e9},
                                          {"event", e.event},
                                          {"detail", e.detail}}
                               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      } else {
        const bool cleared = e.event.ends_with("_cleared");
        fmt::print("{} {} {}: {}\n", clock_text(e.t_ns), cleared ? "CLEARED" : "ALARM  ", e.event,
                   e.detail);
      }
    }
    if (!events.empty()) std::fflush(stdout);
  };
  can::Frame frame;
  int rc = 0;
  link::WallClockSteps steps;
  while (!g_stop.load()) {
    const auto got = src.poll(frame, 50);
    if (got == link::Poll::kEnded) {
      if (auto f = src.failure()) {
        fmt::print(stderr, "bmslink: {}\n", f->message);
        rc = 1;
      }
      break;
    }
    // A step of the wall clock moves everything the monitor timed, before the frame read after
    // it is added. Every outer poll starts with nothing queued (the drain below empties the
    // source), so the frames it returns were stamped now, on the clock after any step.
    if (src.wall_clock()) {
      if (const auto step = steps.observe()) {
        monitor.shift_clock(*step);
        for (auto* t : {&start, &next_values})
          if (*t) **t += *step;
        fmt::print(
            stderr, "bmslink: the system clock was set {} by {:.1f} s; alarms keep their timing\n",
            *step > 0 ? "forward" : "back", static_cast<double>(*step > 0 ? *step : -*step) / 1e9);
      }
    }
    // Everything already readable goes in before the clock judges silence at `now`, also after
    // a poll that timed out (this process may have been stopped in its wait): after a stall,
    // frames that carry their bus time show the BMS was talking all along. Each frame first
    // ticks the clock at its own time, so a silence the buffered frames do contain is still
    // raised (and cleared), at the time it happened.
    auto take = [&] {
      if (frame.has_timestamp()) print_events(monitor.tick(frame.timestamp_ns));
      print_events(monitor.add(frame));
    };
    if (got == link::Poll::kFrame) take();
    for (int n = 0; n < kDrainMost && src.poll(frame, 0) == link::Poll::kFrame; ++n) take();
    const auto now = src.now_ns();
    if (!now) continue;
    if (!start) start = *now;
    print_events(monitor.tick(*now));
    if (!next_values || *now >= *next_values) {
      next_values = *now + static_cast<std::int64_t>(a.interval_s * 1e9);
      const auto snap = monitor.snapshot(*now);
      if (mqtt) mqtt->publish_state(snap);
      if (a.json) {
        fmt::print("{}\n", snap.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      } else {
        const auto& hl = snap["health"];
        const auto& v = snap["values"];
        fmt::print("{} BMS {} inverter {} {} err/min bus {}{}{}{}{}\n", clock_text(*now),
                   hl["bms_set_complete"].get<bool>() ? "complete" : "INCOMPLETE",
                   hl["inverter_heartbeat"].get<bool>() ? "ok" : "--",
                   hl["errors_per_minute"].dump(), hl["bus_state"].get<std::string>(),
                   value_text(v, "pack_voltage", "V"), value_text(v, "pack_current", "A"),
                   value_text(v, "soc", "%"), value_text(v, "charge_current_limit", "A CCL"));
      }
      std::fflush(stdout);
    }
    if (a.duration_s > 0 && *now - *start >= static_cast<std::int64_t>(a.duration_s * 1e9)) break;
  }
  return rc;
}

int cmd_scan_bitrate(const ScanArgs& a) {
  catch_signals();
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
    while (std::chrono::steady_clock::now() < until && !g_stop.load()) {
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
  catch_signals();
  const auto rotation = parse_rotation(a.rotate);
  if (!rotation) {
    fmt::print(stderr, "bmslink: --rotate {}: expected a time (30m, 1h) or a size (100M, 1G)\n",
               a.rotate);
    return 2;
  }
  link::LinkOptions lo;
  lo.bitrate_bps = a.bitrate;
  auto source = link::open_interface(a.iface, lo);
  if (!source) {
    fmt::print(stderr, "bmslink: {}\n", source.error().message);
    return 1;
  }
  // Each file is written as NAME.part and renamed when complete (flushed and synced), so a power
  // cut or kill -9 leaves every closed file whole; rotated files are numbered.
  int index = 0;
  int fd = -1;
  std::string part, final_name;
  std::uint64_t bytes = 0;
  std::int64_t opened_ns = 0;
  auto name_for = [&](int i) {
    if (!rotation->seconds && !rotation->bytes) return a.output;
    const auto dot = a.output.rfind('.');
    const auto slash = a.output.rfind('/');
    const bool ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
    return ext ? fmt::format("{}-{:04}{}", a.output.substr(0, dot), i, a.output.substr(dot))
               : fmt::format("{}-{:04}", a.output, i);
  };
  const auto slash = a.output.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : a.output.substr(0, slash + 1);
  auto close_file = [&]() -> bool {
    if (fd < 0) return true;
    bool ok =
        ::fsync(fd) == 0 && ::close(fd) == 0 && std::rename(part.c_str(), final_name.c_str()) == 0;
    // The rename is durable only once the directory is synced too.
    if (const int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
      ok = ::fsync(d) == 0 && ok;
      ::close(d);
    }
    fd = -1;
    if (!ok)
      fmt::print(stderr, "bmslink: cannot complete {}: {}\n", final_name, std::strerror(errno));
    return ok;
  };
  auto open_file = [&](std::int64_t now) -> bool {
    // A restarted recorder goes on numbering after what an earlier run left: nothing recorded
    // is overwritten.
    const bool numbered = rotation->seconds > 0 || rotation->bytes > 0;
    do {
      final_name = name_for(++index);
      part = final_name + ".part";
    } while (numbered &&
             (::access(final_name.c_str(), F_OK) == 0 || ::access(part.c_str(), F_OK) == 0));
    fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      fmt::print(stderr, "bmslink: cannot write {}: {}\n", part, std::strerror(errno));
      return false;
    }
    bytes = 0;
    opened_ns = now;
    return true;
  };
  std::uint64_t frames = 0;
  can::Frame frame;
  std::string line;
  const auto t0 = std::chrono::steady_clock::now();
  int rc = 0;
  while (!g_stop.load()) {
    if (a.duration_s > 0 &&
        std::chrono::steady_clock::now() - t0 >=
            std::chrono::milliseconds(static_cast<std::int64_t>(a.duration_s * 1000)))
      break;
    const auto got = (*source)->poll(frame, 100);
    if (got == link::Poll::kEnded) {
      if (auto f = (*source)->failure()) {
        fmt::print(stderr, "bmslink: {}\n", f->message);
        rc = 1;
      }
      break;
    }
    if (got != link::Poll::kFrame) continue;
    if (fd < 0 && !open_file(frame.timestamp_ns)) return 1;
    const bool by_time = rotation->seconds > 0 &&
                         frame.timestamp_ns - opened_ns >= rotation->seconds * 1'000'000'000;
    if ((by_time || (rotation->bytes > 0 && bytes >= rotation->bytes)) &&
        (!close_file() || !open_file(frame.timestamp_ns)))
      return 1;
    if (frame.channel.empty()) frame.channel = "can0";
    line = capture::candump_log_line(frame);
    line += '\n';
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      fmt::print(stderr, "bmslink: cannot write {}: {}\n", part, std::strerror(errno));
      return 1;
    }
    bytes += line.size();
    ++frames;
  }
  if (!close_file()) return 1;
  fmt::print(stderr, "bmslink: recorded {} frames into {} file(s)\n", frames, index);
  return rc;
}

int cmd_simulate_pty(const sim::AdapterOptions& options) {
  catch_signals();
  auto adapter = sim::VirtualAdapter::open(options);
  if (!adapter) {
    fmt::print(stderr, "bmslink: {}\n", adapter.error().message);
    return 1;
  }
  fmt::print("{}\n", (*adapter)->path());
  std::fflush(stdout);
  (*adapter)->run(g_stop);
  return 0;
}

}  // namespace bmslink::app
