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

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

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
