// records::record_guided, the one way a guided session goes into a case: against a real SQLite
// file, with a second connection writing the same case between the read and the write (another
// device, a CLI), as a team's records see it.
#include "bmslink/records/session.h"

#include <unistd.h>

#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include "bmslink/diagnosis/findings.h"
#include "bmslink/records/store.h"
#include "support/simulated.h"

namespace bmslink::records {
namespace {

namespace fs = std::filesystem;

const diagnosis::CheckCatalogue& catalogue() {
  static const diagnosis::CheckCatalogue c = *diagnosis::CheckCatalogue::builtin();
  return c;
}
const diagnosis::KnowledgeBase& kb() {
  static const diagnosis::KnowledgeBase k = *diagnosis::KnowledgeBase::builtin();
  return k;
}

// The real store, with another writer's update of the case before each of the first `races`
// conditional writes (the notes are that writer's).
class RacingStore final : public Store {
 public:
  RacingStore(Store& inner, Store& other, int races) : in_(inner), other_(other), races_(races) {}
  Result<void> put(const Case& c) override { return in_.put(c); }
  Result<bool> put_if(const Case& c,
                      const std::function<bool(const std::optional<Case>&)>& still) override {
    if (races_ > 0) {
      --races_;
      auto stored = other_.get(c.id);
      if (stored && *stored) {
        Case changed = **stored;
        changed.notes += "n";
        EXPECT_TRUE(other_.put(changed));
      }
    }
    ++writes_;
    return in_.put_if(c, still);
  }
  Result<void> put_all(const std::vector<Case>& cases) override { return in_.put_all(cases); }
  Result<std::optional<Case>> get(std::string_view id) override { return in_.get(id); }
  Result<std::vector<Case>> list(const CaseFilter& f) override { return in_.list(f); }
  Result<bool> remove(std::string_view id) override { return in_.remove(id); }
  Result<void> put_user(const User& u) override { return in_.put_user(u); }
  Result<std::optional<User>> get_user(std::string_view n) override { return in_.get_user(n); }
  int schema_version() override { return in_.schema_version(); }
  std::string url() const override { return in_.url(); }
  int writes() const { return writes_; }

 private:
  Store& in_;
  Store& other_;
  int races_;
  int writes_ = 0;
};

class RecordGuided : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() / ("bmslink-session-" + std::to_string(::getpid()) + ".db");
    fs::remove(path_);
    auto a = open_store("sqlite://" + path_.string());
    auto b = open_store("sqlite://" + path_.string());
    ASSERT_TRUE(a && b);
    store_ = std::move(*a);
    other_ = std::move(*b);
    Case c;
    c.id = "c1";
    c.opened = "2026-12-06T10:00:00Z";
    c.bms.model = "Pylontech US5000";
    c.inverter.model = "Deye SUN-8K-SG04LP3";
    ASSERT_TRUE(store_->put(c));
  }
  void TearDown() override {
    store_.reset();
    other_.reset();
    fs::remove(path_);
    fs::remove(path_.string() + "-wal");
    fs::remove(path_.string() + "-shm");
  }
  Result<RecordedSession> record(Store& st, const diagnosis::Answers& a,
                                 Resume resume = Resume::kYes) {
    return record_guided(
        st, "c1", a, catalogue(),
        [](const diagnosis::Answers& m) { return diagnosis::run_guided(catalogue(), kb(), m); },
        std::nullopt, resume);
  }
  fs::path path_;
  std::unique_ptr<Store> store_, other_;
};

diagnosis::Answers termination(double ohms) {
  diagnosis::Answers a;
  a.values["termination_ohms"] = ohms;
  return a;
}

TEST_F(RecordGuided, AnotherWritersChangeInBetweenIsKeptAndTheSessionWritten) {
  RacingStore racing(*store_, *other_, 2);
  auto r = record(racing, termination(120));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(racing.writes(), 3) << "two refused conditional writes, the third written";
  auto stored = store_->get("c1");
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->notes, "nn") << "the other writer's two changes stay";
  bool recorded = false;
  for (const auto& ch : (*stored)->checks)
    if (ch.inputs.contains("termination_ohms")) recorded = ch.inputs["termination_ohms"] == 120.0;
  EXPECT_TRUE(recorded) << case_to_json(**stored).dump();
}

TEST_F(RecordGuided, ACaseThatKeepsChangingIsAConflictAndNothingIsLost) {
  RacingStore racing(*store_, *other_, 100);
  auto r = record(racing, termination(120));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_NE(r.error().message.find("case c1 kept changing"), std::string::npos);
  auto stored = store_->get("c1");
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->notes, "nnnnn") << "five tries, each lost to the other writer";
  EXPECT_TRUE((*stored)->checks.empty());
}

TEST_F(RecordGuided, AMissingCaseIsNotFound) {
  auto r = record_guided(
      *store_, "nope", termination(60), catalogue(),
      [](const diagnosis::Answers& m) { return diagnosis::run_guided(catalogue(), kb(), m); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

TEST_F(RecordGuided, ResumingMergesTheCasesAnswersAndNotResumingKeepsATakenBackAnswer) {
  ASSERT_TRUE(record(*store_, termination(120)));
  // A request with a new answer only: the case's termination reading is resumed.
  diagnosis::Answers dip;
  dip.values["dip_switches_match_manual"] = true;
  auto merged = record(*store_, dip);
  ASSERT_TRUE(merged);
  EXPECT_TRUE(merged->answers.has("termination_ohms"));
  // A CLI session that took the reading back: recorded as it is.
  auto whole = record(*store_, dip, Resume::kNo);
  ASSERT_TRUE(whole);
  EXPECT_FALSE(whole->answers.has("termination_ohms"));
  for (const auto& ch : whole->the_case.checks)
    EXPECT_FALSE(ch.inputs.contains("termination_ohms")) << ch.check;
}

// Issue 19: uploading a capture after checks were recorded wiped them. A termination reading at
// layer 2 is recorded; then a capture of a wrong bit rate decides layer 1 (bitrate_mismatch) and
// the walk stops there: the layer-2 check stays in the case with its reading and minutes.
TEST_F(RecordGuided, ACaptureAddsItsVerdictsAndNeverRemovesARecordedCheck) {
  ASSERT_TRUE(record(*store_, termination(60)));
  auto before = store_->get("c1");
  ASSERT_TRUE(before && *before);
  const auto find = [](const Case& c, const std::string& id) -> const CaseCheck* {
    for (const auto& ch : c.checks)
      if (ch.check == id) return &ch;
    return nullptr;
  };
  const CaseCheck* recorded = find(**before, "l2.termination");
  ASSERT_NE(recorded, nullptr) << case_to_json(**before).dump();
  EXPECT_EQ(recorded->verdict, diagnosis::Verdict::kPass);
  sim::SiteOptions o;
  o.fault = "bitrate_mismatch";
  o.duration_s = 300;
  const auto evidence = test::simulated_evidence(o);
  const auto findings = diagnosis::diagnose_capture(evidence);
  diagnosis::GuidedOptions with;
  with.evidence = &evidence;
  with.findings = &findings;
  auto r = record_guided(*store_, "c1", diagnosis::Answers{}, catalogue(),
                         [&](const diagnosis::Answers& m) {
                           return diagnosis::run_guided(catalogue(), kb(), m, with);
                         });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->result.confirmed, diagnosis::Cause::kBitrateMismatch);
  const CaseCheck* kept = find(r->the_case, "l2.termination");
  ASSERT_NE(kept, nullptr) << case_to_json(r->the_case).dump();
  EXPECT_EQ(kept->verdict, diagnosis::Verdict::kPass);
  EXPECT_EQ(kept->inputs["termination_ohms"], 60.0);
  EXPECT_DOUBLE_EQ(kept->minutes, recorded->minutes);
  const CaseCheck* bitrate = find(r->the_case, "l1.bitrate");
  ASSERT_NE(bitrate, nullptr);
  EXPECT_EQ(bitrate->verdict, diagnosis::Verdict::kFail);
  // In layer order: the layer-1 verdict before the layer-2 check.
  EXPECT_LT(bitrate - r->the_case.checks.data(), kept - r->the_case.checks.data());
}

// Issue 19: a check answered "can't tell" vanished from the record with its minutes. Its minutes
// (the catalogue's 3 for the termination reading) are counted in the case and in the layer.
TEST_F(RecordGuided, AnUndecidedCheckKeepsItsMinutes) {
  diagnosis::Answers a;
  a.not_known.insert("termination_ohms");
  auto r = record(*store_, a);
  ASSERT_TRUE(r) << r.error().message;
  const CaseCheck* t = nullptr;
  for (const auto& ch : r->the_case.checks)
    if (ch.check == "l2.termination") t = &ch;
  ASSERT_NE(t, nullptr) << case_to_json(r->the_case).dump();
  EXPECT_EQ(t->verdict, diagnosis::Verdict::kUnknown);
  const double catalogue_minutes = catalogue().find("l2.termination")->minutes;
  EXPECT_GT(catalogue_minutes, 0);
  EXPECT_DOUBLE_EQ(t->minutes, catalogue_minutes);
  double layer2 = 0;
  for (const auto& ch : r->the_case.checks)
    if (ch.layer == 2) layer2 += ch.minutes;
  EXPECT_DOUBLE_EQ(r->the_case.minutes_by_layer[1], layer2) << "the bars and the clock agree";
}

diagnosis::Answers setting(const char* value) {
  diagnosis::Answers a;
  a.values["inverter_battery_setting"] = value;
  return a;
}

// Issue 19: an answer could not be corrected, and the fix kept an earlier cause's text. The Deye
// + US5000 case: "Lead-acid" is voltage-only (a proven inverter_protocol_mismatch, fix: select
// "Lithium 00"). Corrected to "Lithium 00", the cause is no longer confirmed: the walk's cause and
// fix go, the history keeps the change, who made it and both values.
TEST_F(RecordGuided, ACorrectedAnswerRedecidesAndTheHistoryKeepsTheChange) {
  auto first = record_guided(
      *store_, "c1", setting("Lead-acid"), catalogue(),
      [](const diagnosis::Answers& m) { return diagnosis::run_guided(catalogue(), kb(), m); },
      std::nullopt, Resume::kYes, 5, "ana");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->the_case.root_cause, diagnosis::Cause::kInverterProtocolMismatch);
  EXPECT_NE(first->the_case.fix.find("\"Lithium 00\""), std::string::npos) << first->the_case.fix;
  EXPECT_TRUE(first->the_case.history.empty()) << "a first answer is no correction";
  auto fixed = record_guided(
      *store_, "c1", setting("Lithium 00"), catalogue(),
      [](const diagnosis::Answers& m) { return diagnosis::run_guided(catalogue(), kb(), m); },
      std::nullopt, Resume::kYes, 5, "ana");
  ASSERT_TRUE(fixed) << fixed.error().message;
  const Case& c = fixed->the_case;
  EXPECT_FALSE(c.root_cause) << case_to_json(c).dump();
  EXPECT_TRUE(c.fix.empty()) << c.fix;
  ASSERT_EQ(c.history.size(), 1u);
  EXPECT_EQ(c.history[0].field, "answer");
  EXPECT_EQ(c.history[0].key, "inverter_battery_setting");
  EXPECT_EQ(c.history[0].check, "l1.protocol_setting");
  EXPECT_EQ(c.history[0].from, "Lead-acid");
  EXPECT_EQ(c.history[0].to, "Lithium 00");
  EXPECT_EQ(c.history[0].by, "ana");
  for (const auto& ch : c.checks)
    if (ch.check == "l1.protocol_setting") {
      EXPECT_EQ(ch.verdict, diagnosis::Verdict::kPass);
    }
  // Stored as recorded, and read back the same.
  auto stored = store_->get("c1");
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ(case_to_json(**stored), case_to_json(c));
}

// A root cause set by hand (with its reason) is never overridden by the walk; a fix typed by hand
// is never replaced; otherwise the fix follows the cause the walk confirms now.
TEST_F(RecordGuided, ARootCauseSetByHandAndAnEditedFixStay) {
  auto stored = store_->get("c1");
  ASSERT_TRUE(stored && *stored);
  Case c = **stored;
  c.root_cause = diagnosis::Cause::kConnectionFault;
  c.root_cause_reason = "the CAN plug was half out of the inverter";
  ASSERT_TRUE(store_->put(c));
  auto r = record(*store_, setting("Lead-acid"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result.confirmed, diagnosis::Cause::kInverterProtocolMismatch);
  EXPECT_EQ(r->the_case.root_cause, diagnosis::Cause::kConnectionFault);
  // The walk's fix is for another cause: the case gets its own cause's fix from the catalogue.
  const diagnosis::Check* connections = nullptr;
  for (const auto& ch : catalogue().checks())
    if (ch.confirms == diagnosis::Cause::kConnectionFault && !connections) connections = &ch;
  ASSERT_NE(connections, nullptr);
  EXPECT_EQ(r->the_case.fix, connections->fix);
  EXPECT_NE(r->the_case.fix, r->result.fix);
  // Let the checks decide again: the walk's cause and its fix.
  c = r->the_case;
  c.root_cause_reason.clear();
  ASSERT_TRUE(store_->put(c));
  r = record(*store_, diagnosis::Answers{});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->the_case.root_cause, diagnosis::Cause::kInverterProtocolMismatch);
  EXPECT_EQ(r->the_case.fix, r->result.fix);
  // A fix edited by hand stays whatever the walk says.
  c = r->the_case;
  c.fix = "Set Lithium 00 and updated the inverter firmware";
  c.fix_by_hand = true;
  ASSERT_TRUE(store_->put(c));
  r = record(*store_, setting("AGM"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->the_case.fix, "Set Lithium 00 and updated the inverter firmware");
}

// A "can't tell" corrected to a reading, and a reading corrected to "can't tell": the request
// wins over what the case held, it sticks on the next answer, and the change is noted once.
TEST_F(RecordGuided, CorrectionsToAndFromCantTellStick) {
  diagnosis::Answers unknown;
  unknown.not_known.insert("termination_ohms");
  ASSERT_TRUE(record(*store_, unknown));
  auto read = record(*store_, termination(60));
  ASSERT_TRUE(read) << read.error().message;
  const auto inputs = [](const Case& c) {
    for (const auto& ch : c.checks)
      if (ch.check == "l2.termination") return ch.inputs;
    return nlohmann::json();
  };
  EXPECT_EQ(inputs(read->the_case)["termination_ohms"], 60.0) << case_to_json(read->the_case);
  ASSERT_EQ(read->the_case.history.size(), 1u);
  EXPECT_TRUE(read->the_case.history[0].from.is_null());
  auto next = record(*store_, diagnosis::Answers{});
  ASSERT_TRUE(next);
  EXPECT_EQ(inputs(next->the_case)["termination_ohms"], 60.0) << "it sticks";
  EXPECT_EQ(next->the_case.history.size(), 1u) << "nothing changed: nothing noted";
  auto back = record(*store_, unknown);
  ASSERT_TRUE(back);
  EXPECT_TRUE(inputs(back->the_case)["termination_ohms"].is_null());
  EXPECT_FALSE(back->answers.has("termination_ohms")) << "the walk decides without the old reading";
  ASSERT_EQ(back->the_case.history.size(), 2u);
  EXPECT_EQ(back->the_case.history[1].from, 60.0);
}

TEST(CaseHistory, AWholeCaseUpdateKeepsTheStoredHistoryAndAddsWhatChanged) {
  Case stored;
  stored.id = "c";
  stored.history.push_back({"2026-12-06T10:00:00Z", "ana", "answer", "termination_ohms",
                            "l2.termination", 120.0, 60.0, ""});
  Case body = stored;
  body.history.clear();  // a body that would wipe it
  body.root_cause = diagnosis::Cause::kTerminationFault;
  body.root_cause_reason = "second terminator missing, seen on site";
  body.outcome = Outcome::kFixed;
  carry_history(stored, body, "ben");
  ASSERT_EQ(body.history.size(), 3u);
  EXPECT_EQ(body.history[0].key, "termination_ohms");
  EXPECT_EQ(body.history[1].field, "root_cause");
  EXPECT_TRUE(body.history[1].from.is_null());
  EXPECT_EQ(body.history[1].to, "termination_fault");
  EXPECT_EQ(body.history[1].reason, "second terminator missing, seen on site");
  EXPECT_EQ(body.history[1].by, "ben");
  EXPECT_EQ(body.history[2].field, "outcome");
  EXPECT_EQ(body.history[2].from, "open");
  EXPECT_EQ(body.history[2].to, "fixed");
  // Nothing changed: nothing added.
  Case same = body;
  carry_history(body, same, "ben");
  EXPECT_EQ(same.history.size(), 3u);
}

TEST(CaseIds, OneProcessNeverRepeatsAnId) {
  std::set<std::string> ids;
  for (int i = 0; i < 5000; ++i) ids.insert(new_case_id());
  EXPECT_EQ(ids.size(), 5000U);
  const std::string id = *ids.begin();
  // "20261206-231500-3f2a": date, time, four hex digits.
  ASSERT_EQ(id.size(), 20U);
  EXPECT_EQ(id[8], '-');
  EXPECT_EQ(id[15], '-');
}

}  // namespace
}  // namespace bmslink::records
