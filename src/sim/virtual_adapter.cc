#include "bmslink/sim/virtual_adapter.h"

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "bmslink/can/slcan.h"
#include "bmslink/can/waveshare.h"

namespace bmslink::sim {

struct VirtualAdapter::Impl {
  AdapterOptions options;
  std::unique_ptr<SiteSource> site;
  int master = -1, slave = -1;
  std::string path;
  std::string input;  // the host's bytes not yet ended by CR
  bool open = false, listen_only = false, timestamps = false, silent_mode = false;
  std::optional<std::uint32_t> bitrate;
  std::uint8_t status = 0;
  std::uint64_t sent = 0;
  std::optional<can::Frame> pending;
  can::waveshare::StreamParser waveshare;
  bool site_done = false;
  bool started = false;
  std::chrono::steady_clock::time_point wall0;

  ~Impl() {
    if (master >= 0) ::close(master);
    if (slave >= 0) ::close(slave);
  }

  void write_all(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::write(master, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        // A host that stopped reading: wait a moment, then drop the rest, as a real adapter's
        // full buffer does (and never hang the simulation on it).
        pollfd p{master, POLLOUT, 0};
        if (::poll(&p, 1, 20) > 0) continue;
        return;
      }
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  void answer(const std::string& line) {
    using K = can::slcan::Command::Kind;
    const auto c = can::slcan::parse_command(line);
    std::string reply(1, can::slcan::kOk);
    const std::string bell(1, can::slcan::kError);
    switch (c.kind) {
      case K::kVersion:
        reply = (line == "v" ? "vBMSL" : "V1013") + std::string(1, can::slcan::kOk);
        break;
      case K::kSerial:
        reply = std::string("NSIM1") + can::slcan::kOk;
        break;
      case K::kStatus:
        reply = open ? fmt::format("F{:02X}{}", status, can::slcan::kOk) : bell;
        status = 0;  // reading the flags clears them, as on a CANUSB
        break;
      case K::kBitrate:
        if (open || !can::slcan::code_bitrate(c.value)) {
          reply = bell;
        } else {
          bitrate = can::slcan::code_bitrate(c.value);
        }
        break;
      case K::kTimestamps:
        if (open || c.value > 1)
          reply = bell;
        else
          timestamps = c.value == 1;
        break;
      case K::kMode:  // CANable 2.x: M0 normal, M1 silent
        if (open || c.value > 1 || (c.value == 1 && !options.listen_only_supported))
          reply = bell;
        else
          silent_mode = c.value == 1;
        break;
      case K::kOpen:
      case K::kListenOnly:
        if (c.kind == K::kListenOnly && !options.listen_only_supported) {
          reply = bell;
        } else if (open || !bitrate) {
          reply = bell;
        } else {
          open = true;
          status = 0;  // a freshly opened controller starts error-free
          listen_only = c.kind == K::kListenOnly || silent_mode;
          // The site starts when a host first opens the channel, so two hosts opening the same
          // seed see the same frames from the first.
          start_site();
        }
        break;
      case K::kClose:
        if (!open) reply = bell;
        open = false;
        break;
      case K::kTransmit:
        // A node in listen-only mode never drives the bus.
        reply = !open || listen_only ? bell
                                     : std::string(c.frame.extended ? "Z" : "z") + can::slcan::kOk;
        break;
      case K::kUnknown:
        reply = bell;
        break;
    }
    write_all(reply);
  }

  void start_site() {
    if (!started) {
      started = true;
      wall0 = std::chrono::steady_clock::now();
    }
  }

  // The Waveshare adapter takes a settings packet and answers nothing; a bad checksum is ignored.
  void read_waveshare(std::string_view bytes) {
    waveshare.feed(bytes);
    while (auto item = waveshare.next()) {
      const auto* s = std::get_if<can::waveshare::Settings>(&*item);
      if (s == nullptr || !s->checksum_ok || s->bitrate_bps == 0) continue;
      bitrate = s->bitrate_bps;
      listen_only = s->mode == 2 || s->mode == 3;
      open = true;
      start_site();
    }
  }

  void read_host() {
    char buf[512];
    for (;;) {
      const ssize_t n = ::read(master, buf, sizeof buf);
      if (n <= 0) return;
      if (options.dialect == Dialect::kWaveshare) {
        read_waveshare({buf, static_cast<std::size_t>(n)});
        continue;
      }
      for (ssize_t i = 0; i < n; ++i) {
        const char ch = buf[i];
        if (ch == '\r' || ch == '\n') {
          if (!input.empty())
            answer(input);
          else if (ch == '\r')
            write_all(std::string(1, can::slcan::kOk));  // a bare CR: OK
          input.clear();
        } else if (input.size() < 64) {
          input += ch;
        } else {
          input.clear();
          write_all(std::string(1, can::slcan::kError));
        }
      }
    }
  }

  // Puts the site's frames that are due on the wire.
  void emit_due(std::int64_t site_now) {
    for (;;) {
      if (!pending) {
        can::Frame f;
        if (site_done || !site->next(f)) {
          site_done = true;
          return;
        }
        pending = std::move(f);
      }
      if (pending->timestamp_ns > site_now) return;
      const can::Frame f = std::move(*pending);
      pending.reset();
      if (!open) continue;
      if (bitrate != options.site_bitrate_bps) {
        status |= can::slcan::kBusError | can::slcan::kErrorPassive;
        continue;
      }
      if (f.error) {
        status |= can::slcan::kBusError;
        continue;
      }
      if (options.dialect == Dialect::kWaveshare) {
        write_all(can::waveshare::encode_frame(f));
        ++sent;
        continue;
      }
      // The adapter's own clock: real milliseconds since the site started (site time divided
      // by the speed), as a real adapter stamps the moment a frame was on the bus.
      const auto bus_ms = static_cast<std::int64_t>(
          static_cast<double>(f.timestamp_ns - options.site.start_ns) / options.speed / 1e6);
      const auto ms = timestamps ? std::optional<std::uint16_t>(static_cast<std::uint16_t>(
                                       ((bus_ms % 60000) + 60000) % 60000))
                                 : std::nullopt;
      write_all(can::slcan::encode_frame(f, ms));
      ++sent;
    }
  }
};

Result<std::unique_ptr<VirtualAdapter>> VirtualAdapter::open(const AdapterOptions& options) {
  std::unique_ptr<VirtualAdapter> v(new VirtualAdapter());
  v->impl_ = std::make_unique<Impl>();
  auto& m = *v->impl_;
  m.options = options;
  auto site = SiteSource::open(options.site);
  if (!site) return tl::unexpected(site.error());
  m.site = std::move(*site);
  m.master = ::posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
  if (m.master < 0 || ::grantpt(m.master) != 0 || ::unlockpt(m.master) != 0)
    return make_error(ErrorCode::kIo,
                      fmt::format("cannot create a pseudo-terminal: {}", std::strerror(errno)));
  const char* name = ::ptsname(m.master);
  if (name == nullptr) return make_error(ErrorCode::kIo, "ptsname failed");
  m.path = name;
  // Raw line on the adapter side, and held open so the terminal lives while no host is there.
  m.slave = ::open(name, O_RDWR | O_NOCTTY);
  if (m.slave >= 0) {
    termios t{};
    if (::tcgetattr(m.slave, &t) == 0) {
      ::cfmakeraw(&t);
      ::tcsetattr(m.slave, TCSANOW, &t);
    }
  }
  return v;
}

VirtualAdapter::~VirtualAdapter() = default;
const std::string& VirtualAdapter::path() const { return impl_->path; }
std::uint64_t VirtualAdapter::frames_sent() const { return impl_->sent; }

void VirtualAdapter::run(const std::atomic<bool>& stop) {
  auto& m = *impl_;
  const std::int64_t site0 = m.options.site.start_ns;
  while (!stop.load()) {
    pollfd p{m.master, POLLIN, 0};
    ::poll(&p, 1, 2);
    if ((p.revents & POLLIN) != 0) m.read_host();
    if (!m.started) continue;
    const auto wall = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now() - m.wall0)
                          .count();
    m.emit_due(site0 + static_cast<std::int64_t>(static_cast<double>(wall) * m.options.speed));
  }
}

}  // namespace bmslink::sim
