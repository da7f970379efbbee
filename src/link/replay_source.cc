// A capture replayed with its timing (or `speed` times faster): each frame leaves when the
// capture's clock, started at the first frame and scaled, reaches its timestamp. Frames keep their
// own timestamps; now_ns() is that scaled capture clock, so silences are seen as they were.

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "bmslink/capture/reader.h"
#include "link/sources.h"

namespace bmslink::link {
namespace {

class ReplaySource final : public LiveSource {
 public:
  ReplaySource(std::unique_ptr<capture::FrameReader> reader, std::string path, double speed)
      : reader_(std::move(reader)), path_(std::move(path)), speed_(speed) {}

  Poll poll(can::Frame& frame, int timeout_ms) override {
    if (!pending_) {
      can::Frame f;
      if (!reader_->next(f)) return Poll::kEnded;
      pending_ = std::move(f);
      if (!started_) {
        started_ = true;
        t0_ = pending_->has_timestamp() ? pending_->timestamp_ns : 0;
        wall0_ = std::chrono::steady_clock::now();
      }
    }
    const std::int64_t due = pending_->has_timestamp() ? pending_->timestamp_ns : clock();
    const auto wait_ns = static_cast<std::int64_t>(static_cast<double>(due - clock()) / speed_);
    if (wait_ns > static_cast<std::int64_t>(timeout_ms) * 1'000'000) {
      std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
      return Poll::kTimeout;
    }
    // Frames due within a millisecond leave together: sleeping for each of 8000 frames a second
    // would cost more than analysing them (a real adapter delivers in USB packets too).
    if (wait_ns > 1'000'000) std::this_thread::sleep_for(std::chrono::nanoseconds(wait_ns));
    frame = std::move(*pending_);
    pending_.reset();
    return Poll::kFrame;
  }

  bool wall_clock() const override { return false; }
  std::optional<std::int64_t> now_ns() const override {
    if (!started_) return std::nullopt;
    return clock();
  }
  bool listen_only() const override { return true; }  // a file never acknowledges anything
  std::string describe() const override { return fmt::format("replay {} at {}x", path_, speed_); }

 private:
  std::int64_t clock() const {
    const auto wall = std::chrono::steady_clock::now() - wall0_;
    return t0_ + static_cast<std::int64_t>(
                     static_cast<double>(
                         std::chrono::duration_cast<std::chrono::nanoseconds>(wall).count()) *
                     speed_);
  }

  std::unique_ptr<capture::FrameReader> reader_;
  std::string path_;
  double speed_ = 1.0;
  bool started_ = false;
  std::int64_t t0_ = 0;
  std::chrono::steady_clock::time_point wall0_;
  std::optional<can::Frame> pending_;
};

}  // namespace

Result<std::unique_ptr<LiveSource>> open_replay(const std::string& path, double speed) {
  if (!(speed > 0) || speed > 1e6)
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("replay:{}@{}: expected a speed above 0 (1 = real time)", path, speed));
  static NullSink sink;  // malformed lines are skipped as in analyze
  auto reader = capture::open_capture(path, sink);
  if (!reader) return tl::unexpected(reader.error());
  return std::unique_ptr<LiveSource>(
      std::make_unique<ReplaySource>(std::move(*reader), path, speed));
}

}  // namespace bmslink::link
