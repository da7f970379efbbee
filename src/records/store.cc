// The two stores. Both keep the case JSON whole (what was imported comes back identical) beside
// the columns statistics and lists select on; captures are a child table with a foreign key.

#include "bmslink/records/store.h"
#include <array>

#include "bmslink/core/json.h"

#include <fcntl.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

namespace bmslink::records {

namespace {
// The database's CHECK constraint holds the same two names.
constexpr std::array<std::pair<Role, std::string_view>, 2> kRoles{
    {{Role::kTechnician, "technician"}, {Role::kAdmin, "admin"}}};
}  // namespace

std::string_view role_name(Role role) {
  for (const auto& [r, name] : kRoles)
    if (r == role) return name;
  return "technician";
}

std::optional<Role> parse_role(std::string_view name) {
  for (const auto& [r, n] : kRoles)
    if (n == name) return r;
  return std::nullopt;
}
namespace {

using nlohmann::json;

// Version 1. Later versions are appended, never edited: a store applies those it has not.
const std::vector<std::string_view> kMigrations = {
    "CREATE TABLE cases ("
    " id TEXT PRIMARY KEY,"
    " opened TEXT NOT NULL,"
    " closed TEXT,"
    " installer TEXT NOT NULL DEFAULT '',"
    " outcome TEXT NOT NULL,"
    " root_cause TEXT,"
    " layer INTEGER,"
    " bms_model TEXT NOT NULL DEFAULT '',"
    " bms_firmware TEXT NOT NULL DEFAULT '',"
    " inverter_model TEXT NOT NULL DEFAULT '',"
    " inverter_firmware TEXT NOT NULL DEFAULT '',"
    " total_minutes DOUBLE PRECISION NOT NULL,"
    " body TEXT NOT NULL);"
    "CREATE INDEX cases_opened ON cases (opened);"
    "CREATE TABLE case_captures ("
    " case_id TEXT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,"
    " position INTEGER NOT NULL,"
    " sha256 TEXT NOT NULL,"
    " file TEXT NOT NULL,"
    " PRIMARY KEY (case_id, position));"
    "CREATE INDEX case_captures_sha256 ON case_captures (sha256);",
    // 2: team-mode accounts (bmslink serve --team).
    "CREATE TABLE users ("
    " name TEXT PRIMARY KEY,"
    " password_hash TEXT NOT NULL,"
    " role TEXT NOT NULL CHECK (role IN ('technician', 'admin')));",
    // 3: the console's settings (company details on reports), kept versions of cases (an admin
    // restores what a save or a delete took away), accounts that are disabled.
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE case_versions ("
    " case_id TEXT NOT NULL,"
    " saved_at TEXT NOT NULL,"
    " deleted INTEGER NOT NULL DEFAULT 0,"
    " body TEXT NOT NULL);"
    "CREATE INDEX case_versions_case ON case_versions (case_id, saved_at);"
    "ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;",
    // 4: team-mode sessions, shared by every server process on the store and kept across
    // restarts (the token itself is never stored, only its SHA-256).
    "CREATE TABLE sessions ("
    " token_hash TEXT PRIMARY KEY,"
    " user_name TEXT NOT NULL,"
    " csrf TEXT NOT NULL,"
    " role TEXT NOT NULL,"
    " password_mark TEXT NOT NULL,"
    " created BIGINT NOT NULL,"
    " last_seen BIGINT NOT NULL,"
    " address TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX sessions_user ON sessions (user_name);"
    // Failed logins, by client address and by account, so every server on the store counts
    // the same ones.
    "CREATE TABLE login_failures (key TEXT NOT NULL, at_ms BIGINT NOT NULL);"
    "CREATE INDEX login_failures_key ON login_failures (key, at_ms);"};

// Now with microseconds, never the same value twice in a process: versions saved within one
// second keep their order, and the oldest beyond what is kept is always one version.
std::string now_ms() {
  static std::atomic<std::int64_t> last{0};
  std::int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  for (std::int64_t prev = last.load();;) {
    if (us <= prev) us = prev + 1;
    if (last.compare_exchange_weak(prev, us)) break;
  }
  const std::time_t secs = us / 1000000;
  std::tm t{};
  gmtime_r(&secs, &t);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:06d}Z", t.tm_year + 1900,
                     t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                     static_cast<int>(us % 1000000));
}

// The values of the columns beside the body, as text (NULL as nullopt).
std::vector<std::optional<std::string>> columns(const Case& c, const std::string& body) {
  auto opt = [](const std::optional<std::string>& s) { return s; };
  return {c.id,
          c.opened,
          opt(c.closed),
          c.installer,
          std::string(outcome_name(c.outcome)),
          c.root_cause ? std::optional<std::string>(std::string(diagnosis::cause_id(*c.root_cause)))
                       : std::nullopt,
          c.layer ? std::optional<std::string>(std::to_string(*c.layer)) : std::nullopt,
          c.bms.model,
          c.bms.firmware,
          c.inverter.model,
          c.inverter.firmware,
          fmt::format("{}", c.total_minutes()),
          body};
}

constexpr const char* kColumns =
    "id, opened, closed, installer, outcome, root_cause, layer, bms_model, bms_firmware, "
    "inverter_model, inverter_firmware, total_minutes, body";

Result<Case> read_body(const std::string& body, const std::string& id) {
  auto j = parse_json(body, "stored case " + id);
  if (!j) return tl::unexpected(j.error());
  return case_from_json(*j, "stored case " + id);
}

bool matches(const Case& c, const CaseFilter& f) {
  // ISO 8601 compares as text: "2026-01-01T08:00:00Z" is not before "2026-01-01".
  if (!f.since.empty() && c.opened < f.since) return false;
  if (!f.installer.empty() && c.installer != f.installer) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// SQLite

class SqliteStore final : public Store {
 public:
  SqliteStore(sqlite3* db, std::string url) : db_(db), url_(std::move(url)) {}
  ~SqliteStore() override { sqlite3_close(db_); }

  Result<void> init() {
    for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=ON",
                               "PRAGMA busy_timeout=30000", "PRAGMA synchronous=FULL"}) {
      if (auto ok = exec(pragma); !ok) return ok;
    }
    return migrate();
  }

  Result<void> put(const Case& c) override { return put_all({c}); }

  Result<bool> put_if(const Case& c,
                      const std::function<bool(const std::optional<Case>&)>& still) override {
    // The write lock is held from the look-up to the commit: no other writer can change the
    // case in between.
    if (auto ok = exec("BEGIN IMMEDIATE"); !ok) return tl::unexpected(ok.error());
    auto stored = get(c.id);
    if (!stored) {
      exec("ROLLBACK");
      return tl::unexpected(stored.error());
    }
    if (!still(*stored)) {
      exec("ROLLBACK");
      return false;
    }
    if (auto ok = write(c); !ok) {
      exec("ROLLBACK");
      return tl::unexpected(ok.error());
    }
    if (auto ok = exec("COMMIT"); !ok) {
      exec("ROLLBACK");
      return tl::unexpected(ok.error());
    }
    ++writes_;
    return true;
  }

  Result<void> put_all(const std::vector<Case>& cases) override {
    // IMMEDIATE takes the write lock up front: a second writer waits (busy_timeout) instead of
    // failing half-way through its transaction.
    if (auto ok = exec("BEGIN IMMEDIATE"); !ok) return ok;
    for (const auto& c : cases) {
      if (auto ok = write(c); !ok) {
        exec("ROLLBACK");
        return ok;
      }
    }
    if (auto ok = exec("COMMIT"); !ok) {
      exec("ROLLBACK");
      return ok;
    }
    ++writes_;
    return {};
  }

  Result<std::optional<Case>> get(std::string_view id) override {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT body FROM cases WHERE id = ?", -1, &st, nullptr) !=
        SQLITE_OK)
      return error("select");
    sqlite3_bind_text(st, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
    std::optional<Case> out;
    const int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      const std::string body(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
      auto c = read_body(body, std::string(id));
      sqlite3_finalize(st);
      if (!c) return tl::unexpected(c.error());
      out = std::move(*c);
      return out;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return error("select");
    return out;
  }

  Result<std::vector<Case>> list(const CaseFilter& filter) override {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT id, body FROM cases ORDER BY opened, id", -1, &st,
                           nullptr) != SQLITE_OK)
      return error("list");
    std::vector<Case> out;
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      const std::string id(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
      const std::string body(reinterpret_cast<const char*>(sqlite3_column_text(st, 1)));
      auto c = read_body(body, id);
      if (!c) {
        sqlite3_finalize(st);
        return tl::unexpected(c.error());
      }
      if (matches(*c, filter)) out.push_back(std::move(*c));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return error("list");
    return out;
  }

  Result<bool> remove(std::string_view id) override {
    if (auto ok = exec("BEGIN IMMEDIATE"); !ok) return tl::unexpected(ok.error());
    if (auto ok = keep_version(std::string(id), nullptr); !ok) {
      exec("ROLLBACK");
      return tl::unexpected(ok.error());
    }
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, "DELETE FROM cases WHERE id = ?", -1, &st, nullptr) != SQLITE_OK) {
      exec("ROLLBACK");
      return error("delete");
    }
    sqlite3_bind_text(st, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
    const int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
      exec("ROLLBACK");
      return error("delete");
    }
    const bool removed = sqlite3_changes(db_) > 0;
    ++writes_;
    if (auto ok = exec("COMMIT"); !ok) {
      exec("ROLLBACK");
      return tl::unexpected(ok.error());
    }
    return removed;
  }

  Result<void> put_user(const User& u) override {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(
            db_,
            "INSERT INTO users (name, password_hash, role, disabled) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, "
            "role = excluded.role, disabled = excluded.disabled",
            -1, &st, nullptr) != SQLITE_OK)
      return error("user");
    sqlite3_bind_text(st, 1, u.name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, u.password_hash.c_str(), -1, SQLITE_TRANSIENT);
    const std::string role(role_name(u.role));
    sqlite3_bind_text(st, 3, role.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 4, u.disabled ? 1 : 0);
    const int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return error("user");
    ++writes_;
    return {};
  }

  Result<std::optional<User>> get_user(std::string_view name) override {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_,
                           "SELECT name, password_hash, role, disabled FROM users WHERE name = ?",
                           -1, &st, nullptr) != SQLITE_OK)
      return error("user");
    sqlite3_bind_text(st, 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    std::optional<User> out;
    const int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      auto text = [&](int col) {
        return std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, col)));
      };
      out = User{text(0), text(1), parse_role(text(2)).value_or(Role::kTechnician),
                 sqlite3_column_int(st, 3) != 0};
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return error("user");
    return out;
  }

  // PRAGMA data_version moves when another connection commits; our own commits are counted.
  std::optional<std::uint64_t> revision() override {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, "PRAGMA data_version", -1, &st, nullptr) != SQLITE_OK)
      return std::nullopt;
    std::optional<std::uint64_t> out;
    if (sqlite3_step(st) == SQLITE_ROW)
      out = (static_cast<std::uint64_t>(sqlite3_column_int64(st, 0)) << 32) + writes_;
    sqlite3_finalize(st);
    return out;
  }

  int schema_version() override {
    sqlite3_stmt* st = nullptr;
    int v = 0;
    if (sqlite3_prepare_v2(db_, "SELECT version FROM schema_version", -1, &st, nullptr) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
  }

  std::string url() const override { return url_; }

 protected:
  Result<std::vector<Row>> query(std::string_view sql,
                                 const std::vector<std::string>& params) override {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, std::string(sql).c_str(), -1, &st, nullptr) != SQLITE_OK)
      return error("query");
    for (std::size_t i = 0; i < params.size(); ++i)
      sqlite3_bind_text(st, static_cast<int>(i + 1), params[i].c_str(),
                        static_cast<int>(params[i].size()), SQLITE_TRANSIENT);
    std::vector<Row> rows;
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      Row row;
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
        row.push_back(text != nullptr ? std::optional<std::string>(text) : std::nullopt);
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return error("query");
    if (sqlite3_changes(db_) > 0 && !sql.starts_with("SELECT")) ++writes_;
    return rows;
  }

 private:
  std::uint64_t writes_ = 0;
  tl::unexpected<Error> error(std::string_view what) const {
    return make_error(ErrorCode::kIo, fmt::format("{}: {}: {}", url_, what, sqlite3_errmsg(db_)));
  }

  Result<void> begin(bool write_lock) override {
    // A deferred BEGIN reads one snapshot (WAL) from its first SELECT; IMMEDIATE takes the
    // write lock up front.
    return exec(write_lock ? "BEGIN IMMEDIATE" : "BEGIN");
  }
  Result<void> commit() override {
    if (auto ok = exec("COMMIT"); !ok) {
      exec("ROLLBACK");
      return ok;
    }
    ++writes_;
    return {};
  }
  void rollback() override { exec("ROLLBACK"); }
  Result<void> write_case(const Case& c) override { return write(c); }

  Result<void> exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      const std::string m = msg != nullptr ? msg : sqlite3_errmsg(db_);
      sqlite3_free(msg);
      return make_error(ErrorCode::kIo, fmt::format("{}: {}", url_, m));
    }
    return {};
  }

  Result<void> migrate() {
    if (auto ok = exec("BEGIN IMMEDIATE"); !ok) return ok;
    auto fail = [this](Result<void> r) {
      exec("ROLLBACK");
      return r;
    };
    if (auto ok = exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"); !ok)
      return fail(ok);
    int v = schema_version();
    if (v == 0) {
      if (auto ok = exec("INSERT INTO schema_version SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM "
                         "schema_version)");
          !ok)
        return fail(ok);
    }
    if (v > static_cast<int>(kMigrations.size()))
      return fail(make_error(ErrorCode::kUnsupported,
                             fmt::format("{}: schema version {} is newer than this bmslink ({})",
                                         url_, v, kMigrations.size())));
    for (std::size_t i = static_cast<std::size_t>(v); i < kMigrations.size(); ++i) {
      if (auto ok = exec(std::string(kMigrations[i]).c_str()); !ok) return fail(ok);
      if (auto ok = exec(fmt::format("UPDATE schema_version SET version = {}", i + 1).c_str()); !ok)
        return fail(ok);
    }
    return exec("COMMIT");
  }

  Result<void> write(const Case& c) {
    // Findings of a capture may quote bytes that are not UTF-8 (a channel name): kept as U+FFFD.
    const std::string body = case_to_json(c).dump(-1, ' ', false, json::error_handler_t::replace);
    if (auto ok = keep_version(c.id, &body); !ok) return ok;
    const auto cols = columns(c, body);
    const std::string sql = fmt::format(
        "INSERT INTO cases ({}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET "
        "opened=excluded.opened, closed=excluded.closed, installer=excluded.installer, "
        "outcome=excluded.outcome, root_cause=excluded.root_cause, layer=excluded.layer, "
        "bms_model=excluded.bms_model, bms_firmware=excluded.bms_firmware, "
        "inverter_model=excluded.inverter_model, inverter_firmware=excluded.inverter_firmware, "
        "total_minutes=excluded.total_minutes, body=excluded.body",
        kColumns);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) return error("insert");
    for (std::size_t i = 0; i < cols.size(); ++i) {
      const int at = static_cast<int>(i + 1);
      if (cols[i])
        sqlite3_bind_text(st, at, cols[i]->c_str(), static_cast<int>(cols[i]->size()),
                          SQLITE_TRANSIENT);
      else
        sqlite3_bind_null(st, at);
    }
    const int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return error("insert " + c.id);
    sqlite3_stmt* del = nullptr;
    if (sqlite3_prepare_v2(db_, "DELETE FROM case_captures WHERE case_id = ?", -1, &del, nullptr) !=
        SQLITE_OK)
      return error("captures");
    sqlite3_bind_text(del, 1, c.id.c_str(), static_cast<int>(c.id.size()), SQLITE_TRANSIENT);
    const int drc = sqlite3_step(del);
    sqlite3_finalize(del);
    if (drc != SQLITE_DONE) return error("captures");
    for (std::size_t i = 0; i < c.captures.size(); ++i) {
      sqlite3_stmt* ins = nullptr;
      if (sqlite3_prepare_v2(
              db_, "INSERT INTO case_captures (case_id, position, sha256, file) VALUES (?,?,?,?)",
              -1, &ins, nullptr) != SQLITE_OK)
        return error("captures");
      sqlite3_bind_text(ins, 1, c.id.c_str(), static_cast<int>(c.id.size()), SQLITE_TRANSIENT);
      sqlite3_bind_int(ins, 2, static_cast<int>(i));
      sqlite3_bind_text(ins, 3, c.captures[i].sha256.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(ins, 4, c.captures[i].file.c_str(), -1, SQLITE_TRANSIENT);
      const int irc = sqlite3_step(ins);
      sqlite3_finalize(ins);
      if (irc != SQLITE_DONE) return error("captures");
    }
    return {};
  }

  sqlite3* db_;
  std::string url_;
};

// ---------------------------------------------------------------------------------------------
// PostgreSQL

class PgStore final : public Store {
 public:
  PgStore(PGconn* conn, std::string url) : conn_(conn), url_(std::move(url)) {}
  ~PgStore() override { PQfinish(conn_); }

  Result<void> init() {
    // Quiet NOTICEs ("relation exists") on stderr.
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
    return migrate();
  }

  Result<void> put(const Case& c) override { return put_all({c}); }

  Result<bool> put_if(const Case& c,
                      const std::function<bool(const std::optional<Case>&)>& still) override {
    // The store's write lock (see begin_write): no other writer can change the case between
    // the look-up and the write. The look-up is a statement of its own, after the lock: under
    // READ COMMITTED each statement takes its snapshot when it starts, so a look-up in the
    // locking statement would not see what the writer before just committed.
    if (auto ok = begin_write(); !ok) return tl::unexpected(ok.error());
    auto stored = get(c.id);
    if (!stored) {
      command("ROLLBACK");
      return tl::unexpected(stored.error());
    }
    if (!still(*stored)) {
      command("ROLLBACK");
      return false;
    }
    if (auto ok = write(c); !ok) {
      command("ROLLBACK");
      return tl::unexpected(ok.error());
    }
    if (auto ok = command("COMMIT"); !ok) {
      command("ROLLBACK");
      return tl::unexpected(ok.error());
    }
    return true;
  }

  Result<void> put_all(const std::vector<Case>& cases) override {
    if (auto ok = begin_write(); !ok) return ok;
    for (const auto& c : cases) {
      if (auto ok = write(c); !ok) {
        command("ROLLBACK");
        return ok;
      }
    }
    if (auto ok = command("COMMIT"); !ok) {
      command("ROLLBACK");
      return ok;
    }
    return {};
  }

  Result<std::optional<Case>> get(std::string_view id) override {
    const std::string sid(id);
    const char* params[] = {sid.c_str()};
    PGresult* res = PQexecParams(conn_, "SELECT body FROM cases WHERE id = $1", 1, nullptr, params,
                                 nullptr, nullptr, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) return failed(res, "select");
    std::optional<Case> out;
    if (PQntuples(res) == 1) {
      auto c = read_body(PQgetvalue(res, 0, 0), sid);
      PQclear(res);
      if (!c) return tl::unexpected(c.error());
      out = std::move(*c);
      return out;
    }
    PQclear(res);
    return out;
  }

  Result<std::vector<Case>> list(const CaseFilter& filter) override {
    PGresult* res = PQexec(conn_, "SELECT id, body FROM cases ORDER BY opened, id");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) return failed(res, "list");
    std::vector<Case> out;
    for (int i = 0; i < PQntuples(res); ++i) {
      auto c = read_body(PQgetvalue(res, i, 1), PQgetvalue(res, i, 0));
      if (!c) {
        PQclear(res);
        return tl::unexpected(c.error());
      }
      if (matches(*c, filter)) out.push_back(std::move(*c));
    }
    PQclear(res);
    return out;
  }

  Result<bool> remove(std::string_view id) override {
    if (auto ok = begin_write(); !ok) return tl::unexpected(ok.error());
    const std::string sid(id);
    const char* params[] = {sid.c_str()};
    if (auto ok = keep_version(sid, nullptr); !ok) {
      command("ROLLBACK");
      return tl::unexpected(ok.error());
    }
    PGresult* res = PQexecParams(conn_, "DELETE FROM cases WHERE id = $1", 1, nullptr, params,
                                 nullptr, nullptr, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
      auto e = failed(res, "delete");
      command("ROLLBACK");
      return e;
    }
    const bool removed = std::strcmp(PQcmdTuples(res), "0") != 0;
    PQclear(res);
    if (auto ok = command("COMMIT"); !ok) {
      command("ROLLBACK");
      return tl::unexpected(ok.error());
    }
    return removed;
  }

  Result<void> put_user(const User& u) override {
    const std::string role(role_name(u.role));
    const char* params[] = {u.name.c_str(), u.password_hash.c_str(), role.c_str(),
                            u.disabled ? "1" : "0"};
    PGresult* res = PQexecParams(
        conn_,
        "INSERT INTO users (name, password_hash, role, disabled) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (name) DO UPDATE SET password_hash = EXCLUDED.password_hash, "
        "role = EXCLUDED.role, disabled = EXCLUDED.disabled",
        4, nullptr, params, nullptr, nullptr, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) return failed(res, "user");
    PQclear(res);
    return {};
  }

  Result<std::optional<User>> get_user(std::string_view name) override {
    const std::string n(name);
    const char* params[] = {n.c_str()};
    PGresult* res =
        PQexecParams(conn_, "SELECT name, password_hash, role, disabled FROM users WHERE name = $1",
                     1, nullptr, params, nullptr, nullptr, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) return failed(res, "user");
    std::optional<User> out;
    if (PQntuples(res) == 1)
      out = User{PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
                 parse_role(PQgetvalue(res, 0, 2)).value_or(Role::kTechnician),
                 std::strcmp(PQgetvalue(res, 0, 3), "0") != 0};
    PQclear(res);
    return out;
  }

  // The WAL position moves with every write anywhere in the cluster: a conservative revision.
  std::optional<std::uint64_t> revision() override {
    PGresult* res = PQexec(conn_, "SELECT pg_current_wal_lsn()::text");
    std::optional<std::uint64_t> out;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
      out = std::hash<std::string>{}(PQgetvalue(res, 0, 0));
    PQclear(res);
    return out;
  }

  int schema_version() override {
    PGresult* res = PQexec(conn_, "SELECT version FROM schema_version");
    int v = 0;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
      v = std::atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
  }

  std::string url() const override { return url_; }

 protected:
  Result<std::vector<Row>> query(std::string_view sql,
                                 const std::vector<std::string>& params) override {
    // `?` placeholders as PostgreSQL's $1, $2 ...
    std::string text;
    int n = 0;
    for (char ch : sql) {
      if (ch == '?')
        text += fmt::format("${}", ++n);
      else
        text += ch;
    }
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    PGresult* res = PQexecParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr,
                                 values.data(), nullptr, nullptr, 0);
    const auto st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return failed(res, "query");
    std::vector<Row> rows;
    for (int r = 0; r < PQntuples(res); ++r) {
      Row row;
      for (int c = 0; c < PQnfields(res); ++c)
        row.push_back(PQgetisnull(res, r, c) ? std::nullopt
                                             : std::optional<std::string>(PQgetvalue(res, r, c)));
      rows.push_back(std::move(row));
    }
    PQclear(res);
    return rows;
  }

 private:
  tl::unexpected<Error> failed(PGresult* res, std::string_view what) {
    const std::string msg = res != nullptr ? PQresultErrorMessage(res) : PQerrorMessage(conn_);
    PQclear(res);
    std::string m = msg;
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return make_error(ErrorCode::kIo, fmt::format("{}: {}: {}", url_, what, m));
  }

  // Every transaction that writes cases takes one store-wide advisory lock first, as SQLite's
  // BEGIN IMMEDIATE takes its write lock: writers of the records follow one another, so a
  // conditional write (put_if, create) cannot be overtaken by an import or a delete between its
  // look-up and its write. Service records are written a few times a minute at most.
  Result<void> begin(bool write_lock) override {
    if (write_lock) return begin_write();
    return command("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  }
  Result<void> commit() override {
    if (auto ok = command("COMMIT"); !ok) {
      command("ROLLBACK");
      return ok;
    }
    return {};
  }
  void rollback() override { command("ROLLBACK"); }
  Result<void> write_case(const Case& c) override { return write(c); }

  Result<void> begin_write() {
    if (auto ok = command("BEGIN"); !ok) return ok;
    if (auto ok = command("SELECT pg_advisory_xact_lock(hashtext('bmslink cases'))"); !ok) {
      command("ROLLBACK");
      return ok;
    }
    return {};
  }

  Result<void> command(const std::string& sql) {
    PGresult* res = PQexec(conn_, sql.c_str());
    const auto st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return failed(res, "sql");
    PQclear(res);
    return {};
  }

  Result<void> migrate() {
    if (auto ok = command("BEGIN"); !ok) return ok;
    auto fail = [this](Result<void> r) {
      command("ROLLBACK");
      return r;
    };
    // One migrating process at a time (two first-time users at once would both create tables).
    if (auto ok = command("SELECT pg_advisory_xact_lock(4242424242)"); !ok) return fail(ok);
    if (auto ok = command("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
        !ok)
      return fail(ok);
    if (auto ok = command(
            "INSERT INTO schema_version SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version)");
        !ok)
      return fail(ok);
    const int v = schema_version();
    if (v > static_cast<int>(kMigrations.size()))
      return fail(make_error(ErrorCode::kUnsupported,
                             fmt::format("{}: schema version {} is newer than this bmslink ({})",
                                         url_, v, kMigrations.size())));
    for (std::size_t i = static_cast<std::size_t>(v); i < kMigrations.size(); ++i) {
      if (auto ok = command(std::string(kMigrations[i])); !ok) return fail(ok);
      if (auto ok = command(fmt::format("UPDATE schema_version SET version = {}", i + 1)); !ok)
        return fail(ok);
    }
    return command("COMMIT");
  }

  Result<void> write(const Case& c) {
    // Findings of a capture may quote bytes that are not UTF-8 (a channel name): kept as U+FFFD.
    const std::string body = case_to_json(c).dump(-1, ' ', false, json::error_handler_t::replace);
    if (auto ok = keep_version(c.id, &body); !ok) return ok;
    const auto cols = columns(c, body);
    std::vector<const char*> params;
    for (const auto& col : cols) params.push_back(col ? col->c_str() : nullptr);
    const std::string sql = fmt::format(
        "INSERT INTO cases ({}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) "
        "ON CONFLICT (id) DO UPDATE SET opened=EXCLUDED.opened, closed=EXCLUDED.closed, "
        "installer=EXCLUDED.installer, outcome=EXCLUDED.outcome, root_cause=EXCLUDED.root_cause, "
        "layer=EXCLUDED.layer, bms_model=EXCLUDED.bms_model, bms_firmware=EXCLUDED.bms_firmware, "
        "inverter_model=EXCLUDED.inverter_model, inverter_firmware=EXCLUDED.inverter_firmware, "
        "total_minutes=EXCLUDED.total_minutes, body=EXCLUDED.body",
        kColumns);
    PGresult* res = PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                                 params.data(), nullptr, nullptr, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) return failed(res, "insert " + c.id);
    PQclear(res);
    const char* del[] = {c.id.c_str()};
    res = PQexecParams(conn_, "DELETE FROM case_captures WHERE case_id = $1", 1, nullptr, del,
                       nullptr, nullptr, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) return failed(res, "captures");
    PQclear(res);
    for (std::size_t i = 0; i < c.captures.size(); ++i) {
      const std::string pos = std::to_string(i);
      const char* p[] = {c.id.c_str(), pos.c_str(), c.captures[i].sha256.c_str(),
                         c.captures[i].file.c_str()};
      res = PQexecParams(conn_,
                         "INSERT INTO case_captures (case_id, position, sha256, file) VALUES "
                         "($1,$2,$3,$4)",
                         4, nullptr, p, nullptr, nullptr, 0);
      if (PQresultStatus(res) != PGRES_COMMAND_OK) return failed(res, "captures");
      PQclear(res);
    }
    return {};
  }

  PGconn* conn_;
  std::string url_;
};

Result<void> make_dirs(const std::string& path) {
  for (std::size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      const std::string part = path.substr(0, i);
      if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
        return make_error(ErrorCode::kIo,
                          fmt::format("cannot create {}: {}", part, std::strerror(errno)));
    }
  }
  return {};
}

}  // namespace

Result<std::vector<Store::Row>> Store::query(std::string_view, const std::vector<std::string>&) {
  return make_error(ErrorCode::kUnsupported, fmt::format("{}: no SQL", url()));
}

Result<void> Store::keep_version(const std::string& id, const std::string* body) {
  const std::string at = now_ms();
  auto kept = body != nullptr ? query(
                                    "INSERT INTO case_versions (case_id, saved_at, deleted, body) "
                                    "SELECT id, ?, 0, body FROM cases WHERE id = ? AND body <> ?",
                                    {at, id, *body})
                              : query(
                                    "INSERT INTO case_versions (case_id, saved_at, deleted, body) "
                                    "SELECT id, ?, 1, body FROM cases WHERE id = ?",
                                    {at, id});
  // Every version is kept (issue 20): an edit, however many, never pushes the original out.
  if (!kept) return tl::unexpected(kept.error());
  return {};
}

Result<std::optional<std::string>> Store::get_setting(std::string_view key) {
  auto rows = query("SELECT value FROM settings WHERE key = ?", {std::string(key)});
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty() || !rows->front()[0]) return std::optional<std::string>();
  return rows->front()[0];
}

Result<void> Store::put_setting(std::string_view key, std::string_view value) {
  auto rows = query(
      "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = "
      "excluded.value",
      {std::string(key), std::string(value)});
  if (!rows) return tl::unexpected(rows.error());
  return {};
}

Result<std::vector<User>> Store::list_users() {
  auto rows = query("SELECT name, password_hash, role, disabled FROM users ORDER BY name", {});
  if (!rows) return tl::unexpected(rows.error());
  std::vector<User> out;
  for (const auto& r : *rows)
    out.push_back(User{r[0].value_or(""), r[1].value_or(""),
                       parse_role(r[2].value_or("")).value_or(Role::kTechnician),
                       r[3].value_or("0") != "0"});
  return out;
}

Result<bool> Store::remove_user(std::string_view name) {
  auto before = get_user(name);
  if (!before) return tl::unexpected(before.error());
  if (!*before) return false;
  auto rows = query("DELETE FROM users WHERE name = ?", {std::string(name)});
  if (!rows) return tl::unexpected(rows.error());
  return true;
}

namespace {
constexpr const char* kSessionColumns =
    "token_hash, user_name, csrf, role, password_mark, created, last_seen, address";

StoredSession read_session(const std::vector<std::optional<std::string>>& r) {
  auto num = [](const std::optional<std::string>& v) -> std::int64_t {
    return v ? std::strtoll(v->c_str(), nullptr, 10) : 0;
  };
  return StoredSession{r[0].value_or(""), r[1].value_or(""),
                       r[2].value_or(""), parse_role(r[3].value_or("")).value_or(Role::kTechnician),
                       r[4].value_or(""), num(r[5]),
                       num(r[6]),         r[7].value_or("")};
}
}  // namespace

Result<void> Store::put_session(const StoredSession& s) {
  auto rows = query(
      fmt::format("INSERT INTO sessions ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", kSessionColumns),
      {s.token_hash, s.user, s.csrf, std::string(role_name(s.role)), s.password_mark,
       std::to_string(s.created_s), std::to_string(s.last_seen_s), s.address});
  if (!rows) return tl::unexpected(rows.error());
  return {};
}

Result<std::optional<StoredSession>> Store::get_session(std::string_view token_hash) {
  auto rows = query(fmt::format("SELECT {} FROM sessions WHERE token_hash = ?", kSessionColumns),
                    {std::string(token_hash)});
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty()) return std::optional<StoredSession>();
  return std::optional<StoredSession>(read_session(rows->front()));
}

Result<void> Store::touch_session(std::string_view token_hash, std::int64_t last_seen_s) {
  auto rows =
      query("UPDATE sessions SET last_seen = ? WHERE token_hash = ? AND last_seen < ?",
            {std::to_string(last_seen_s), std::string(token_hash), std::to_string(last_seen_s)});
  if (!rows) return tl::unexpected(rows.error());
  return {};
}

Result<bool> Store::remove_session(std::string_view token_hash) {
  auto rows = query("DELETE FROM sessions WHERE token_hash = ? RETURNING token_hash",
                    {std::string(token_hash)});
  if (!rows) return tl::unexpected(rows.error());
  return !rows->empty();
}

Result<std::size_t> Store::remove_sessions_of(std::string_view user, std::string_view except) {
  auto rows =
      query("DELETE FROM sessions WHERE user_name = ? AND token_hash <> ? RETURNING token_hash",
            {std::string(user), std::string(except)});
  if (!rows) return tl::unexpected(rows.error());
  return rows->size();
}

Result<std::size_t> Store::remove_stale_sessions(std::int64_t idle_before_s,
                                                 std::int64_t created_before_s) {
  auto rows = query("DELETE FROM sessions WHERE last_seen < ? OR created < ? RETURNING token_hash",
                    {std::to_string(idle_before_s), std::to_string(created_before_s)});
  if (!rows) return tl::unexpected(rows.error());
  return rows->size();
}

Result<std::size_t> Store::count_login_failures(std::string_view key, std::int64_t since_ms) {
  auto rows = query("SELECT count(*) FROM login_failures WHERE key = ? AND at_ms >= ?",
                    {std::string(key), std::to_string(since_ms)});
  if (!rows) return tl::unexpected(rows.error());
  if (rows->empty() || !rows->front()[0]) return std::size_t{0};
  return static_cast<std::size_t>(std::strtoull(rows->front()[0]->c_str(), nullptr, 10));
}

Result<void> Store::add_login_failure(std::string_view key, std::int64_t at_ms) {
  auto rows = query("INSERT INTO login_failures (key, at_ms) VALUES (?, ?)",
                    {std::string(key), std::to_string(at_ms)});
  if (!rows) return tl::unexpected(rows.error());
  return {};
}

Result<void> Store::remove_login_failures(std::string_view key, std::optional<std::int64_t> at_ms,
                                          std::int64_t before_ms) {
  auto rows = at_ms ? query("DELETE FROM login_failures WHERE key = ? AND at_ms = ?",
                            {std::string(key), std::to_string(*at_ms)})
                    : query("DELETE FROM login_failures WHERE key = ? OR at_ms < ?",
                            {std::string(key), std::to_string(before_ms)});
  if (!rows) return tl::unexpected(rows.error());
  return {};
}

Result<void> Store::begin(bool) {
  return make_error(ErrorCode::kUnsupported, fmt::format("{}: no transactions", url()));
}
Result<void> Store::commit() { return {}; }
void Store::rollback() {}
Result<void> Store::write_case(const Case& c) { return put(c); }

Result<RecordsDump> Store::dump() {
  if (auto ok = begin(false); !ok) return tl::unexpected(ok.error());
  RecordsDump d;
  auto read = [&]() -> Result<void> {
    d.schema_version = schema_version();
    auto cases = query("SELECT body FROM cases ORDER BY id", {});
    if (!cases) return tl::unexpected(cases.error());
    for (auto& r : *cases) d.cases.push_back(std::move(r[0]).value_or(""));
    auto versions = query(
        "SELECT case_id, saved_at, deleted, body FROM case_versions ORDER BY case_id, saved_at",
        {});
    if (!versions) return tl::unexpected(versions.error());
    for (auto& r : *versions)
      d.versions.push_back({r[0].value_or(""), r[1].value_or(""),
                            r[2].value_or("0") != "0" && r[2].value_or("0") != "f",
                            std::move(r[3]).value_or("")});
    auto users = list_users();
    if (!users) return tl::unexpected(users.error());
    d.users = std::move(*users);
    auto settings = query("SELECT key, value FROM settings ORDER BY key", {});
    if (!settings) return tl::unexpected(settings.error());
    for (auto& r : *settings) d.settings.emplace_back(r[0].value_or(""), r[1].value_or(""));
    return {};
  };
  auto ok = read();
  rollback();  // read only: nothing to keep
  if (!ok) return tl::unexpected(ok.error());
  return d;
}

Result<void> Store::load(const RecordsDump& d, bool merge) {
  // Every body is read before anything is written: a bad one names itself, nothing is stored.
  std::vector<Case> cases;
  cases.reserve(d.cases.size());
  for (std::size_t i = 0; i < d.cases.size(); ++i) {
    auto c = read_body(d.cases[i], fmt::format("case {} of {}", i + 1, d.cases.size()));
    if (!c) return tl::unexpected(c.error());
    cases.push_back(std::move(*c));
  }
  for (const auto& v : d.versions)
    if (auto c = read_body(v.body, fmt::format("version {} of case {}", v.saved_at, v.case_id)); !c)
      return tl::unexpected(c.error());
  if (auto ok = begin(true); !ok) return ok;
  auto write_all = [&]() -> Result<void> {
    if (!merge) {
      auto n = query("SELECT (SELECT count(*) FROM cases) + (SELECT count(*) FROM users)", {});
      if (!n) return tl::unexpected(n.error());
      if (!n->empty() && n->front()[0].value_or("0") != "0")
        return make_error(ErrorCode::kConflict,
                          fmt::format("{} already holds cases or accounts: restore into an empty "
                                      "store, or add --merge",
                                      url()));
    }
    for (const auto& c : cases)
      if (auto ok = write_case(c); !ok) return ok;
    for (const auto& v : d.versions) {
      auto ok = query(
          "INSERT INTO case_versions (case_id, saved_at, deleted, body) SELECT ?, ?, CAST(? AS "
          "INTEGER), ? "
          "WHERE "
          "NOT EXISTS (SELECT 1 FROM case_versions WHERE case_id = ? AND saved_at = ?)",
          {v.case_id, v.saved_at, v.deleted ? "1" : "0", v.body, v.case_id, v.saved_at});
      if (!ok) return tl::unexpected(ok.error());
    }
    for (const auto& u : d.users) {
      auto ok = query(
          "INSERT INTO users (name, password_hash, role, disabled) VALUES (?, ?, ?, ?) ON "
          "CONFLICT (name) DO UPDATE SET password_hash = excluded.password_hash, role = "
          "excluded.role, disabled = excluded.disabled",
          {u.name, u.password_hash, std::string(role_name(u.role)), u.disabled ? "1" : "0"});
      if (!ok) return tl::unexpected(ok.error());
    }
    for (const auto& [key, value] : d.settings)
      if (auto ok = put_setting(key, value); !ok) return ok;
    return {};
  };
  if (auto ok = write_all(); !ok) {
    rollback();
    return ok;
  }
  return commit();
}

Result<std::vector<std::string>> Store::referenced_captures() {
  std::set<std::string> out;
  auto rows = query("SELECT DISTINCT sha256 FROM case_captures", {});
  if (!rows) return tl::unexpected(rows.error());
  for (const auto& r : *rows)
    if (r[0]) out.insert(*r[0]);
  // Versions keep their captures in their bodies: "sha256":"<64 hex>".
  auto versions = query("SELECT body FROM case_versions", {});
  if (!versions) return tl::unexpected(versions.error());
  static constexpr std::string_view kKey = "\"sha256\":\"";
  for (const auto& r : *versions) {
    if (!r[0]) continue;
    const std::string& body = *r[0];
    for (auto at = body.find(kKey); at != std::string::npos; at = body.find(kKey, at + 1)) {
      const auto value = std::string_view(body).substr(at + kKey.size(), 64);
      if (value.size() == 64 && value.find_first_not_of("0123456789abcdef") == std::string::npos)
        out.insert(std::string(value));
    }
  }
  return std::vector<std::string>(out.begin(), out.end());
}

Result<std::vector<StoredSession>> Store::list_sessions() {
  auto rows = query(
      fmt::format("SELECT {} FROM sessions ORDER BY user_name, created", kSessionColumns), {});
  if (!rows) return tl::unexpected(rows.error());
  std::vector<StoredSession> out;
  for (const auto& r : *rows) out.push_back(read_session(r));
  return out;
}

namespace {
Result<std::vector<CaseVersion>> read_versions(
    const std::vector<std::vector<std::optional<std::string>>>& rows) {
  std::vector<CaseVersion> out;
  for (const auto& r : rows) {
    const std::string id = r[0].value_or("");
    auto c = read_body(r[3].value_or(""), id);
    if (!c) return tl::unexpected(c.error());
    out.push_back(CaseVersion{id, r[1].value_or(""), r[2].value_or("0") != "0", std::move(*c)});
  }
  return out;
}
}  // namespace

Result<std::vector<CaseVersion>> Store::versions(std::string_view id) {
  auto rows = query(
      "SELECT case_id, saved_at, deleted, body FROM case_versions WHERE case_id = ? ORDER BY "
      "saved_at DESC",
      {std::string(id)});
  if (!rows) return tl::unexpected(rows.error());
  return read_versions(*rows);
}

Result<std::vector<CaseVersion>> Store::deleted_cases() {
  auto rows = query(
      "SELECT v.case_id, v.saved_at, v.deleted, v.body FROM case_versions v WHERE v.deleted = 1 "
      "AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = v.case_id) AND v.saved_at = (SELECT "
      "MAX(saved_at) FROM case_versions w WHERE w.case_id = v.case_id) ORDER BY v.saved_at DESC",
      {});
  if (!rows) return tl::unexpected(rows.error());
  return read_versions(*rows);
}

const std::vector<std::string_view>& schema_migrations() { return kMigrations; }

std::string default_store_url() {
  std::string dir;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x != nullptr && *x == '/') {
    dir = std::string(x) + "/bmslink";
  } else if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') {
    dir = std::string(h) + "/.local/share/bmslink";
  } else {
    dir = ".";
  }
  (void)make_dirs(dir);
  return "sqlite://" + dir + "/bmslink.db";
}

// postgresql://user:secret@host/db -> postgresql://user:***@host/db, and password=... in a
// query string: the URL is printed in messages and written into reports.
std::string redact_password(std::string url) {
  const auto scheme = url.find("://");
  const auto at = url.find('@', scheme == std::string::npos ? 0 : scheme + 3);
  if (scheme != std::string::npos && at != std::string::npos) {
    const auto colon = url.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at) url.replace(colon + 1, at - colon - 1, "***");
  }
  for (auto p = url.find("password="); p != std::string::npos; p = url.find("password=", p + 1)) {
    const auto end = url.find('&', p);
    url.replace(p + 9, (end == std::string::npos ? url.size() : end) - p - 9, "***");
  }
  return url;
}

Result<std::unique_ptr<Store>> open_store(std::string_view url) {
  const std::string u(url);
  if (u.starts_with("postgresql://") || u.starts_with("postgres://")) {
    PGconn* conn = PQconnectdb(u.c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
      std::string msg = PQerrorMessage(conn);
      PQfinish(conn);
      while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
      return make_error(ErrorCode::kIo,
                        fmt::format("{}: cannot connect: {}", redact_password(u), msg));
    }
    auto store = std::make_unique<PgStore>(conn, redact_password(u));
    if (auto ok = store->init(); !ok) return tl::unexpected(ok.error());
    return std::unique_ptr<Store>(std::move(store));
  }
  std::string path = u;
  if (path.starts_with("sqlite://")) path = path.substr(9);
  if (path.empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "--db: expected sqlite:///path/to/file.db, a path or postgresql://...");
  if (path.find("://") != std::string::npos)
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("--db {}: expected sqlite://, postgresql:// or a path", u));
  // The records hold password hashes and customers' addresses: the file is the owner's alone
  // (0600), made so before SQLite opens it; its -wal and -shm files take the file's permissions.
  // ":memory:" and SQLite's special names are left alone.
  if (path != ":memory:" && !path.starts_with("file:")) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::fchmod(fd, 0600);
      ::close(fd);
    }
    for (const char* suffix : {"-wal", "-shm"}) ::chmod((path + suffix).c_str(), 0600);
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string msg = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return make_error(ErrorCode::kIo, fmt::format("{}: cannot open: {}", path, msg));
  }
  // Before any statement: two processes opening a new file at once wait instead of failing.
  sqlite3_busy_timeout(db, 30000);
  auto store = std::make_unique<SqliteStore>(db, "sqlite://" + path);
  if (auto ok = store->init(); !ok) return tl::unexpected(ok.error());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace bmslink::records
