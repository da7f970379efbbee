// A guided diagnosis kept in a case as it goes, and a case's answers to resume from: what
// `bmslink diagnose --case` and the web console's guided checks share.
#include "bmslink/records/session.h"

#include <algorithm>
#include <atomic>
#include <random>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include "bmslink/diagnosis/serialize.h"

namespace bmslink::records {

using nlohmann::json;

// The session as the case records it: every check taken with the answers it used, its verdict
// and minutes, the minutes per layer, the cause and fix when confirmed.
bool note_corrections(Case& c, const diagnosis::Answers& given, const std::string& by) {
  bool any = false;
  const std::string at = now_iso_utc();
  std::set<std::string> noted;  // an input shared by two checks is one change
  for (const auto& ch : c.checks) {
    if (!ch.inputs.is_object()) continue;
    for (const auto& [k, was] : ch.inputs.items()) {
      if (noted.count(k)) continue;
      json now;
      if (const auto it = given.values.find(k); it != given.values.end())
        now = it->second;
      else if (given.not_known.count(k))
        now = nullptr;
      else
        continue;  // not answered again: unchanged
      if (now == was) continue;
      c.history.push_back({at, by, "answer", k, ch.check, was, now, ""});
      noted.insert(k);
      any = true;
    }
  }
  return any;
}

void carry_history(const Case& stored, Case& incoming, const std::string& by) {
  std::vector<CaseChange> changes;
  const std::string at = now_iso_utc();
  const auto cause = [](const Case& c) {
    return c.root_cause ? json(std::string(diagnosis::cause_id(*c.root_cause))) : json(nullptr);
  };
  if (cause(stored) != cause(incoming) || stored.root_cause_reason != incoming.root_cause_reason)
    changes.push_back(
        {at, by, "root_cause", "", "", cause(stored), cause(incoming), incoming.root_cause_reason});
  if (stored.outcome != incoming.outcome)
    changes.push_back({at, by, "outcome", "", "", std::string(outcome_name(stored.outcome)),
                       std::string(outcome_name(incoming.outcome)), ""});
  incoming.history = stored.history;
  incoming.history.insert(incoming.history.end(), changes.begin(), changes.end());
}

void record_session(Case& c, const diagnosis::CheckCatalogue& cat, const diagnosis::Answers& a,
                    const diagnosis::GuidedResult& r, bool corrected) {
  // What was recorded before stays unless this walk records the check again: a capture that
  // decides an earlier layer adds its verdicts beside the checks already done, never removes one.
  std::vector<CaseCheck> before = std::move(c.checks);
  c.checks.clear();
  for (const auto& v : r.verdicts) {
    const auto* check = cat.find(v.check);
    if (v.verdict == diagnosis::Verdict::kUnknown && !v.from_capture) {
      bool answered = false;
      for (const auto& k : check ? check->inputs : std::vector<std::string>{})
        answered |= a.has(k) || a.not_known.count(k) > 0;
      if (!answered) continue;  // not reached yet
    }
    if (v.verdict == diagnosis::Verdict::kSkipped && !v.from_capture) continue;
    CaseCheck cc;
    cc.check = v.check;
    cc.layer = diagnosis::layer_number(v.layer);
    cc.verdict = v.verdict;
    if (check) {
      std::vector<std::string> keys = check->inputs;
      keys.insert(keys.end(), check->optional_inputs.begin(), check->optional_inputs.end());
      for (const auto& k : keys) {
        if (auto it = a.values.find(k); it != a.values.end()) cc.inputs[k] = it->second;
        if (a.not_known.count(k)) cc.inputs[k] = nullptr;
      }
      // A check the technician did took its time whatever it decided ("can't tell" too).
      const auto m = a.minutes.find(v.check);
      cc.minutes = m != a.minutes.end() ? m->second : !v.from_capture ? check->minutes : 0;
    }
    c.checks.push_back(std::move(cc));
  }
  for (auto& old : before) {
    const bool again = std::any_of(c.checks.begin(), c.checks.end(),
                                   [&](const CaseCheck& x) { return x.check == old.check; });
    // Kept while the answers it was decided on still stand; an answer taken back takes its
    // check with it.
    bool stands = true;
    if (old.inputs.is_object())
      for (const auto& [k, v] : old.inputs.items()) {
        const auto it = a.values.find(k);
        stands = stands &&
                 (v.is_null() ? a.not_known.count(k) > 0 : it != a.values.end() && it->second == v);
      }
    if (!again && stands) c.checks.push_back(std::move(old));
  }
  std::stable_sort(c.checks.begin(), c.checks.end(),
                   [](const CaseCheck& x, const CaseCheck& y) { return x.layer < y.layer; });
  // Minutes typed with `case update --minutes` (travel, a second visit) are not lost to a
  // session that counted fewer.
  for (std::size_t i = 0; i < 5; ++i)
    c.minutes_by_layer[i] = std::max(c.minutes_by_layer[i], r.minutes[i]);
  // The root cause follows the walk unless a person set it (with a reason); the fix follows the
  // root cause unless a person edited it. An answer corrected so that nothing is confirmed any
  // more takes the walk's cause and fix away with it.
  if (r.confirmed) {
    const bool by_hand = !c.root_cause_reason.empty();
    if (!by_hand) {
      c.root_cause = *r.confirmed;
      c.layer = r.layer ? std::optional<int>(diagnosis::layer_number(*r.layer)) : std::nullopt;
    }
    if (!c.fix_by_hand && c.root_cause == *r.confirmed) c.fix = r.fix;
  } else if (corrected && c.root_cause_reason.empty()) {
    c.root_cause.reset();
    c.layer.reset();
    if (!c.fix_by_hand) c.fix.clear();
  }
  // A root cause set by hand that the walk does not confirm: its own fix from the catalogue.
  if (!c.fix_by_hand && c.root_cause && !c.root_cause_reason.empty() &&
      (!r.confirmed || *r.confirmed != *c.root_cause))
    for (const auto& check : cat.checks())
      if (check.confirms == *c.root_cause) {
        c.fix = check.fix;
        break;
      }
  if (!a.bms_model.empty()) c.bms.model = a.bms_model;
  if (!a.inverter_model.empty()) c.inverter.model = a.inverter_model;
  if (!a.bms_firmware.empty()) c.bms.firmware = a.bms_firmware;
  if (!a.inverter_firmware.empty()) c.inverter.firmware = a.inverter_firmware;
}

// What a case already holds, as answers to resume from.
void resume_answers(const Case& c, diagnosis::Answers& a) {
  for (const auto& ch : c.checks) {
    // The minutes the technician gave a check stay with it.
    if (ch.minutes > 0 && !a.minutes.count(ch.check)) a.minutes[ch.check] = ch.minutes;
    if (!ch.inputs.is_object()) continue;
    for (const auto& [k, v] : ch.inputs.items()) {
      // What the request says wins, a value over a "can't tell" and back.
      if (a.has(k) || a.not_known.count(k)) continue;
      if (v.is_null())
        a.not_known.insert(k);
      else
        a.values[k] = v;
    }
  }
  if (a.bms_model.empty()) a.bms_model = c.bms.model;
  if (a.inverter_model.empty()) a.inverter_model = c.inverter.model;
  if (a.bms_firmware.empty()) a.bms_firmware = c.bms.firmware;
  if (a.inverter_firmware.empty()) a.inverter_firmware = c.inverter.firmware;
}

std::string new_case_id() {
  // A random start, then a counter: ids made in one process never repeat (65 536 a second), and
  // two processes rarely start on the same suffix.
  static std::atomic<unsigned> next{std::random_device{}()};
  std::string digits;
  for (char c : now_iso_utc())
    if (c >= '0' && c <= '9') digits += c;
  return fmt::format("{}-{}-{:04x}", digits.substr(0, 8), digits.substr(8, 6),
                     next.fetch_add(1) & 0xFFFFU);
}

bool attach_capture(Case& c, std::string name, std::string sha256,
                    const std::vector<diagnosis::Finding>& findings) {
  const bool known = std::any_of(c.captures.begin(), c.captures.end(),
                                 [&](const CaseCapture& x) { return x.sha256 == sha256; });
  if (known) return false;
  c.captures.push_back({std::move(name), std::move(sha256), diagnosis::findings_to_json(findings)});
  return true;
}

Result<RecordedSession> record_guided(
    Store& store, std::string_view id, const diagnosis::Answers& answers,
    const diagnosis::CheckCatalogue& catalogue,
    const std::function<diagnosis::GuidedResult(const diagnosis::Answers&)>& run,
    const std::optional<SessionCapture>& capture, Resume resume, int attempts,
    const std::string& by) {
  for (int attempt = 0; attempt < attempts; ++attempt) {
    auto loaded = store.get(id);
    if (!loaded) return tl::unexpected(loaded.error());
    if (!*loaded) return make_error(ErrorCode::kNotFound, fmt::format("no case {}", id));
    RecordedSession s{std::move(**loaded), answers, {}};
    const std::string tag = case_etag(s.the_case);
    const bool corrected = note_corrections(s.the_case, answers, by);
    if (resume == Resume::kYes) resume_answers(s.the_case, s.answers);
    s.result = run(s.answers);
    record_session(s.the_case, catalogue, s.answers, s.result, corrected);
    if (capture && capture->findings != nullptr)
      attach_capture(s.the_case, capture->name, capture->sha256, *capture->findings);
    auto written = store.put_if(s.the_case, [&](const std::optional<Case>& stored) {
      return stored && case_etag(*stored) == tag;
    });
    if (!written) return tl::unexpected(written.error());
    if (*written) return s;
  }
  return make_error(
      ErrorCode::kConflict,
      fmt::format("case {} kept changing while this answer was recorded: try again", id));
}

}  // namespace bmslink::records
