// `bmslink diagnose`: the guided five-layer diagnosis, interactive on a terminal or from an answers
// file, recorded into a case as it goes. Prompts and printing only; the method is the library's
// (diagnosis/guided.h), the recording records' (records/session.h).

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bmslink/analysis/run.h"
#include "bmslink/diagnosis/pipeline.h"
#include "bmslink/diagnosis/serialize.h"
#include "bmslink/records/captures.h"
#include "bmslink/records/session.h"
#include "bmslink/records/stats.h"
#include "bmslink/records/store.h"
#include "cli.h"
#include "guided_text.h"

namespace bmslink::app {
namespace {

using diagnosis::Answers;
using diagnosis::CheckCatalogue;
using diagnosis::GuidedResult;
using diagnosis::KnowledgeBase;

// Interactive: one question at a time, from the engine's "next".
bool save(const Answers& a, const std::string& path) {
  return write_text(a.to_json().dump(2) + "\n", path);
}

using OnChange = std::function<void(const Answers&, const GuidedResult&,
                                    const std::optional<diagnosis::CaptureResult>&)>;

int interactive(const GuidedArgs& args, const CheckCatalogue& cat, const KnowledgeBase& kb,
                Answers answers, diagnosis::GuidedOptions options, const OnChange& on_change) {
  std::optional<diagnosis::CaptureResult> session_capture;
  std::vector<std::string> order;  // keys answered here, for "back"
  const std::string save_to = !args.save.empty() ? args.save : args.answers;
  fmt::print(
      "bmslink guided diagnosis: the five layers, cheapest and most likely first.\n"
      "Answer each question; - = don't know, b = back, s = save{}, ? = how to check it, q = "
      "quit.\n",
      save_to.empty() ? " (give --save FILE)" : " to " + save_to);
  if (answers.inverter_model.empty()) {
    fmt::print("Inverter model (Enter to skip): ");
    std::string line;
    if (!std::getline(std::cin, line)) return kExitOk;
    answers.inverter_model = line;
  }
  if (answers.bms_model.empty()) {
    fmt::print("Battery / BMS model (Enter to skip): ");
    std::string line;
    if (!std::getline(std::cin, line)) return kExitOk;
    answers.bms_model = line;
  }
  bool link_said = false;
  for (;;) {
    const auto r = diagnosis::run_guided(cat, kb, answers, options);
    if (on_change) on_change(answers, r, session_capture);
    if (r.link.bus == "rs485" && !link_said) {
      fmt::print("\nLINK  RS485, not CAN: {}{}\n  CAN-only checks are skipped.\n", r.link.reason,
                 r.link.port.empty() ? "" : "\n  port: " + r.link.port);
      link_said = true;
    }
    if (r.confirmed || r.escalate || !r.next) {
      fmt::print("{}", guided_text(r, cat));
      if (!save_to.empty()) save(answers, save_to);
      return kExitOk;
    }
    const auto& step = *r.next;
    fmt::print("\n{} \u2014 {}\n", layer_label(step.layer), step.title);
    if (!step.why.empty()) fmt::print("  ({})\n", step.why);
    for (const auto& spec : step.asks) {
      if (spec.key == "capture") {
        fmt::print("{} (a path; Enter to stop here): ", spec.prompt);
        std::string line;
        if (!std::getline(std::cin, line) || line == "q") return kExitOk;
        if (line.empty()) {
          fmt::print("{}", guided_text(r, cat));
          if (!save_to.empty()) save(answers, save_to);
          return kExitOk;
        }
        CollectingSink sink;
        auto analysed = diagnosis::diagnose(analysis::CaptureInput::path(line), sink);
        if (!analysed) {
          fmt::print("  {}\n", analysed.error().message);
          continue;
        }
        answers.capture = line;
        session_capture = std::move(*analysed);
        options.evidence = &session_capture->run.evidence;
        options.findings = &session_capture->findings;
        fmt::print("  analysed: {} findings\n", session_capture->findings.size());
        break;
      }
      // A default the technician accepts with Enter: the catalogue's, or for a bit rate the rate of
      // the BMS's protocol as the knowledge base knows it.
      nlohmann::json def = spec.default_value;
      if (def.is_null() &&
          (spec.key == "inverter_bitrate_kbps" || spec.key == "bms_bitrate_kbps")) {
        const diagnosis::ProtocolInfo* p = nullptr;
        if (auto it = answers.values.find("bms_protocol"); it != answers.values.end())
          p = kb.find_protocol(it->second.get<std::string>());
        if (!p && !answers.bms_model.empty())
          if (const auto* b = kb.find_battery(answers.bms_model); b && !b->protocol.empty())
            p = kb.protocol(b->protocol);
        if (p && p->bitrate_kbps) def = *p->bitrate_kbps;
      }
      // The knowledge base's menu values for the inverter named.
      if (spec.key == "inverter_battery_setting" && !answers.inverter_model.empty()) {
        if (const auto* inv = kb.find_inverter(answers.inverter_model);
            inv && !inv->battery_settings.empty()) {
          fmt::print("  {} {} menu{}:\n", inv->brand, inv->family,
                     inv->menu.empty() ? "" : " \"" + inv->menu + "\"");
          for (const auto& m : inv->battery_settings) {
            const auto* p = kb.protocol(m.protocol);
            fmt::print("    {:<26} {}\n", m.value, p ? p->name : m.protocol);
          }
        }
      }
      for (;;) {
        std::string hint;
        if (spec.type == diagnosis::InputType::kChoice) hint = " [" + choices_text(spec) + "]";
        if (spec.type == diagnosis::InputType::kYesNo) hint = " [yes/no]";
        if (!spec.unit.empty() && spec.type == diagnosis::InputType::kNumber)
          hint = " [" + spec.unit + "]";
        if (!def.is_null())
          hint +=
              fmt::format(" (Enter: {})", def.is_string() ? def.get<std::string>() : def.dump());
        fmt::print("{}{}: ", spec.prompt, hint);
        std::string line;
        if (std::cin && std::cin.peek() == '\n' && !def.is_null()) {
          std::getline(std::cin, line);
          line = def.is_string() ? def.get<std::string>() : def.dump();
        } else if (!std::getline(std::cin, line) || line == "q") {
          if (!save_to.empty()) save(answers, save_to);
          return kExitOk;
        }
        if (line == "?") {
          fmt::print("  {}\n", step.how);
          continue;
        }
        if (line == "-") {  // cannot tell: the check stays unknown and the method moves on
          answers.not_known.insert(spec.key);
          break;
        }
        if (line == "s") {
          if (save_to.empty())
            fmt::print("  no file to save to: start with --save FILE\n");
          else if (save(answers, save_to))
            fmt::print("  saved to {}\n", save_to);
          continue;
        }
        if (line == "b") {
          if (order.empty()) {
            fmt::print("  nothing to go back to\n");
            continue;
          }
          answers.values.erase(order.back());
          order.pop_back();
          break;  // the engine asks again from there
        }
        // A choice by its number in the list, unless the number is itself one of the values.
        if (spec.type == diagnosis::InputType::kChoice &&
            !diagnosis::parse_input_text(spec, line)) {
          char* end = nullptr;
          const long n = std::strtol(line.c_str(), &end, 10);
          if (end != line.c_str() && *end == '\0' && n >= 1 &&
              static_cast<std::size_t>(n) <= spec.choices.size()) {
            const auto& c = spec.choices[static_cast<std::size_t>(n - 1)];
            line = c.is_string() ? c.get<std::string>() : c.dump();
          }
        }
        auto v = diagnosis::parse_input_text(spec, line);
        if (!v) {
          fmt::print("  {}\n", v.error().message);
          continue;
        }
        answers.values[spec.key] = *v;
        order.push_back(spec.key);
        break;
      }
      // An answer asked first (the meter's setup) changes what comes next: ask the engine again.
      if (const auto* c = cat.find(step.check);
          c && std::find(c->ask_first.begin(), c->ask_first.end(), spec.key) != c->ask_first.end())
        break;
    }
  }
}

int cmd_diagnose(const GuidedArgs& args) {
  CheckCatalogue cat;
  KnowledgeBase kb;
  if (!load(args, cat, kb)) return kExitInput;
  Answers answers;
  if (!args.answers.empty()) {
    std::string error;
    auto text = read_text(args.answers, error);
    if (!text) {
      if (args.interactive || (::isatty(0) == 1 && !args.json)) {
        // A new session saved to this file later.
      } else {
        fmt::print(stderr, "bmslink: {}\n", error);
        return kExitInput;
      }
    } else {
      auto parsed = diagnosis::parse_answers(*text, args.answers, cat);
      if (!parsed) {
        fmt::print(stderr, "bmslink: {}\n", parsed.error().message);
        return kExitInput;
      }
      answers = std::move(*parsed);
      // A capture named in the file is relative to the file.
      if (!answers.capture.empty() && answers.capture.front() != '/') {
        const auto slash = args.answers.rfind('/');
        if (slash != std::string::npos)
          answers.capture = args.answers.substr(0, slash + 1) + answers.capture;
      }
    }
  }
  if (!args.capture.empty()) answers.capture = args.capture;
  // A case records the session as it goes; its earlier answers resume it. The store's closed
  // cases (20 or more) order the checks by the company's own causes, across layers.
  std::unique_ptr<records::Store> store;
  std::optional<records::Case> the_case;
  diagnosis::CaseHistory history;
  if (!args.case_id.empty() || !args.db.empty()) {
    store = open_store(args.db);
    if (!store) return kExitInput;
    if (auto all = store->list()) history = records::case_history(*all, &kb);
    if (!args.case_id.empty()) {
      auto c = store->get(args.case_id);
      if (!c) {
        fmt::print(stderr, "bmslink: {}\n", c.error().message);
        return kExitInput;
      }
      if (!*c) {
        fmt::print(stderr, "bmslink: no case {} (bmslink case new --id {} first)\n", args.case_id,
                   args.case_id);
        return kExitInput;
      }
      the_case = std::move(**c);
      records::resume_answers(*the_case, answers);
      // A case walked again is not its own evidence.
      records::without_case(history, *the_case, &kb);
    }
  }
  // A capture (from the command line or the answers file) pre-decides checks.
  std::optional<diagnosis::CaptureResult> capture;
  diagnosis::GuidedOptions options;
  options.history = std::move(history);
  options.order =
      args.order == "guide" ? diagnosis::OrderMode::kGuide : diagnosis::OrderMode::kLearned;
  // Keeps the case up to date through records::record_guided (the checks, the minutes, the
  // cause; a capture once, by hash), as the server does.
  auto keep = [&](const Answers& a, const GuidedResult&,
                  const std::optional<diagnosis::CaptureResult>& session) {
    if (!store || !the_case) return;
    const auto& cap = session ? session : capture;
    std::optional<records::SessionCapture> attach;
    if (cap && !a.capture.empty()) {
      auto sha = records::keep_capture(a.capture, records::captures_dir(store->url()));
      if (sha) {
        const auto slash = a.capture.rfind('/');
        attach = records::SessionCapture{
            slash == std::string::npos ? a.capture : a.capture.substr(slash + 1), *sha,
            &cap->findings};
      } else {
        fmt::print(stderr, "bmslink: {}\n", sha.error().message);
      }
    }
    // The evidence the session runs on (a capture given at the prompt is the session's own).
    diagnosis::GuidedOptions with = options;
    if (session) {
      with.evidence = &session->run.evidence;
      with.findings = &session->findings;
    }
    // The answers here are the whole session (resumed from the case when it started, then
    // changed at the prompt): an answer taken back stays taken back.
    auto recorded = records::record_guided(
        *store, the_case->id, a, cat,
        [&](const Answers& merged) { return diagnosis::run_guided(cat, kb, merged, with); }, attach,
        records::Resume::kNo);
    if (!recorded)
      fmt::print(stderr, "bmslink: {}\n", recorded.error().message);
    else
      the_case = std::move(recorded->the_case);
  };
  if (!answers.capture.empty()) {
    CollectingSink sink;
    auto r = diagnosis::diagnose(analysis::CaptureInput::path(answers.capture), sink);
    if (!r) {
      fmt::print(stderr, "bmslink: {}\n", r.error().message);
      return kExitInput;
    }
    capture = std::move(*r);
    options.evidence = &capture->run.evidence;
    options.findings = &capture->findings;
  }
  const bool tty = ::isatty(0) == 1 && ::isatty(1) == 1;
  if (args.interactive || (tty && !args.json && args.answers.empty())) {
    return interactive(args, cat, kb, std::move(answers), options, keep);
  }
  const auto r = diagnosis::run_guided(cat, kb, answers, options);
  keep(answers, r, capture);
  if (args.json) {
    auto j = diagnosis::guided_json(r);
    if (capture) j["capture"] = answers.capture;
    fmt::print("{}\n", j.dump(2));
  } else {
    fmt::print("{}", guided_text(r, cat));
  }
  return kExitOk;
}

}  // namespace

void add_diagnose_command(CLI::App& app, Commands& commands) {
  auto ga = std::make_shared<GuidedArgs>();
  auto* diagnose = app.add_subcommand(
      "diagnose",
      "Guided five-layer diagnosis: the field method's checks, cheapest and most likely first, "
      "decided from your answers and a capture; interactive on a terminal");
  diagnose->add_option("--answers", ga->answers,
                       "Answers file (JSON, docs/diagnose.md); interactive sessions resume and "
                       "save to it");
  diagnose->add_option("--capture", ga->capture, "A capture whose analysis pre-decides checks");
  diagnose->add_option("--save", ga->save, "Save the answers given interactively to this file");
  diagnose->add_flag("--json", ga->json, "Machine-readable result (docs/diagnose.md)");
  diagnose->add_flag("--interactive", ga->interactive,
                     "Ask the questions even when standard input is not a terminal");
  diagnose->add_option("--case", ga->case_id,
                       "Record the session in this case as it goes (and resume from it)");
  diagnose->add_option("--db", ga->db,
                       "Records (sqlite:///file.db, a path or postgresql://...): the case, and the "
                       "company's own check order once 20 cases are closed");
  diagnose
      ->add_option("--order", ga->order,
                   "learned: the company's own order across layers once 20 cases are closed "
                   "(default); guide: the field guide's fixed order")
      ->check(CLI::IsMember({"learned", "guide"}));
  diagnose->add_option("--checks", ga->check_files, "Your own check catalogue file(s) on top")
      ->expected(1);
  diagnose->add_option("--devices", ga->device_files, "Your own knowledge-base file(s) on top")
      ->expected(1);
  commands.add(diagnose, [ga] { return cmd_diagnose(*ga); });
}

}  // namespace bmslink::app
