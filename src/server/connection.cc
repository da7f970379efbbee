#include "server/connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include <fmt/format.h>

namespace bmslink::server {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Waits are cut in slices so a stopping server is noticed within one.
constexpr milliseconds kSlice{200};

std::string address_text(const sockaddr_storage& a, int& port) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&a);
    ::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    port = ntohs(in->sin_port);
  } else if (a.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    port = ntohs(in6->sin6_port);
  }
  return buf;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

class GuardedStream final : public httplib::Stream {
 public:
  enum class Head { kOk, kIdle, kClosed, kTooLarge, kTooManyLines, kTimeout, kStopped };

  GuardedStream(socket_t sock, const ConnectionLimits& limits,
                const std::atomic<socket_t>& server_socket)
      : sock_(sock), limits_(limits), server_socket_(server_socket) {}

  // Reads one request head into the buffer (what httplib then reads first).
  Head read_head(bool first_request) {
    pending_.erase(0, pos_);
    pos_ = 0;
    scanned_ = 0;
    lines_ = 0;
    in_body_ = false;
    // A new connection has the head's time from its start; a kept-alive one from its next byte.
    auto deadline = Clock::now() + limits_.head_timeout;
    if (pending_.empty()) {
      const auto wait = first_request ? limits_.head_timeout : limits_.keep_alive_timeout;
      const auto r = wait_for(POLLIN, std::min(deadline, Clock::now() + wait));
      // Nothing at all (a browser's spare connection): closed without a word.
      if (r != Wait::kReady) return r == Wait::kStopped ? Head::kStopped : Head::kIdle;
      if (!receive_more()) return Head::kClosed;
      if (!first_request) deadline = Clock::now() + limits_.head_timeout;
    }
    for (;;) {
      // Lines are counted as they arrive. The head ends where httplib ends it: at the first
      // "\r\n\r\n" (a line ending in a bare "\n" does not end it there, so it counts here too).
      for (; scanned_ < pending_.size(); ++scanned_) {
        if (pending_[scanned_] != '\n') continue;
        ++lines_;
        const bool empty_line = scanned_ >= 3 && pending_[scanned_ - 1] == '\r' &&
                                pending_[scanned_ - 2] == '\n' && pending_[scanned_ - 3] == '\r';
        if (empty_line) {
          head_bytes_ = scanned_ + 1;
          if (head_bytes_ > limits_.head_bytes) return Head::kTooLarge;
          read_body_framing();
          return Head::kOk;
        }
        if (lines_ > limits_.head_lines) return Head::kTooManyLines;
      }
      if (pending_.size() > limits_.head_bytes) return Head::kTooLarge;
      const auto r = wait_for(POLLIN, deadline);
      if (r == Wait::kStopped) return Head::kStopped;
      if (r == Wait::kTimeout) return Head::kTimeout;
      if (!receive_more()) return Head::kClosed;
    }
  }

  // After httplib answered: was all of the request's body read (so the next bytes are a new
  // request)? A chunked body's end is not tracked: such a connection is closed.
  bool body_consumed() const {
    if (chunked_) return false;
    return body_read_ >= content_length_;
  }

  void refuse(int status, const char* reason, const std::string& message) {
    const std::string body = fmt::format(R"({{"error":"{}"}})", message);
    const std::string text = fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
        "Connection: close\r\n\r\n{}",
        status, reason, body.size(), body);
    write(text.data(), text.size());
  }

  std::string peer() const {
    std::string ip;
    int port = 0;
    get_remote_ip_and_port(ip, port);
    return ip;
  }

  bool is_readable() const override {
    if (pos_ < pending_.size()) return true;
    pollfd p{sock_, POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(limits_.read_timeout.count())) > 0;
  }

  bool is_writable() const override {
    pollfd p{sock_, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(limits_.write_timeout.count())) <= 0) return false;
    if (p.revents & (POLLERR | POLLHUP)) return false;
    // A peer that closed shows as readable with nothing to read.
    pollfd r{sock_, POLLIN, 0};
    if (::poll(&r, 1, 0) > 0) {
      char c;
      if (::recv(sock_, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0) return false;
    }
    return true;
  }

  ssize_t read(char* ptr, size_t size) override {
    if (size == 0) return 0;
    if (pos_ < pending_.size()) {
      const std::size_t n = std::min(size, pending_.size() - pos_);
      std::memcpy(ptr, pending_.data() + pos_, n);
      // Bytes past the head are the body's.
      const std::size_t head_left = pos_ < head_bytes_ ? head_bytes_ - pos_ : 0;
      if (n > head_left) count_body(n - head_left);
      pos_ += n;
      return static_cast<ssize_t>(n);
    }
    if (!in_body_) {
      in_body_ = true;
      body_start_ = Clock::now();
    }
    if (body_read_ >= body_max_) return -1;
    // The body must keep coming: after the grace, at the minimum average rate.
    const auto allowed =
        body_start_ + limits_.body_grace +
        std::chrono::milliseconds(body_read_ * 1000 /
                                  std::max<std::uint64_t>(1, limits_.body_min_bytes_per_s));
    const auto deadline = std::min(allowed, Clock::now() + limits_.read_timeout);
    if (wait_for(POLLIN, deadline) != Wait::kReady) return -1;
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(size, body_max_ - body_read_));
    ssize_t n;
    do n = ::recv(sock_, ptr, want, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return -1;
    body_read_ += static_cast<std::uint64_t>(n);
    return n;
  }

  ssize_t write(const char* ptr, size_t size) override {
    pollfd p{sock_, POLLOUT, 0};
    int r;
    do r = ::poll(&p, 1, static_cast<int>(limits_.write_timeout.count()));
    while (r < 0 && errno == EINTR);
    if (r <= 0) return -1;
    ssize_t n;
    do n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      ip = address_text(a, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      ip = address_text(a, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  enum class Wait { kReady, kTimeout, kStopped };

  Wait wait_for(short events, Clock::time_point deadline) const {
    for (;;) {
      if (server_socket_ == INVALID_SOCKET) return Wait::kStopped;
      const auto now = Clock::now();
      if (now >= deadline) return Wait::kTimeout;
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - now);
      pollfd p{sock_, events, 0};
      const int r = ::poll(&p, 1, static_cast<int>(std::min(left, kSlice).count()) + 1);
      if (r > 0) return Wait::kReady;
      if (r < 0 && errno != EINTR) return Wait::kTimeout;
    }
  }

  bool receive_more() {
    char buf[16384];
    ssize_t n;
    do n = ::recv(sock_, buf, sizeof buf, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return false;
    pending_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  void count_body(std::size_t n) {
    if (!in_body_) {
      in_body_ = true;
      body_start_ = Clock::now();
    }
    body_read_ += n;
  }

  // Content-Length and Transfer-Encoding of the head just read, to know where the body ends.
  void read_body_framing() {
    content_length_ = 0;
    chunked_ = false;
    body_read_ = 0;
    body_max_ = limits_.body_max_bytes;
    std::string_view head(pending_.data(), head_bytes_);
    bool first = true;
    while (!head.empty()) {
      const auto nl = head.find('\n');
      const auto line = head.substr(0, nl);
      head = nl == std::string_view::npos ? std::string_view() : head.substr(nl + 1);
      if (first) {
        first = false;
        // "POST /api/analyze?name=... HTTP/1.1": only the upload may be large.
        const std::string upload = "POST " + limits_.upload_path;
        if (line.starts_with(upload) && line.size() > upload.size() &&
            (line[upload.size()] == ' ' || line[upload.size()] == '?'))
          body_max_ = limits_.upload_max_bytes;
        continue;
      }
      const auto colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      const auto name = trim(line.substr(0, colon));
      const auto value = trim(line.substr(colon + 1));
      if (iequals(name, "Content-Length")) {
        std::uint64_t n = 0;
        for (char c : value)
          if (c >= '0' && c <= '9' && n < (std::uint64_t(1) << 60))
            n = n * 10 + static_cast<std::uint64_t>(c - '0');
        content_length_ = n;
      } else if (iequals(name, "Transfer-Encoding")) {
        chunked_ = true;
      }
    }
  }

  socket_t sock_;
  const ConnectionLimits& limits_;
  const std::atomic<socket_t>& server_socket_;
  std::string pending_;  // received and not yet read by httplib
  std::size_t pos_ = 0;
  std::size_t scanned_ = 0, lines_ = 0, head_bytes_ = 0;
  std::uint64_t content_length_ = 0, body_read_ = 0, body_max_ = 0;
  bool chunked_ = false, in_body_ = false;
  Clock::time_point body_start_;
};

}  // namespace

struct ElasticPool::State {
  std::mutex mutex;
  std::condition_variable work, done;
  std::deque<std::function<void()>> jobs;
  std::size_t threads = 0, idle = 0, most = 1;
  bool stopping = false;
};

ElasticPool::ElasticPool(std::size_t most) : state_(std::make_shared<State>()) {
  state_->most = std::max<std::size_t>(1, most);
}

ElasticPool::~ElasticPool() { shutdown(); }

void ElasticPool::enqueue(std::function<void()> fn) {
  std::lock_guard guard(state_->mutex);
  state_->jobs.push_back(std::move(fn));
  if (state_->jobs.size() <= state_->idle) {
    state_->work.notify_one();
    return;
  }
  if (state_->threads >= state_->most) return;  // waits for a thread to come free
  ++state_->threads;
  // The thread keeps the state alive: it may still be leaving when the pool is gone. When no
  // thread can be started (the system's limit), the job waits for a running one.
  try {
    start_thread();
  } catch (const std::system_error&) {
    --state_->threads;
  }
}

void ElasticPool::start_thread() {
  std::thread([s = state_] {
    std::unique_lock lock(s->mutex);
    for (;;) {
      if (s->jobs.empty()) {
        if (s->stopping) break;
        ++s->idle;
        const bool woken = s->work.wait_for(lock, std::chrono::seconds(30),
                                            [&] { return s->stopping || !s->jobs.empty(); });
        --s->idle;
        if (!woken) break;  // idle long enough: leave
        continue;
      }
      auto job = std::move(s->jobs.front());
      s->jobs.pop_front();
      lock.unlock();
      job();
      job = nullptr;
      lock.lock();
    }
    --s->threads;
    s->done.notify_all();
  }).detach();
}

void ElasticPool::shutdown() {
  std::unique_lock lock(state_->mutex);
  state_->stopping = true;
  state_->work.notify_all();
  state_->done.wait(lock, [&] { return state_->threads == 0; });
}

bool GuardedServer::admit(const std::string& peer, int& status) {
  std::lock_guard lock(connections_mutex_);
  if (connections_ >= limits.max_connections) {
    status = 503;
    return false;
  }
  const bool loopback = peer == "127.0.0.1" || peer == "::1" || peer.starts_with("::ffff:127.");
  auto& mine = by_address_[peer];
  if (!loopback && mine >= limits.per_address_connections) {
    status = 429;
    return false;
  }
  ++mine;
  ++connections_;
  return true;
}

void GuardedServer::leave(const std::string& peer) {
  std::lock_guard lock(connections_mutex_);
  --connections_;
  if (auto it = by_address_.find(peer); it != by_address_.end() && --it->second == 0)
    by_address_.erase(it);
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
  bool ret = false;
  GuardedStream strm(sock, limits, svr_sock_);
  const std::string peer = strm.peer();
  int refused = 0;
  if (!admit(peer, refused)) {
    const std::string why = refused == 503
                                ? fmt::format(
                                      "the server is serving {} connections: try again "
                                      "in a moment",
                                      limits.max_connections)
                                : fmt::format("more than {} connections from one address",
                                              limits.per_address_connections);
    strm.refuse(refused, refused == 503 ? "Service Unavailable" : "Too Many Requests", why);
    if (on_refused) on_refused(refused, peer, why);
  } else {
    for (std::size_t left = limits.keep_alive_max; left > 0; --left) {
      const auto head = strm.read_head(left == limits.keep_alive_max);
      if (head == GuardedStream::Head::kTooLarge || head == GuardedStream::Head::kTooManyLines) {
        const std::string why =
            head == GuardedStream::Head::kTooLarge
                ? fmt::format("the request head is larger than {} bytes", limits.head_bytes)
                : fmt::format("the request has more than {} header lines", limits.head_lines - 1);
        strm.refuse(431, "Request Header Fields Too Large", why);
        if (on_refused) on_refused(431, strm.peer(), why);
        break;
      }
      if (head == GuardedStream::Head::kTimeout) {
        const std::string why = fmt::format("the request head did not arrive within {} s",
                                            limits.head_timeout.count() / 1000);
        strm.refuse(408, "Request Timeout", why);
        if (on_refused) on_refused(408, strm.peer(), why);
        break;
      }
      if (head != GuardedStream::Head::kOk) break;
      bool closed = false;
      ret = process_request(strm, left == 1, closed, nullptr);
      if (after_request) after_request();
      if (!ret || closed || !strm.body_consumed()) break;
    }
    leave(peer);
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ret;
}

}  // namespace bmslink::server
