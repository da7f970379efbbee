// The server's side of each TCP connection, in front of httplib's request parser: the request
// head is read here whole, within a byte, line and time budget, before httplib sees a byte of
// it; the body must keep coming at a minimum rate; connections get a thread each from a pool
// that grows as needed up to a ceiling, so a hundred clients trickling headers hold a hundred
// sleeping threads for a few seconds and nobody else waits behind them.
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bmslink/core/error.h"

namespace bmslink::server {

// A certificate chain and its key in an OpenSSL server context (TLS 1.2 and 1.3). A connection
// holds the context it started with, so a renewal loaded while it runs does not pull it away.
class TlsContext {
 public:
  static Result<std::shared_ptr<TlsContext>> load(const std::string& cert_file,
                                                  const std::string& key_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* get() const { return ctx_; }
  // The certificate's subject and expiry, for the log ("CN=bmslink.example, until ...").
  std::string describe() const;

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

// Addresses and networks ("10.0.0.0/8", "::1", "192.168.1.10"): the proxies whose
// X-Forwarded-* headers are believed.
class AddressSet {
 public:
  // Comma-separated; the error names the entry that is not an address or network.
  static Result<AddressSet> parse(const std::string& list);
  bool contains(const std::string& address) const;
  bool empty() const { return nets_.empty(); }
  // The entries that are one address each (a /32 or /128).
  AddressSet single_addresses() const;

 private:
  struct Net {
    unsigned char bytes[16];  // IPv4 as IPv4-mapped IPv6
    int prefix;               // of 128
  };
  std::vector<Net> nets_;
};

struct ConnectionLimits {
  std::size_t head_bytes = 32 * 1024;              // request line and headers together
  std::size_t head_lines = 100;                    // request line plus 99 header lines
  std::chrono::milliseconds head_timeout{10'000};  // from the first byte (or the connection)
  std::chrono::milliseconds read_timeout{20'000};  // one read of the body
  // After the head, the body has `body_grace` and then must average `body_min_bytes_per_s`.
  std::chrono::milliseconds body_grace{30'000};
  std::uint64_t body_min_bytes_per_s = 16 * 1024;
  // The transport's own ceiling on a body: `upload_max_bytes` for a POST to `upload_path`,
  // `body_max_bytes` for every other request.
  std::uint64_t body_max_bytes = std::uint64_t(1) << 62;
  std::uint64_t upload_max_bytes = std::uint64_t(1) << 62;
  std::string upload_path = "/api/analyze";
  std::chrono::milliseconds write_timeout{60'000};
  std::chrono::milliseconds keep_alive_timeout{5'000};
  std::size_t keep_alive_max = 100;
  // Connections served at once; up to `overflow_connections` more are answered 503 at once
  // rather than left waiting. One address (but loopback, where a local proxy stands for every
  // client) holds at most `per_address_connections`.
  std::size_t max_connections = 256;
  std::size_t overflow_connections = 64;
  std::size_t per_address_connections = 64;
};

// httplib::TaskQueue: a thread per connection, started when no idle one is there, up to `most`;
// beyond that connections wait their turn. Idle threads leave after a while.
class ElasticPool : public httplib::TaskQueue {
 public:
  explicit ElasticPool(std::size_t most);
  ~ElasticPool() override;
  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

 private:
  void start_thread();
  struct State;
  std::shared_ptr<State> state_;
};

// What a refused request head is told (the status and why), for the log.
using RefusalLog = std::function<void(int status, const std::string& peer, const std::string&)>;

class GuardedServer : public httplib::Server {
 public:
  ConnectionLimits limits;
  RefusalLog on_refused;
  // Called on the connection's thread after each request was answered (or abandoned): what the
  // request held can be given back.
  std::function<void()> after_request;
  // Connections from these addresses (a reverse proxy that stands for many clients) are not
  // held to the per-address ceiling, as loopback is not.
  AddressSet unlimited_peers;

  // HTTPS from now on for new connections (null: plain HTTP).
  void set_tls(std::shared_ptr<TlsContext> tls);
  bool tls_enabled() const;

 private:
  bool process_and_close_socket(socket_t sock) override;
  // Counts a connection of `peer` in; false when the server or that address is full.
  bool admit(const std::string& peer, int& status);
  void leave(const std::string& peer);

  std::shared_ptr<TlsContext> tls() const;
  mutable std::mutex tls_mutex_;
  std::shared_ptr<TlsContext> tls_;
  std::mutex connections_mutex_;
  std::size_t connections_ = 0;
  std::map<std::string, std::size_t> by_address_;
};

}  // namespace bmslink::server
