// bmslink records: a service call as a case. The case JSON (docs/records.md) is a contract for
// import/export and the web API: what was reported, every check done with its inputs, verdict and
// minutes, the captures analysed, the root cause, the fix, the verification, the outcome, the
// minutes per layer, hardcoded settings and the customer's acknowledgment. Reading checks every
// field and names the one that is wrong; writing gives the same JSON back for the same case.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bmslink/diagnosis/guided.h"

#include "bmslink/core/error.h"
#include "bmslink/diagnosis/cause.h"

namespace bmslink::records {

enum class Outcome { kFixed, kHardcoded, kEscalated, kOpen };
std::string_view outcome_name(Outcome outcome);  // "fixed", "hardcoded", "escalated", "open"
std::optional<Outcome> parse_outcome(std::string_view name);

struct CaseCheck {
  std::string check;  // a check id of the catalogue ("l2.termination")
  int layer = 1;
  nlohmann::json inputs = nlohmann::json::object();
  diagnosis::Verdict verdict = diagnosis::Verdict::kUnknown;  // its name in JSON
  double minutes = 0;
};

struct CaseCapture {
  std::string file;
  std::string sha256;  // 64 lower-case hex digits: the stored copy's name
  nlohmann::json findings = nlohmann::json::array();
};

// One change to what a case says, kept so a corrected record can be trusted: an answer changed
// (field "answer", `key` the input, `check` the check it belongs to), the root cause set by hand
// ("root_cause", with its reason), the outcome. `from`/`to` are the values (null: none).
struct CaseChange {
  std::string at;  // ISO 8601 UTC
  std::string by;  // the user, where known
  std::string field;
  std::string key, check;
  nlohmann::json from, to;
  std::string reason;
};

struct Case {
  std::string id;
  std::string opened;  // ISO 8601 UTC, "2026-12-01T14:00:00Z"
  std::optional<std::string> closed;
  std::string installer;  // who did the call (additive to the contract)
  struct Site {
    std::string name, customer, address;
  } site;
  struct Bms {
    std::string model, firmware;
    std::optional<int> count;
    std::optional<double> energy_kwh;
  } bms;
  struct Inverter {
    std::string model, firmware;
  } inverter;
  std::string symptom;
  std::vector<CaseCheck> checks;
  std::vector<CaseCapture> captures;
  std::optional<diagnosis::Cause> root_cause;
  std::optional<int> layer;
  // Why the root cause was set by hand; empty when the checks decided it (the walk then keeps
  // it current, and never overrides one set by hand).
  std::string root_cause_reason;
  std::string fix;
  bool fix_by_hand = false;  // the fix text was edited: the walk no longer replaces it
  std::vector<CaseChange> history;
  struct Verification {
    std::optional<double> uptime_share;  // 0..1
    std::optional<double> hours;
  } verification;
  Outcome outcome = Outcome::kOpen;
  std::array<double, 5> minutes_by_layer{};
  nlohmann::json hardcoded;  // object of settings, or null
  std::string acknowledged_by;
  std::optional<std::string> acknowledged_at;
  std::string notes;

  double total_minutes() const;
};

// One case from JSON; `where` prefixes errors ("case 3"). An unknown key, a missing id, a wrong
// type, an unknown cause or check verdict, a date that is not ISO 8601 UTC is an error naming the
// field.
Result<Case> case_from_json(const nlohmann::json& j, const std::string& where = "case");
nlohmann::json case_to_json(const Case& c);
// The case's HTTP entity tag: a quoted SHA-256 prefix of its JSON, so any change to what the
// case says changes it (If-Match on an update refuses to overwrite a case changed meanwhile).
std::string case_etag(const Case& c);

// An import file: one case, an array of cases, or JSON lines. All or nothing: the first bad case
// is reported with its index (1-based) and field.
Result<std::vector<Case>> parse_cases(std::string_view text, std::string_view name);

// "2026-12-01T14:00:00Z" (seconds; a fraction and "+00:00" are accepted on reading).
bool is_iso_utc(std::string_view text);
std::string now_iso_utc();

}  // namespace bmslink::records
