// Who may call the API. In both modes a write from another site is refused (its Origin or
// Sec-Fetch-Site says so), so a web page cannot drive a technician's localhost console. Team
// mode adds accounts (argon2id hashes in the store), sessions in an HttpOnly, Secure,
// SameSite=Strict cookie, a CSRF token every write must echo, roles (technician, admin) and a
// limit on failed logins per address and a growing delay per account.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
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
  // Failed logins allowed in the window per address (a team behind one NAT shares one). An
  // account is never locked (a colleague could keep its owner out): after a few failures in the
  // window each attempt on it waits, twice as long each time, up to a ceiling.
  static constexpr int kMaxFailuresPerAddress = 20;
  static constexpr std::size_t kFailuresBeforeDelay = 3;
  static constexpr std::chrono::milliseconds kFirstDelay{250};
  static constexpr std::chrono::milliseconds kLongestDelay{8000};
  static std::chrono::milliseconds delay_after(std::size_t failures);
  static constexpr std::chrono::minutes kFailureWindow{10};
  static constexpr std::chrono::hours kSessionLife{12};
  // How long a session trusts what it knows of its account: a change made by another process
  // on the same store (`bmslink user add`, a second server) takes effect within this.
  static constexpr std::chrono::seconds kRecheck{5};

  Verdict gate(const httplib::Request& req, records::Store& store, std::mutex& store_mutex);
  LoginResult login(const nlohmann::json& body, const std::string& address, records::Store& store,
                    std::mutex& store_mutex);
  std::string logout(const httplib::Request& req);  // the cookie that clears the session
  nlohmann::json session_json(const httplib::Request& req);
  std::string user_of(const httplib::Request& req);
  // Single-user mode: the one user is the admin.
  bool is_admin(const httplib::Request& req);
  // Logs `user` out everywhere: after an admin changed the account (role, disabled, password,
  // removed), its open sessions do not keep what it had.
  void end_sessions_of(const std::string& user);

 private:
  struct Session {
    std::string user;
    records::Role role = records::Role::kTechnician;
    std::string csrf;
    std::chrono::steady_clock::time_point expires;
    std::string password_hash;  // as it was at login: a reset elsewhere ends the session
    std::chrono::steady_clock::time_point checked;  // last compared with the store
  };
  // The session's account as the store has it now; false (and the session ended) when it was
  // removed, disabled, given another role or another password.
  bool still_valid(const std::string& token, const Session& s, records::Store& store,
                   std::mutex& store_mutex);
  std::optional<Session> session_of(const httplib::Request& req);
  bool limited(const std::string& key, int most, std::chrono::steady_clock::time_point now);
  void sweep(std::chrono::steady_clock::time_point now);  // drops old failures and sessions
  void record_failure(const std::string& key, std::chrono::steady_clock::time_point now);

  std::mutex mutex_;
  std::counting_semaphore<kConcurrentChecks> hashing_{kConcurrentChecks};
  std::map<std::string, Session> sessions_;  // by token
  std::map<std::string, std::deque<std::chrono::steady_clock::time_point>> failures_;
};

}  // namespace bmslink::server
