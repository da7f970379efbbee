// An SLCAN (Lawicel) adapter on a serial port: CANable stock firmware, USBtin, Lawicel CANUSB,
// CANable 2.x slcan firmwares, and bmslink's own virtual adapter. The handshake is done while
// the channel is closed: versions (V, v), bit rate (S0..S8), timestamps (Z1, optional: frames
// then carry the adapter's bus time, see AdapterClock), then listen-only (L, or M1 + O where that
// is the dialect). Listen-only counts as confirmed only when the adapter answered OK to it.

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>

#include <fmt/format.h>

#include "bmslink/can/error_frame.h"
#include "bmslink/can/slcan.h"
#include "link/sources.h"

namespace bmslink::link {
namespace {

speed_t baud_constant(int baud) {
  switch (baud) {
    case 9600:
      return B9600;
    case 19200:
      return B19200;
    case 38400:
      return B38400;
    case 57600:
      return B57600;
    case 230400:
      return B230400;
    case 460800:
      return B460800;
    case 921600:
      return B921600;
    case 1000000:
      return B1000000;
    case 2000000:
      return B2000000;
    default:
      return B115200;
  }
}

class SlcanSource final : public LiveSource {
 public:
  SlcanSource(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~SlcanSource() override {
    if (fd_ >= 0) {
      (void)send("C");
      ::close(fd_);
    }
  }

  Result<void> handshake(const LinkOptions& o) {
    // Clear whatever a previous session left half-typed, and close the channel if it was open.
    // A channel left open by a crashed session keeps the bytes coming: close it first, then
    // drain for a bounded time.
    (void)write_all("\r\r\rC\r");
    drain(300);
    (void)command("C", 200);
    drain(100);
    // V gives the hardware and firmware version, v (where known) the firmware's own string:
    // both end up in the description, so a report says which adapter read the bus.
    if (auto v = ask_version("V"); v) version_ = *v;
    if (auto v = ask_version("v"); v && *v != version_)
      version_ = version_.empty() ? *v : version_ + ", " + *v;
    const auto code = can::slcan::bitrate_code(o.bitrate_bps);
    if (!code)
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: {} bit/s is not an SLCAN rate (10k, 20k, 50k, 100k, "
                                    "125k, 250k, 500k, 800k or 1M)",
                                    path_, o.bitrate_bps));
    bitrate_ = o.bitrate_bps;
    auto ok = command(fmt::format("S{}", *code), 500);
    if (!ok) return tl::unexpected(ok.error());
    if (!*ok)
      return make_error(ErrorCode::kUnsupported,
                        fmt::format("{}: the adapter refused bit rate S{} ({} bit/s)", path_, *code,
                                    o.bitrate_bps));
    if (o.timestamps) {
      auto ts = command("Z1", 300);
      timestamps_ = ts && *ts;
    }
    if (o.listen_only) {
      auto l = command("L", 500);
      if (l && *l) {
        listen_only_ = true;
      } else {
        // CANable 2.x slcan dialect: M1 selects silent mode, then O opens.
        auto m = command("M1", 300);
        if (m && *m) {
          auto open = command("O", 500);
          if (open && *open) listen_only_ = true;
        }
      }
      if (!listen_only_)
        return make_error(ErrorCode::kUnsupported,
                          fmt::format("{}: the adapter did not confirm listen-only mode (L, M1): "
                                      "bmslink will not run a passive task on a node that may "
                                      "acknowledge frames",
                                      path_));
    } else {
      auto open = command("O", 500);
      if (!open || !*open)
        return make_error(ErrorCode::kIo,
                          fmt::format("{}: the adapter refused to open the channel (O)", path_));
    }
    return {};
  }

  Poll poll(can::Frame& frame, int timeout_ms) override {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    // The adapter reports bus trouble only in its status flags: asked for four times a second,
    // and each report becomes an error frame (as SocketCAN would deliver it).
    if (const auto t = std::chrono::steady_clock::now(); t - last_status_ask_ > kStatusEvery) {
      last_status_ask_ = t;
      (void)send("F");
    }
    for (;;) {
      if (!frames_.empty()) {
        frame = std::move(frames_.front());
        frames_.pop_front();
        return Poll::kFrame;
      }
      if (ended_) return Poll::kEnded;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      if (left < 0) return Poll::kTimeout;
      if (!read_some(static_cast<int>(left))) return ended_ ? Poll::kEnded : Poll::kTimeout;
    }
  }

  std::optional<std::int64_t> now_ns() const override { return realtime_ns(); }
  bool listen_only() const override { return listen_only_; }
  std::uint8_t status_flags() override {
    (void)send("F");
    return status_;
  }
  std::string describe() const override {
    return fmt::format("slcan {}{}, {} kbit/s{}", path_,
                       version_.empty() ? "" : " (" + version_ + ")", bitrate_ / 1000,
                       listen_only_ ? ", listen-only" : "");
  }
  std::optional<Error> failure() const override { return failure_; }

 private:
  bool write_all(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        pollfd p{fd_, POLLOUT, 0};
        ::poll(&p, 1, 100);
        continue;
      }
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  bool send(std::string_view cmd) { return write_all(std::string(cmd) + "\r"); }

  // Reads what is there within timeout; frames are queued, other lines remembered.
  bool read_some(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, timeout_ms);
    if (r <= 0) return false;
    if ((p.revents & (POLLHUP | POLLERR)) != 0 && (p.revents & POLLIN) == 0) {
      ended_ = true;
      failure_ = Error{ErrorCode::kIo, fmt::format("{}: the adapter went away", path_)};
      return false;
    }
    char buf[4096];
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      ended_ = true;
      failure_ = Error{ErrorCode::kIo, fmt::format("{}: the adapter went away ({})", path_,
                                                   n == 0 ? "end of file" : std::strerror(errno))};
      return false;
    }
    if (n < 0) return false;
    splitter_.feed({buf, static_cast<std::size_t>(n)});
    while (auto line = splitter_.next()) {
      if (auto* f = std::get_if<can::slcan::FrameLine>(&*line)) {
        can::Frame frame = f->frame;
        // The adapter's clock, where it stamps frames, says when they were on the bus; the
        // host's only when they were read. The adapter clock runs against the monotonic clock
        // (a step of the wall clock is not the adapter's doing); the frame gets the wall time
        // less how long ago that was.
        const std::int64_t wall = realtime_ns();
        if (timestamps_ && f->timestamp_ms) {
          const std::int64_t steady = steady_ns();
          frame.timestamp_ns = in_order(wall - (steady - clock_.stamp(*f->timestamp_ms, steady)));
        } else {
          frame.timestamp_ns = in_order(wall);
        }
        frame.time_kind = TimeKind::kAbsolute;
        frame.direction = can::Direction::kRx;
        frames_.push_back(std::move(frame));
      } else if (auto* s = std::get_if<can::slcan::Status>(&*line)) {
        status_ |= s->flags;
        if (auto e = error_frame_of(s->flags)) {
          e->timestamp_ns = in_order(e->timestamp_ns);
          frames_.push_back(std::move(*e));
        }
      } else if (std::holds_alternative<can::slcan::Ok>(*line)) {
        answers_.push_back(true);
      } else if (std::holds_alternative<can::slcan::Bell>(*line)) {
        answers_.push_back(false);
      } else if (auto* v = std::get_if<can::slcan::Version>(&*line)) {
        versions_.push_back(v->text);
      }
    }
    return true;
  }

  // Frames leave in time order: a status report carries its read time while the frames around
  // it carry their bus time, which can be a little earlier. A frame stamped less than half a
  // second before the last one gets its time; a larger jump back is a step of the wall clock
  // (WallClockSteps' threshold) and kept.
  std::int64_t in_order(std::int64_t t) {
    if (t < last_ns_ && last_ns_ - t < WallClockSteps::kThresholdNs) t = last_ns_;
    last_ns_ = t;
    return t;
  }

  void drain(int total_ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(total_ms);
    while (std::chrono::steady_clock::now() < until && read_some(20)) {
    }
    answers_.clear();
    versions_.clear();
    frames_.clear();
    status_ = 0;  // an answer left over from an earlier session says nothing about this one
  }

  // Sends a command and waits for its OK (true) or BEL (false).
  Result<bool> command(const std::string& cmd, int timeout_ms) {
    // A late answer to an earlier command must not be taken for this one's.
    while (read_some(0)) {
    }
    answers_.clear();
    if (!send(cmd))
      return make_error(ErrorCode::kIo,
                        fmt::format("{}: cannot write: {}", path_, std::strerror(errno)));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (answers_.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0 || ended_)
        return make_error(ErrorCode::kIo,
                          fmt::format("{}: no answer to \"{}\" from the adapter within {} ms (is "
                                      "it an SLCAN adapter, at the right serial speed?)",
                                      path_, cmd, timeout_ms));
      read_some(static_cast<int>(left));
    }
    const bool ok = answers_.front();
    answers_.pop_front();
    return ok;
  }

  std::optional<std::string> ask_version(std::string_view cmd) {
    versions_.clear();
    answers_.clear();
    if (!send(cmd)) return std::nullopt;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    // An adapter that does not know the command rings the bell: no need to wait the deadline.
    while (versions_.empty() && answers_.empty() && std::chrono::steady_clock::now() < deadline)
      read_some(50);
    answers_.clear();
    if (versions_.empty()) return std::nullopt;
    return versions_.front();
  }

  // The status flags as a SocketCAN error frame: bus error, error passive or warning, overrun.
  static std::optional<can::Frame> error_frame_of(std::uint8_t flags) {
    namespace e = can::err;
    std::uint32_t cls = 0;
    std::array<std::uint8_t, 8> d{};
    if ((flags & can::slcan::kBusError) != 0) cls |= e::kBusError;
    if ((flags & (can::slcan::kErrorPassive | can::slcan::kErrorWarning | can::slcan::kOverrun)) !=
        0) {
      cls |= e::kController;
      if ((flags & can::slcan::kErrorPassive) != 0) d[1] |= e::kCtrlRxPassive | e::kCtrlTxPassive;
      if ((flags & can::slcan::kErrorWarning) != 0) d[1] |= e::kCtrlRxWarning | e::kCtrlTxWarning;
      if ((flags & can::slcan::kOverrun) != 0) d[1] |= e::kCtrlRxOverflow;
    }
    if (cls == 0) return std::nullopt;
    can::Frame f = can::make_error_frame(cls, d);
    f.timestamp_ns = realtime_ns();
    f.time_kind = TimeKind::kAbsolute;
    return f;
  }

  static constexpr auto kStatusEvery = std::chrono::milliseconds(250);
  std::chrono::steady_clock::time_point last_status_ask_{};
  int fd_ = -1;
  std::string path_, version_;
  std::uint32_t bitrate_ = 0;
  bool listen_only_ = false, timestamps_ = false, ended_ = false;
  std::uint8_t status_ = 0;
  can::slcan::LineSplitter splitter_;
  can::slcan::AdapterClock clock_;
  std::int64_t last_ns_ = 0;  // the last frame's time handed out
  std::deque<can::Frame> frames_;
  std::deque<bool> answers_;
  std::deque<std::string> versions_;
  std::optional<Error> failure_;
};

}  // namespace

Result<std::unique_ptr<LiveSource>> open_slcan(const std::string& path, int baud,
                                               const LinkOptions& options) {
  const int fd = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return make_error(ErrorCode::kIo,
                      fmt::format("{}: cannot open: {}{}", path, std::strerror(errno),
                                  errno == EACCES ? " (add yourself to the dialout group)" : ""));
  termios t{};
  if (::tcgetattr(fd, &t) == 0) {
    ::cfmakeraw(&t);
    ::cfsetispeed(&t, baud_constant(baud));
    ::cfsetospeed(&t, baud_constant(baud));
    t.c_cflag |= CLOCAL | CREAD;
    ::tcsetattr(fd, TCSANOW, &t);
  }
  auto source = std::make_unique<SlcanSource>(fd, path);
  if (auto ok = source->handshake(options); !ok) return tl::unexpected(ok.error());
  return std::unique_ptr<LiveSource>(std::move(source));
}

}  // namespace bmslink::link
