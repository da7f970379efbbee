#include "server/auth.h"

#include <argon2.h>
#include <openssl/evp.h>
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

std::string Auth::token_hash(const std::string& token) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(token.data(), token.size(), digest, &n, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < n; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

std::string Auth::password_mark(const std::string& password_hash) {
  return token_hash("bmslink password mark\n" + password_hash).substr(0, 32);
}

namespace {
std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string session_cookie(const std::string& token, bool secure, std::int64_t max_age_s) {
  return fmt::format("{}={}; Path=/; HttpOnly;{} SameSite=Strict; Max-Age={}", kCookie, token,
                     secure ? " Secure;" : "", max_age_s);
}
}  // namespace

Result<std::size_t> Auth::end_sessions_of(const std::string& user) {
  {
    std::lock_guard lock(mutex_);
    std::erase_if(sessions_, [&](const auto& s) { return s.second.stored.user == user; });
  }
  std::lock_guard lock(*store_mutex_);
  return store_->remove_sessions_of(user);
}

std::optional<records::StoredSession> Auth::cached(const httplib::Request& req) {
  const std::string token = cookie_value(req);
  if (token.empty()) return std::nullopt;
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(token_hash(token));
  if (it == sessions_.end()) return std::nullopt;
  return it->second.stored;
}

Auth::Found Auth::find_session(const httplib::Request& req, records::StoredSession& out) {
  const std::string token = cookie_value(req);
  if (token.empty() || token.size() > 128) return Found::kNone;
  const std::string hash = token_hash(token);
  const auto now = std::chrono::steady_clock::now();
  const std::int64_t now_s = unix_now();
  auto over = [&](const records::StoredSession& s) {
    return now_s - s.last_seen_s > idle.count() || now_s - s.created_s >= longest.count();
  };
  bool touch = false;
  {
    std::lock_guard lock(mutex_);
    if (auto it = sessions_.find(hash);
        it != sessions_.end() && now - it->second.checked < kRecheck) {
      if (over(it->second.stored)) {
        sessions_.erase(it);
        // Read below: the store removes it.
      } else {
        touch = now_s - it->second.stored.last_seen_s >= touch_every().count();
        if (touch) it->second.stored.last_seen_s = now_s;
        out = it->second.stored;
        if (!touch) return Found::kYes;
      }
    }
  }
  if (touch) {
    std::lock_guard lock(*store_mutex_);
    (void)store_->touch_session(hash, now_s);  // a failed touch costs at most an earlier expiry
    return Found::kYes;
  }
  // Not known here, or known too long ago: the store says (another server, a restart, a
  // logout elsewhere).
  Result<std::optional<records::StoredSession>> stored;
  Result<std::optional<records::User>> user = std::optional<records::User>();
  {
    std::lock_guard lock(*store_mutex_);
    stored = store_->get_session(hash);
    if (stored && *stored) user = store_->get_user((*stored)->user);
  }
  if (!stored || !user) {
    // The store is away: a session this process knows stands until it can be checked.
    std::lock_guard lock(mutex_);
    if (auto it = sessions_.find(hash); it != sessions_.end()) {
      if (over(it->second.stored)) {
        sessions_.erase(it);
        return Found::kNone;
      }
      out = it->second.stored;
      return Found::kYes;
    }
    return Found::kStoreAway;
  }
  auto forget = [&] {
    std::lock_guard lock(mutex_);
    sessions_.erase(hash);
  };
  if (!*stored) {
    forget();
    return Found::kNone;
  }
  records::StoredSession s = **stored;
  const auto& u = *user;
  const bool changed =
      !u || u->disabled || u->role != s.role || password_mark(u->password_hash) != s.password_mark;
  if (changed || over(s)) {
    forget();
    std::lock_guard lock(*store_mutex_);
    (void)store_->remove_session(hash);
    return changed ? Found::kChanged : Found::kNone;
  }
  if (now_s - s.last_seen_s >= touch_every().count()) {
    std::lock_guard lock(*store_mutex_);
    if (store_->touch_session(hash, now_s)) s.last_seen_s = now_s;
  }
  {
    std::lock_guard lock(mutex_);
    sessions_[hash] = Session{s, now};
  }
  out = std::move(s);
  return Found::kYes;
}

Verdict Auth::gate(const httplib::Request& req) {
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
    if (req.path == "/api/login" || req.path.starts_with("/api/users") ||
        req.path == "/api/password" || req.path == "/api/logout/everywhere")
      return {400, "single-user mode has no accounts (bmslink serve --team)"};
    return {};
  }
  if (req.path == "/api/login" || req.path == "/api/session") return {};
  records::StoredSession session;
  switch (find_session(req, session)) {
    case Found::kYes:
      break;
    case Found::kNone:
      return {401, "log in first"};
    case Found::kChanged:
      return {401, "your account was changed: log in again"};
    case Found::kStoreAway:
      return {503, "the records cannot be reached: try again in a moment"};
  }
  if (is_write(req) && req.path != "/api/logout" &&
      !same(req.get_header_value("X-CSRF-Token"), session.csrf))
    return {403, "missing or wrong CSRF token (X-CSRF-Token)"};
  // Accounts, deleting and restoring cases, old versions and the team's settings are an
  // admin's.
  const bool admin_only = req.path.starts_with("/api/users") || req.path == "/api/deleted" ||
                          (req.method == "DELETE" && req.path.starts_with("/api/cases/")) ||
                          (req.path.starts_with("/api/cases/") &&
                           (req.path.ends_with("/versions") || req.path.ends_with("/restore"))) ||
                          (req.path == "/api/settings" && is_write(req));
  if (admin_only && session.role != records::Role::kAdmin)
    return {403, "only an admin may do this"};
  return {};
}

void Auth::sweep(std::chrono::steady_clock::time_point now) {
  std::erase_if(sessions_, [&](const auto& entry) { return now - entry.second.checked > idle; });
}

std::chrono::milliseconds Auth::delay_after(std::size_t failures) {
  if (failures < kFailuresBeforeDelay) return std::chrono::milliseconds(0);
  const std::size_t doublings = std::min<std::size_t>(failures - kFailuresBeforeDelay, 16);
  return std::min(kLongestDelay, kFirstDelay * (std::int64_t(1) << doublings));
}

std::optional<LoginResult> Auth::count_attempt(const std::string& address, const std::string& name,
                                               std::int64_t& at_ms) {
  const auto now = std::chrono::steady_clock::now();
  const std::string by_address = "addr:" + address, by_name = "user:" + name;
  bool sweep_store = false;
  {
    std::lock_guard lock(mutex_);
    sweep(now);
    if (now - last_store_sweep_ > std::chrono::minutes(10)) {
      last_store_sweep_ = now;
      sweep_store = true;
    }
  }
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  const std::int64_t since_ms =
      now_ms - std::chrono::duration_cast<std::chrono::milliseconds>(kFailureWindow).count();
  std::chrono::milliseconds delay{0};
  {
    // The attempt counts before the (slow) check, so guesses in a row cannot pass the limit;
    // a success takes it back. Every server on the store counts the same failures.
    std::lock_guard lock(*store_mutex_);
    if (sweep_store) {
      (void)store_->remove_login_failures("", std::nullopt, since_ms);
      const std::int64_t now_s = now_ms / 1000;
      (void)store_->remove_stale_sessions(now_s - idle.count(), now_s - longest.count());
    }
    auto from_address = store_->count_login_failures(by_address, since_ms);
    auto on_account = store_->count_login_failures(by_name, since_ms);
    if (!from_address || !on_account)
      return LoginResult{503, "the records cannot be reached: try again in a moment", "", {}};
    if (*from_address >= static_cast<std::size_t>(kMaxFailuresPerAddress))
      return LoginResult{
          429, "too many failed logins from this address; wait a few minutes", "", {}};
    delay = delay_after(*on_account);
    at_ms = now_ms;
    if (!store_->add_login_failure(by_address, at_ms) || !store_->add_login_failure(by_name, at_ms))
      return LoginResult{503, "the records cannot be reached: try again in a moment", "", {}};
  }
  // Guessing one account's password gets slower and slower; its owner still gets in.
  if (delay.count() > 0) std::this_thread::sleep_for(delay);
  return std::nullopt;
}

void Auth::forget_failures(const std::string& address, const std::string& name,
                           std::int64_t at_ms) {
  std::lock_guard lock(*store_mutex_);
  (void)store_->remove_login_failures("addr:" + address, at_ms);
  (void)store_->remove_login_failures("user:" + name, std::nullopt, 0);
}

bool Auth::check_password(const std::string& encoded_hash, const std::string& password) {
  hashing_.acquire();
  struct Release {
    std::counting_semaphore<kConcurrentChecks>& s;
    ~Release() { s.release(); }
  } release{hashing_};
  // An unknown name costs the same as a wrong password.
  static const std::string kDummy = [] {
    auto u = make_user("dummy", "dummy-password-0", "technician");
    return u ? u->password_hash : std::string();
  }();
  return verify_password(encoded_hash.empty() ? kDummy : encoded_hash, password) &&
         !encoded_hash.empty();
}

Result<LoginResult> Auth::start_session(const records::User& user, const std::string& address,
                                        bool secure) {
  const std::string token = random_hex(32);
  const std::int64_t now_s = unix_now();
  records::StoredSession s{token_hash(token),
                           user.name,
                           random_hex(16),
                           user.role,
                           password_mark(user.password_hash),
                           now_s,
                           now_s,
                           address};
  {
    std::lock_guard lock(*store_mutex_);
    if (auto ok = store_->put_session(s); !ok) return tl::unexpected(ok.error());
  }
  {
    std::lock_guard lock(mutex_);
    sessions_[s.token_hash] = Session{s, std::chrono::steady_clock::now()};
  }
  return LoginResult{
      200,
      "",
      session_cookie(token, secure, longest.count()),
      {{"user", s.user}, {"role", records::role_name(s.role)}, {"csrf", s.csrf}, {"team", true}}};
}

LoginResult Auth::login(const nlohmann::json& body, const std::string& address, bool secure) {
  if (!body.is_object() || !body.contains("name") || !body["name"].is_string() ||
      !body.contains("password") || !body["password"].is_string())
    return {400, "login: expected {\"name\": ..., \"password\": ...}", "", {}};
  const std::string name = body["name"].get<std::string>();
  const std::string password = body["password"].get<std::string>();
  if (name.empty() || name.size() > 64 || password.size() > 1024)
    return {401, "wrong name or password", "", {}};
  std::int64_t at_ms = 0;
  if (auto refused = count_attempt(address, name, at_ms)) return *refused;
  std::optional<records::User> user;
  {
    std::lock_guard lock(*store_mutex_);
    auto u = store_->get_user(name);
    if (!u) return {500, u.error().message, "", {}};
    user = std::move(*u);
  }
  if (!check_password(user ? user->password_hash : "", password) || !user)
    return {401, "wrong name or password", "", {}};
  if (user->disabled) return {403, "this account is disabled: ask an admin", "", {}};
  forget_failures(address, name, at_ms);
  auto started = start_session(*user, address, secure);
  if (!started) return {500, started.error().message, "", {}};
  return *started;
}

LoginResult Auth::change_password(const httplib::Request& req, const nlohmann::json& body,
                                  const std::string& address, bool secure) {
  const auto me = cached(req);
  if (!me) return {401, "log in first", "", {}};
  if (!body.is_object() || !body.contains("current") || !body["current"].is_string() ||
      !body.contains("new") || !body["new"].is_string())
    return {400, "password: expected {\"current\": ..., \"new\": ...}", "", {}};
  std::int64_t at_ms = 0;
  if (auto refused = count_attempt(address, me->user, at_ms)) return *refused;
  std::optional<records::User> user;
  {
    std::lock_guard lock(*store_mutex_);
    auto u = store_->get_user(me->user);
    if (!u) return {500, u.error().message, "", {}};
    user = std::move(*u);
  }
  if (!user) return {401, "your account was removed", "", {}};
  if (!check_password(user->password_hash, body["current"].get<std::string>()))
    return {403, "password: \"current\" is not your password", "", {}};
  forget_failures(address, me->user, at_ms);
  auto fresh = make_user(user->name, body["new"].get<std::string>(),
                         std::string(records::role_name(user->role)));
  if (!fresh) {
    std::string why = fresh.error().message;
    if (why.starts_with("user \"password\"")) why = "password: \"new\"" + why.substr(15);
    return {400, why, "", {}};
  }
  user->password_hash = fresh->password_hash;
  {
    std::lock_guard lock(*store_mutex_);
    if (auto ok = store_->put_user(*user); !ok) return {500, ok.error().message, "", {}};
  }
  if (auto ended = end_sessions_of(user->name); !ended) return {500, ended.error().message, "", {}};
  auto started = start_session(*user, address, secure);
  if (!started) return {500, started.error().message, "", {}};
  return *started;
}

std::string Auth::logout(const httplib::Request& req, bool secure) {
  const std::string token = cookie_value(req);
  if (!token.empty()) {
    const std::string hash = token_hash(token);
    {
      std::lock_guard lock(mutex_);
      sessions_.erase(hash);
    }
    std::lock_guard lock(*store_mutex_);
    (void)store_->remove_session(hash);
  }
  return session_cookie("", secure, 0);
}

Result<std::size_t> Auth::logout_everywhere(const httplib::Request& req) {
  const auto me = cached(req);
  if (!me) return make_error(ErrorCode::kInvalidArgument, "log in first");
  return end_sessions_of(me->user);
}

nlohmann::json Auth::session_json(const httplib::Request& req) {
  if (!team) return {{"team", false}, {"user", nullptr}, {"role", "admin"}, {"csrf", nullptr}};
  records::StoredSession s;
  if (find_session(req, s) != Found::kYes)
    return {{"team", true}, {"user", nullptr}, {"role", nullptr}, {"csrf", nullptr}};
  return {{"team", true},
          {"user", s.user},
          {"role", records::role_name(s.role)},
          {"csrf", s.csrf},
          {"expires_idle_s", idle.count()},
          {"started", s.created_s}};
}

std::string Auth::user_of(const httplib::Request& req) {
  if (!team) return "";
  const auto s = cached(req);
  return s ? s->user : "";
}

bool Auth::is_admin(const httplib::Request& req) {
  if (!team) return true;
  const auto s = cached(req);
  return s && s->role == records::Role::kAdmin;
}

}  // namespace bmslink::server
