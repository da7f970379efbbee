// `bmslink diagnose` (guided five-layer diagnosis, interactive on a terminal or from an answers
// file), `bmslink hardcode` and `bmslink devices`: argument handling, prompts and printing only;
// the method is the library's (diagnosis/guided.h).

#include "guided_cmd.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bmslink/analysis/run.h"
#include "bmslink/diagnosis/pipeline.h"
#include "bmslink/diagnosis/serialize.h"
#include "bmslink/records/captures.h"
#include "bmslink/records/session.h"
#include "bmslink/records/stats.h"
#include "bmslink/records/store.h"

namespace bmslink::app {
namespace {

using diagnosis::Answers;
using diagnosis::CheckCatalogue;
using diagnosis::GuidedResult;
using diagnosis::KnowledgeBase;

constexpr int kOk = 0, kInput = 1, kUsage = 2;

std::optional<std::string> read_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = fmt::format("{}: cannot open: {}", path, std::strerror(errno));
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The catalogue and knowledge base: built in, plus the user's own files.
bool load(const GuidedArgs& args, CheckCatalogue& cat, KnowledgeBase& kb) {
  auto c = CheckCatalogue::builtin();
  auto k = KnowledgeBase::builtin();
  if (!c || !k) {
    fmt::print(stderr, "bmslink: built-in data: {}\n", !c ? c.error().message : k.error().message);
    return false;
  }
  cat = std::move(*c);
  kb = std::move(*k);
  std::string error;
  for (const auto& f : args.check_files) {
    auto text = read_file(f, error);
    if (!text) {
      fmt::print(stderr, "bmslink: {}\n", error);
      return false;
    }
    auto more = CheckCatalogue::parse(*text, f, &cat);
    if (!more) {
      fmt::print(stderr, "bmslink: {}\n", more.error().message);
      return false;
    }
    (void)cat.add(*more);
  }
  for (const auto& f : args.device_files) {
    auto text = read_file(f, error);
    if (!text) {
      fmt::print(stderr, "bmslink: {}\n", error);
      return false;
    }
    auto more = KnowledgeBase::parse(*text, f);
    if (!more) {
      fmt::print(stderr, "bmslink: {}\n", more.error().message);
      return false;
    }
    (void)kb.add(*more);
  }
  return true;
}

std::string layer_label(diagnosis::Layer l) {
  return fmt::format("layer {} \u2014 {}", diagnosis::layer_number(l), diagnosis::layer_name(l));
}

std::string guided_text(const GuidedResult& r, const CheckCatalogue& cat) {
  std::string out;
  auto it = std::back_inserter(out);
  // An RS485 pair is said first: the CAN checks do not apply to it.
  if (r.link.bus == "rs485")
    fmt::format_to(
        it, "LINK  RS485, not CAN: {}{}{}\n  CAN-only checks are skipped.\n", r.link.reason,
        r.link.port.empty() ? "" : "\n  port: " + r.link.port,
        r.link.source_class
            ? fmt::format("\n  source: {}", diagnosis::source_class_caveat(*r.link.source_class))
            : "");
  std::optional<diagnosis::Layer> shown;
  std::size_t stopped = 0;
  for (const auto& v : r.verdicts) {
    // After the confirmed cause the method stops: one line for all of those, below.
    if (r.confirmed && v.verdict == diagnosis::Verdict::kSkipped && !v.from_capture) {
      ++stopped;
      continue;
    }
    if (!shown || *shown != v.layer) {
      const auto li = static_cast<std::size_t>(diagnosis::layer_number(v.layer) - 1);
      const double top = std::max(r.budget[li], r.budget_max[li]);
      fmt::format_to(it, "\n{} ({:.0f} of {}{})\n", layer_label(v.layer), r.minutes[li],
                     top > r.budget[li] ? fmt::format("{:.0f}-{:.0f} min", r.budget[li], top)
                                        : fmt::format("{:.0f} min", r.budget[li]),
                     r.minutes[li] > top ? ", over budget" : "");
      shown = v.layer;
    }
    const auto* c = cat.find(v.check);
    std::string verdict(diagnosis::verdict_name(v.verdict));
    for (char& ch : verdict) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    fmt::format_to(it, "  {:<8} {}{}\n", verdict, c ? c->title : v.check,
                   v.reason.empty() ? "" : ": " + v.reason);
  }
  if (stopped > 0)
    fmt::format_to(it,
                   "\n  ({} later check(s) not needed: the method stops at the first confirmed "
                   "cause)\n",
                   stopped);
  fmt::format_to(it, "\n");
  for (const auto& v : r.suspects)
    fmt::format_to(it, "SUSPECT  {} ({}): {}\n  try:    {}\n", diagnosis::cause_id(*v.cause),
                   v.check, v.reason, v.fix);
  for (const auto& v : r.marginal)
    fmt::format_to(it, "MARGINAL {}: {}\n  if errors show: {}\n", v.check, v.reason, v.fix);
  if (r.confirmed) {
    fmt::format_to(it, "CONFIRMED  {} ({}) by {}\n", diagnosis::cause_id(*r.confirmed),
                   layer_label(*r.layer), r.confirmed_by);
    fmt::format_to(it, "  why:    {}\n  fix:    {}\n", r.reason, r.fix);
    if (!r.reverify.empty()) fmt::format_to(it, "  verify: {}\n", r.reverify);
    if (!r.customer.empty()) fmt::format_to(it, "  for the customer: {}\n", r.customer);
    if (!r.still_open.empty())
      fmt::format_to(it, "  not yet checked before it: {}\n", fmt::join(r.still_open, ", "));
  } else if (r.next) {
    fmt::format_to(it, "NEXT  {} ({}): {}\n", r.next->check, layer_label(r.next->layer),
                   r.next->title);
    for (const auto& a : r.next->asks)
      fmt::format_to(it, "  - {}: {}{}\n", a.key, a.prompt,
                     a.unit.empty() ? "" : " [" + a.unit + "]");
  } else if (r.escalate) {
    fmt::format_to(it,
                   "ESCALATE  all five layers checked without a cause: consider hardcoding "
                   "(bmslink hardcode) or the manufacturer\n");
    if (r.hardcode)
      fmt::format_to(it,
                     "  the battery has {} cells in series ({}): bmslink hardcode --battery {} "
                     "--capacity-ah AH\n",
                     r.hardcode->cells_series,
                     r.hardcode->source_class
                         ? diagnosis::source_class_caveat(*r.hardcode->source_class)
                         : "knowledge base",
                     r.hardcode->battery);
    else
      fmt::format_to(it,
                     "  count the battery's cells in series for it: bmslink hardcode --cells N "
                     "(never a default)\n");
  }
  fmt::format_to(it, "time: {:.0f} min\n", r.total_minutes);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Interactive: one question at a time, from the engine's "next".

std::string choices_text(const diagnosis::InputSpec& s) {
  std::vector<std::string> c;
  int i = 1;
  for (const auto& v : s.choices)
    c.push_back(fmt::format("{}) {}", i++, v.is_string() ? v.get<std::string>() : v.dump()));
  return fmt::format("{}", fmt::join(c, "  "));
}

bool save(const Answers& a, const std::string& path) {
  std::ofstream out(path + ".tmp", std::ios::binary);
  out << a.to_json().dump(2) << "\n";
  out.close();
  if (!out || std::rename((path + ".tmp").c_str(), path.c_str()) != 0) {
    fmt::print(stderr, "bmslink: cannot write {}: {}\n", path, std::strerror(errno));
    return false;
  }
  return true;
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
      "Answer each question; - = don't know, b = back, s = save{}, ? = why, q = quit.\n",
      save_to.empty() ? " (give --save FILE)" : " to " + save_to);
  if (answers.inverter_model.empty()) {
    fmt::print("Inverter model (Enter to skip): ");
    std::string line;
    if (!std::getline(std::cin, line)) return kOk;
    answers.inverter_model = line;
  }
  if (answers.bms_model.empty()) {
    fmt::print("Battery / BMS model (Enter to skip): ");
    std::string line;
    if (!std::getline(std::cin, line)) return kOk;
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
      return kOk;
    }
    const auto& step = *r.next;
    fmt::print("\n{} \u2014 {}\n", layer_label(step.layer), step.title);
    for (const auto& spec : step.asks) {
      if (spec.key == "capture") {
        fmt::print("{} (a path; Enter to stop here): ", spec.prompt);
        std::string line;
        if (!std::getline(std::cin, line) || line == "q") return kOk;
        if (line.empty()) {
          fmt::print("{}", guided_text(r, cat));
          if (!save_to.empty()) save(answers, save_to);
          return kOk;
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
          return kOk;
        }
        if (line == "?") {
          fmt::print("  {}\n", step.why);
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

}  // namespace

int cmd_diagnose(const GuidedArgs& args) {
  CheckCatalogue cat;
  KnowledgeBase kb;
  if (!load(args, cat, kb)) return kInput;
  Answers answers;
  if (!args.answers.empty()) {
    std::string error;
    auto text = read_file(args.answers, error);
    if (!text) {
      if (args.interactive || (::isatty(0) == 1 && !args.json)) {
        // A new session saved to this file later.
      } else {
        fmt::print(stderr, "bmslink: {}\n", error);
        return kInput;
      }
    } else {
      auto parsed = diagnosis::parse_answers(*text, args.answers, cat);
      if (!parsed) {
        fmt::print(stderr, "bmslink: {}\n", parsed.error().message);
        return kInput;
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
  // cases (20 or more) order the checks by the company's own causes.
  std::unique_ptr<records::Store> store;
  std::optional<records::Case> the_case;
  std::map<std::string, double> rates;
  if (!args.case_id.empty() || !args.db.empty()) {
    auto s = records::open_store(args.db.empty() ? records::default_store_url() : args.db);
    if (!s) {
      fmt::print(stderr, "bmslink: {}\n", s.error().message);
      return kInput;
    }
    store = std::move(*s);
    if (auto all = store->list()) rates = records::check_rates(*all);
    if (!args.case_id.empty()) {
      auto c = store->get(args.case_id);
      if (!c) {
        fmt::print(stderr, "bmslink: {}\n", c.error().message);
        return kInput;
      }
      if (!*c) {
        fmt::print(stderr, "bmslink: no case {} (bmslink case new --id {} first)\n", args.case_id,
                   args.case_id);
        return kInput;
      }
      the_case = std::move(**c);
      records::resume_answers(*the_case, answers);
    }
  }
  // A capture (from the command line or the answers file) pre-decides checks.
  std::optional<diagnosis::CaptureResult> capture;
  diagnosis::GuidedOptions options;
  options.check_rates = rates;
  // Keeps the case up to date: the checks, the minutes, the cause; a capture once, by hash.
  auto keep = [&](const Answers& a, const GuidedResult& r,
                  const std::optional<diagnosis::CaptureResult>& session) {
    if (!store || !the_case) return;
    records::record_session(*the_case, cat, a, r);
    const auto& cap = session ? session : capture;
    if (cap && !a.capture.empty()) {
      auto sha = records::keep_capture(a.capture, records::captures_dir(store->url()));
      if (sha) {
        const bool known =
            std::any_of(the_case->captures.begin(), the_case->captures.end(),
                        [&](const records::CaseCapture& x) { return x.sha256 == *sha; });
        if (!known) {
          const auto slash = a.capture.rfind('/');
          the_case->captures.push_back(
              {slash == std::string::npos ? a.capture : a.capture.substr(slash + 1), *sha,
               diagnosis::findings_to_json(cap->findings)});
        }
      } else {
        fmt::print(stderr, "bmslink: {}\n", sha.error().message);
      }
    }
    if (auto ok = store->put(*the_case); !ok)
      fmt::print(stderr, "bmslink: {}\n", ok.error().message);
  };
  if (!answers.capture.empty()) {
    CollectingSink sink;
    auto r = diagnosis::diagnose(analysis::CaptureInput::path(answers.capture), sink);
    if (!r) {
      fmt::print(stderr, "bmslink: {}\n", r.error().message);
      return kInput;
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
  return kOk;
}

int cmd_hardcode(const HardcodeArgs& args) {
  diagnosis::HardcodeInput in;
  in.chemistry = args.chemistry;
  in.cells = args.cells;
  in.battery = args.battery;
  auto kb = KnowledgeBase::builtin();
  if (!kb) {
    fmt::print(stderr, "bmslink: built-in data: {}\n", kb.error().message);
    return kInput;
  }
  in.capacity_ah = args.capacity_ah;
  in.kwh = args.kwh;
  in.c_rate = args.c_rate;
  in.spread_mv = args.spread_mv;
  if (!args.soc_window.empty()) {
    double lo = 0, hi = 0;
    char dash = 0;
    std::string window = args.soc_window;
    std::erase(window, '%');
    std::erase(window, ' ');
    std::istringstream ss(window);
    if (!(ss >> lo >> dash >> hi) || dash != '-' || !ss.eof()) {
      fmt::print(stderr, "bmslink: --soc-window: expected LOW-HIGH in %, e.g. 30-80\n");
      return kUsage;
    }
    in.soc_low = lo;
    in.soc_high = hi;
  }
  if (args.indoor && args.outdoor) {
    fmt::print(stderr, "bmslink: --indoor and --outdoor exclude each other\n");
    return kUsage;
  }
  if (args.indoor) in.indoor = true;
  if (args.outdoor) in.indoor = false;
  in.commercial = args.commercial;
  auto advice = diagnosis::advise_hardcode(in, &*kb);
  if (!advice) {
    fmt::print(stderr, "bmslink: {}\n", advice.error().message);
    return advice.error().code == ErrorCode::kUnsupported ? kInput : kUsage;
  }
  if (args.json)
    fmt::print("{}\n", diagnosis::hardcode_json(*advice).dump(2));
  else
    fmt::print("{}", diagnosis::hardcode_text(*advice));
  return kOk;
}

int cmd_devices(const GuidedArgs& args, const std::string& query) {
  CheckCatalogue cat;
  KnowledgeBase kb;
  if (!load(args, cat, kb)) return kInput;
  const diagnosis::DeviceInfo* inv = query.empty() ? nullptr : kb.find_inverter(query);
  const diagnosis::DeviceInfo* bat = query.empty() ? nullptr : kb.find_battery(query);
  // A model named on one side only: the other side's match is the brand alone ("GoodWe Lynx
  // Home F" is a battery, not GoodWe's LV inverters), so it is not shown.
  if (!query.empty()) {
    const bool inv_named = kb.find_inverter_model(query) != nullptr;
    const bool bat_named = kb.find_battery_model(query) != nullptr;
    if (bat_named && !inv_named) inv = nullptr;
    if (inv_named && !bat_named) bat = nullptr;
  }
  nlohmann::json out = diagnosis::knowledge_json(kb);
  if (!query.empty()) {
    out["protocols"] = nlohmann::json::array();
    out["inverters"] = inv ? nlohmann::json::array({inv->raw}) : nlohmann::json::array();
    out["batteries"] = bat ? nlohmann::json::array({bat->raw}) : nlohmann::json::array();
  }
  if (args.json) {
    fmt::print("{}\n", out.dump(2));
    return kOk;
  }
  if (query.empty()) {
    fmt::print("{} protocols, {} inverter families, {} battery families (--json for all of it)\n",
               kb.protocols().size(), kb.inverters().size(), kb.batteries().size());
    for (const auto& d : kb.inverters())
      fmt::print("  inverter  {:<24} {} {}\n", d.id, d.brand, d.family);
    for (const auto& d : kb.batteries())
      fmt::print("  battery   {:<24} {} {}\n", d.id, d.brand, d.family);
    return kOk;
  }
  if (!inv && !bat) {
    fmt::print(stderr, "bmslink: no device matches \"{}\"\n", query);
    return kInput;
  }
  for (const auto* d : {inv, bat}) {
    if (!d) continue;
    fmt::print("{} {} {} ({})\n",
               d->kind == diagnosis::DeviceInfo::Kind::kInverter ? "inverter" : "battery", d->brand,
               d->family, d->id);
    auto pin = [](const std::optional<int>& x) {
      return x ? std::to_string(*x) : std::string("?");
    };
    if (!d->battery_settings.empty()) {
      fmt::print("  battery menu{}:\n", d->menu.empty() ? "" : " \"" + d->menu + "\"");
      for (const auto& m : d->battery_settings) {
        const auto* p = kb.protocol(m.protocol);
        const std::string bus = p && (p->transport == "can" || p->transport == "rs485")
                                    ? (p->transport == "can" ? "CAN" : "RS485")
                                    : "-";
        fmt::print("    {:<28} {} [{}; {}]{}\n", m.value, p ? p->name : m.protocol, bus,
                   diagnosis::source_class_name(m.source_class),
                   m.note.empty() ? "" : "\n      " + m.note);
      }
    }
    if (!d->protocol.empty()) {
      const auto* p = kb.protocol(d->protocol);
      fmt::print("  protocol: {}{}\n", p ? p->name : d->protocol,
                 p && !p->transport.empty() ? " [" + p->transport + "]" : "");
    }
    for (const auto& o : d->other_protocols) {
      const auto* p = kb.protocol(o);
      fmt::print("  also sends: {}{}\n", p ? p->name : o,
                 p && !p->transport.empty() ? " [" + p->transport + "]" : "");
    }
    if (d->can_port && (d->can_port->can_h || d->can_port->can_l || !d->can_port->port.empty()))
      fmt::print("  CAN port: {} pins H {} L {}{}\n",
                 d->can_port->port.empty() ? "?" : d->can_port->port, pin(d->can_port->can_h),
                 pin(d->can_port->can_l),
                 d->can_port->gnd ? " GND " + std::to_string(*d->can_port->gnd) : "");
    if (d->rs485_port)
      fmt::print("  RS485 port: {} pins A {} B {}{}{}\n",
                 d->rs485_port->port.empty() ? "?" : d->rs485_port->port, pin(d->rs485_port->a),
                 pin(d->rs485_port->b),
                 d->rs485_port->gnd ? " GND " + std::to_string(*d->rs485_port->gnd) : "",
                 d->rs485_port->note.empty() ? "" : " (" + d->rs485_port->note + ")");
    if (!d->bitrate_kbps.empty())
      fmt::print("  bit rate: {} kbit/s\n", fmt::join(d->bitrate_kbps, " or "));
    if (!d->termination.empty() ||
        d->termination_builtin != diagnosis::BuiltinTermination::kUnknown) {
      const char* builtin[] = {"", "terminates by itself; ", "does not terminate by itself; ",
                               "switchable terminator; "};
      fmt::print("  termination: {}{}{}\n", builtin[static_cast<int>(d->termination_builtin)],
                 d->termination_models.empty()
                     ? ""
                     : fmt::format("(said of {} only) ", fmt::join(d->termination_models, ", ")),
                 d->termination);
    }
    if (d->pack)
      fmt::print("  pack: {} cells in series{}{} [{}]\n", d->pack->cells_series,
                 d->pack->nominal_v ? fmt::format(", {:g} V nominal", *d->pack->nominal_v) : "",
                 d->pack->cutoff_min_v && d->pack->charge_max_v
                     ? fmt::format(", {:g}-{:g} V", *d->pack->cutoff_min_v, *d->pack->charge_max_v)
                     : "",
                 diagnosis::source_class_name(d->pack->source_class));
    if (!d->pin_trap.empty()) fmt::print("  pin trap: {}\n", d->pin_trap);
    if (!d->comms_loss.empty() || !d->comms_loss_codes.empty())
      fmt::print("  comms loss: {} {}\n", fmt::join(d->comms_loss_codes, ", "), d->comms_loss);
    for (const auto& f : d->firmware_issues) {
      if (f.firmware.empty())
        fmt::print("  known issue: {}\n", f.issue);
      else
        fmt::print("  firmware {}: {}\n", f.firmware, f.issue);
    }
    fmt::print("  sources: {} (strongest: {})\n", fmt::join(d->sources, ", "),
               diagnosis::source_class_name(d->source_class));
  }
  return kOk;
}

}  // namespace bmslink::app
