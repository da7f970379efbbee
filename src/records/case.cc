#include "bmslink/records/case.h"

#include "bmslink/core/json.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>

#include <fmt/format.h>

namespace bmslink::records {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 4> kOutcomes = {"fixed", "hardcoded", "escalated", "open"};

constexpr std::array<std::string_view, 25> kKeys = {"id",
                                                    "opened",
                                                    "closed",
                                                    "installer",
                                                    "site",
                                                    "bms",
                                                    "inverter",
                                                    "symptom",
                                                    "checks",
                                                    "captures",
                                                    "root_cause",
                                                    "layer",
                                                    "fix",
                                                    "verification",
                                                    "outcome",
                                                    "minutes_by_layer",
                                                    "hardcoded",
                                                    "acknowledged_by",
                                                    "acknowledged_at",
                                                    "notes",
                                                    "root_cause_reason",
                                                    "fix_by_hand",
                                                    "history",
                                                    "total_minutes",
                                                    "schema"};

// A date field: absent or null is nullopt; text that is no ISO 8601 UTC time is an error.
Result<std::optional<std::string>> read_date(const JsonReader& r, const json& obj,
                                             std::string_view key, std::string_view where) {
  auto t = r.text(obj, key, where);
  if (!t) return tl::unexpected(t.error());
  if (t->empty()) return std::optional<std::string>();
  if (!is_iso_utc(*t))
    return r.key_error(where, key,
                       "expected an ISO 8601 UTC time such as \"2026-12-01T14:00:00Z\"");
  return std::optional<std::string>(*t);
}

#define BMS_TRY(var, expr) \
  auto var = (expr);       \
  if (!var) return tl::unexpected(var.error())

}  // namespace

std::string_view outcome_name(Outcome o) { return kOutcomes[static_cast<std::size_t>(o)]; }

std::optional<Outcome> parse_outcome(std::string_view name) {
  for (std::size_t i = 0; i < kOutcomes.size(); ++i)
    if (kOutcomes[i] == name) return static_cast<Outcome>(i);
  return std::nullopt;
}

double Case::total_minutes() const {
  return std::accumulate(minutes_by_layer.begin(), minutes_by_layer.end(), 0.0);
}

bool is_iso_utc(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.fff]Z or +00:00
  auto digits = [&](std::size_t at, std::size_t n) {
    if (at + n > t.size()) return false;
    for (std::size_t i = 0; i < n; ++i)
      if (t[at + i] < '0' || t[at + i] > '9') return false;
    return true;
  };
  if (t.size() < 20 || !digits(0, 4) || t[4] != '-' || !digits(5, 2) || t[7] != '-' ||
      !digits(8, 2) || t[10] != 'T' || !digits(11, 2) || t[13] != ':' || !digits(14, 2) ||
      t[16] != ':' || !digits(17, 2))
    return false;
  const int month = (t[5] - '0') * 10 + (t[6] - '0');
  const int day = (t[8] - '0') * 10 + (t[9] - '0');
  const int hour = (t[11] - '0') * 10 + (t[12] - '0');
  const int minute = (t[14] - '0') * 10 + (t[15] - '0');
  const int second = (t[17] - '0') * 10 + (t[18] - '0');
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
    return false;
  std::size_t i = 19;
  if (i < t.size() && t[i] == '.') {
    ++i;
    const std::size_t start = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    if (i == start) return false;
  }
  const std::string_view zone = t.substr(i);
  return zone == "Z" || zone == "+00:00";
}

std::string now_iso_utc() {
  using namespace std::chrono;
  const auto now = floor<seconds>(system_clock::now());
  const auto day = floor<days>(now);
  const year_month_day ymd{day};
  const hh_mm_ss<seconds> tod{now - day};
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     tod.hours().count(), tod.minutes().count(), tod.seconds().count());
}

Result<Case> case_from_json(const json& j, const std::string& where) {
  if (!j.is_object())
    return make_error(ErrorCode::kMalformed, fmt::format("{}: expected a JSON object", where));
  const JsonReader r(where);
  for (const auto& [k, v] : j.items()) {
    if (std::find(kKeys.begin(), kKeys.end(), k) == kKeys.end())
      return r.field_error(k, "unknown key");
  }
  Case c;
  BMS_TRY(id, r.text(j, "id", ""));
  if (id->empty()) return r.field_error("id", "expected a non-empty id");
  if (id->size() > 200) return r.field_error("id", "longer than 200 characters");
  // Ids go into URLs, file names and logs: letters, digits, '.', '_' and '-', not starting with
  // '.' (a case with "/" in its id was created and could then never be reached).
  const bool safe = id->front() != '.' && std::all_of(id->begin(), id->end(), [](char ch) {
                      return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                             (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
                    });
  if (!safe)
    return r.field_error("id", "expected letters, digits, '.', '_' and '-' only (not first '.')");
  c.id = *id;
  BMS_TRY(opened, read_date(r, j, "opened", ""));
  if (!*opened)
    return r.field_error("opened",
                         "expected an ISO 8601 UTC time such as \"2026-12-01T14:00:00Z\"");
  c.opened = **opened;
  BMS_TRY(closed, read_date(r, j, "closed", ""));
  c.closed = *closed;
  BMS_TRY(installer, r.text(j, "installer", ""));
  c.installer = *installer;
  if (j.contains("site") && !j["site"].is_null()) {
    if (auto ok = r.only(j["site"], "site", {"name", "customer", "address"}); !ok)
      return tl::unexpected(ok.error());
    BMS_TRY(name, r.text(j["site"], "name", "site"));
    BMS_TRY(customer, r.text(j["site"], "customer", "site"));
    BMS_TRY(address, r.text(j["site"], "address", "site"));
    c.site = {*name, *customer, *address};
  }
  if (j.contains("bms") && !j["bms"].is_null()) {
    const json& b = j["bms"];
    if (auto ok = r.only(b, "bms", {"model", "firmware", "count", "energy_kwh"}); !ok)
      return tl::unexpected(ok.error());
    BMS_TRY(model, r.text(b, "model", "bms"));
    BMS_TRY(firmware, r.text(b, "firmware", "bms"));
    BMS_TRY(count, r.number(b, "count", "bms", 0, 1000));
    BMS_TRY(energy, r.number(b, "energy_kwh", "bms", 0, 1e6));
    if (*count && **count != std::floor(**count))
      return r.field_error("bms.count", "expected a whole number");
    c.bms.model = *model;
    c.bms.firmware = *firmware;
    if (*count) c.bms.count = static_cast<int>(**count);
    c.bms.energy_kwh = *energy;
  }
  if (j.contains("inverter") && !j["inverter"].is_null()) {
    const json& i = j["inverter"];
    if (auto ok = r.only(i, "inverter", {"model", "firmware"}); !ok)
      return tl::unexpected(ok.error());
    BMS_TRY(model, r.text(i, "model", "inverter"));
    BMS_TRY(firmware, r.text(i, "firmware", "inverter"));
    c.inverter = {*model, *firmware};
  }
  BMS_TRY(symptom, r.text(j, "symptom", ""));
  c.symptom = *symptom;
  if (j.contains("checks") && !j["checks"].is_null()) {
    if (!j["checks"].is_array()) return r.field_error("checks", "expected a list");
    std::size_t n = 0;
    for (const auto& ch : j["checks"]) {
      const std::string f = fmt::format("checks[{}]", n++);
      if (auto ok = r.only(ch, f, {"check", "layer", "inputs", "verdict", "minutes"}); !ok)
        return tl::unexpected(ok.error());
      CaseCheck cc;
      BMS_TRY(check, r.text(ch, "check", f));
      if (check->empty()) return r.field_error(f + ".check", "expected a check id");
      cc.check = *check;
      BMS_TRY(layer, r.number(ch, "layer", f, 1, 5));
      if (!*layer || **layer != std::floor(**layer))
        return r.field_error(f + ".layer", "expected 1 to 5");
      cc.layer = static_cast<int>(**layer);
      if (ch.contains("inputs") && !ch["inputs"].is_null()) {
        if (!ch["inputs"].is_object()) return r.field_error(f + ".inputs", "expected an object");
        cc.inputs = ch["inputs"];
      }
      BMS_TRY(verdict_text, r.text(ch, "verdict", f));
      const auto verdict = diagnosis::parse_verdict(*verdict_text);
      if (!verdict)
        return r.field_error(f + ".verdict",
                             "expected pass, fail, skipped, unknown, marginal or suspect");
      cc.verdict = *verdict;
      BMS_TRY(minutes, r.number(ch, "minutes", f, 0, 100000));
      cc.minutes = minutes->value_or(0);
      c.checks.push_back(std::move(cc));
    }
  }
  if (j.contains("captures") && !j["captures"].is_null()) {
    if (!j["captures"].is_array()) return r.field_error("captures", "expected a list");
    std::size_t n = 0;
    for (const auto& cap : j["captures"]) {
      const std::string f = fmt::format("captures[{}]", n++);
      if (auto ok = r.only(cap, f, {"file", "sha256", "findings"}); !ok)
        return tl::unexpected(ok.error());
      CaseCapture cc;
      BMS_TRY(file, r.text(cap, "file", f));
      BMS_TRY(sha, r.text(cap, "sha256", f));
      if (sha->size() != 64 || !std::all_of(sha->begin(), sha->end(), [](char ch) {
            return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
          }))
        return r.field_error(f + ".sha256", "expected 64 lower-case hex digits");
      cc.file = *file;
      cc.sha256 = *sha;
      if (cap.contains("findings") && !cap["findings"].is_null()) {
        if (!cap["findings"].is_array()) return r.field_error(f + ".findings", "expected a list");
        cc.findings = cap["findings"];
      }
      c.captures.push_back(std::move(cc));
    }
  }
  if (j.contains("root_cause") && !j["root_cause"].is_null()) {
    if (!j["root_cause"].is_string())
      return r.field_error("root_cause", "expected a cause id or null");
    const auto cause = diagnosis::parse_cause(j["root_cause"].get<std::string>());
    if (!cause || diagnosis::is_note(*cause))
      return r.field_error(
          "root_cause", fmt::format("unknown cause id \"{}\"", j["root_cause"].get<std::string>()));
    c.root_cause = *cause;
  }
  BMS_TRY(layer, r.number(j, "layer", "", 1, 5));
  if (*layer) {
    if (**layer != std::floor(**layer)) return r.field_error("layer", "expected 1 to 5 or null");
    c.layer = static_cast<int>(**layer);
  }
  // A root cause without its layer would drop out of the statistics by layer.
  if (c.root_cause && !c.layer)
    if (const auto cl = diagnosis::cause_layer(*c.root_cause))
      c.layer = diagnosis::layer_number(*cl);
  if (c.root_cause && c.layer) {
    const auto cl = diagnosis::cause_layer(*c.root_cause);
    if (cl && diagnosis::layer_number(*cl) != *c.layer)
      return r.field_error("layer",
                           fmt::format("{} is a layer-{} cause", diagnosis::cause_id(*c.root_cause),
                                       diagnosis::layer_number(*cl)));
  }
  BMS_TRY(fix, r.text(j, "fix", ""));
  c.fix = *fix;
  BMS_TRY(cause_reason, r.text(j, "root_cause_reason", ""));
  c.root_cause_reason = *cause_reason;
  if (!c.root_cause_reason.empty() && !c.root_cause)
    return r.field_error("root_cause_reason",
                         "is the reason a root cause was set by hand: give the root_cause too");
  if (j.contains("fix_by_hand") && !j["fix_by_hand"].is_null()) {
    if (!j["fix_by_hand"].is_boolean())
      return r.field_error("fix_by_hand", "expected true or false");
    c.fix_by_hand = j["fix_by_hand"].get<bool>();
  } else {
    // A record from before the field: who wrote its fix is not known, so it is kept as written.
    c.fix_by_hand = !c.fix.empty();
  }
  if (j.contains("history") && !j["history"].is_null()) {
    if (!j["history"].is_array()) return r.field_error("history", "expected a list");
    std::size_t n = 0;
    for (const auto& h : j["history"]) {
      const std::string f = fmt::format("history[{}]", n++);
      if (auto ok = r.only(h, f, {"at", "by", "field", "key", "check", "from", "to", "reason"});
          !ok)
        return tl::unexpected(ok.error());
      CaseChange ch;
      BMS_TRY(at, read_date(r, h, "at", f));
      if (!*at) return r.field_error(f + ".at", "expected an ISO 8601 UTC time");
      ch.at = **at;
      BMS_TRY(by, r.text(h, "by", f));
      BMS_TRY(field, r.text(h, "field", f));
      BMS_TRY(key, r.text(h, "key", f));
      BMS_TRY(check, r.text(h, "check", f));
      BMS_TRY(reason, r.text(h, "reason", f));
      if (field->empty()) return r.field_error(f + ".field", "expected what changed");
      ch.by = *by;
      ch.field = *field;
      ch.key = *key;
      ch.check = *check;
      ch.reason = *reason;
      ch.from = h.value("from", json(nullptr));
      ch.to = h.value("to", json(nullptr));
      c.history.push_back(std::move(ch));
    }
  }
  if (j.contains("verification") && !j["verification"].is_null()) {
    const json& v = j["verification"];
    if (auto ok = r.only(v, "verification", {"uptime_share", "hours"}); !ok)
      return tl::unexpected(ok.error());
    BMS_TRY(share, r.number(v, "uptime_share", "verification", 0, 1));
    BMS_TRY(hours, r.number(v, "hours", "verification", 0, 1e6));
    c.verification = {*share, *hours};
  }
  BMS_TRY(outcome, r.text(j, "outcome", ""));
  if (outcome->empty()) {
    c.outcome = Outcome::kOpen;
  } else if (const auto o = parse_outcome(*outcome)) {
    c.outcome = *o;
  } else {
    return r.field_error("outcome", "expected fixed, hardcoded, escalated or open");
  }
  if (j.contains("minutes_by_layer") && !j["minutes_by_layer"].is_null()) {
    const json& m = j["minutes_by_layer"];
    if (auto ok = r.only(m, "minutes_by_layer", {"1", "2", "3", "4", "5"}); !ok)
      return tl::unexpected(ok.error());
    for (int l = 1; l <= 5; ++l) {
      BMS_TRY(v, r.number(m, std::to_string(l), "minutes_by_layer", 0, 1e6));
      c.minutes_by_layer[static_cast<std::size_t>(l - 1)] = v->value_or(0);
    }
  }
  if (j.contains("total_minutes") && !j["total_minutes"].is_null()) {
    if (!j["total_minutes"].is_number() ||
        std::fabs(j["total_minutes"].get<double>() - c.total_minutes()) > 1e-6)
      return r.field_error("total_minutes", "must be the sum of minutes_by_layer");
  }
  if (j.contains("hardcoded") && !j["hardcoded"].is_null()) {
    if (!j["hardcoded"].is_object())
      return r.field_error("hardcoded", "expected an object of settings or null");
    c.hardcoded = j["hardcoded"];
  }
  BMS_TRY(by, r.text(j, "acknowledged_by", ""));
  c.acknowledged_by = *by;
  BMS_TRY(at, read_date(r, j, "acknowledged_at", ""));
  c.acknowledged_at = *at;
  BMS_TRY(notes, r.text(j, "notes", ""));
  c.notes = *notes;
  return c;
}

json case_to_json(const Case& c) {
  auto opt_text = [](const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); };
  auto opt_num = [](const auto& v) { return v ? json(*v) : json(nullptr); };
  json checks = json::array();
  for (const auto& ch : c.checks)
    checks.push_back({{"check", ch.check},
                      {"layer", ch.layer},
                      {"inputs", ch.inputs},
                      {"verdict", diagnosis::verdict_name(ch.verdict)},
                      {"minutes", ch.minutes}});
  json captures = json::array();
  for (const auto& cap : c.captures)
    captures.push_back({{"file", cap.file}, {"sha256", cap.sha256}, {"findings", cap.findings}});
  json history = json::array();
  for (const auto& h : c.history)
    history.push_back({{"at", h.at},
                       {"by", h.by},
                       {"field", h.field},
                       {"key", h.key},
                       {"check", h.check},
                       {"from", h.from},
                       {"to", h.to},
                       {"reason", h.reason}});
  json minutes = json::object();
  for (int l = 1; l <= 5; ++l)
    minutes[std::to_string(l)] = c.minutes_by_layer[static_cast<std::size_t>(l - 1)];
  return {
      {"id", c.id},
      {"opened", c.opened},
      {"closed", opt_text(c.closed)},
      {"installer", c.installer},
      {"site", {{"name", c.site.name}, {"customer", c.site.customer}, {"address", c.site.address}}},
      {"bms",
       {{"model", c.bms.model},
        {"firmware", c.bms.firmware},
        {"count", opt_num(c.bms.count)},
        {"energy_kwh", opt_num(c.bms.energy_kwh)}}},
      {"inverter", {{"model", c.inverter.model}, {"firmware", c.inverter.firmware}}},
      {"symptom", c.symptom},
      {"checks", checks},
      {"captures", captures},
      {"root_cause",
       c.root_cause ? json(std::string(diagnosis::cause_id(*c.root_cause))) : json(nullptr)},
      {"layer", opt_num(c.layer)},
      {"fix", c.fix},
      {"verification",
       {{"uptime_share", opt_num(c.verification.uptime_share)},
        {"hours", opt_num(c.verification.hours)}}},
      {"outcome", std::string(outcome_name(c.outcome))},
      {"minutes_by_layer", minutes},
      {"total_minutes", c.total_minutes()},
      {"hardcoded", c.hardcoded.is_null() ? json(nullptr) : c.hardcoded},
      {"acknowledged_by", c.acknowledged_by},
      {"acknowledged_at", opt_text(c.acknowledged_at)},
      {"notes", c.notes},
      {"root_cause_reason", c.root_cause_reason},
      {"fix_by_hand", c.fix_by_hand},
      {"history", history}};
}

namespace {}  // namespace

Result<std::vector<Case>> parse_cases(std::string_view text, std::string_view name) {
  std::vector<json> docs;
  auto whole = parse_json(text, name);
  if (whole) {
    if (whole->is_array()) {
      for (auto& c : *whole) docs.push_back(std::move(c));
    } else {
      docs.push_back(std::move(*whole));
    }
  } else {
    // JSON lines: one case per non-empty line.
    std::size_t pos = 0, line = 0;
    while (pos <= text.size()) {
      const auto nl = text.find('\n', pos);
      const std::string_view l =
          text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
      ++line;
      pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
      if (l.find_first_not_of(" \t\r") == std::string_view::npos) continue;
      auto one = parse_json(l, fmt::format("{}:{}", name, line));
      if (!one) {
        // The first line is not a case by itself: the file is one JSON document spread over
        // lines, and the error is where that document breaks.
        if (docs.empty()) return tl::unexpected(whole.error());
        return make_error(ErrorCode::kMalformed,
                          fmt::format("{}:{}: not JSON (a file holds one case, an array of cases "
                                      "or one case per line)",
                                      name, line));
      }
      docs.push_back(std::move(*one));
    }
  }
  if (docs.empty())
    return make_error(ErrorCode::kMalformed, fmt::format("{}: no case in it", name));
  std::vector<Case> out;
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < docs.size(); ++i) {
    auto c = case_from_json(docs[i], fmt::format("{}: case {}", name, i + 1));
    if (!c) return tl::unexpected(c.error());
    if (const auto [it, fresh] = seen.emplace(c->id, i + 1); !fresh)
      return make_error(ErrorCode::kMalformed,
                        fmt::format("{}: case {}: \"id\": \"{}\" is also case {} of this file",
                                    name, i + 1, c->id, it->second));
    out.push_back(std::move(*c));
  }
  return out;
}

std::string case_etag(const Case& c) {
  const std::string body =
      case_to_json(c).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(body.data(), body.size(), md, &len, EVP_sha256(), nullptr);
  std::string tag = "\"";
  for (unsigned int i = 0; i < len && i < 10; ++i) tag += fmt::format("{:02x}", md[i]);
  return tag + "\"";
}

}  // namespace bmslink::records
