#include "bmslink/live/loop.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "bmslink/capture/writer.h"

namespace bmslink::live {
namespace {

using nlohmann::json;

// Frames taken in one go before the monitor's clock ticks (a minute of a 1 Mbit/s bus is
// 480 000; this bounds how long the clock may wait, not what is kept).
constexpr int kDrainMost = 20000;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string clock_text(std::int64_t ns) {
  const std::time_t s = ns / 1'000'000'000;
  std::tm tm{};
  ::gmtime_r(&s, &tm);
  return fmt::format("{:02}:{:02}:{:02}.{:01}", tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (ns / 100'000'000) % 10);
}

std::string value_text(const json& values, const char* name, const char* unit) {
  if (!values.contains(name) || !values[name].is_number()) return "";
  return fmt::format(" {:.1f} {}", values[name].get<double>(), unit);
}

std::string step_text(std::int64_t step_ns) {
  return fmt::format("the system clock was set {} by {:.1f} s; alarms keep their timing",
                     step_ns > 0 ? "forward" : "back",
                     static_cast<double>(step_ns > 0 ? step_ns : -step_ns) / 1e9);
}

Error io_error(const std::string& what, const std::string& path) {
  return Error{ErrorCode::kIo, fmt::format("cannot {} {}: {}", what, path, std::strerror(errno))};
}

}  // namespace

link::LinkOptions LiveOptions::link() const {
  link::LinkOptions lo;
  lo.bitrate_bps = bitrate_bps;
  return lo;
}

MonitorOptions LiveOptions::monitor() const {
  MonitorOptions mo;
  mo.timeout_ms = static_cast<std::int64_t>(timeout_s * 1000);
  mo.errors_per_minute_alarm = errors_per_minute;
  mo.protocol = protocol;
  return mo;
}

LiveLoop::LiveLoop(link::LiveSource& source, const LiveOptions& options)
    : source_(source), options_(options), monitor_(options.monitor()) {}

void LiveLoop::events(const std::vector<MonitorEvent>& list) {
  for (const auto& e : list)
    for (auto* s : sinks_) s->event(e);
}

Result<void> LiveLoop::take(const can::Frame& frame) {
  for (auto* s : sinks_)
    if (auto ok = s->frame(frame); !ok) return ok;
  if (frame.has_timestamp()) events(monitor_.tick(frame.timestamp_ns));
  events(monitor_.add(frame));
  return {};
}

LoopOutcome LiveLoop::run(const std::atomic<bool>& stop) {
  std::optional<std::int64_t> start, next_values;
  link::WallClockSteps steps;
  can::Frame frame;
  const auto duration_ns = static_cast<std::int64_t>(options_.duration_s * 1e9);
  const auto interval_ns = static_cast<std::int64_t>(options_.interval_s * 1e9);
  while (!stop.load()) {
    const auto got = source_.poll(frame, 50);
    if (got == link::Poll::kEnded) {
      if (auto f = source_.failure()) return {LoopEnd::kFailed, *f};
      return {LoopEnd::kEnded, std::nullopt};
    }
    // A step of the wall clock moves everything the monitor timed, before the frame read after
    // it is added. Every outer poll starts with nothing queued (the drain below empties the
    // source), so the frames it returns were stamped now, on the clock after any step.
    if (source_.wall_clock()) {
      if (const auto step = steps.observe()) {
        monitor_.shift_clock(*step);
        for (auto* t : {&start, &next_values})
          if (*t) **t += *step;
        for (auto* s : sinks_) s->clock_step(*step);
      }
    }
    // Everything already readable goes in before the clock judges silence at `now`, also after
    // a poll that timed out (this process may have been stopped in its wait).
    if (got == link::Poll::kFrame)
      if (auto ok = take(frame); !ok) return {LoopEnd::kFailed, ok.error()};
    for (int n = 0; n < kDrainMost && source_.poll(frame, 0) == link::Poll::kFrame; ++n)
      if (auto ok = take(frame); !ok) return {LoopEnd::kFailed, ok.error()};
    const auto now = source_.now_ns();
    if (!now) continue;
    if (!start) start = *now;
    events(monitor_.tick(*now));
    if (!next_values || *now >= *next_values) {
      next_values = *now + interval_ns;
      const auto snap = monitor_.snapshot(*now);
      for (auto* s : sinks_) s->values(snap, monitor_);
    }
    if (duration_ns > 0 && *now - *start >= duration_ns) return {LoopEnd::kDuration, std::nullopt};
  }
  return {LoopEnd::kStopped, std::nullopt};
}

LineSink::LineSink(bool json, std::function<void(std::string_view)> out,
                   std::function<void(std::string_view)> note)
    : json_(json), out_(std::move(out)), note_(std::move(note)) {}

void LineSink::event(const MonitorEvent& e) {
  if (json_)
    out_(dump(event_json(e)));
  else
    out_(fmt::format("{} {} {}: {}", clock_text(e.t_ns), e.raised ? "ALARM  " : "CLEARED", e.name(),
                     e.detail));
}

void LineSink::values(const json& snap, const LinkMonitor&) {
  if (json_) {
    out_(dump(snap));
    return;
  }
  const auto& hl = snap["health"];
  const auto& v = snap["values"];
  out_(fmt::format("{} BMS {} inverter {} {} err/min bus {}{}{}{}{}",
                   clock_text(static_cast<std::int64_t>(snap["t"].get<double>() * 1e9)),
                   hl["bms_set_complete"].get<bool>() ? "complete" : "INCOMPLETE",
                   hl["inverter_heartbeat"].get<bool>() ? "ok" : "--",
                   hl["errors_per_minute"].dump(), hl["bus_state"].get<std::string>(),
                   value_text(v, "pack_voltage", "V"), value_text(v, "pack_current", "A"),
                   value_text(v, "soc", "%"), value_text(v, "charge_current_limit", "A CCL")));
}

void LineSink::clock_step(std::int64_t step_ns) {
  if (note_) note_(step_text(step_ns));
}

MessageSink::MessageSink(std::function<void(std::string, bool)> post,
                         std::function<void(std::string_view)> note)
    : post_(std::move(post)), note_(std::move(note)) {}

void MessageSink::event(const MonitorEvent& e) {
  json m = event_json(e);
  m["type"] = "event";
  post_(dump(m), false);
}

void MessageSink::values(const json& snapshot, const LinkMonitor& monitor) {
  json m = snapshot;
  m["type"] = "values";
  // Each value's unit as its definition writes it, so a page shows "52.1 V", not "52.1".
  json units = json::object();
  for (const auto& v : monitor.values())
    if (!v.unit.empty()) units[v.name] = v.unit == "degC" ? "°C" : v.unit;
  m["units"] = std::move(units);
  post_(dump(m), true);
}

void MessageSink::clock_step(std::int64_t step_ns) {
  if (note_) note_(step_text(step_ns));
}

std::optional<Rotation> parse_rotation(std::string_view text) {
  if (text.empty()) return Rotation{};
  const std::string s(text);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !(v > 0) || v > 1e12) return std::nullopt;
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
  if (r.seconds == 0 && r.bytes == 0) return std::nullopt;
  return r;
}

Recorder::Recorder(std::string output, Rotation rotation)
    : output_(std::move(output)), rotation_(rotation) {
  const auto slash = output_.rfind('/');
  dir_ = slash == std::string::npos ? "." : output_.substr(0, slash + 1);
}

Recorder::~Recorder() { (void)close(); }

std::string Recorder::name_for(int i) const {
  if (!rotation_.seconds && !rotation_.bytes) return output_;
  const auto dot = output_.rfind('.');
  const auto slash = output_.rfind('/');
  const bool ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  return ext ? fmt::format("{}-{:04}{}", output_.substr(0, dot), i, output_.substr(dot))
             : fmt::format("{}-{:04}", output_, i);
}

Result<void> Recorder::open(std::int64_t now_ns) {
  const bool numbered = rotation_.seconds > 0 || rotation_.bytes > 0;
  do {
    final_name_ = name_for(++index_);
    part_ = final_name_ + ".part";
  } while (numbered &&
           (::access(final_name_.c_str(), F_OK) == 0 || ::access(part_.c_str(), F_OK) == 0));
  fd_ = ::open(part_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) return tl::unexpected(io_error("write", part_));
  ++files_;
  bytes_ = 0;
  opened_ns_ = now_ns;
  return {};
}

Result<void> Recorder::close() {
  if (fd_ < 0) return {};
  bool ok = ::fsync(fd_) == 0;
  ok = ::close(fd_) == 0 && ok;
  fd_ = -1;
  ok = ok && std::rename(part_.c_str(), final_name_.c_str()) == 0;
  // The rename is durable only once the directory is synced too.
  if (const int d = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
    ok = ::fsync(d) == 0 && ok;
    ::close(d);
  }
  if (!ok) return tl::unexpected(io_error("complete", final_name_));
  return {};
}

Result<void> Recorder::frame(const can::Frame& in) {
  if (fd_ < 0)
    if (auto ok = open(in.timestamp_ns); !ok) return ok;
  const bool by_time =
      rotation_.seconds > 0 && in.timestamp_ns - opened_ns_ >= rotation_.seconds * 1'000'000'000;
  if (by_time || (rotation_.bytes > 0 && bytes_ >= rotation_.bytes)) {
    if (auto ok = close(); !ok) return ok;
    if (auto ok = open(in.timestamp_ns); !ok) return ok;
  }
  if (in.channel.empty()) {
    can::Frame f = in;
    f.channel = "can0";
    line_ = capture::candump_log_line(f);
  } else {
    line_ = capture::candump_log_line(in);
  }
  line_ += '\n';
  if (::write(fd_, line_.data(), line_.size()) != static_cast<ssize_t>(line_.size())) {
    auto failed = io_error("write", part_);
    // A disk that filled mid-line: the file keeps its whole lines only, so it is still whole
    // when it is completed.
    if (::ftruncate(fd_, static_cast<off_t>(bytes_)) != 0) failed.message += " (and cannot cut it)";
    return tl::unexpected(std::move(failed));
  }
  bytes_ += line_.size();
  ++frames_;
  return {};
}

}  // namespace bmslink::live
