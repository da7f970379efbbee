// `bmslink case ...`: service records, one case per call. Arguments and printing only; the
// records module keeps the cases (records/store.h).

#include <cstdio>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "bmslink/records/case.h"
#include "bmslink/records/session.h"
#include "bmslink/records/store.h"
#include "cli.h"

namespace bmslink::app {
namespace {

struct CaseArgs {
  std::string action;  // new, list, show, update, close, delete, export, import
  std::string db;
  std::vector<std::string> ids;
  std::string file;    // import
  std::string output;  // export
  bool json = false, jsonl = false;
  std::string since, installer;
  // new / update / close
  std::string id, site, customer, address, bms_model, bms_firmware, inverter_model,
      inverter_firmware, symptom, root_cause, fix, notes, outcome, acknowledged_by;
  std::optional<int> layer;
  std::optional<double> uptime_share, hours, energy_kwh;
  std::optional<int> bms_count;
  std::vector<std::string> minutes;    // LAYER=MINUTES
  std::vector<std::string> hardcoded;  // SETTING=VALUE, or "none"
};

std::string one_line(const records::Case& c) {
  return fmt::format("{:<24} {:<20} {:<9} {:<28} {:>5.0f} min  {}", c.id, c.opened.substr(0, 16),
                     records::outcome_name(c.outcome),
                     c.root_cause ? std::string(diagnosis::cause_id(*c.root_cause)) : "-",
                     c.total_minutes(), c.site.name);
}

// "KEY=VALUE" split; the value as a JSON number when it reads as one.
std::optional<std::pair<std::string, nlohmann::json>> key_value(const std::string& s) {
  const auto eq = s.find('=');
  if (eq == std::string::npos || eq == 0) return std::nullopt;
  const std::string v = s.substr(eq + 1);
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (!v.empty() && end != nullptr && *end == '\0') return std::make_pair(s.substr(0, eq), d);
  return std::make_pair(s.substr(0, eq), nlohmann::json(v));
}

// Sets what the options give on a case's JSON; the result is read back through the contract.
int apply(const CaseArgs& a, nlohmann::json& j) {
  auto set = [&](const char* key, const std::string& v) {
    if (!v.empty()) j[key] = v;
  };
  auto set_in = [&](const char* obj, const char* key, const std::string& v) {
    if (!v.empty()) j[obj][key] = v;
  };
  set_in("site", "name", a.site);
  set_in("site", "customer", a.customer);
  set_in("site", "address", a.address);
  set("installer", a.installer);
  set_in("bms", "model", a.bms_model);
  set_in("bms", "firmware", a.bms_firmware);
  if (a.bms_count) j["bms"]["count"] = *a.bms_count;
  if (a.energy_kwh) j["bms"]["energy_kwh"] = *a.energy_kwh;
  set_in("inverter", "model", a.inverter_model);
  set_in("inverter", "firmware", a.inverter_firmware);
  if (!a.root_cause.empty())
    j["root_cause"] =
        a.root_cause == "null" ? nlohmann::json(nullptr) : nlohmann::json(a.root_cause);
  if (a.layer) j["layer"] = *a.layer;
  set("fix", a.fix);
  set("notes", a.notes);
  set("symptom", a.symptom);
  set("outcome", a.outcome);
  if (a.uptime_share) j["verification"]["uptime_share"] = *a.uptime_share;
  if (a.hours) j["verification"]["hours"] = *a.hours;
  if (!a.acknowledged_by.empty()) {
    j["acknowledged_by"] = a.acknowledged_by;
    j["acknowledged_at"] = records::now_iso_utc();
  }
  for (const auto& h : a.hardcoded) {
    if (h == "none") {
      j["hardcoded"] = nullptr;
      continue;
    }
    const auto kv = key_value(h);
    if (!kv) {
      fmt::print(stderr,
                 "bmslink: --hardcoded {}: expected SETTING=VALUE, e.g. charge_voltage_v=56.0\n",
                 h);
      return kExitUsage;
    }
    if (!j["hardcoded"].is_object()) j["hardcoded"] = nlohmann::json::object();
    j["hardcoded"][kv->first] = kv->second;
  }
  for (const auto& m : a.minutes) {
    const auto kv = key_value(m);
    if (!kv || !kv->second.is_number()) {
      fmt::print(stderr, "bmslink: --minutes {}: expected LAYER=MINUTES, e.g. 2=10\n", m);
      return kExitUsage;
    }
    j["minutes_by_layer"][kv->first] = kv->second;
  }
  return kExitOk;
}

int cmd_case(const CaseArgs& a) {
  auto store = open_store(a.db);
  if (!store) return kExitInput;
  if (a.action == "import") {
    std::ifstream in(a.file, std::ios::binary);
    if (!in) {
      fmt::print(stderr, "bmslink: {}: cannot open: {}\n", a.file, std::strerror(errno));
      return kExitInput;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    auto cases = records::parse_cases(ss.str(), a.file);
    if (!cases) {
      fmt::print(stderr, "bmslink: {} (nothing imported)\n", cases.error().message);
      return kExitInput;
    }
    if (auto ok = store->put_all(*cases); !ok) {
      fmt::print(stderr, "bmslink: {} (nothing imported)\n", ok.error().message);
      return kExitInput;
    }
    fmt::print("imported {} case(s) into {}\n", cases->size(), store->url());
    return kExitOk;
  }
  if (a.action == "export") {
    std::vector<records::Case> out;
    if (a.ids.empty()) {
      auto all = store->list({a.since, a.installer});
      if (!all) {
        fmt::print(stderr, "bmslink: {}\n", all.error().message);
        return kExitInput;
      }
      out = std::move(*all);
    } else {
      for (const auto& id : a.ids) {
        auto c = store->get(id);
        if (!c || !*c) {
          fmt::print(stderr, "bmslink: no case {}\n", id);
          return kExitInput;
        }
        out.push_back(std::move(**c));
      }
    }
    std::string text;
    if (a.jsonl) {
      for (const auto& c : out) text += records::case_to_json(c).dump() + "\n";
    } else {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& c : out) arr.push_back(records::case_to_json(c));
      text = arr.dump(2) + "\n";
    }
    return write_text(text, a.output) ? kExitOk : kExitInput;
  }
  if (a.action == "list") {
    auto all = store->list({a.since, a.installer});
    if (!all) {
      fmt::print(stderr, "bmslink: {}\n", all.error().message);
      return kExitInput;
    }
    if (a.json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& c : *all) arr.push_back(records::case_to_json(c));
      fmt::print("{}\n", arr.dump(2));
    } else {
      for (const auto& c : *all) fmt::print("{}\n", one_line(c));
      if (all->empty()) fmt::print("no cases in {}\n", store->url());
    }
    return kExitOk;
  }
  if (a.action == "new") {
    records::Case c;
    c.id = a.id.empty() ? records::new_case_id() : a.id;
    auto existing = store->get(c.id);
    if (!existing) {
      fmt::print(stderr, "bmslink: {}\n", existing.error().message);
      return kExitInput;
    }
    if (*existing) {
      fmt::print(stderr, "bmslink: case {} exists\n", c.id);
      return kExitInput;
    }
    c.opened = records::now_iso_utc();
    nlohmann::json j = records::case_to_json(c);
    if (const int rc = apply(a, j); rc != kExitOk) return rc;
    // Read back through the contract so a case made here is one an import would accept.
    auto checked = records::case_from_json(j, "new case");
    if (!checked) {
      fmt::print(stderr, "bmslink: {}\n", checked.error().message);
      return kExitUsage;
    }
    // The look-up above gives the early, clear answer; create() is the one that counts when
    // another process takes the id in between.
    auto created = store->create(*checked);
    if (!created) {
      fmt::print(stderr, "bmslink: {}\n", created.error().message);
      return kExitInput;
    }
    if (!*created) {
      fmt::print(stderr, "bmslink: case {} exists\n", c.id);
      return kExitInput;
    }
    fmt::print("{}\n", c.id);
    return kExitOk;
  }
  // show, update, close, delete: one case.
  if (a.ids.size() != 1) {
    fmt::print(stderr, "bmslink: case {} takes one case id\n", a.action);
    return kExitUsage;
  }
  const std::string& id = a.ids.front();
  if (a.action == "delete") {
    auto removed = store->remove(id);
    if (!removed) {
      fmt::print(stderr, "bmslink: {}\n", removed.error().message);
      return kExitInput;
    }
    if (!*removed) {
      fmt::print(stderr, "bmslink: no case {}\n", id);
      return kExitInput;
    }
    fmt::print("deleted {}\n", id);
    return kExitOk;
  }
  auto got = store->get(id);
  if (!got) {
    fmt::print(stderr, "bmslink: {}\n", got.error().message);
    return kExitInput;
  }
  if (!*got) {
    fmt::print(stderr, "bmslink: no case {}\n", id);
    return kExitInput;
  }
  records::Case c = std::move(**got);
  if (a.action == "show") {
    fmt::print("{}\n", records::case_to_json(c).dump(2));
    return kExitOk;
  }
  // update / close: set what was given, then read back through the contract.
  nlohmann::json j = records::case_to_json(c);
  if (const int rc = apply(a, j); rc != kExitOk) return rc;
  j.erase("total_minutes");
  if (j.contains("root_cause") && j["root_cause"].is_string() && !a.layer) {
    if (const auto cause = diagnosis::parse_cause(j["root_cause"].get<std::string>()))
      if (const auto l = diagnosis::cause_layer(*cause)) j["layer"] = diagnosis::layer_number(*l);
  }
  if (a.action == "close") {
    j["closed"] = records::now_iso_utc();
    if (j["outcome"] == "open") {
      fmt::print(stderr, "bmslink: case close needs --outcome fixed|hardcoded|escalated\n");
      return kExitUsage;
    }
  }
  auto updated = records::case_from_json(j, "case " + id);
  if (!updated) {
    fmt::print(stderr, "bmslink: {}\n", updated.error().message);
    return kExitUsage;
  }
  if (auto ok = store->put(*updated); !ok) {
    fmt::print(stderr, "bmslink: {}\n", ok.error().message);
    return kExitInput;
  }
  fmt::print("{}\n", one_line(*updated));
  return kExitOk;
}

}  // namespace

void add_case_command(CLI::App& app, Commands& commands) {
  auto* case_cmd = app.add_subcommand("case", "Service records: one case per call");
  case_cmd->require_subcommand(1);
  auto ca = std::make_shared<CaseArgs>();
  std::map<std::string, CLI::App*> case_sub;
  for (const auto& [name, what] : std::vector<std::pair<std::string, std::string>>{
           {"new", "Open a case; prints its id"},
           {"list", "The cases, oldest first"},
           {"show", "One case as JSON"},
           {"update", "Change a case"},
           {"close", "Close a case with its outcome"},
           {"delete", "Delete a case"},
           {"export", "Cases as JSON (an array, or --jsonl)"},
           {"import",
            "Import one case, an array or JSON lines; idempotent by id, all or nothing"}}) {
    auto* sub = case_cmd->add_subcommand(name, what);
    sub->add_option("--db", ca->db, kDbHelp);
    case_sub[name] = sub;
  }
  case_sub["show"]->add_option("ID", ca->ids, "Case id")->required();
  case_sub["delete"]->add_option("ID", ca->ids, "Case id")->required();
  case_sub["import"]->add_option("FILE", ca->file, "Case JSON file")->required();
  case_sub["export"]->add_option("ID", ca->ids, "Case ids (default: all)");
  case_sub["export"]->add_option("-o,--output", ca->output, "Output file");
  case_sub["export"]->add_flag("--jsonl", ca->jsonl, "One case per line");
  for (const char* n : {"list", "export"}) {
    case_sub[n]
        ->add_option("--since", ca->since, "Cases opened on or after this date (2026-01-01)")
        ->check(iso_date());
    case_sub[n]->add_option("--installer", ca->installer, "Only this installer's cases");
  }
  case_sub["list"]->add_flag("--json", ca->json, "As JSON");
  case_sub["new"]->add_option("--id", ca->id, "The id (default: date, time and a random suffix)");
  for (const char* n : {"new", "update"}) {
    case_sub[n]->add_option("--symptom", ca->symptom, "The symptom as reported");
  }
  for (const char* n : {"new", "update"}) {
    auto* sub = case_sub[n];
    sub->add_option("--site", ca->site, "Site name");
    sub->add_option("--customer", ca->customer, "Customer");
    sub->add_option("--address", ca->address, "Address");
    sub->add_option("--installer", ca->installer, "Who does the call");
    sub->add_option("--bms-model", ca->bms_model, "BMS / battery model");
    sub->add_option("--bms-firmware", ca->bms_firmware, "BMS firmware");
    sub->add_option("--bms-count", ca->bms_count, "Batteries (modules) on the bus")
        ->check(CLI::Range(1, 64));
    sub->add_option("--energy-kwh", ca->energy_kwh, "Battery energy in kWh")
        ->check(CLI::PositiveNumber);
    sub->add_option("--inverter-model", ca->inverter_model, "Inverter model");
    sub->add_option("--inverter-firmware", ca->inverter_firmware, "Inverter firmware");
  }
  for (const char* n : {"update", "close"}) {
    auto* sub = case_sub[n];
    sub->add_option("ID", ca->ids, "Case id")->required();
    sub->add_option("--root-cause", ca->root_cause, "Cause id (docs/diagnosis.md), or null");
    sub->add_option("--layer", ca->layer, "Layer 1-5 (default: the cause's)");
    sub->add_option("--fix", ca->fix, "The fix applied");
    sub->add_option("--notes", ca->notes, "Notes");
    sub->add_option("--outcome", ca->outcome, "fixed, hardcoded, escalated or open");
    sub->add_option("--uptime-share", ca->uptime_share, "Verification: uptime share 0-1");
    sub->add_option("--hours", ca->hours, "Verification: hours watched");
    sub->add_option("--minutes", ca->minutes, "Minutes spent in a layer: LAYER=MINUTES (repeat)");
    sub->add_option("--acknowledged-by", ca->acknowledged_by, "The customer who acknowledged");
    sub->add_option("--hardcoded", ca->hardcoded,
                    "A hardcoded inverter setting: SETTING=VALUE (repeat), or none");
  }
  commands.add(case_cmd, [ca, case_sub] {
    for (const auto& [name, sub] : case_sub)
      if (sub->parsed()) ca->action = name;
    return cmd_case(*ca);
  });
}

}  // namespace bmslink::app
