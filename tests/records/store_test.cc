// One suite, both stores: a SQLite file and a real PostgreSQL server started for the tests. Cases
// come back as identical JSON, imports are idempotent by id, kill -9 in the middle of a burst of
// writes loses no committed case and corrupts nothing, two writers at once both succeed.
#include "bmslink/records/store.h"

#include "bmslink/records/captures.h"

#include <libpq-fe.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include "bmslink/records/backup.h"
#include "bmslink/records/captures.h"
#include "bmslink/records/stats.h"
#include "support/postgres.h"

namespace bmslink::records {
namespace {

test::PostgresServer* server() {
  static std::string why;
  static std::unique_ptr<test::PostgresServer> s = test::PostgresServer::start(why);
  if (!s) ADD_FAILURE() << "PostgreSQL: " << why;
  return s.get();
}

Case full_case(const std::string& id) {
  Case c;
  c.id = id;
  c.opened = "2026-11-30T08:15:00Z";
  c.closed = "2026-11-30T09:02:30Z";
  c.installer = "Ana Müller";
  c.site = {"Farm \"Nord\" <b>", "Jörg & Söhne", "Hauptstraße 1\n12345 Dorf"};
  c.bms = {"Pylontech US3000C", "V1.2 (B1.7)", 2, 7.1};
  c.inverter = {"Deye SUN-5K-SG03LP1-EU", "MCU 1.0.3"};
  c.symptom = "F58 on the display every morning; 🔋 icon blinks";
  c.checks.push_back({"l1.protocol_setting", 1,
                      nlohmann::json{{"inverter_battery_setting", "Lithium 00"},
                                     {"bms_protocol", "Pylontech CAN"}},
                      diagnosis::Verdict::kPass, 2});
  c.checks.push_back({"l2.termination", 2, nlohmann::json{{"termination_ohms", 120}},
                      diagnosis::Verdict::kFail, 6.5});
  c.captures.push_back(
      {"site.log", std::string(64, 'a'),
       nlohmann::json::array({nlohmann::json{{"cause", "bus_errors"}, {"layer", 2}}})});
  c.root_cause = diagnosis::Cause::kTerminationFault;
  c.layer = 2;
  c.fix = "Second 120 Ω terminator at the inverter end";
  c.verification = {0.9997, 24};
  c.outcome = Outcome::kFixed;
  c.minutes_by_layer = {4, 9.5, 0, 0, 0};
  c.hardcoded = nullptr;
  c.notes = "Terminator hidden in the battery's RJ45 plug was missing";
  return c;
}

class Stores : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      path_ = ::testing::TempDir() + "/store_" + std::to_string(::getpid()) + "_" +
              std::to_string(counter_++) + ".db";
      for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path_ + suffix).c_str());
      url_ = "sqlite://" + path_;
    } else {
      auto* s = server();
      ASSERT_NE(s, nullptr);
      url_ = s->fresh_database();
    }
    auto st = open_store(url_);
    ASSERT_TRUE(st) << st.error().message;
    store_ = std::move(*st);
  }
  void TearDown() override {
    store_.reset();
    if (!path_.empty())
      for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path_ + suffix).c_str());
  }

  // Runs tests/records/writer_main.cc; returns its pid with its stdout readable from `out`.
  pid_t spawn(const std::vector<std::string>& args, FILE*& out) {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      std::vector<char*> argv;
      std::string exe = RECORDS_WRITER;
      argv.push_back(exe.data());
      std::vector<std::string> copy = args;
      for (auto& a : copy) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(exe.c_str(), argv.data());
      std::_Exit(127);
    }
    ::close(fds[1]);
    out = ::fdopen(fds[0], "r");
    return pid;
  }

  static inline int counter_ = 0;
  std::string path_, url_;
  std::unique_ptr<Store> store_;
};

TEST_P(Stores, ACaseComesBackAsIdenticalJson) {
  const Case c = full_case("case-1");
  ASSERT_TRUE(store_->put(c));
  auto got = store_->get("case-1");
  ASSERT_TRUE(got);
  ASSERT_TRUE(*got);
  EXPECT_EQ(case_to_json(**got), case_to_json(c));
  EXPECT_EQ(case_to_json(**got).dump(), case_to_json(c).dump());
  // Reopened by another connection: the same.
  auto again = open_store(url_);
  ASSERT_TRUE(again);
  auto got2 = (*again)->get("case-1");
  ASSERT_TRUE(got2 && *got2);
  EXPECT_EQ(case_to_json(**got2), case_to_json(c));
  EXPECT_FALSE(*store_->get("nope"));
  EXPECT_EQ(store_->schema_version(), static_cast<int>(schema_migrations().size()));
}

TEST_P(Stores, ImportIsIdempotentByIdAndReplaces) {
  std::vector<Case> batch = {full_case("a"), full_case("b"), full_case("c")};
  ASSERT_TRUE(store_->put_all(batch));
  ASSERT_TRUE(store_->put_all(batch));
  EXPECT_EQ(store_->list()->size(), 3u);
  batch[1].fix = "changed";
  batch[1].captures.clear();
  ASSERT_TRUE(store_->put_all({batch[1]}));
  auto b = store_->get("b");
  ASSERT_TRUE(b && *b);
  EXPECT_EQ((*b)->fix, "changed");
  EXPECT_TRUE((*b)->captures.empty());
  EXPECT_EQ(store_->list()->size(), 3u);
}

TEST_P(Stores, ListFiltersAndRemove) {
  Case early = full_case("early");
  early.opened = "2025-06-01T10:00:00Z";
  early.installer = "Bo";
  Case late = full_case("late");
  late.opened = "2026-06-01T10:00:00Z";
  ASSERT_TRUE(store_->put_all({late, early}));
  auto all = store_->list();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ(all->front().id, "early");  // oldest first
  EXPECT_EQ(store_->list({"2026-01-01", ""})->size(), 1u);
  EXPECT_EQ(store_->list({"", "Bo"})->size(), 1u);
  EXPECT_TRUE(*store_->remove("early"));
  EXPECT_FALSE(*store_->remove("early"));
  EXPECT_EQ(store_->list()->size(), 1u);
}

// Issue 19: an admin restores what a save or a delete took away. Each replacement keeps the
// version it replaced (an unchanged save keeps none); a deletion keeps the last version and the
// case is listed as deleted until it is brought back.
TEST_P(Stores, ReplacedAndDeletedVersionsAreKeptAndCanBeRestored) {
  Case c = full_case("v");
  ASSERT_TRUE(store_->put(c));
  ASSERT_TRUE(store_->put(c));  // unchanged: no version
  EXPECT_TRUE(store_->versions("v")->empty());
  c.fix = "second";
  ASSERT_TRUE(store_->put(c));
  c.fix = "third";
  ASSERT_TRUE(store_->put(c));
  auto v = store_->versions("v");
  ASSERT_TRUE(v) << v.error().message;
  ASSERT_EQ(v->size(), 2u);
  EXPECT_EQ((*v)[0].the_case.fix, "second") << "newest first";
  EXPECT_EQ((*v)[1].the_case.fix, full_case("v").fix);
  EXPECT_FALSE((*v)[0].deleted);
  ASSERT_TRUE(*store_->remove("v"));
  auto gone = store_->deleted_cases();
  ASSERT_TRUE(gone) << gone.error().message;
  ASSERT_EQ(gone->size(), 1u);
  EXPECT_EQ((*gone)[0].id, "v");
  EXPECT_TRUE((*gone)[0].deleted);
  EXPECT_EQ((*gone)[0].the_case.fix, "third");
  ASSERT_TRUE(store_->put((*gone)[0].the_case));
  EXPECT_EQ((*store_->get("v"))->fix, "third");
  EXPECT_TRUE(store_->deleted_cases()->empty()) << "brought back";
  // Every version is kept: 25 more edits never push the first one out.
  const auto before = store_->versions("v")->size();
  for (int i = 0; i < 25; ++i) {
    c.fix = "edit " + std::to_string(i);
    ASSERT_TRUE(store_->put(c));
  }
  const auto all = store_->versions("v");
  EXPECT_EQ(all->size(), before + 25);
  EXPECT_EQ(all->back().the_case.fix, full_case("v").fix) << "the original is still there";
}

// SQL run on a store behind its back: what an older bmslink left, or a trigger that makes one
// write of a batch fail.
void run_sql(const std::string& url, const std::string& sql) {
  if (url.starts_with("sqlite://")) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(url.substr(9).c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "") << "\n" << sql;
    sqlite3_free(err);
    sqlite3_close(db);
    return;
  }
  PGconn* c = PQconnectdb(url.c_str());
  PGresult* r = PQexec(c, sql.c_str());
  EXPECT_TRUE(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
      << PQerrorMessage(c) << "\n"
      << sql;
  PQclear(r);
  PQfinish(c);
}

// Issue 20: a store written by the first bmslink (schema 1: cases only) opens with its cases and
// gains accounts, settings and versions; one from a newer bmslink is refused, not damaged.
TEST_P(Stores, AStoreAtSchemaOneIsMigratedAndANewerOneIsRefused) {
  std::string url;
  if (GetParam() == "sqlite") {
    url = "sqlite://" + path_ + ".v1";
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path_ + ".v1" + suffix).c_str());
  } else {
    url = server()->fresh_database();
  }
  const std::string v1 = std::string(schema_migrations()[0]);
  run_sql(url, v1 + "CREATE TABLE schema_version (version INTEGER NOT NULL);"
                    "INSERT INTO schema_version VALUES (1);"
                    "INSERT INTO cases (id, opened, closed, installer, outcome, root_cause, layer, "
                    "bms_model, bms_firmware, inverter_model, inverter_firmware, total_minutes, "
                    "body) VALUES ('old-1', '2025-06-01T10:00:00Z', NULL, 'Ana', 'fixed', "
                    "'termination_fault', 2, 'Pylontech US3000C', '', 'Deye', '', 7, "
                    "'{\"id\":\"old-1\",\"opened\":\"2025-06-01T10:00:00Z\",\"installer\":\"Ana\","
                    "\"outcome\":\"fixed\",\"root_cause\":\"termination_fault\",\"layer\":2,"
                    "\"minutes_by_layer\":{\"1\":3,\"2\":4}}');");
  {
    auto st = open_store(url);
    ASSERT_TRUE(st) << st.error().message;
    EXPECT_EQ((*st)->schema_version(), static_cast<int>(schema_migrations().size()));
    auto old = (*st)->get("old-1");
    ASSERT_TRUE(old && *old) << (old ? "missing" : old.error().message);
    EXPECT_EQ((*old)->installer, "Ana");
    EXPECT_EQ((*old)->root_cause, diagnosis::Cause::kTerminationFault);
    EXPECT_TRUE((*st)->put_user({"ada", "$argon2id$x", Role::kAdmin}));
    EXPECT_TRUE((*st)->put_setting("company", "{}"));
    Case changed = **old;
    changed.fix = "terminator fitted";
    ASSERT_TRUE((*st)->put(changed));
    EXPECT_EQ((*st)->versions("old-1")->size(), 1u);
  }
  const int newer = static_cast<int>(schema_migrations().size()) + 1;
  run_sql(url, "UPDATE schema_version SET version = " + std::to_string(newer));
  auto refused = open_store(url);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("schema version " + std::to_string(newer) +
                                         " is newer than this bmslink"),
            std::string::npos)
      << refused.error().message;
  if (GetParam() == "sqlite")
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path_ + ".v1" + suffix).c_str());
}

// Issue 20: "all of them in one transaction, or none", with the second of three writes failing
// inside the database.
TEST_P(Stores, ABatchThatFailsPartWayLeavesNothing) {
  if (GetParam() == "sqlite")
    run_sql(url_,
            "CREATE TRIGGER refuse BEFORE INSERT ON cases WHEN NEW.id = 'bad' "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;");
  else
    run_sql(url_,
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.id = 'bad' THEN "
            "RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;"
            "CREATE TRIGGER refuse BEFORE INSERT ON cases FOR EACH ROW EXECUTE FUNCTION refuse();");
  ASSERT_TRUE(store_->put(full_case("before")));
  Case changed = full_case("before");
  changed.fix = "changed in the failing batch";
  auto failed =
      store_->put_all({changed, full_case("good-1"), full_case("bad"), full_case("good-2")});
  ASSERT_FALSE(failed);
  auto all = store_->list();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u) << "only the case from before";
  EXPECT_EQ(all->front().fix, full_case("before").fix);
  EXPECT_TRUE(store_->versions("before")->empty()) << "no version of a write that never was";
  // The store goes on: the next batch without the bad case is written whole.
  ASSERT_TRUE(store_->put_all({full_case("good-1"), full_case("good-2")}));
  EXPECT_EQ(store_->list()->size(), 3u);
}

// Issue 20: the records hold password hashes and customers' addresses; the SQLite file and its
// WAL are the owner's alone.
TEST_P(Stores, ASqliteFileIsTheOwnersAlone) {
  if (GetParam() != "sqlite") GTEST_SKIP() << "a file only for SQLite";
  ASSERT_TRUE(store_->put(full_case("m")));
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string wal = path_ + "-wal";
  ASSERT_EQ(::stat(wal.c_str(), &st), 0) << "WAL mode keeps a -wal file while open";
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_P(Stores, SettingsAndAccountsAreKept) {
  EXPECT_FALSE(*store_->get_setting("company"));
  ASSERT_TRUE(store_->put_setting("company", R"({"name":"Sun & Co"})"));
  ASSERT_TRUE(store_->put_setting("company", R"({"name":"Sun & Co Ltd"})"));
  EXPECT_EQ(**store_->get_setting("company"), R"({"name":"Sun & Co Ltd"})");
  ASSERT_TRUE(store_->put_user({"zed", "hash-z", Role::kTechnician, false}));
  ASSERT_TRUE(store_->put_user({"ana", "hash-a", Role::kAdmin, false}));
  ASSERT_TRUE(store_->put_user({"zed", "hash-z2", Role::kAdmin, true}));
  auto users = store_->list_users();
  ASSERT_TRUE(users) << users.error().message;
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ((*users)[0].name, "ana");
  EXPECT_EQ((*users)[1].role, Role::kAdmin);
  EXPECT_TRUE((*users)[1].disabled);
  EXPECT_TRUE((*store_->get_user("zed"))->disabled);
  EXPECT_TRUE(*store_->remove_user("zed"));
  EXPECT_FALSE(*store_->remove_user("zed"));
  EXPECT_EQ(store_->list_users()->size(), 1u);
}

TEST_P(Stores, KillNineMidBurstLosesNoCommittedCaseAndCorruptsNothing) {
  store_.reset();
  FILE* out = nullptr;
  const pid_t pid = spawn({url_, "each", "k", "100000"}, out);
  std::vector<std::string> committed;
  char line[256];
  while (committed.size() < 150 && std::fgets(line, sizeof line, out) != nullptr) {
    std::string l(line);
    if (l.starts_with("committed ")) committed.push_back(l.substr(10, l.size() - 11));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  // Lines it printed after our last read were committed too; read what is left.
  while (std::fgets(line, sizeof line, out) != nullptr) {
    std::string l(line);
    if (l.starts_with("committed ") && l.back() == '\n')
      committed.push_back(l.substr(10, l.size() - 11));
  }
  std::fclose(out);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_GE(committed.size(), 150u);
  auto st = open_store(url_);
  ASSERT_TRUE(st) << st.error().message;
  auto all = (*st)->list();
  ASSERT_TRUE(all) << all.error().message;  // every stored case still reads
  std::set<std::string> ids;
  for (const auto& c : *all) ids.insert(c.id);
  for (const auto& id : committed) EXPECT_TRUE(ids.count(id)) << id << " was committed and is lost";
  EXPECT_LE(ids.size(), committed.size() + 1);  // at most the one in flight
  if (GetParam() == "sqlite") {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "ok");
    sqlite3_finalize(s);
    sqlite3_close(db);
  }
}

TEST_P(Stores, TwoWritersImportingAtOnceBothSucceed) {
  store_.reset();
  FILE* a_out = nullptr;
  FILE* b_out = nullptr;
  // Overlapping ids 150..299: both upsert them.
  const pid_t a = spawn({url_, "import", "w", "0", "300"}, a_out);
  const pid_t b = spawn({url_, "import", "w", "150", "450"}, b_out);
  int sa = 0, sb = 0;
  ::waitpid(a, &sa, 0);
  ::waitpid(b, &sb, 0);
  std::fclose(a_out);
  std::fclose(b_out);
  EXPECT_TRUE(WIFEXITED(sa) && WEXITSTATUS(sa) == 0);
  EXPECT_TRUE(WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
  auto st = open_store(url_);
  ASSERT_TRUE(st);
  EXPECT_EQ((*st)->list()->size(), 450u);
}

TEST_P(Stores, CreateNeverReplaces) {
  Case first = full_case("new-1");
  auto made = store_->create(first);
  ASSERT_TRUE(made) << made.error().message;
  EXPECT_TRUE(*made);
  Case second = full_case("new-1");
  second.fix = "the second writer's";
  auto again = store_->create(second);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(*again);
  auto got = store_->get("new-1");
  ASSERT_TRUE(got && *got);
  EXPECT_EQ(case_to_json(**got), case_to_json(first));
}

TEST_P(Stores, AConditionalWriteSeesTheStoredCase) {
  Case c = full_case("cond-1");
  ASSERT_TRUE(store_->put(c));
  const std::string loaded = case_etag(c);
  // Someone else changes the fix: the tag of what the first writer loaded no longer matches.
  Case other = c;
  other.fix = "changed elsewhere";
  ASSERT_TRUE(store_->put(other));
  EXPECT_NE(case_etag(other), loaded);
  Case mine = c;
  mine.notes = "my edit";
  auto refused = store_->put_if(mine, [&](const std::optional<Case>& stored) {
    return stored && case_etag(*stored) == loaded;
  });
  ASSERT_TRUE(refused) << refused.error().message;
  EXPECT_FALSE(*refused);
  EXPECT_EQ((*store_->get("cond-1"))->fix, "changed elsewhere");
  // Against the tag of what is stored now, the write goes through.
  auto written = store_->put_if(mine, [&](const std::optional<Case>& stored) {
    return stored && case_etag(*stored) == case_etag(other);
  });
  ASSERT_TRUE(written && *written);
  EXPECT_EQ((*store_->get("cond-1"))->notes, "my edit");
}

TEST_P(Stores, TwoProcessesCreatingTheSameIdsGetEachIdOnce) {
  store_.reset();
  FILE* a_out = nullptr;
  FILE* b_out = nullptr;
  // Both create ids 0..199, at the same time, each with its own tag as the fix.
  const pid_t a = spawn({url_, "create", "c", "0", "200", "A"}, a_out);
  const pid_t b = spawn({url_, "create", "c", "0", "200", "B"}, b_out);
  std::map<std::string, std::vector<std::string>> winners;  // id -> tags that created it
  std::size_t taken = 0;
  for (auto [out, tag] : {std::pair{a_out, "A"}, std::pair{b_out, "B"}}) {
    char line[128];
    while (std::fgets(line, sizeof line, out) != nullptr) {
      std::string l(line);
      if (!l.empty() && l.back() == '\n') l.pop_back();
      if (l.starts_with("created ")) winners[l.substr(8)].push_back(tag);
      if (l.starts_with("taken ")) ++taken;
    }
    std::fclose(out);
  }
  int sa = 0, sb = 0;
  ::waitpid(a, &sa, 0);
  ::waitpid(b, &sb, 0);
  EXPECT_TRUE(WIFEXITED(sa) && WEXITSTATUS(sa) == 0);
  EXPECT_TRUE(WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
  EXPECT_EQ(winners.size(), 200u);
  EXPECT_EQ(taken, 200u);
  auto st = open_store(url_);
  ASSERT_TRUE(st);
  for (const auto& [id, tags] : winners) {
    ASSERT_EQ(tags.size(), 1u) << id << " created twice";
    auto got = (*st)->get(id);
    ASSERT_TRUE(got && *got);
    EXPECT_EQ((*got)->fix, tags[0]) << id << ": the stored case is not its creator's";
  }
}

// Issue 21: kept uploads that no case refers to leave after the grace period; those a case or a
// kept version of one refers to stay, whatever their age. Sizes chosen so every total is known.
TEST_P(Stores, UnreferencedUploadsLeaveAfterTheGracePeriodAndReferencedOnesStay) {
  const std::string dir =
      ::testing::TempDir() + "/gc_" + std::to_string(::getpid()) + "_" + GetParam();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto sha = [](char c) { return std::string(64, c); };
  const std::int64_t now = ::time(nullptr);
  auto kept = [&](const std::string& name, std::size_t bytes, std::int64_t age_s) {
    const std::string path = dir + "/" + name;
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    const std::string body(bytes, 'x');
    std::fwrite(body.data(), 1, body.size(), f);
    std::fclose(f);
    const timeval times[2] = {{now - age_s, 0}, {now - age_s, 0}};
    ASSERT_EQ(::utimes(path.c_str(), times), 0);
  };
  const std::int64_t day = 86400;
  kept(sha('a'), 100, 30 * day);  // an old capture of a case
  kept(sha('b'), 200, 8 * day);   // old, no case: goes
  kept(sha('b') + ".options", 10, 8 * day);
  kept(sha('c'), 300, 1 * day);               // young, no case: stays for now
  kept(sha('d'), 400, 30 * day);              // only an old version of a case has it: stays
  kept(sha('e') + ".4242.tmp", 50, 2 * day);  // an upload cut off: goes
  kept("notes.txt", 60, 30 * day);            // not ours: left alone
  Case c = full_case("gc-case");
  c.captures = {{"site.log", sha('a'), nlohmann::json::array()},
                {"old.log", sha('d'), nlohmann::json::array()}};
  ASSERT_TRUE(store_->put(c));
  c.captures.pop_back();  // the page dropped it; the version before keeps it
  ASSERT_TRUE(store_->put(c));

  auto usage = capture_usage(*store_, dir);
  ASSERT_TRUE(usage) << usage.error().message;
  EXPECT_EQ(usage->files, 4u);
  EXPECT_EQ(usage->bytes, 1000u);
  EXPECT_EQ(usage->referenced_files, 2u);
  EXPECT_EQ(usage->referenced_bytes, 500u);
  EXPECT_EQ(usage->unreferenced_files, 2u);
  EXPECT_EQ(usage->unreferenced_bytes, 500u);

  auto dry = collect_captures(*store_, dir, 7 * day, true);
  ASSERT_TRUE(dry) << dry.error().message;
  EXPECT_EQ(dry->removed, (std::vector<std::string>{sha('b'), sha('e') + ".4242.tmp"}));
  EXPECT_EQ(dry->removed_bytes, 250u);
  EXPECT_EQ(dry->young_unreferenced, 1u);
  EXPECT_TRUE(std::filesystem::exists(dir + "/" + sha('b'))) << "a dry run removes nothing";

  auto done = collect_captures(*store_, dir, 7 * day, false);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->removed.size(), 2u);
  std::set<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    left.insert(e.path().filename().string());
  EXPECT_EQ(left, (std::set<std::string>{sha('a'), sha('c'), sha('d'), "notes.txt"}));
  // With no grace at all, the young one goes too; the referenced ones never.
  auto all = collect_captures(*store_, dir, 0, false);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->removed, std::vector<std::string>{sha('c')});
  EXPECT_TRUE(std::filesystem::exists(dir + "/" + sha('a')));
  EXPECT_TRUE(std::filesystem::exists(dir + "/" + sha('d')));
  std::filesystem::remove_all(dir);
}

// Issue 21: backup -> restore, SQLite -> PostgreSQL -> SQLite, each backup taken while a writer
// commits cases two at a time. Every archive holds whole pairs (one consistent snapshot), each
// hop gives the same statistics for the same cases, and the captures come back under the same
// hashes with the same bytes.
std::set<std::string> ids_of(Store& st) {
  std::set<std::string> out;
  auto all = st.list();
  EXPECT_TRUE(all);
  for (const auto& c : *all) out.insert(c.id);
  return out;
}

nlohmann::json stats_of(Store& st, const std::set<std::string>& only) {
  auto all = st.list();
  EXPECT_TRUE(all);
  std::vector<Case> picked;
  for (const auto& c : *all)
    if (only.count(c.id)) picked.push_back(c);
  return compute_stats(picked);
}

// Runs until stopped, committing "<prefix>-<n>-a" and "-b" in one transaction each time.
struct PairWriter {
  std::atomic<bool> stop{false};
  std::atomic<int> pairs{0};
  std::thread thread;
  PairWriter(const std::string& url, const std::string& prefix) {
    thread = std::thread([this, url, prefix] {
      auto st = open_store(url);
      if (!st) return;
      for (int n = 0; !stop; ++n) {
        Case a = full_case(fmt::format("{}-{}-a", prefix, n));
        a.captures.clear();
        a.root_cause = diagnosis::Cause::kCableUnsuitable;
        a.layer = 3;
        Case b = a;
        b.id = fmt::format("{}-{}-b", prefix, n);
        b.outcome = Outcome::kEscalated;
        if ((*st)->put_all({a, b})) ++pairs;
      }
    });
  }
  ~PairWriter() { finish(); }
  void finish() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
};

void expect_whole_pairs(const std::set<std::string>& ids, const std::string& prefix) {
  int pairs = 0;
  for (const auto& id : ids) {
    if (!id.starts_with(prefix + "-") || !id.ends_with("-a")) continue;
    ++pairs;
    EXPECT_TRUE(ids.count(id.substr(0, id.size() - 1) + "b")) << id << " without its pair";
  }
  for (const auto& id : ids) {
    if (id.starts_with(prefix + "-") && id.ends_with("-b")) {
      EXPECT_TRUE(ids.count(id.substr(0, id.size() - 1) + "a")) << id << " without its pair";
    }
  }
  EXPECT_GT(pairs, 0) << "the writer ran before the snapshot";
}

TEST(Backup, RoundTripSqlitePostgresSqliteWhileAWriterRuns) {
  auto* pg = server();
  ASSERT_NE(pg, nullptr);
  const std::string root = ::testing::TempDir() + "/backup_" + std::to_string(::getpid());
  std::filesystem::remove_all(root);
  for (const char* d : {"caps_s", "caps_p", "caps_t"})
    std::filesystem::create_directories(root + "/" + d);
  const std::string s_url = "sqlite://" + root + "/s.db", t_url = "sqlite://" + root + "/t.db";
  const std::string p_url = pg->fresh_database();
  auto s = open_store(s_url);
  ASSERT_TRUE(s);
  // Three captures, named by their hash, and cases that refer to them.
  std::vector<std::string> shas;
  for (int i = 0; i < 3; ++i) {
    const std::string tmp = root + "/capture" + std::to_string(i);
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    for (int line = 0; line < 2000 * (i + 1); ++line)
      std::fprintf(f, "(%d.%06d) can0 351#%016X\n", 1780000000 + line, i, line * 7919 + i);
    std::fclose(f);
    auto sha = keep_capture(tmp, root + "/caps_s");
    ASSERT_TRUE(sha);
    shas.push_back(*sha);
  }
  for (int i = 0; i < 30; ++i) {
    Case c = full_case(fmt::format("case-{:02d}", i));
    c.captures = {{"site.log", shas[static_cast<std::size_t>(i) % 3], nlohmann::json::array()}};
    c.outcome = i % 4 == 0 ? Outcome::kHardcoded : Outcome::kFixed;
    c.minutes_by_layer[0] = i;
    ASSERT_TRUE((*s)->put(c));
    if (i % 5 == 0) {
      c.notes = "edited";
      ASSERT_TRUE((*s)->put(c));  // a kept version
    }
  }
  ASSERT_TRUE((*s)->put_user(
      {"boss", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", Role::kAdmin, false}));
  ASSERT_TRUE((*s)->put_user(
      {"ann", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaDI", Role::kTechnician, true}));
  ASSERT_TRUE((*s)->put_setting("company", R"({"name":"Solar & Sons"})"));

  // Hop 1: SQLite, with a writer, into PostgreSQL.
  const std::string a1 = root + "/a1.tar.zst";
  {
    PairWriter w(s_url, "ws");
    while (w.pairs < 5) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto done = write_backup(**s, root + "/caps_s", a1);
    ASSERT_TRUE(done) << done.error().message;
    EXPECT_EQ(done->captures, 3u);
    EXPECT_EQ(done->users, 2u);
    EXPECT_EQ(done->versions, 6u);
    EXPECT_TRUE(done->missing_captures.empty());
  }
  auto p = open_store(p_url);
  ASSERT_TRUE(p);
  auto in_p = restore_backup(a1, **p, root + "/caps_p", false);
  ASSERT_TRUE(in_p) << in_p.error().message;
  const auto p_ids = ids_of(**p);
  expect_whole_pairs(p_ids, "ws");
  for (int i = 0; i < 30; ++i) EXPECT_TRUE(p_ids.count(fmt::format("case-{:02d}", i)));
  EXPECT_EQ(stats_of(**p, p_ids), stats_of(**s, p_ids));
  EXPECT_EQ(in_p->cases, p_ids.size());

  // Hop 2: PostgreSQL, with a writer, back into a new SQLite file.
  const std::string a2 = root + "/a2.tar.zst";
  {
    PairWriter w(p_url, "wp");
    while (w.pairs < 5) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto done = write_backup(**p, root + "/caps_p", a2);
    ASSERT_TRUE(done) << done.error().message;
  }
  auto t = open_store(t_url);
  ASSERT_TRUE(t);
  auto in_t = restore_backup(a2, **t, root + "/caps_t", false);
  ASSERT_TRUE(in_t) << in_t.error().message;
  const auto t_ids = ids_of(**t);
  expect_whole_pairs(t_ids, "wp");
  for (const auto& id : p_ids) EXPECT_TRUE(t_ids.count(id)) << id;
  EXPECT_EQ(stats_of(**t, t_ids), stats_of(**p, t_ids));
  EXPECT_EQ(stats_of(**t, p_ids), stats_of(**s, p_ids)) << "SQLite -> PostgreSQL -> SQLite";
  // The same captures, byte for byte.
  std::set<std::string> back;
  for (const auto& e : std::filesystem::directory_iterator(root + "/caps_t")) {
    const auto name = e.path().filename().string();
    if (name.size() != 64) continue;
    back.insert(name);
    auto sha = sha256_of_file(e.path().string());
    ASSERT_TRUE(sha);
    EXPECT_EQ(*sha, name);
  }
  EXPECT_EQ(back, std::set<std::string>(shas.begin(), shas.end()));
  // Accounts (hashes and all), settings and versions come along; sessions do not.
  auto users = (*t)->list_users();
  ASSERT_TRUE(users);
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ((*users)[0].name, "ann");
  EXPECT_TRUE((*users)[0].disabled);
  EXPECT_EQ((*users)[1].password_hash, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
  EXPECT_EQ(*(*t)->get_setting("company").value(), R"({"name":"Solar & Sons"})");
  EXPECT_EQ((*t)->versions("case-05")->size(), 1u);

  // Into a store with records: refused unless merged, and nothing changes when refused.
  const auto before = ids_of(**t);
  auto refused = restore_backup(a1, **t, root + "/caps_t", false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_NE(refused.error().message.find("--merge"), std::string::npos);
  EXPECT_EQ(ids_of(**t), before);
  auto merged = restore_backup(a1, **t, root + "/caps_t", true);
  ASSERT_TRUE(merged) << merged.error().message;
  EXPECT_EQ(ids_of(**t), before) << "every case of a1 is there already";
  EXPECT_EQ(stats_of(**t, p_ids), stats_of(**s, p_ids));
  EXPECT_EQ((*t)->versions("case-05")->size(), 1u) << "a merge does not double versions";
  std::filesystem::remove_all(root);
}

// An archive whose capture was altered after the backup: refused before anything is written,
// the entry named.
TEST(Backup, AnAlteredEntryIsNamedAndNothingIsRestored) {
  const std::string root = ::testing::TempDir() + "/backup_bad_" + std::to_string(::getpid());
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root + "/caps");
  auto s = open_store("sqlite://" + root + "/s.db");
  ASSERT_TRUE(s);
  const std::string tmp = root + "/capture.log";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  std::fputs("(1780000000.000000) can0 351#2802E803E803E001\n", f);
  std::fclose(f);
  auto sha = keep_capture(tmp, root + "/caps");
  ASSERT_TRUE(sha);
  Case c = full_case("one");
  c.captures = {{"capture.log", *sha, nlohmann::json::array()}};
  ASSERT_TRUE((*s)->put(c));
  const std::string good = root + "/good.tar.zst", bad = root + "/bad.tar.zst";
  ASSERT_TRUE(write_backup(**s, root + "/caps", good));
  // Copy the archive entry by entry, one byte of the capture changed.
  {
    archive* in = archive_read_new();
    archive_read_support_filter_all(in);
    archive_read_support_format_all(in);
    ASSERT_EQ(archive_read_open_filename(in, good.c_str(), 65536), ARCHIVE_OK);
    archive* out = archive_write_new();
    archive_write_add_filter_zstd(out);
    archive_write_set_format_pax_restricted(out);
    ASSERT_EQ(archive_write_open_filename(out, bad.c_str()), ARCHIVE_OK);
    archive_entry* e = nullptr;
    while (archive_read_next_header(in, &e) == ARCHIVE_OK) {
      std::string body(static_cast<std::size_t>(archive_entry_size(e)), '\0');
      if (!body.empty()) archive_read_data(in, body.data(), body.size());
      if (std::string(archive_entry_pathname(e)) == "captures/" + *sha) body[1] = '2';
      archive_write_header(out, e);
      archive_write_data(out, body.data(), body.size());
    }
    archive_read_free(in);
    archive_write_close(out);
    archive_write_free(out);
  }
  auto t = open_store("sqlite://" + root + "/t.db");
  ASSERT_TRUE(t);
  auto refused = restore_backup(bad, **t, root + "/caps_t", false);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("captures/" + *sha), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("checksum"), std::string::npos) << refused.error().message;
  EXPECT_TRUE(ids_of(**t).empty());
  EXPECT_FALSE(std::filesystem::exists(root + "/caps_t/" + *sha));
  // Not an archive at all: a clear error, nothing written.
  f = std::fopen((root + "/notes.txt").c_str(), "wb");
  std::fputs("shopping list\n", f);
  std::fclose(f);
  auto junk = restore_backup(root + "/notes.txt", **t, root + "/caps_t", false);
  ASSERT_FALSE(junk);
  EXPECT_NE(junk.error().message.find("notes.txt"), std::string::npos) << junk.error().message;
  EXPECT_TRUE(ids_of(**t).empty());
  // The good one restores.
  EXPECT_TRUE(restore_backup(good, **t, root + "/caps_t", false));
  EXPECT_EQ(ids_of(**t), std::set<std::string>{"one"});
  std::filesystem::remove_all(root);
}

INSTANTIATE_TEST_SUITE_P(BothStores, Stores, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& p) { return p.param; });

TEST(OpenStore, BadUrlsAreClearErrors) {
  auto bad = open_store("mysql://x");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("sqlite://"), std::string::npos);
  auto missing = open_store("/nonexistent/dir/x.db");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/nonexistent/dir/x.db"), std::string::npos);
  auto pg = open_store("postgresql://nobody@127.0.0.1:1/x?connect_timeout=2");
  ASSERT_FALSE(pg);
  EXPECT_NE(pg.error().message.find("cannot connect"), std::string::npos);
}

}  // namespace
}  // namespace bmslink::records
