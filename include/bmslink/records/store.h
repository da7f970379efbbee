// bmslink records: where cases live. One interface, two stores: SQLite (the embedded default, one
// file in the user's data directory, WAL, foreign keys, versioned migrations) and PostgreSQL (a
// team server, libpq). Every write is one transaction: a process killed mid-burst loses no
// committed case and corrupts nothing; two writers at once both succeed or fail cleanly.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bmslink/core/error.h"
#include "bmslink/records/case.h"

namespace bmslink::records {

struct CaseFilter {
  std::string since;      // cases opened at or after this ISO date/time ("2026-01-01")
  std::string installer;  // exact name, empty for all
};

// What a team-mode account may do: a technician works cases, an admin also manages accounts and
// deletes cases.
enum class Role { kTechnician, kAdmin };
std::string_view role_name(Role role);  // "technician", "admin"
std::optional<Role> parse_role(std::string_view name);

// A team-mode account (bmslink serve --team). The hash is the KDF's encoded string (argon2id).
struct User {
  std::string name;
  std::string password_hash;
  Role role = Role::kTechnician;
  bool disabled = false;  // kept for the record, may not log in
};

// A team-mode login as the store keeps it: only a digest of the cookie's token (a copy of the
// table logs nobody in), the account it is for, and its times (Unix seconds), so every server
// process on the store knows it and a restart keeps it.
struct StoredSession {
  std::string token_hash;  // SHA-256 of the token, hex
  std::string user;
  std::string csrf;               // what the page echoes with every write
  Role role = Role::kTechnician;  // at login: another role ends the session
  std::string password_mark;      // a digest of the password hash at login: a new password ends it
  std::int64_t created_s = 0;
  std::int64_t last_seen_s = 0;
  std::string address;  // the client's, at login (for "where am I logged in")
};

// A version of a case as it was before a change or a deletion (the store keeps every one), so an
// admin can bring back what a save or a delete took away.
struct CaseVersion {
  std::string id;
  std::string saved_at;  // when it was replaced or deleted (ISO 8601 UTC, milliseconds)
  bool deleted = false;  // the version a deletion took away
  Case the_case;
};

// Everything a company's records hold but its sessions and failed logins, as the store keeps it:
// what a backup carries (records/backup.h).
struct RecordsDump {
  int schema_version = 0;
  std::vector<std::string> cases;  // the stored JSON bodies
  struct Version {
    std::string case_id, saved_at;
    bool deleted = false;
    std::string body;
  };
  std::vector<Version> versions;
  std::vector<User> users;
  std::vector<std::pair<std::string, std::string>> settings;
};

class Store {
 public:
  virtual ~Store() = default;
  // Inserts or replaces the case with this id.
  virtual Result<void> put(const Case& c) = 0;
  // Inserts the case only when no case has its id, atomically against every other writer of
  // the store (another process, another server; every write of cases in either store takes the
  // store's write lock first): true when it was stored, false when the id was taken (nothing
  // written).
  Result<bool> create(const Case& c) {
    return put_if(c, [](const std::optional<Case>& stored) { return !stored; });
  }
  // Writes the case only while `still` holds for the one stored under its id (nullopt: none),
  // looked up and written in one transaction that no other writer of the store can enter in
  // between: true when written, false when `still` said no (nothing written).
  virtual Result<bool> put_if(const Case& c,
                              const std::function<bool(const std::optional<Case>&)>& still) = 0;
  // All of them in one transaction, or none (import is idempotent by id).
  virtual Result<void> put_all(const std::vector<Case>& cases) = 0;
  virtual Result<std::optional<Case>> get(std::string_view id) = 0;
  // Oldest first.
  virtual Result<std::vector<Case>> list(const CaseFilter& filter = {}) = 0;
  // False when there was no such case.
  virtual Result<bool> remove(std::string_view id) = 0;
  // Team-mode accounts: insert or replace; look up by name.
  virtual Result<void> put_user(const User& user) = 0;
  virtual Result<std::optional<User>> get_user(std::string_view name) = 0;
  // Changes whenever anything was written (by any process); equal values mean nothing changed,
  // so a server may answer from what it computed before. nullopt: cannot tell.
  virtual std::optional<std::uint64_t> revision() { return std::nullopt; }
  virtual int schema_version() = 0;
  virtual std::string url() const = 0;

  // A team's settings (the company details printed on reports), as text by key.
  Result<std::optional<std::string>> get_setting(std::string_view key);
  Result<void> put_setting(std::string_view key, std::string_view value);
  // Every account, by name (password hashes included: for the server, never for a page).
  Result<std::vector<User>> list_users();
  Result<bool> remove_user(std::string_view name);
  // Team-mode sessions. remove_sessions_of keeps `except` (a token hash: the session that
  // changed its own password); remove_stale_sessions drops those idle since `idle_before` or
  // made before `created_before` and says how many.
  Result<void> put_session(const StoredSession& s);
  Result<std::optional<StoredSession>> get_session(std::string_view token_hash);
  Result<void> touch_session(std::string_view token_hash, std::int64_t last_seen_s);
  Result<bool> remove_session(std::string_view token_hash);
  Result<std::size_t> remove_sessions_of(std::string_view user, std::string_view except = "");
  Result<std::size_t> remove_stale_sessions(std::int64_t idle_before_s,
                                            std::int64_t created_before_s);
  Result<std::vector<StoredSession>> list_sessions();
  // Failed logins by key ("addr:..." or "user:..."), shared by every server on the store:
  // how many since a time, one more, and removing one attempt's (`at_ms`) or, without it,
  // all of a key's and everyone's older than `before_ms`.
  Result<std::size_t> count_login_failures(std::string_view key, std::int64_t since_ms);
  Result<void> add_login_failure(std::string_view key, std::int64_t at_ms);
  Result<void> remove_login_failures(std::string_view key, std::optional<std::int64_t> at_ms,
                                     std::int64_t before_ms = 0);

  // Every record in one read transaction: consistent while others write.
  Result<RecordsDump> dump();
  // Writes a dump in one transaction. Without `merge`, a store that has a case or an account is
  // refused (nothing written); with it, cases and accounts of the same id are replaced and
  // versions already there are not doubled.
  Result<void> load(const RecordsDump& dump, bool merge);

  // The SHA-256 of every capture a case or a kept version of a case refers to.
  Result<std::vector<std::string>> referenced_captures();

  // The kept versions of a case, newest first; the cases deleted and not brought back (their
  // last version each), newest first.
  Result<std::vector<CaseVersion>> versions(std::string_view id);
  Result<std::vector<CaseVersion>> deleted_cases();

 protected:
  // One statement with `?` placeholders bound to `params` as text; the rows it returns (NULL as
  // nullopt). What the shared methods above are written in.
  using Row = std::vector<std::optional<std::string>>;
  virtual Result<std::vector<Row>> query(std::string_view sql,
                                         const std::vector<std::string>& params);
  // Transactions for dump() and load(): a read snapshot, or the store's write lock.
  virtual Result<void> begin(bool write);
  virtual Result<void> commit();
  virtual void rollback();
  // Inside a write transaction: inserts or replaces the case (keeping the version it replaces).
  virtual Result<void> write_case(const Case& c);
  // Inside a write of case `id`: keeps the stored version before it is replaced by `body` (not
  // when unchanged) or deleted (`body` null), and drops the oldest beyond what is kept.
  Result<void> keep_version(const std::string& id, const std::string* body);
};

// `sqlite:///path/file.db`, a plain path, or `postgresql://user@host:port/db` (also
// `postgres://`). The schema is created or migrated on opening.
Result<std::unique_ptr<Store>> open_store(std::string_view url);

// The SQLite file used without --db: $XDG_DATA_HOME/bmslink/bmslink.db, else
// ~/.local/share/bmslink/bmslink.db (the directory is created).
std::string default_store_url();

// The URL with any password replaced by "***" (what Store::url() returns for PostgreSQL).
std::string redact_password(std::string url);

// The schema as migrations, in order; a store's schema_version() is how many it has applied.
const std::vector<std::string_view>& schema_migrations();

}  // namespace bmslink::records
