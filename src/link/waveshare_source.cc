// The Waveshare USB-CAN-A (CH340 serial at 2 Mbaud, its own binary protocol): one settings packet
// sets the bit rate and silent (listen-only) mode. The adapter answers nothing, so silent mode is
// asked for but never confirmed: listen_only() stays false and passive tasks that need the
// confirmation (the bit-rate scan) refuse this adapter.

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <asm/termbits.h>  // termios2 for the 2 Mbaud rate
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <deque>

#include <fmt/format.h>

#include "bmslink/can/waveshare.h"
#include "link/sources.h"

namespace bmslink::link {
namespace {

class WaveshareSource final : public LiveSource {
 public:
  WaveshareSource(int fd, std::string path, std::uint32_t bitrate)
      : fd_(fd), path_(std::move(path)), bitrate_(bitrate) {}
  ~WaveshareSource() override { ::close(fd_); }

  Poll poll(can::Frame& frame, int timeout_ms) override {
    for (;;) {
      if (auto item = parser_.next()) {
        if (auto* f = std::get_if<can::Frame>(&*item)) {
          frame = std::move(*f);
          frame.timestamp_ns = realtime_ns();
          frame.time_kind = TimeKind::kAbsolute;
          frame.direction = can::Direction::kRx;
          return Poll::kFrame;
        }
        continue;  // a settings packet echoed back: nothing for the reader
      }
      pollfd p{fd_, POLLIN, 0};
      const int r = ::poll(&p, 1, timeout_ms);
      if (r == 0) return Poll::kTimeout;
      if (r < 0) return errno == EINTR ? Poll::kTimeout : Poll::kEnded;
      char buf[4096];
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        failure_ = Error{ErrorCode::kIo, fmt::format("{}: the adapter went away", path_)};
        return Poll::kEnded;
      }
      if (n > 0) parser_.feed({buf, static_cast<std::size_t>(n)});
      timeout_ms = 0;  // what was read is parsed; the caller's wait is over
    }
  }

  std::optional<std::int64_t> now_ns() const override { return realtime_ns(); }
  bool listen_only() const override { return false; }
  std::string describe() const override {
    return fmt::format("waveshare {}, {} kbit/s, silent mode asked (the adapter cannot confirm it)",
                       path_, bitrate_ / 1000);
  }
  std::optional<Error> failure() const override { return failure_; }

 private:
  int fd_;
  std::string path_;
  std::uint32_t bitrate_;
  can::waveshare::StreamParser parser_;
  std::optional<Error> failure_;
};

}  // namespace

Result<std::unique_ptr<LiveSource>> open_waveshare(const std::string& path,
                                                   const LinkOptions& options) {
  const auto speed = can::waveshare::speed_code(options.bitrate_bps);
  if (!speed)
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("{}: {} bit/s is not a Waveshare USB-CAN-A rate", path, options.bitrate_bps));
  const int fd = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return make_error(ErrorCode::kIo,
                      fmt::format("{}: cannot open: {}{}", path, std::strerror(errno),
                                  errno == EACCES ? " (add yourself to the dialout group)" : ""));
  // 2 Mbaud needs termios2 (BOTHER); a pseudo-terminal ignores the rate.
  termios2 t{};
  if (::ioctl(fd, TCGETS2, &t) == 0) {
    t.c_cflag &= ~(CBAUD | CSIZE | PARENB | CSTOPB | CRTSCTS);
    t.c_cflag |= BOTHER | CS8 | CLOCAL | CREAD;
    t.c_iflag = 0;
    t.c_oflag = 0;
    t.c_lflag = 0;
    t.c_ispeed = can::waveshare::kBaud;
    t.c_ospeed = can::waveshare::kBaud;
    ::ioctl(fd, TCSETS2, &t);
  }
  const std::string settings = can::waveshare::settings_packet(*speed, options.listen_only);
  if (::write(fd, settings.data(), settings.size()) != static_cast<ssize_t>(settings.size())) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return make_error(ErrorCode::kIo, fmt::format("{}: cannot write the settings: {}", path, why));
  }
  return std::unique_ptr<LiveSource>(
      std::make_unique<WaveshareSource>(fd, path, options.bitrate_bps));
}

}  // namespace bmslink::link
