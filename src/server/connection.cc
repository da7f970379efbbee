#include "server/connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
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
      : sock_(sock), limits_(limits), server_socket_(server_socket) {
    // Every wait is a poll with a deadline; a read or write never blocks past it (a TLS record
    // trickled a byte at a time included).
    ::fcntl(sock_, F_SETFL, ::fcntl(sock_, F_GETFL) | O_NONBLOCK);
  }
  ~GuardedStream() override { close_tls(); }

  // Before the socket is closed: close_notify (once, not waiting for the reply) unless the
  // connection already failed, and the TLS state freed.
  void close_tls() {
    if (ssl_ == nullptr) return;
    if (handshaken_ && !tls_failed_) SSL_shutdown(ssl_);
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  GuardedStream(const GuardedStream&) = delete;
  GuardedStream& operator=(const GuardedStream&) = delete;

  // TLS: the handshake, within `budget`. False: the connection is dropped without a word.
  bool start_tls(SSL_CTX* ctx, milliseconds budget) {
    ssl_ = SSL_new(ctx);
    if (ssl_ == nullptr || SSL_set_fd(ssl_, sock_) != 1) return false;
    const auto deadline = Clock::now() + budget;
    for (;;) {
      ERR_clear_error();
      const int r = SSL_accept(ssl_);
      if (r == 1) {
        handshaken_ = true;
        return true;
      }
      const int e = SSL_get_error(ssl_, r);
      const short want = e == SSL_ERROR_WANT_READ    ? POLLIN
                         : e == SSL_ERROR_WANT_WRITE ? POLLOUT
                                                     : 0;
      if (want == 0) tls_failed_ = true;
      if (want == 0 || wait_for(want, deadline) != Wait::kReady) return false;
    }
  }

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
      const auto r = receive_more(std::min(deadline, Clock::now() + wait));
      // Nothing at all (a browser's spare connection): closed without a word.
      if (r == Got::kTimeout) return Head::kIdle;
      if (r != Got::kData) return r == Got::kStopped ? Head::kStopped : Head::kClosed;
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
      const auto r = receive_more(deadline);
      if (r == Got::kStopped) return Head::kStopped;
      if (r == Got::kTimeout) return Head::kTimeout;
      if (r == Got::kClosed) return Head::kClosed;
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
    if (ssl_ != nullptr && SSL_pending(ssl_) > 0) return true;
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
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(size, body_max_ - body_read_));
    ssize_t n = 0;
    if (receive(ptr, want, deadline, n) != Got::kData) return -1;
    body_read_ += static_cast<std::uint64_t>(n);
    return n;
  }

  // Some of the bytes, as soon as the peer takes any; -1 when it took none within the write
  // timeout or is gone.
  ssize_t write(const char* ptr, size_t size) override {
    if (size == 0) return 0;
    const auto deadline = Clock::now() + limits_.write_timeout;
    for (;;) {
      short want = POLLOUT;
      if (ssl_ != nullptr) {
        ERR_clear_error();
        const int n = SSL_write(ssl_, ptr, static_cast<int>(std::min<size_t>(size, INT_MAX)));
        if (n > 0) return n;
        const int e = SSL_get_error(ssl_, n);
        if (e == SSL_ERROR_WANT_READ) {
          want = POLLIN;
        } else if (e != SSL_ERROR_WANT_WRITE) {
          tls_failed_ = e == SSL_ERROR_SYSCALL || e == SSL_ERROR_SSL;
          return -1;
        }
      } else {
        ssize_t n;
        do n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n >= 0) return n;
        if (errno != EAGAIN) return -1;  // EWOULDBLOCK is EAGAIN on Linux
      }
      if (wait_for(want, deadline) != Wait::kReady) return -1;
    }
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

  enum class Got { kData, kClosed, kTimeout, kStopped };

  // What has arrived, or waits for it until the deadline (TLS: a whole record).
  Got receive(char* ptr, std::size_t size, Clock::time_point deadline, ssize_t& got) {
    for (;;) {
      short want = POLLIN;
      if (ssl_ != nullptr) {
        ERR_clear_error();
        const int n = SSL_read(ssl_, ptr, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
        if (n > 0) {
          got = n;
          return Got::kData;
        }
        const int e = SSL_get_error(ssl_, n);
        if (e == SSL_ERROR_WANT_WRITE) {
          want = POLLOUT;
        } else if (e != SSL_ERROR_WANT_READ) {
          tls_failed_ = e == SSL_ERROR_SYSCALL || e == SSL_ERROR_SSL;
          return Got::kClosed;
        }
      } else {
        ssize_t n;
        do n = ::recv(sock_, ptr, size, 0);
        while (n < 0 && errno == EINTR);
        if (n > 0) {
          got = n;
          return Got::kData;
        }
        if (n == 0 || errno != EAGAIN) return Got::kClosed;
      }
      const auto w = wait_for(want, deadline);
      if (w == Wait::kStopped) return Got::kStopped;
      if (w == Wait::kTimeout) return Got::kTimeout;
    }
  }

  Got receive_more(Clock::time_point deadline) {
    char buf[16384];
    ssize_t n = 0;
    const Got r = receive(buf, sizeof buf, deadline, n);
    if (r == Got::kData) pending_.append(buf, static_cast<std::size_t>(n));
    return r;
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
  SSL* ssl_ = nullptr;
  bool handshaken_ = false, tls_failed_ = false;
};

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::load(const std::string& cert_file,
                                                     const std::string& key_file) {
  auto openssl_error = [](const std::string& what) {
    const unsigned long e = ERR_get_error();
    char buf[256] = {};
    if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return make_error(ErrorCode::kInvalidArgument,
                      e != 0 ? fmt::format("{}: {}", what, buf) : what);
  };
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return openssl_error("TLS: cannot make a context");
  auto tls = std::shared_ptr<TlsContext>(new TlsContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1)
    return openssl_error(
        fmt::format("--tls-cert {}: expected a PEM certificate (chain)", cert_file));
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    return openssl_error(fmt::format("--tls-key {}: expected a PEM private key", key_file));
  if (SSL_CTX_check_private_key(ctx) != 1)
    return openssl_error(
        fmt::format("--tls-key {} is not the key of the certificate in {}", key_file, cert_file));
  return tls;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

std::string TlsContext::describe() const {
  X509* cert = SSL_CTX_get0_certificate(ctx_);
  if (cert == nullptr) return "no certificate";
  char subject[256] = {};
  X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
  std::string until;
  if (const ASN1_TIME* t = X509_get0_notAfter(cert)) {
    std::tm tm{};
    if (ASN1_TIME_to_tm(t, &tm) == 1)
      until = fmt::format(", valid until {:04d}-{:02d}-{:02d}", tm.tm_year + 1900, tm.tm_mon + 1,
                          tm.tm_mday);
  }
  return subject + until;
}

namespace {
// An address as 16 bytes (IPv4 mapped into IPv6), or nothing.
std::optional<std::array<unsigned char, 16>> address_bytes(std::string_view text) {
  std::array<unsigned char, 16> out{};
  const std::string s(text);
  in_addr v4{};
  if (::inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}
}  // namespace

Result<AddressSet> AddressSet::parse(const std::string& list) {
  AddressSet set;
  std::string_view rest = list;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const auto entry = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (entry.empty()) continue;
    const auto slash = entry.find('/');
    const auto bytes = address_bytes(entry.substr(0, slash));
    const bool v4 = entry.substr(0, slash).find(':') == std::string_view::npos;
    int prefix = v4 ? 32 : 128;
    bool ok = bytes.has_value();
    if (ok && slash != std::string_view::npos) {
      const auto digits = entry.substr(slash + 1);
      ok = !digits.empty() && digits.size() <= 3 &&
           std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (ok) prefix = std::stoi(std::string(digits));
      ok = ok && prefix <= (v4 ? 32 : 128);
    }
    if (!ok)
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("--trusted-proxy \"{}\": expected an address or a network "
                                    "such as 10.0.0.0/8 or fd00::/8",
                                    entry));
    Net net{};
    std::memcpy(net.bytes, bytes->data(), 16);
    net.prefix = v4 ? prefix + 96 : prefix;
    set.nets_.push_back(net);
  }
  return set;
}

AddressSet AddressSet::single_addresses() const {
  AddressSet out;
  for (const auto& n : nets_)
    if (n.prefix == 128) out.nets_.push_back(n);
  return out;
}

bool AddressSet::contains(const std::string& address) const {
  const auto bytes = address_bytes(address);
  if (!bytes) return false;
  for (const auto& net : nets_) {
    bool match = true;
    for (int bit = 0; bit < net.prefix && match; bit += 8) {
      const int n = std::min(8, net.prefix - bit);
      const unsigned char mask = static_cast<unsigned char>(0xff << (8 - n));
      const auto at = static_cast<std::size_t>(bit / 8);
      match = ((*bytes)[at] & mask) == (net.bytes[at] & mask);
    }
    if (match) return true;
  }
  return false;
}

void GuardedServer::set_tls(std::shared_ptr<TlsContext> tls) {
  std::lock_guard lock(tls_mutex_);
  tls_ = std::move(tls);
}

bool GuardedServer::tls_enabled() const { return tls() != nullptr; }

std::shared_ptr<TlsContext> GuardedServer::tls() const {
  std::lock_guard lock(tls_mutex_);
  return tls_;
}

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
  const bool loopback = peer == "127.0.0.1" || peer == "::1" || peer.starts_with("::ffff:127.") ||
                        unlimited_peers.contains(peer);
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
  const auto tls = this->tls();
  int refused = 0;
  const bool admitted = admit(peer, refused);
  // A refused TLS client is closed at once: a handshake would hold a thread for it.
  if (tls && (!admitted || !strm.start_tls(tls->get(), limits.head_timeout))) {
    if (admitted) leave(peer);
    if (!admitted && on_refused)
      on_refused(refused, peer, "closed before the TLS handshake: too many connections");
  } else if (!admitted) {
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
  strm.close_tls();  // while the descriptor is still this connection's
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ret;
}

}  // namespace bmslink::server
