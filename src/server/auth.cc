#include "server/auth.h"

#include <argon2.h>
#include <sys/random.h>

#include <algorithm>
#include <thread>

#include <fmt/format.h>

namespace bmslink::server {
namespace {

// OWASP's argon2id floor: 19 MiB, 2 passes, one lane.
constexpr std::uint32_t kMemoryKiB = 19 * 1024, kPasses = 2, kLanes = 1;
constexpr std::size_t kSaltBytes = 16, kHashBytes = 32;
constexpr const char* kCookie = "bmslink_session";

std::string random_bytes(std::size_t bytes) {
  std::string raw(bytes, '\0');
  std::size_t got = 0;
  while (got < bytes) {
    const ssize_t n = ::getrandom(raw.data() + got, bytes - got, 0);
    if (n > 0) got += static_cast<std::size_t>(n);
  }
  return raw;
}

std::string random_hex(std::size_t bytes) {
  const std::string raw = random_bytes(bytes);
  std::string hex;
  for (char c : raw) hex += fmt::format("{:02x}", static_cast<unsigned char>(c));
  return hex;
}

std::string cookie_value(const httplib::Request& req) {
  const std::string header = req.get_header_value("Cookie");
  const std::string key = std::string(kCookie) + "=";
  std::size_t at = 0;
  while ((at = header.find(key, at)) != std::string::npos) {
    if (at == 0 || header[at - 1] == ' ' || header[at - 1] == ';') {
      const auto start = at + key.size();
      const auto end = header.find(';', start);
      return header.substr(start, end == std::string::npos ? std::string::npos : end - start);
    }
    at += key.size();
  }
  return "";
}

bool is_write(const httplib::Request& req) {
  return req.method == "POST" || req.method == "PUT" || req.method == "DELETE" ||
         req.method == "PATCH";
}

// "http://host:port" -> "host:port".
std::string host_of(const std::string& origin) {
  const auto scheme = origin.find("://");
  return scheme == std::string::npos ? origin : origin.substr(scheme + 3);
}

// Constant-time equality for tokens.
bool same(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

Result<records::User> make_user(const std::string& name, const std::string& password,
                                const std::string& role) {
  const bool name_ok =
      !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
               c == '@';
      });
  if (!name_ok)
    return make_error(ErrorCode::kInvalidArgument,
                      "user \"name\": expected 1-64 letters, digits or . - _ @");
  if (password.size() < 10 || password.size() > 1024)
    return make_error(ErrorCode::kInvalidArgument,
                      "user \"password\": expected at least 10 characters");
  const auto parsed_role = records::parse_role(role);
  if (!parsed_role)
    return make_error(ErrorCode::kInvalidArgument, "user \"role\": expected technician or admin");
  const std::string salt = random_bytes(kSaltBytes);
  std::string encoded(
      argon2_encodedlen(kPasses, kMemoryKiB, kLanes, kSaltBytes, kHashBytes, Argon2_id), '\0');
  const int rc =
      argon2id_hash_encoded(kPasses, kMemoryKiB, kLanes, password.data(), password.size(),
                            salt.data(), salt.size(), kHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK)
    return make_error(ErrorCode::kIo, fmt::format("argon2: {}", argon2_error_message(rc)));
  encoded.resize(std::strlen(encoded.c_str()));
  return records::User{name, encoded, *parsed_role};
}

bool verify_password(const std::string& encoded_hash, const std::string& password) {
  return argon2id_verify(encoded_hash.c_str(), password.data(), password.size()) == ARGON2_OK;
}

void Auth::end_sessions_of(const std::string& user) {
  std::lock_guard lock(mutex_);
  std::erase_if(sessions_, [&](const auto& s) { return s.second.user == user; });
}

std::optional<Auth::Session> Auth::session_of(const httplib::Request& req) {
  const std::string token = cookie_value(req);
  if (token.empty()) return std::nullopt;
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(token);
  if (it == sessions_.end()) return std::nullopt;
  const auto now = std::chrono::steady_clock::now();
  if (it->second.expires < now) {
    sessions_.erase(it);
    return std::nullopt;
  }
  it->second.expires = now + kSessionLife;
  return it->second;
}

bool Auth::still_valid(const std::string& token, const Session& s, records::Store& store,
                       std::mutex& store_mutex) {
  const auto now = std::chrono::steady_clock::now();
  if (now - s.checked < kRecheck) return true;
  std::optional<records::User> user;
  bool read = false;
  {
    std::lock_guard lock(store_mutex);
    if (auto u = store.get_user(s.user)) {
      user = std::move(*u);
      read = true;
    }
  }
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(token);
  if (it == sessions_.end()) return false;
  if (!read) return true;  // the store is away: the session stands until it can be checked
  if (!user || user->disabled || user->role != s.role || user->password_hash != s.password_hash) {
    sessions_.erase(it);
    return false;
  }
  it->second.checked = now;
  return true;
}

Verdict Auth::gate(const httplib::Request& req, records::Store& store, std::mutex& store_mutex) {
  if (is_write(req)) {
    // Browsers say where a request comes from; a write from another site is refused even in
    // single-user mode.
    if (req.get_header_value("Sec-Fetch-Site") == "cross-site")
      return {403, "cross-site request refused"};
    const std::string origin = req.get_header_value("Origin");
    if (!origin.empty() && (origin == "null" || host_of(origin) != req.get_header_value("Host")))
      return {403, fmt::format("cross-site request refused (origin {})", origin)};
  }
  if (!team) {
    // A page whose name was re-pointed at 127.0.0.1 (DNS rebinding) is same-origin with its own
    // name, not with ours: single-user mode answers only to the names of this machine.
    if (!allowed_hosts.empty() && std::find(allowed_hosts.begin(), allowed_hosts.end(),
                                            req.get_header_value("Host")) == allowed_hosts.end())
      return {403, fmt::format("unknown Host \"{}\": single-user mode answers on {} only",
                               req.get_header_value("Host"), allowed_hosts.front())};
    if (req.path == "/api/login" || req.path.starts_with("/api/users"))
      return {400, "single-user mode has no accounts (bmslink serve --team)"};
    return {};
  }
  if (req.path == "/api/login" || req.path == "/api/session") return {};
  const auto session = session_of(req);
  if (!session) return {401, "log in first"};
  if (!still_valid(cookie_value(req), *session, store, store_mutex))
    return {401, "your account was changed: log in again"};
  if (is_write(req) && req.path != "/api/logout" &&
      !same(req.get_header_value("X-CSRF-Token"), session->csrf))
    return {403, "missing or wrong CSRF token (X-CSRF-Token)"};
  // Accounts, deleting and restoring cases, old versions and the team's settings are an
  // admin's.
  const bool admin_only = req.path.starts_with("/api/users") || req.path == "/api/deleted" ||
                          (req.method == "DELETE" && req.path.starts_with("/api/cases/")) ||
                          (req.path.starts_with("/api/cases/") &&
                           (req.path.ends_with("/versions") || req.path.ends_with("/restore"))) ||
                          (req.path == "/api/settings" && is_write(req));
  if (admin_only && session->role != records::Role::kAdmin)
    return {403, "only an admin may do this"};
  return {};
}

bool Auth::limited(const std::string& key, int most, std::chrono::steady_clock::time_point now) {
  auto& q = failures_[key];
  while (!q.empty() && q.front() < now - kFailureWindow) q.pop_front();
  return q.size() >= static_cast<std::size_t>(most);
}

void Auth::sweep(std::chrono::steady_clock::time_point now) {
  for (auto it = failures_.begin(); it != failures_.end();) {
    auto& q = it->second;
    while (!q.empty() && q.front() < now - kFailureWindow) q.pop_front();
    it = q.empty() ? failures_.erase(it) : std::next(it);
  }
  std::erase_if(sessions_, [&](const auto& entry) { return entry.second.expires < now; });
}

void Auth::record_failure(const std::string& key, std::chrono::steady_clock::time_point now) {
  auto& q = failures_[key];
  q.push_back(now);
  if (q.size() > 64) q.pop_front();  // enough to reach the longest delay
}

std::chrono::milliseconds Auth::delay_after(std::size_t failures) {
  if (failures < kFailuresBeforeDelay) return std::chrono::milliseconds(0);
  const std::size_t doublings = std::min<std::size_t>(failures - kFailuresBeforeDelay, 16);
  return std::min(kLongestDelay, kFirstDelay * (std::int64_t(1) << doublings));
}

LoginResult Auth::login(const nlohmann::json& body, const std::string& address,
                        records::Store& store, std::mutex& store_mutex) {
  if (!body.is_object() || !body.contains("name") || !body["name"].is_string() ||
      !body.contains("password") || !body["password"].is_string())
    return {400, "login: expected {\"name\": ..., \"password\": ...}", "", {}};
  const std::string name = body["name"].get<std::string>();
  const std::string password = body["password"].get<std::string>();
  if (name.empty() || name.size() > 64 || password.size() > 1024)
    return {401, "wrong name or password", "", {}};
  const auto now = std::chrono::steady_clock::now();
  const std::string by_address = "addr:" + address, by_name = "user:" + name;
  std::chrono::milliseconds delay{0};
  {
    // The attempt counts before the (slow) check, so parallel guesses cannot pass the limit
    // together; a success takes it back.
    std::lock_guard lock(mutex_);
    sweep(now);
    if (limited(by_address, kMaxFailuresPerAddress, now))
      return {429, "too many failed logins from this address; wait a few minutes", "", {}};
    delay = delay_after(failures_[by_name].size());
    record_failure(by_address, now);
    record_failure(by_name, now);
  }
  // Guessing one account's password gets slower and slower; its owner still gets in.
  if (delay.count() > 0) std::this_thread::sleep_for(delay);
  // argon2 takes 19 MiB per check: a few at a time.
  hashing_.acquire();
  struct Release {
    std::counting_semaphore<kConcurrentChecks>& s;
    ~Release() { s.release(); }
  } release{hashing_};
  std::optional<records::User> user;
  {
    std::lock_guard lock(store_mutex);
    auto u = store.get_user(name);
    if (!u) return {500, u.error().message, "", {}};
    user = std::move(*u);
  }
  // An unknown name costs the same as a wrong password.
  static const std::string kDummy = [] {
    auto u = make_user("dummy", "dummy-password-0", "technician");
    return u ? u->password_hash : std::string();
  }();
  const bool ok = verify_password(user ? user->password_hash : kDummy, password) && user;
  std::lock_guard lock(mutex_);
  if (!ok) return {401, "wrong name or password", "", {}};
  if (user->disabled) return {403, "this account is disabled: ask an admin", "", {}};
  for (const auto& key : {by_address, by_name})
    if (auto it = failures_.find(key); it != failures_.end() && !it->second.empty())
      it->second.pop_back();
  Session s{user->name, user->role, random_hex(16), now + kSessionLife, user->password_hash, now};
  const std::string token = random_hex(32);
  sessions_[token] = s;
  failures_.erase(by_name);
  const std::string cookie =
      fmt::format("{}={}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}", kCookie, token,
                  std::chrono::duration_cast<std::chrono::seconds>(kSessionLife).count());
  return {
      200,
      "",
      cookie,
      {{"user", s.user}, {"role", records::role_name(s.role)}, {"csrf", s.csrf}, {"team", true}}};
}

std::string Auth::logout(const httplib::Request& req) {
  const std::string token = cookie_value(req);
  std::lock_guard lock(mutex_);
  sessions_.erase(token);
  return fmt::format("{}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0", kCookie);
}

nlohmann::json Auth::session_json(const httplib::Request& req) {
  if (!team) return {{"team", false}, {"user", nullptr}, {"role", "admin"}, {"csrf", nullptr}};
  const auto s = session_of(req);
  if (!s) return {{"team", true}, {"user", nullptr}, {"role", nullptr}, {"csrf", nullptr}};
  return {
      {"team", true}, {"user", s->user}, {"role", records::role_name(s->role)}, {"csrf", s->csrf}};
}

std::string Auth::user_of(const httplib::Request& req) {
  if (!team) return "";
  const auto s = session_of(req);
  return s ? s->user : "";
}

bool Auth::is_admin(const httplib::Request& req) {
  if (!team) return true;
  const auto s = session_of(req);
  return s && s->role == records::Role::kAdmin;
}

}  // namespace bmslink::server
