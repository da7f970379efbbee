// A SocketCAN interface: a raw CAN socket with every error class reported as error frames, and
// the kernel's receive timestamps. Listen-only and the bit rate are interface settings (netlink,
// libsocketcan) that need CAP_NET_ADMIN and the interface down: when they cannot be set, the
// message says which `ip link` command does it. Compiled and unit-tested here; this machine's
// kernel has no SocketCAN, so the live path is proven through the SLCAN adapters.

#include <linux/can.h>
#include <linux/can/error.h>
#include <linux/can/raw.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <libsocketcan.h>

#include "link/sources.h"

namespace bmslink::link {
namespace {

class SocketCanSource final : public LiveSource {
 public:
  SocketCanSource(int fd, std::string ifname, bool listen_only, std::uint32_t bitrate,
                  bool started_here)
      : fd_(fd),
        ifname_(std::move(ifname)),
        listen_only_(listen_only),
        bitrate_(bitrate),
        started_here_(started_here) {}
  ~SocketCanSource() override {
    ::close(fd_);
    if (started_here_) can_do_stop(ifname_.c_str());  // left as it was found
  }

  Poll poll(can::Frame& frame, int timeout_ms) override {
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, timeout_ms);
    if (r == 0) return Poll::kTimeout;
    if (r < 0) return errno == EINTR ? Poll::kTimeout : Poll::kEnded;
    can_frame raw{};
    const ssize_t n = ::read(fd_, &raw, sizeof raw);
    if (n != static_cast<ssize_t>(sizeof raw)) {
      failure_ =
          Error{ErrorCode::kIo, fmt::format("{}: read failed: {}", ifname_, std::strerror(errno))};
      return Poll::kEnded;
    }
    frame = from_socketcan(raw.can_id, raw.len, raw.data);
    frame.timestamp_ns = realtime_ns();
    frame.time_kind = TimeKind::kAbsolute;
    frame.channel = ifname_;
    return Poll::kFrame;
  }

  std::optional<std::int64_t> now_ns() const override { return realtime_ns(); }
  bool listen_only() const override { return listen_only_; }
  std::string describe() const override {
    return fmt::format("socketcan {}{}{}", ifname_,
                       bitrate_ ? fmt::format(", {} kbit/s", bitrate_ / 1000) : "",
                       listen_only_ ? ", listen-only" : "");
  }
  std::optional<Error> failure() const override { return failure_; }

  static can::Frame from_socketcan(canid_t id, std::uint8_t len, const std::uint8_t* data) {
    can::Frame f;
    f.extended = (id & CAN_EFF_FLAG) != 0;
    f.rtr = (id & CAN_RTR_FLAG) != 0;
    f.error = (id & CAN_ERR_FLAG) != 0;
    f.id = f.error ? (id & CAN_ERR_MASK) : f.extended ? (id & CAN_EFF_MASK) : (id & CAN_SFF_MASK);
    f.len = len > 8 ? 8 : len;
    f.dlc = f.len;
    std::memcpy(f.data.data(), data, f.len);
    f.direction = can::Direction::kRx;
    return f;
  }

 private:
  int fd_;
  std::string ifname_;
  bool listen_only_;
  std::uint32_t bitrate_;
  bool started_here_;
  std::optional<Error> failure_;
};

}  // namespace

can::Frame from_socketcan(std::uint32_t can_id, std::uint8_t len, const std::uint8_t* data) {
  return SocketCanSource::from_socketcan(can_id, len, data);
}

Result<std::unique_ptr<LiveSource>> open_socketcan(const std::string& ifname,
                                                   const LinkOptions& options) {
  // Listen-only and the bit rate. A running interface is never touched (another program, a
  // gateway's own node, may be using it): it is used as it is, or refused when it is not in
  // listen-only mode. A stopped one is configured through netlink when permitted, started, and
  // stopped again when bmslink is done, as it was found.
  bool listen_only = false, started_here = false;
  auto refuse = [&](std::string_view why) {
    return make_error(
        ErrorCode::kUnsupported,
        fmt::format("{}: {}; as root: ip link set {} down && ip link set {} type can bitrate {} "
                    "listen-only on && ip link set {} up",
                    ifname, why, ifname, ifname, options.bitrate_bps ? options.bitrate_bps : 500000,
                    ifname));
  };
  int state = 0;
  const bool known = can_get_state(ifname.c_str(), &state) == 0;
  const bool up = known && state != CAN_STATE_STOPPED;
  can_ctrlmode now{};
  if (can_get_ctrlmode(ifname.c_str(), &now) == 0)
    listen_only = (now.flags & CAN_CTRLMODE_LISTENONLY) != 0;
  if (options.listen_only && !listen_only) {
    if (!known) return refuse("cannot read its CAN settings (no such CAN interface?)");
    if (up)
      return refuse(
          "it is up and not in listen-only mode; bmslink does not reconfigure a running interface");
    can_ctrlmode mode{CAN_CTRLMODE_LISTENONLY, CAN_CTRLMODE_LISTENONLY};
    const bool ok =
        (options.bitrate_bps == 0 || can_set_bitrate(ifname.c_str(), options.bitrate_bps) == 0) &&
        can_set_ctrlmode(ifname.c_str(), &mode) == 0 && can_do_start(ifname.c_str()) == 0;
    if (!ok) return refuse("cannot set listen-only mode (no permission?)");
    started_here = true;
    listen_only =
        can_get_ctrlmode(ifname.c_str(), &now) == 0 && (now.flags & CAN_CTRLMODE_LISTENONLY) != 0;
    if (!listen_only) {
      can_do_stop(ifname.c_str());
      return refuse("the interface did not take listen-only mode");
    }
  }
  const int fd = ::socket(PF_CAN, SOCK_RAW | SOCK_CLOEXEC, CAN_RAW);
  if (fd < 0)
    return make_error(ErrorCode::kUnsupported,
                      fmt::format("socketcan: no CAN sockets on this kernel ({}); use an SLCAN "
                                  "adapter (slcan:/dev/ttyACM0)",
                                  std::strerror(errno)));
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname.c_str());
  if (::ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
    ::close(fd);
    return make_error(ErrorCode::kIo, fmt::format("socketcan:{}: no such interface", ifname));
  }
  const can_err_mask_t errors = CAN_ERR_MASK;
  ::setsockopt(fd, SOL_CAN_RAW, CAN_RAW_ERR_FILTER, &errors, sizeof errors);
  sockaddr_can addr{};
  addr.can_family = AF_CAN;
  addr.can_ifindex = ifr.ifr_ifindex;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    return make_error(ErrorCode::kIo, fmt::format("socketcan:{}: cannot bind: {}", ifname, why));
  }
  return std::unique_ptr<LiveSource>(std::make_unique<SocketCanSource>(
      fd, ifname, listen_only, options.bitrate_bps, started_here));
}

}  // namespace bmslink::link
