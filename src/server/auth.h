// Who may call the API. In both modes a write from another site is refused (its Origin or
// Sec-Fetch-Site says so), so a web page cannot drive a technician's localhost console. Team
// mode adds accounts (argon2id hashes in the store), sessions (in the store, shared by every
// server process on it) in an HttpOnly, SameSite=Strict cookie (Secure over HTTPS), a CSRF token
// every write must echo, roles (technician, admin) and a limit on failed logins per address and a
// growing delay per account.
#pragma once

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "bmslink/records/store.h"
#include "bmslink/server/server.h"

namespace bmslink::server {

bool verify_password(const std::string& encoded_hash, const std::string& password);

struct Verdict {
  int status = 0;  // 0: go on; else the HTTP status to answer with
  std::string message;
};

struct LoginResult {
  int status = 200;
  std::string message;
  std::string cookie;
  nlohmann::json body;
};

class Auth {
 public:
  bool team = false;
  // Single-user mode: the Host headers this server answers to ("127.0.0.1:8080", ...).
  std::vector<std::string> allowed_hosts;
  static constexpr std::ptrdiff_t kConcurrentChecks = 4;
  // Failed logins allowed in the window per client address (a team behind one NAT shares one;
  // behind a trusted proxy, the address the proxy forwards). An account is never locked (a
  // colleague could keep its owner out): after a few failures in the window each attempt on it
  // waits, twice as long each time, up to a ceiling.
  static constexpr int kMaxFailuresPerAddress = 20;
  static constexpr std::size_t kFailuresBeforeDelay = 3;
  static constexpr std::chrono::milliseconds kFirstDelay{250};
  static constexpr std::chrono::milliseconds kLongestDelay{8000};
  static std::chrono::milliseconds delay_after(std::size_t failures);
  static constexpr std::chrono::minutes kFailureWindow{10};
  // Sessions live in the store. A session unused for `idle` or older than `longest` is over.
  std::chrono::seconds idle{std::chrono::hours(12)};
  std::chrono::seconds longest{std::chrono::hours(24 * 7)};
  // How long this process trusts what it read of a session and its account: a logout, a new
  // password or a role changed by another process (`bmslink user`, a second server) takes
  // effect here within this.
  static constexpr std::chrono::seconds kRecheck{5};
  // A session's last use is written back at most this often (each write moves the store's
  // revision, which the servers' caches follow).
  static constexpr std::chrono::seconds kTouchEvery{60};
  std::chrono::seconds touch_every() const {
    return std::clamp(idle / 4, std::chrono::seconds(1), kTouchEvery);
  }

  // The store the sessions and accounts are in, and the mutex its handle is used under.
  void attach(records::Store& store, std::mutex& store_mutex) {
    store_ = &store;
    store_mutex_ = &store_mutex;
  }

  Verdict gate(const httplib::Request& req);
  // `address`: the client's (a trusted proxy's forwarded one); `secure`: the page was reached
  // over HTTPS (the cookie is then Secure).
  LoginResult login(const nlohmann::json& body, const std::string& address, bool secure);
  std::string logout(const httplib::Request& req, bool secure);  // the cookie that clears it
  // Ends every session of the caller's account (this one included); how many there were.
  Result<std::size_t> logout_everywhere(const httplib::Request& req);
  // {"current", "new"}: the caller's own password. Every session of the account ends and this
  // one is started anew (the answer carries the new cookie and CSRF token).
  LoginResult change_password(const httplib::Request& req, const nlohmann::json& body,
                              const std::string& address, bool secure);
  nlohmann::json session_json(const httplib::Request& req);
  // After the gate let the request in: who sent it.
  std::string user_of(const httplib::Request& req);
  // Single-user mode: the one user is the admin.
  bool is_admin(const httplib::Request& req);
  // Logs `user` out everywhere: after an admin changed the account (role, disabled, password,
  // removed), its open sessions do not keep what it had.
  Result<std::size_t> end_sessions_of(const std::string& user);
  // A digest of a password hash, kept with a session (a new password ends the session).
  static std::string password_mark(const std::string& password_hash);
  static std::string token_hash(const std::string& token);

 private:
  struct Session {
    records::StoredSession stored;
    std::chrono::steady_clock::time_point checked;  // last read from the store
  };
  enum class Found { kYes, kNone, kChanged, kStoreAway };
  // The request's session, read again from the store when what this process knows of it is
  // older than kRecheck; over (and removed) when expired or its account changed.
  Found find_session(const httplib::Request& req, records::StoredSession& out);
  std::optional<records::StoredSession> cached(const httplib::Request& req);
  Result<LoginResult> start_session(const records::User& user, const std::string& address,
                                    bool secure);
  void sweep(std::chrono::steady_clock::time_point now);  // drops sessions long unchecked
  // Counts an attempt (in the store, at `at_ms`) before the slow check and waits the account's
  // delay; 429 when the address is over its limit.
  std::optional<LoginResult> count_attempt(const std::string& address, const std::string& name,
                                           std::int64_t& at_ms);
  // A success: this attempt no longer counts against the address, the account starts afresh.
  void forget_failures(const std::string& address, const std::string& name, std::int64_t at_ms);
  // argon2, a few at a time (19 MiB each).
  bool check_password(const std::string& encoded_hash, const std::string& password);

  records::Store* store_ = nullptr;
  std::mutex* store_mutex_ = nullptr;
  std::mutex mutex_;
  std::counting_semaphore<kConcurrentChecks> hashing_{kConcurrentChecks};
  std::map<std::string, Session> sessions_;  // by token hash
  std::chrono::steady_clock::time_point last_store_sweep_{};
};

}  // namespace bmslink::server
