// `bmslink case ...` and `bmslink stats`: arguments and printing only; the records module keeps
// the cases (records/store.h) and computes the statistics (records/stats.h).

#include "records_cmd.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bmslink/records/compat.h"
#include "bmslink/records/stats.h"
#include "bmslink/report/records_report.h"

namespace bmslink::app {
namespace {

constexpr int kOk = 0, kInput = 1, kUsage = 2;

std::unique_ptr<records::Store> open(const std::string& db) {
  auto s = records::open_store(db.empty() ? records::default_store_url() : db);
  if (!s) {
    fmt::print(stderr, "bmslink: {}\n", s.error().message);
    return nullptr;
  }
  return std::move(*s);
}

std::string new_id() {
  std::random_device rd;
  const std::string now = records::now_iso_utc();  // 2026-12-01T14:00:00Z
  std::string compact;
  for (char c : now)
    if (c >= '0' && c <= '9') compact += c;
  return fmt::format("{}-{}-{:04x}", compact.substr(0, 8), compact.substr(8, 6), rd() & 0xFFFF);
}

bool write_out(const std::string& text, const std::string& path) {
  if (path.empty() || path == "-") {
    fmt::print("{}", text);
    return true;
  }
  std::ofstream out(path + ".tmp", std::ios::binary);
  out << text;
  out.close();
  if (!out || std::rename((path + ".tmp").c_str(), path.c_str()) != 0) {
    fmt::print(stderr, "bmslink: cannot write {}: {}\n", path, std::strerror(errno));
    return false;
  }
  return true;
}

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
      return kUsage;
    }
    if (!j["hardcoded"].is_object()) j["hardcoded"] = nlohmann::json::object();
    j["hardcoded"][kv->first] = kv->second;
  }
  for (const auto& m : a.minutes) {
    const auto kv = key_value(m);
    if (!kv || !kv->second.is_number()) {
      fmt::print(stderr, "bmslink: --minutes {}: expected LAYER=MINUTES, e.g. 2=10\n", m);
      return kUsage;
    }
    j["minutes_by_layer"][kv->first] = kv->second;
  }
  return kOk;
}

}  // namespace

int cmd_case(const CaseArgs& a) {
  auto store = open(a.db);
  if (!store) return kInput;
  if (a.action == "import") {
    std::ifstream in(a.file, std::ios::binary);
    if (!in) {
      fmt::print(stderr, "bmslink: {}: cannot open: {}\n", a.file, std::strerror(errno));
      return kInput;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    auto cases = records::parse_cases(ss.str(), a.file);
    if (!cases) {
      fmt::print(stderr, "bmslink: {} (nothing imported)\n", cases.error().message);
      return kInput;
    }
    if (auto ok = store->put_all(*cases); !ok) {
      fmt::print(stderr, "bmslink: {} (nothing imported)\n", ok.error().message);
      return kInput;
    }
    fmt::print("imported {} case(s) into {}\n", cases->size(), store->url());
    return kOk;
  }
  if (a.action == "export") {
    std::vector<records::Case> out;
    if (a.ids.empty()) {
      auto all = store->list({a.since, a.installer});
      if (!all) {
        fmt::print(stderr, "bmslink: {}\n", all.error().message);
        return kInput;
      }
      out = std::move(*all);
    } else {
      for (const auto& id : a.ids) {
        auto c = store->get(id);
        if (!c || !*c) {
          fmt::print(stderr, "bmslink: no case {}\n", id);
          return kInput;
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
    return write_out(text, a.output) ? kOk : kInput;
  }
  if (a.action == "list") {
    auto all = store->list({a.since, a.installer});
    if (!all) {
      fmt::print(stderr, "bmslink: {}\n", all.error().message);
      return kInput;
    }
    if (a.json) {
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& c : *all) arr.push_back(records::case_to_json(c));
      fmt::print("{}\n", arr.dump(2));
    } else {
      for (const auto& c : *all) fmt::print("{}\n", one_line(c));
      if (all->empty()) fmt::print("no cases in {}\n", store->url());
    }
    return kOk;
  }
  if (a.action == "new") {
    records::Case c;
    c.id = a.id.empty() ? new_id() : a.id;
    auto existing = store->get(c.id);
    if (!existing) {
      fmt::print(stderr, "bmslink: {}\n", existing.error().message);
      return kInput;
    }
    if (*existing) {
      fmt::print(stderr, "bmslink: case {} exists\n", c.id);
      return kInput;
    }
    c.opened = records::now_iso_utc();
    nlohmann::json j = records::case_to_json(c);
    if (const int rc = apply(a, j); rc != kOk) return rc;
    // Read back through the contract so a case made here is one an import would accept.
    auto checked = records::case_from_json(j, "new case");
    if (!checked) {
      fmt::print(stderr, "bmslink: {}\n", checked.error().message);
      return kUsage;
    }
    // The look-up above gives the early, clear answer; create() is the one that counts when
    // another process takes the id in between.
    auto created = store->create(*checked);
    if (!created) {
      fmt::print(stderr, "bmslink: {}\n", created.error().message);
      return kInput;
    }
    if (!*created) {
      fmt::print(stderr, "bmslink: case {} exists\n", c.id);
      return kInput;
    }
    fmt::print("{}\n", c.id);
    return kOk;
  }
  // show, update, close, delete: one case.
  if (a.ids.size() != 1) {
    fmt::print(stderr, "bmslink: case {} takes one case id\n", a.action);
    return kUsage;
  }
  const std::string& id = a.ids.front();
  if (a.action == "delete") {
    auto removed = store->remove(id);
    if (!removed) {
      fmt::print(stderr, "bmslink: {}\n", removed.error().message);
      return kInput;
    }
    if (!*removed) {
      fmt::print(stderr, "bmslink: no case {}\n", id);
      return kInput;
    }
    fmt::print("deleted {}\n", id);
    return kOk;
  }
  auto got = store->get(id);
  if (!got) {
    fmt::print(stderr, "bmslink: {}\n", got.error().message);
    return kInput;
  }
  if (!*got) {
    fmt::print(stderr, "bmslink: no case {}\n", id);
    return kInput;
  }
  records::Case c = std::move(**got);
  if (a.action == "show") {
    fmt::print("{}\n", records::case_to_json(c).dump(2));
    return kOk;
  }
  // update / close: set what was given, then read back through the contract.
  nlohmann::json j = records::case_to_json(c);
  if (const int rc = apply(a, j); rc != kOk) return rc;
  j.erase("total_minutes");
  if (j.contains("root_cause") && j["root_cause"].is_string() && !a.layer) {
    if (const auto cause = diagnosis::parse_cause(j["root_cause"].get<std::string>()))
      if (const auto l = diagnosis::cause_layer(*cause)) j["layer"] = diagnosis::layer_number(*l);
  }
  if (a.action == "close") {
    j["closed"] = records::now_iso_utc();
    if (j["outcome"] == "open") {
      fmt::print(stderr, "bmslink: case close needs --outcome fixed|hardcoded|escalated\n");
      return kUsage;
    }
  }
  auto updated = records::case_from_json(j, "case " + id);
  if (!updated) {
    fmt::print(stderr, "bmslink: {}\n", updated.error().message);
    return kUsage;
  }
  if (auto ok = store->put(*updated); !ok) {
    fmt::print(stderr, "bmslink: {}\n", ok.error().message);
    return kInput;
  }
  fmt::print("{}\n", one_line(*updated));
  return kOk;
}

int cmd_compat(const CompatArgs& a) {
  auto store = open(a.db);
  if (!store) return kInput;
  auto cases = store->list();
  if (!cases) {
    fmt::print(stderr, "bmslink: {}\n", cases.error().message);
    return kInput;
  }
  const auto rows = records::compatibility(*cases);
  std::string text;
  if (a.format == "json") {
    text = records::compat_json(rows).dump(2) + "\n";
  } else if (a.format == "csv") {
    text = records::compat_csv(rows);
  } else if (a.format == "md") {
    text = records::compat_markdown(rows);
  } else {
    for (const auto& r : rows)
      text += fmt::format("{:<28} {:<28} worked {:>3}  failed {:>3}  hardcoded {:>3}\n",
                          r.bms_model + " " + r.bms_firmware,
                          r.inverter_model + " " + r.inverter_firmware, r.worked, r.failed,
                          r.hardcoded);
    if (rows.empty()) text = "no cases in " + store->url() + "\n";
  }
  return write_out(text, a.output) ? kOk : kInput;
}

int cmd_stats(const StatsArgs& a) {
  auto store = open(a.db);
  if (!store) return kInput;
  auto cases = store->list({a.since, a.installer});
  if (!cases) {
    fmt::print(stderr, "bmslink: {}\n", cases.error().message);
    return kInput;
  }
  const auto s = records::compute_stats(*cases);
  if (a.json) return write_out(s.dump(2) + "\n", a.output) ? kOk : kInput;
  if (a.html) {
    std::string scope = store->url();
    if (!a.since.empty()) scope += ", opened since " + a.since;
    if (!a.installer.empty()) scope += ", installer " + a.installer;
    const auto catalogue = diagnosis::CheckCatalogue::builtin();
    return write_out(report::stats_report(s, scope, catalogue ? &*catalogue : nullptr), a.output)
               ? kOk
               : kInput;
  }
  fmt::print("{} case(s) in {}\n", cases->size(), store->url());
  fmt::print("\nroot causes:\n");
  std::vector<std::pair<int, std::string>> causes;
  for (const auto& [k, v] : s["by_cause"].items()) causes.emplace_back(v.get<int>(), k);
  std::sort(causes.rbegin(), causes.rend());
  for (const auto& [n, k] : causes) fmt::print("  {:<28} {:>5}\n", k, n);
  fmt::print("\nlayer  cases  solved  cumulative  minutes (mean / median)\n");
  for (int l = 1; l <= 5; ++l) {
    const std::string k = std::to_string(l);
    const auto& m = s["minutes_by_layer"][k];
    fmt::print("  {}   {:>5}  {:>5.1f} %  {:>8.1f} %  {:>6.1f} / {:.1f}\n", l,
               s["by_layer"][k].get<int>(), s["layer_yield"][k].get<double>() * 100,
               s["cumulative_yield"][k].get<double>() * 100,
               m["mean"].is_null() ? 0.0 : m["mean"].get<double>(),
               m["median"].is_null() ? 0.0 : m["median"].get<double>());
  }
  fmt::print("\nsolved (fixed) within 15 / 30 / 50 min: {:.1f} % / {:.1f} % / {:.1f} %\n",
             s["solved_within_minutes"]["15"].get<double>() * 100,
             s["solved_within_minutes"]["30"].get<double>() * 100,
             s["solved_within_minutes"]["50"].get<double>() * 100);
  fmt::print("outcomes: fixed {}, hardcoded {}, escalated {}, open {}\n",
             s["outcomes"]["fixed"].get<int>(), s["outcomes"]["hardcoded"].get<int>(),
             s["outcomes"]["escalated"].get<int>(), s["outcomes"]["open"].get<int>());
  return kOk;
}

int cmd_report(const ReportArgs& a) {
  auto store = open(a.db);
  if (!store) return kInput;
  auto found = store->get(a.id);
  if (!found) {
    fmt::print(stderr, "bmslink: {}\n", found.error().message);
    return kInput;
  }
  if (!*found) {
    fmt::print(stderr, "bmslink: no case {} in {}\n", a.id, store->url());
    return kInput;
  }
  const records::Case* c = &**found;
  if (a.kind == "acknowledgment" && c->outcome == records::Outcome::kHardcoded &&
      !c->hardcoded.is_object()) {
    fmt::print(stderr,
               "bmslink: case {} records no hardcoded settings to acknowledge (case update {} "
               "--hardcoded charge_voltage_v=... first)\n",
               c->id, c->id);
    return kInput;
  }
  if (a.kind == "acknowledgment" && c->outcome != records::Outcome::kHardcoded) {
    fmt::print(stderr,
               "bmslink: case {} is {}, not hardcoded: there is no acknowledgment to sign "
               "(close it with --outcome hardcoded and its settings first)\n",
               c->id, records::outcome_name(c->outcome));
    return kInput;
  }
  auto format = a.format;
  if (format.empty()) {
    const auto dot = a.output.rfind('.');
    const auto ext = dot == std::string::npos ? std::string() : a.output.substr(dot);
    format = ext == ".html" || ext == ".htm" ? "html" : "md";
  }
  const auto kind = a.kind == "technician" ? report::CaseReportKind::kTechnician
                    : a.kind == "customer" ? report::CaseReportKind::kCustomer
                                           : report::CaseReportKind::kAcknowledgment;
  const auto catalogue = diagnosis::CheckCatalogue::builtin();
  const auto text = report::case_report(
      *c, kind,
      format == "html" ? report::CaseReportFormat::kHtml : report::CaseReportFormat::kMarkdown,
      catalogue ? &*catalogue : nullptr);
  return write_out(text, a.output) ? kOk : kInput;
}

}  // namespace bmslink::app
