// bmslink live: the one loop every live command runs — `monitor`, `record`, `analyze IFACE` and
// `serve --live`. It polls a live source, takes everything already readable before the clock
// judges silence (each frame ticking the monitor at its own time first, so a stalled process
// neither raises a silence its frames disprove nor misses one they contain), moves the monitor's
// times when the wall clock is stepped, and hands frames, alarm events and value snapshots to
// sinks: text or JSON lines, MQTT, the server's event stream, a recorder.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bmslink/core/error.h"
#include "bmslink/link/live.h"
#include "bmslink/live/monitor.h"

namespace bmslink::live {

// One options struct for every live command (docs/live.md).
struct LiveOptions {
  std::uint32_t bitrate_bps = 500000;
  double timeout_s = 3;           // the inverter's BMS timeout: bms_silent, heartbeat_lost
  double errors_per_minute = 10;  // errors_rising at or above
  double interval_s = 1;          // between value snapshots
  double duration_s = 0;          // on the source's clock; 0: until stopped or the source ends
  analysis::ProtocolOptions protocol;

  link::LinkOptions link() const;
  MonitorOptions monitor() const;
};

// Where the loop's output goes. Every hook runs on the loop's thread.
class LiveSink {
 public:
  virtual ~LiveSink() = default;
  // Every frame as read; an error stops the loop (a recorder that cannot write).
  virtual Result<void> frame(const can::Frame&) { return {}; }
  virtual void event(const MonitorEvent&) {}
  // Every interval: the monitor's snapshot; the monitor says what each value is.
  virtual void values(const nlohmann::json& /*snapshot*/, const LinkMonitor& /*monitor*/) {}
  // The wall clock was set by step_ns (already applied to the monitor).
  virtual void clock_step(std::int64_t /*step_ns*/) {}
};

enum class LoopEnd { kStopped, kDuration, kEnded, kFailed };

struct LoopOutcome {
  LoopEnd end = LoopEnd::kStopped;
  std::optional<Error> failure;  // kFailed: the source's or a sink's
};

class LiveLoop {
 public:
  LiveLoop(link::LiveSource& source, const LiveOptions& options);
  void add_sink(LiveSink& sink) { sinks_.push_back(&sink); }
  // Runs until `stop`, the duration, the end of the source or a failure.
  LoopOutcome run(const std::atomic<bool>& stop);
  const LinkMonitor& monitor() const { return monitor_; }

 private:
  void events(const std::vector<MonitorEvent>& list);
  Result<void> take(const can::Frame& frame);
  link::LiveSource& source_;
  LiveOptions options_;
  LinkMonitor monitor_;
  std::vector<LiveSink*> sinks_;
};

// Text or JSON lines, as `bmslink monitor` prints them: alarms as they come, values each interval.
// `out` receives each line without its newline; `note` what is said aside (a clock step).
class LineSink final : public LiveSink {
 public:
  LineSink(bool json, std::function<void(std::string_view)> out,
           std::function<void(std::string_view)> note = {});
  void event(const MonitorEvent& e) override;
  void values(const nlohmann::json& snapshot, const LinkMonitor& monitor) override;
  void clock_step(std::int64_t step_ns) override;

 private:
  bool json_;
  std::function<void(std::string_view)> out_, note_;
};

// Messages for a stream of JSON objects with a "type" ("event", "values"), as the server's live
// page reads them. `post` gets the message and whether it is a values snapshot.
class MessageSink final : public LiveSink {
 public:
  explicit MessageSink(std::function<void(std::string message, bool values)> post,
                       std::function<void(std::string_view)> note = {});
  void event(const MonitorEvent& e) override;
  void values(const nlohmann::json& snapshot, const LinkMonitor& monitor) override;
  void clock_step(std::int64_t step_ns) override;

 private:
  std::function<void(std::string, bool)> post_;
  std::function<void(std::string_view)> note_;
};

// Parses "1h", "30m", "100M", "2G" for --rotate: seconds or bytes (both 0: no rotation).
struct Rotation {
  std::int64_t seconds = 0;
  std::uint64_t bytes = 0;
};
std::optional<Rotation> parse_rotation(std::string_view text);

// Frames into candump log files. Each file is written as NAME.part and renamed when complete
// (flushed and synced, then the directory synced), so a power cut or kill -9 leaves every closed
// file whole; with a rotation the files are numbered NAME-0001.log ... and a restarted recorder
// goes on after the numbers an earlier run left.
class Recorder final : public LiveSink {
 public:
  Recorder(std::string output, Rotation rotation);
  ~Recorder() override;
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;
  Result<void> frame(const can::Frame& frame) override;
  // Completes the open file.
  Result<void> close();
  std::uint64_t frames() const { return frames_; }
  int files() const { return files_; }  // opened by this recorder

 private:
  Result<void> open(std::int64_t now_ns);
  std::string name_for(int index) const;
  std::string output_, dir_, part_, final_name_, line_;
  Rotation rotation_;
  int index_ = 0, fd_ = -1, files_ = 0;
  std::uint64_t bytes_ = 0, frames_ = 0;
  std::int64_t opened_ns_ = 0;
};

}  // namespace bmslink::live
