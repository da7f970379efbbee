// `bmslink stats`, `bmslink report` and `bmslink compat`: what the records add up to.
// `bmslink gc`: kept uploads no case refers to, removed after a grace period. Arguments
// and printing only; the records module computes (records/stats.h, records/compat.h), the report
// module renders (report/records_report.h).

#include <cstdio>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bmslink/core/time.h"
#include "bmslink/records/backup.h"
#include "bmslink/records/captures.h"
#include "bmslink/records/compat.h"
#include "bmslink/records/stats.h"
#include "bmslink/records/store.h"
#include "bmslink/report/records_report.h"
#include "cli.h"

namespace bmslink::app {
namespace {

// A cause's words for a sentence ("bit rate mismatch"); the id when it is not one.
std::string cause_words(const std::string& id) {
  const auto cause = diagnosis::parse_cause(id);
  return cause ? std::string(diagnosis::cause_info(*cause).name) : id;
}

struct StatsArgs {
  std::string db, since, installer, output;
  bool json = false, html = false;
};

struct ReportArgs {
  std::string db, id, output;
  report::CaseReportKind kind = report::CaseReportKind::kCustomer;  // one of the flags is required
  std::string format;  // html, md; empty: from the output's extension, else md
};

struct CompatArgs {
  std::string db, format = "text", output;
};

int cmd_compat(const CompatArgs& a) {
  auto store = open_store(a.db);
  if (!store) return kExitInput;
  auto cases = store->list();
  if (!cases) {
    fmt::print(stderr, "bmslink: {}\n", cases.error().message);
    return kExitInput;
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
  return write_text(text, a.output) ? kExitOk : kExitInput;
}

int cmd_stats(const StatsArgs& a) {
  auto store = open_store(a.db);
  if (!store) return kExitInput;
  auto cases = store->list({a.since, a.installer});
  if (!cases) {
    fmt::print(stderr, "bmslink: {}\n", cases.error().message);
    return kExitInput;
  }
  const auto s = records::compute_stats(*cases);
  if (a.json) return write_text(s.dump(2) + "\n", a.output) ? kExitOk : kExitInput;
  if (a.html) {
    std::string scope = store->url();
    if (!a.since.empty()) scope += ", opened since " + a.since;
    if (!a.installer.empty()) scope += ", installer " + a.installer;
    const auto catalogue = diagnosis::CheckCatalogue::builtin();
    return write_text(report::stats_report(s, scope, catalogue ? &*catalogue : nullptr), a.output)
               ? kExitOk
               : kExitInput;
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
  const auto& order = s["order"];
  if (order["learned_minutes"].is_number() && order["guide_minutes"].is_number()) {
    const double learned = order["learned_minutes"].get<double>();
    const double guide = order["guide_minutes"].get<double>();
    fmt::print(
        "minutes to the cause per call: {:.1f} in your order, {:.1f} in the field "
        "guide's{}\n",
        learned, guide,
        !order["learns"].get<bool>()
            ? fmt::format(" ({} closed case(s) with a root cause; 20 teach the order)",
                          order["closed_cases"].get<int>())
        : guide - learned >= 0.05
            ? fmt::format(": your order saves {:.1f} min a call", guide - learned)
            : "");
    for (const auto& g : order.value("groups", nlohmann::json::array()))
      fmt::print("  own order for {} ({} closed cases)\n", g["name"].get<std::string>(),
                 g["closed_cases"].get<int>());
    for (const auto& k : order.value("known_bad_pairs", nlohmann::json::array()))
      fmt::print("  known-bad pair {}: {} in {} of {} solved cases, checked first\n",
                 k["pair"].get<std::string>(), cause_words(k["cause"].get<std::string>()),
                 k["cases"].get<int>(), k["closed_cases"].get<int>());
  }
  return kExitOk;
}

int cmd_report(const ReportArgs& a) {
  auto store = open_store(a.db);
  if (!store) return kExitInput;
  auto found = store->get(a.id);
  if (!found) {
    fmt::print(stderr, "bmslink: {}\n", found.error().message);
    return kExitInput;
  }
  if (!*found) {
    fmt::print(stderr, "bmslink: no case {} in {}\n", a.id, store->url());
    return kExitInput;
  }
  const records::Case* c = &**found;
  if (a.kind == report::CaseReportKind::kAcknowledgment &&
      c->outcome == records::Outcome::kHardcoded && !c->hardcoded.is_object()) {
    fmt::print(stderr,
               "bmslink: case {} records no hardcoded settings to acknowledge (case update {} "
               "--hardcoded charge_voltage_v=... first)\n",
               c->id, c->id);
    return kExitInput;
  }
  if (a.kind == report::CaseReportKind::kAcknowledgment &&
      c->outcome != records::Outcome::kHardcoded) {
    fmt::print(stderr,
               "bmslink: case {} is {}, not hardcoded: there is no acknowledgment to sign "
               "(close it with --outcome hardcoded and its settings first)\n",
               c->id, records::outcome_name(c->outcome));
    return kExitInput;
  }
  auto format = a.format;
  if (format.empty()) {
    const auto dot = a.output.rfind('.');
    const auto ext = dot == std::string::npos ? std::string() : a.output.substr(dot);
    format = ext == ".html" || ext == ".htm" ? "html" : "md";
  }
  const auto kind = a.kind;
  const auto catalogue = diagnosis::CheckCatalogue::builtin();
  const auto text = report::case_report(
      *c, kind,
      format == "html" ? report::CaseReportFormat::kHtml : report::CaseReportFormat::kMarkdown,
      catalogue ? &*catalogue : nullptr);
  return write_text(text, a.output) ? kExitOk : kExitInput;
}
struct GcArgs {
  std::string db, captures, keep = "7d";
  bool dry_run = false;
};

std::string megabytes(std::uint64_t bytes) {
  return fmt::format("{:.1f} MB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

int cmd_gc(const GcArgs& a) {
  const auto grace = parse_duration_s(a.keep);
  if (!grace) {
    fmt::print(stderr,
               "bmslink: --keep-unreferenced {}: expected a duration such as 12h, 7d or 0\n",
               a.keep);
    return kExitUsage;
  }
  auto store = open_store(a.db);
  if (!store) return kExitInput;
  const bool sqlite =
      store->url().starts_with("sqlite://") || store->url().find("://") == std::string::npos;
  if (a.captures.empty() && !sqlite) {
    fmt::print(stderr,
               "bmslink: gc --db {}: give --captures DIR (the default directory holds the local "
               "SQLite records' captures too)\n",
               store->url());
    return kExitUsage;
  }
  const std::string dir = a.captures.empty() ? records::captures_dir(store->url()) : a.captures;
  auto gone = records::collect_captures(*store, dir, *grace, a.dry_run);
  if (!gone) {
    fmt::print(stderr, "bmslink: {}\n", gone.error().message);
    return 1;
  }
  const auto& u = gone->before;
  fmt::print("{}: {} capture(s), {}; {} referenced by cases ({}), {} not ({})\n", dir, u.files,
             megabytes(u.bytes), u.referenced_files, megabytes(u.referenced_bytes),
             u.unreferenced_files, megabytes(u.unreferenced_bytes));
  for (const auto& name : gone->removed)
    fmt::print("{} {}\n", a.dry_run ? "would remove" : "removed", name);
  fmt::print("{} {} file(s), {}; {} unreferenced kept until they are {} old\n",
             a.dry_run ? "would remove" : "removed", gone->removed.size(),
             megabytes(gone->removed_bytes), gone->young_unreferenced, a.keep);
  return 0;
}

struct BackupArgs {
  std::string db, captures, archive;
  bool merge = false;
};

void print_summary(const char* verb, const records::BackupSummary& s) {
  fmt::print(
      "{} {} case(s), {} kept version(s), {} account(s), {} setting(s), {} capture(s) ({})\n", verb,
      s.cases, s.versions, s.users, s.settings, s.captures, megabytes(s.capture_bytes));
  if (!s.missing_captures.empty()) {
    fmt::print(stderr,
               "bmslink: warning: {} capture(s) that cases refer to are not there (their findings "
               "stay in the cases):\n",
               s.missing_captures.size());
    for (const auto& sha : s.missing_captures) fmt::print(stderr, "  {}\n", sha);
  }
}

int cmd_backup(const BackupArgs& a) {
  auto store = open_store(a.db);
  if (!store) return kExitInput;
  const std::string dir = a.captures.empty() ? records::captures_dir(store->url()) : a.captures;
  auto done = records::write_backup(*store, dir, a.archive);
  if (!done) {
    fmt::print(stderr, "bmslink: {}\n", done.error().message);
    return 1;
  }
  print_summary(fmt::format("{}:", a.archive).c_str(), *done);
  return 0;
}

int cmd_restore(const BackupArgs& a) {
  auto store = open_store(a.db);
  if (!store) return kExitInput;
  const std::string dir = a.captures.empty() ? records::captures_dir(store->url()) : a.captures;
  auto done = records::restore_backup(a.archive, *store, dir, a.merge);
  if (!done) {
    fmt::print(stderr, "bmslink: {}\n", done.error().message);
    return done.error().code == ErrorCode::kConflict ? kExitUsage : kExitInput;
  }
  print_summary("restored", *done);
  return 0;
}

}  // namespace

void add_records_commands(CLI::App& app, Commands& commands) {
  auto* backup = app.add_subcommand(
      "backup",
      "The records (cases, versions, accounts, settings) and kept captures in one archive "
      "(sessions left out), consistent while a server writes");
  auto ba = std::make_shared<BackupArgs>();
  backup->add_option("--db", ba->db, kDbHelp);
  backup->add_option("--captures", ba->captures,
                     "The captures directory (default: beside the SQLite file, or the data "
                     "directory)");
  backup->add_option("-o,--output", ba->archive, "The archive to write (.tar.zst)")->required();
  commands.add(backup, [ba] { return cmd_backup(*ba); });
  auto* restore = app.add_subcommand(
      "restore", "Bring back a backup: its checksums are checked before anything is written");
  auto ra2 = std::make_shared<BackupArgs>();
  restore->add_option("ARCHIVE", ra2->archive, "A file made by bmslink backup")->required();
  restore->add_option("--db", ra2->db, kDbHelp);
  restore->add_option("--captures", ra2->captures, "The captures directory to fill");
  restore->add_flag(
      "--merge", ra2->merge,
      "Into a store that has records: cases and accounts of the same id are replaced");
  commands.add(restore, [ra2] { return cmd_restore(*ra2); });

  auto* gc = app.add_subcommand(
      "gc", "Remove kept uploads that no case (nor a kept version of one) refers to");
  auto ga = std::make_shared<GcArgs>();
  gc->add_option("--db", ga->db, kDbHelp);
  gc->add_option("--captures", ga->captures,
                 "The captures directory (default: beside the SQLite file, or the data directory)");
  gc->add_option("--keep-unreferenced", ga->keep,
                 "Grace period of an upload no case refers to (7d; 0: every one, now)");
  gc->add_flag("--dry-run", ga->dry_run, "Only say what would be removed");
  commands.add(gc, [ga] { return cmd_gc(*ga); });

  auto* stats = app.add_subcommand("stats", "Statistics of the service records");
  auto sa = std::make_shared<StatsArgs>();
  stats->add_option("--db", sa->db, kDbHelp);
  stats->add_option("--since", sa->since, "Cases opened on or after this date (2026-01-01)")
      ->check(iso_date());
  stats->add_option("--installer", sa->installer, "Only this installer's cases");
  auto* stats_fmt = stats->add_option_group("format");
  stats_fmt->add_flag("--json", sa->json, "Machine-readable (docs/records.md)");
  stats_fmt->add_flag("--html", sa->html,
                      "One print-ready page with charts (causes, layer yield, minutes)");
  stats_fmt->require_option(0, 1);
  stats->add_option("-o,--output", sa->output, "Output file (default: standard output)");

  auto* report = app.add_subcommand(
      "report", "A case's report: for the technician, for the customer, or the acknowledgment");
  auto ra = std::make_shared<ReportArgs>();
  report->add_option("CASE", ra->id, "The case id")->required();
  report->add_option("--db", ra->db, kDbHelp);
  auto* report_kind = report->add_option_group("kind");
  report_kind->add_flag_callback(
      "--technician", [ra] { ra->kind = report::CaseReportKind::kTechnician; },
      "Everything checked per layer with times, evidence and capture findings");
  report_kind->add_flag_callback(
      "--customer", [ra] { ra->kind = report::CaseReportKind::kCustomer; },
      "Plain words: what was wrong, what was done, what to watch for");
  report_kind->add_flag_callback(
      "--acknowledgment", [ra] { ra->kind = report::CaseReportKind::kAcknowledgment; },
      "For a hardcoded system: what is lost, and the form the customer signs");
  report_kind->require_option(1);
  auto* report_fmt = report->add_option_group("format");
  report_fmt->add_flag_callback(
      "--html", [ra] { ra->format = "html"; }, "One print-ready HTML file (A4 or Letter)");
  report_fmt->add_flag_callback(
      "--md", [ra] { ra->format = "md"; }, "Markdown (the default, unless -o names a .html file)");
  report_fmt->require_option(0, 1);
  report->add_option("-o,--output", ra->output, "Output file (default: standard output)");

  auto* compat = app.add_subcommand(
      "compat", "The compatibility matrix: which BMS and firmware worked with which inverter");
  auto cpa = std::make_shared<CompatArgs>();
  compat->add_option("--db", cpa->db, kDbHelp);
  auto* compat_fmt = compat->add_option_group("format");
  compat_fmt->add_flag_callback(
      "--json", [cpa] { cpa->format = "json"; }, "As JSON");
  compat_fmt->add_flag_callback(
      "--csv", [cpa] { cpa->format = "csv"; }, "As CSV");
  compat_fmt->add_flag_callback(
      "--md", [cpa] { cpa->format = "md"; }, "As a Markdown post for a forum");
  compat_fmt->require_option(0, 1);
  compat->add_option("-o,--output", cpa->output, "Output file");

  commands.add(stats, [sa] { return cmd_stats(*sa); });
  commands.add(report, [ra] { return cmd_report(*ra); });
  commands.add(compat, [cpa] { return cmd_compat(*cpa); });
}

}  // namespace bmslink::app
