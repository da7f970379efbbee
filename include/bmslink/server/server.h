// bmslink server: the web console's HTTP side (`bmslink serve`). Serves the front end built from
// web/ (compiled into the binary: works offline) and the JSON API of docs/api.md — analyze,
// diagnose, hardcode, cases, stats, compat, reports, devices — with the same JSON as the CLI.
// Single-user mode binds to localhost; team mode (accounts, sessions, CSRF, roles) is for a
// shared server. The library never prints: what it has to say goes to `log`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bmslink/core/error.h"
#include "bmslink/live/loop.h"
#include "bmslink/live/mqtt.h"
#include "bmslink/records/store.h"

namespace bmslink::server {

struct ServerOptions {
  std::string bind = "127.0.0.1";
  int port = 8080;     // 0: any free port (tests)
  std::string db_url;  // empty: the SQLite file in the user's data directory
  // Where uploads are kept (empty: beside the SQLite file, or the user's data directory). Two
  // servers on one PostgreSQL share one directory (a local or network file system).
  std::string captures_dir;
  bool team = false;
  std::uint64_t max_upload_bytes = 2ULL << 30;  // a week-long capture fits; beyond is refused
  std::uint64_t max_json_bytes = 16ULL << 20;   // case and answers bodies
  // Bytes all kept captures may take together (0: no quota); an upload past it is refused (507).
  std::uint64_t max_kept_bytes = 20ULL << 30;
  // Connections served at once: each has a thread, started when needed (an idle one leaves after
  // 30 s); beyond this many, a new connection waits for one to close.
  unsigned threads = 256;
  // A request's line and headers must arrive within this (a client trickling them is dropped).
  unsigned head_timeout_ms = 10'000;
  // HTTPS: a PEM certificate (chain) and its key. Both or neither; SIGHUP re-reads them
  // (Server::reload_tls) for a renewal.
  std::string tls_cert_file, tls_key_file;
  // Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For and
  // X-Forwarded-Proto are believed: the client's address for login limits and the log, the
  // scheme for the cookie's Secure flag. From any other peer those headers are ignored.
  std::string trusted_proxies;
  // Uploads no case refers to are removed this long after they were kept (0: never); the
  // server looks every hour.
  std::chrono::seconds keep_unreferenced{std::chrono::hours(24 * 7)};
  // Team sessions (kept in the store): over when unused this long, or this old.
  std::chrono::seconds session_idle{std::chrono::hours(12)};
  std::chrono::seconds session_longest{std::chrono::hours(24 * 7)};
  // The live bus page: the interface the server monitors (docs/live.md IFACE; empty: none).
  // Fixed at start, never chosen by a browser.
  std::string live_iface;
  live::LiveOptions live;       // the same options as `bmslink monitor` (duration: until stopped)
  live::MqttOptions live_mqtt;  // url set: the live bus also goes to this broker
  // One line per event worth a line (start, refused logins, failed writes).
  std::function<void(const std::string&)> log;
};

// An account for team mode with its password hashed (argon2id); errors name the field.
Result<records::User> make_user(const std::string& name, const std::string& password,
                                const std::string& role);

class Server {
 public:
  // Opens the store (migrating it) and the built-in catalogue and knowledge base.
  static Result<std::unique_ptr<Server>> create(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds; returns the port (the one chosen when options.port is 0).
  Result<int> bind();
  // HTTPS: reads the certificate and key again (a renewal); connections already open keep the
  // one they started with. The error says what is wrong and the old certificate stays.
  Result<std::string> reload_tls();
  // Serves until stop() (from another thread or a signal handler's thread).
  void run();
  void stop();
  std::string url() const;

  // Team mode: adds or replaces an account ("technician" or "admin").
  Result<void> set_user(const std::string& name, const std::string& password,
                        const std::string& role);

  // First start of the embedded default: when the store has no case, a demo case with these
  // captures (the bundled samples) analysed and kept. False when there were cases already.
  Result<bool> seed_demo(const std::vector<std::string>& sample_paths);

 private:
  Server() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bmslink::server
