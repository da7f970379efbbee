// The guided five-layer engine: answers in, verdicts, the confirmed cause or the next check out.

#include "bmslink/diagnosis/guided.h"

#include "bmslink/core/json.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace bmslink::diagnosis {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 6> kVerdictNames = {"pass",    "fail",     "skipped",
                                                           "unknown", "marginal", "suspect"};
// Device fields of the answers file, allowed at the top level and inside "answers".
constexpr std::array<std::string_view, 5> kDeviceKeys = {
    "bms_model", "inverter_model", "bms_firmware", "inverter_firmware", "capture"};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::optional<bool> yes_no(std::string_view s) {
  const std::string t = lower(trim(s));
  if (t == "yes" || t == "y" || t == "true") return true;
  if (t == "no" || t == "n" || t == "false") return false;
  return std::nullopt;
}

std::optional<double> number_of(std::string_view s, std::string_view unit = {}) {
  std::string t = trim(s);
  if (t.empty()) return std::nullopt;
  // "64,9" as typed on a European phone: a decimal comma when there is no point.
  if (t.find('.') == std::string::npos && std::count(t.begin(), t.end(), ',') == 1)
    std::replace(t.begin(), t.end(), ',', '.');
  char* end = nullptr;
  const double v = std::strtod(t.c_str(), &end);
  if (end == t.c_str() || !std::isfinite(v)) return std::nullopt;
  // A unit after the number: the input's own, or a way of writing it.
  std::string rest = lower(trim(std::string_view(end)));
  if (rest.empty()) return v;
  const std::string u = lower(unit);
  if (rest == u) return v;
  static const std::vector<std::pair<std::string, std::vector<std::string>>> kSynonyms = {
      {"Ω", {"ohm", "ohms", "r"}},
      {"kbit/s", {"k", "kbps", "kbit", "kb/s", "kbaud"}},
      {"mΩ", {"mohm", "milliohm", "milliohms"}},
      {"v", {"volt", "volts"}},
      {"m", {"metre", "metres", "meter", "meters"}},
      {"awg", {"ga", "gauge"}}};
  for (const auto& [canonical, words] : kSynonyms) {
    if (canonical != u) continue;
    if (std::find(words.begin(), words.end(), rest) != words.end()) return v;
  }
  if (u == "Ω" && (rest == "kΩ" || rest == "kohm" || rest == "k")) return v * 1000;
  if (u == "v" && rest == "mv") return v / 1000;
  return std::nullopt;
}

bool hex_id(std::string_view s) {
  std::string t = lower(trim(s));
  if (t.starts_with("0x")) t = t.substr(2);
  if (t.empty() || t.size() > 8) return false;
  return std::all_of(t.begin(), t.end(), [](char c) { return std::isxdigit(c) != 0; });
}

std::string expected(const InputSpec& spec) {
  switch (spec.type) {
    case InputType::kYesNo:
      return "yes or no";
    case InputType::kNumber: {
      std::string s = "a number";
      if (!spec.unit.empty()) s += " in " + spec.unit;
      if (spec.min && spec.max) s += fmt::format(" from {} to {}", *spec.min, *spec.max);
      for (const auto& a : spec.allow) s += fmt::format(", or \"{}\"", a);
      return s;
    }
    case InputType::kChoice: {
      std::vector<std::string> c;
      for (const auto& v : spec.choices)
        c.push_back(v.is_string() ? v.get<std::string>() : v.dump());
      return fmt::format("one of {}", fmt::join(c, ", "));
    }
    case InputType::kText:
      return "text";
    case InputType::kList:
      return spec.items == "hex" ? "a list of hex ids such as \"0x350\"" : "a list of strings";
  }
  return "a value";
}

// A JSON value checked against its spec, normalised; nullopt when it does not fit.
std::optional<json> normalise(const InputSpec& spec, const json& v) {
  switch (spec.type) {
    case InputType::kYesNo:
      if (v.is_boolean()) return v;
      if (v.is_string()) {
        if (auto b = yes_no(v.get<std::string>())) return json(*b);
      }
      return std::nullopt;
    case InputType::kNumber: {
      std::optional<double> x;
      const bool open_allowed =
          std::find(spec.allow.begin(), spec.allow.end(), "open") != spec.allow.end();
      if (v.is_number()) x = v.get<double>();
      if (v.is_string()) {
        const std::string t = lower(trim(v.get<std::string>()));
        for (const auto& a : spec.allow)
          if (lower(a) == t) return json(a);
        // What a multimeter shows for an open circuit.
        if (open_allowed &&
            (t == "ol" || t == "o.l." || t == "inf" || t == "infinite" || t == "\u221e"))
          return json("open");
        x = number_of(t, spec.unit);
      }
      if (!x || !std::isfinite(*x)) return std::nullopt;
      if (spec.magnitude) x = std::fabs(*x);
      if (spec.integer && *x != std::floor(*x)) return std::nullopt;
      // Beyond the meter's range where "open" is a valid answer: open.
      if (open_allowed && spec.max && *x > *spec.max) return json("open");
      if ((spec.min && *x < *spec.min) || (spec.max && *x > *spec.max)) return std::nullopt;
      return json(*x);
    }
    case InputType::kChoice:
      for (const auto& c : spec.choices) {
        if (c.is_number()) {
          std::optional<double> x;
          if (v.is_number()) x = v.get<double>();
          if (v.is_string()) x = number_of(v.get<std::string>(), spec.unit);
          if (x && *x == c.get<double>()) return c;
        } else if (v.is_string() &&
                   lower(trim(v.get<std::string>())) == lower(c.get<std::string>())) {
          return c;
        }
      }
      return std::nullopt;
    case InputType::kText:
      if (v.is_string() && !trim(v.get<std::string>()).empty())
        return json(trim(v.get<std::string>()));
      // A menu value written as a bare number ("04" saved by a tool as 4).
      if (v.is_number_integer()) return json(v.dump());
      return std::nullopt;
    case InputType::kList: {
      std::vector<std::string> items;
      if (v.is_array()) {
        for (const auto& x : v) {
          if (!x.is_string()) return std::nullopt;
          items.push_back(trim(x.get<std::string>()));
        }
      } else if (v.is_string()) {
        std::string cur;
        for (char c : v.get<std::string>() + " ") {
          if (c == ' ' || c == ',' || c == ';' || c == '\t') {
            if (!cur.empty()) items.push_back(cur);
            cur.clear();
          } else {
            cur += c;
          }
        }
      } else {
        return std::nullopt;
      }
      if (items.empty()) return std::nullopt;
      if (spec.items == "hex") {
        for (auto& i : items) {
          if (!hex_id(i)) return std::nullopt;
          std::string t = lower(i);
          if (t.starts_with("0x")) t = t.substr(2);
          // 0x0350 and 0x350 are the same id.
          i = fmt::format("0x{:03X}", std::stoul(t, nullptr, 16));
        }
      }
      return json(items);
    }
  }
  return std::nullopt;
}

// How an answer reads in a sentence.
std::string show(const json& v) {
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number()) return fmt::format("{}", v.get<double>());
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::vector<std::string> parts;
    for (const auto& x : v) parts.push_back(show(x));
    return fmt::format("{}", fmt::join(parts, " "));
  }
  return v.dump();
}

// ---------------------------------------------------------------------------------------------
// Rules from data.

bool same_value(const json& answer, const json& want) {
  if (answer.is_boolean() && want.is_string()) {
    const auto b = yes_no(want.get<std::string>());
    return b && *b == answer.get<bool>();
  }
  if (answer.is_number() && want.is_number()) return answer.get<double>() == want.get<double>();
  if (answer.is_string() && want.is_string())
    return lower(answer.get<std::string>()) == lower(want.get<std::string>());
  return answer == want;
}

// true/false, or nullopt when an input it needs was not answered.
std::optional<bool> eval(const json& c, const Answers& a) {
  if (c.contains("all") || c.contains("any")) {
    const bool all = c.contains("all");
    bool unknown = false;
    for (const auto& sub : all ? c["all"] : c["any"]) {
      const auto v = eval(sub, a);
      if (!v) {
        unknown = true;
        continue;
      }
      if (all && !*v) return false;
      if (!all && *v) return true;
    }
    if (unknown) return std::nullopt;
    return all;
  }
  if (c.contains("not")) {
    const auto v = eval(c["not"], a);
    if (!v) return std::nullopt;
    return !*v;
  }
  const auto key = c["input"].get<std::string>();
  auto it = a.values.find(key);
  if (it == a.values.end()) return std::nullopt;
  const json& v = it->second;
  for (const auto& [op, arg] : c.items()) {
    if (op == "input") continue;
    if (op == "is") return same_value(v, arg);
    if (op == "in") {
      for (const auto& x : arg)
        if (same_value(v, x)) return true;
      return false;
    }
    if (op == "equals_input") {
      auto other = a.values.find(arg.get<std::string>());
      if (other == a.values.end()) return std::nullopt;
      return same_value(v, other->second);
    }
    if (op == "size_equals_input") {
      auto other = a.values.find(arg.get<std::string>());
      if (other == a.values.end() || !other->second.is_number() || !v.is_array())
        return std::nullopt;
      return static_cast<double>(v.size()) == other->second.get<double>();
    }
    if (op == "distinct") {
      if (!v.is_array()) return false;
      std::set<std::string> seen;
      bool distinct = true;
      for (const auto& x : v) distinct &= seen.insert(lower(show(x))).second;
      return distinct == arg.get<bool>();
    }
    if (!v.is_number()) return false;  // "open" is no number: no numeric band matches it
    const double x = v.get<double>();
    if (op == "between") return x >= arg[0].get<double>() && x <= arg[1].get<double>();
    if (op == "above") return x > arg.get<double>();
    if (op == "below") return x < arg.get<double>();
    if (op == "at_least") return x >= arg.get<double>();
    if (op == "at_most") return x <= arg.get<double>();
  }
  return std::nullopt;
}

// "{termination_ohms} Ω" with the answers; {resistors_120} is 120 Ω over the measured value.
std::string fill(std::string text, const Answers& a) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto open = text.find('{', pos);
    if (open == std::string::npos) break;
    const auto close = text.find('}', open);
    if (close == std::string::npos) break;
    out += text.substr(pos, open - pos);
    const std::string key = text.substr(open + 1, close - open - 1);
    if (key == "resistors_120") {
      auto it = a.values.find("termination_ohms");
      if (it != a.values.end() && it->second.is_number() && it->second.get<double>() > 0)
        out += fmt::format("{:.1f}", 120.0 / it->second.get<double>());
      else
        out += "?";
    } else if (auto it = a.values.find(key); it != a.values.end()) {
      out += show(it->second);
    } else {
      out += "?";
    }
    pos = close + 1;
  }
  out += text.substr(pos);
  return out;
}

struct Decision {
  Verdict verdict = Verdict::kUnknown;
  std::string reason;
  bool from_capture = false;
  std::optional<Cause> cause;
  std::string fix;  // an outcome's own fix
  std::vector<std::string> missing;
  std::optional<SourceClass> source_class;  // the weakest knowledge-base fact it rests on
  bool too_few = false;  // a termination fail for missing terminators (not too many, not a short)

  // Rests also on a fact of class `c`.
  void rests_on(SourceClass c) { source_class = source_class ? std::min(*source_class, c) : c; }
};

// "(reported by users of an emulator ...)" after a reason resting on the knowledge base.
std::string with_source(const std::string& reason, const std::optional<SourceClass>& c) {
  if (!c) return reason;
  return fmt::format("{} ({})", reason, source_class_caveat(*c));
}

Decision from_outcomes(const Check& check, const Answers& a) {
  Decision d;
  for (const auto& o : check.outcomes) {
    if (!o.value("otherwise", false)) {
      const auto v = eval(o["when"], a);
      if (!v || !*v) continue;
    }
    d.verdict = parse_verdict(o["verdict"].get<std::string>()).value_or(Verdict::kUnknown);
    d.reason = fill(o["reason"].get<std::string>(), a);
    if (d.verdict == Verdict::kFail || d.verdict == Verdict::kMarginal)
      d.cause =
          o.contains("confirms") ? *parse_cause(o["confirms"].get<std::string>()) : check.confirms;
    if (o.contains("fix") && o["fix"].is_string()) d.fix = o["fix"].get<std::string>();
    return d;
  }
  d.reason = "no rule matched the answers";
  return d;
}

// The inverter's menu values that read what the battery sends, its main protocol first (the
// values for another jack of the battery only when none reads the main one).
std::vector<const MenuValue*> values_for(const KnowledgeBase& kb, const DeviceInfo& inverter,
                                         const ProtocolInfo& bms_proto, const DeviceInfo* battery,
                                         std::string_view model) {
  std::vector<std::string> sent = {bms_proto.id};
  if (battery != nullptr)
    for (const auto& p : battery->other_protocols)
      if (p != bms_proto.id) sent.push_back(p);
  for (const auto& protocol : sent) {
    const ProtocolInfo* sent_proto = kb.protocol(protocol);
    std::vector<const MenuValue*> v;
    for (const auto& m : inverter.battery_settings) {
      // A value that runs the bus at another rate than the battery sends never reads it.
      if (m.bitrate_kbps && sent_proto && sent_proto->bitrate_kbps &&
          *m.bitrate_kbps != *sent_proto->bitrate_kbps)
        continue;
      if (m.reported_for(model) && kb.compatible(m.protocol, protocol, &m)) v.push_back(&m);
    }
    if (!v.empty()) return v;
  }
  return {};
}

std::string quoted_values(const std::vector<const MenuValue*>& values) {
  std::vector<std::string> q;
  for (const auto* m : values) q.push_back("\"" + m->value + "\"");
  return fmt::format("{}", fmt::join(q, " or "));
}

std::string menu_name(const DeviceInfo& inverter) {
  return inverter.menu.empty() ? std::string("battery menu") : "\"" + inverter.menu + "\" menu";
}

const DeviceInfo* inverter_of(const KnowledgeBase& kb, const Answers& a) {
  return a.inverter_model.empty() ? nullptr : kb.find_inverter(a.inverter_model);
}

const DeviceInfo* battery_of(const KnowledgeBase& kb, const Answers& a) {
  return a.bms_model.empty() ? nullptr : kb.find_battery(a.bms_model);
}

// The inverter's menu value an answer names: the value as typed or shortened, or a protocol's
// name for which the inverter lists exactly one value ("Pylontech CAN" on a Deye: "Lithium 00").
const MenuValue* named_value(const KnowledgeBase& kb, const DeviceInfo& inverter,
                             const std::string& setting) {
  if (const auto* m = KnowledgeBase::menu_value(inverter, setting)) return m;
  // Only a protocol's own name, or a name that says its bus ("Pylontech CAN"): a short code that
  // is another inverter's menu value ("PYL", "L52") says nothing about this one's menu.
  const ProtocolInfo* p = kb.find_protocol(setting);
  if (p == nullptr) return nullptr;
  const std::string t = normalized_name(setting);
  const bool names_bus =
      contains_word(t, "can") || contains_word(t, "rs485") || contains_word(t, "485");
  if (t != normalized_name(p->id) && t != normalized_name(p->name) && !names_bus) return nullptr;
  const MenuValue* found = nullptr;
  for (const auto& m : inverter.battery_settings) {
    if (m.protocol != p->id) continue;
    if (found != nullptr) return nullptr;
    found = &m;
  }
  return found;
}

// L1: the inverter's battery setting against the BMS's protocol. With the inverter in the
// knowledge base its menu value (as installers type it) maps to a protocol; otherwise the text is
// a protocol name or alias; otherwise the two names must be identical, case and spacing included
// (the field guide: "Pylontech" is not "Pylontech CAN" is not "Pylontech US2000"). A setting the
// known inverter does not list, where the knowledge base names the value the battery needs, is
// suspect. Each verdict says how strong the facts behind it are.
Decision protocol_match(const Check& check, const KnowledgeBase& kb, const Answers& a) {
  Decision d;
  const std::string setting = show(a.values.at("inverter_battery_setting"));
  const std::string bms = a.has("bms_protocol") ? show(a.values.at("bms_protocol")) : std::string();
  const DeviceInfo* inverter = inverter_of(kb, a);
  const DeviceInfo* battery = battery_of(kb, a);
  const ProtocolInfo* bms_proto = kb.find_protocol(bms);
  const bool bms_from_kb = !bms_proto && battery && !battery->protocol.empty();
  if (bms_from_kb) bms_proto = kb.protocol(battery->protocol);
  // What the battery sends on its other jacks counts only when the technician did not say which
  // protocol the BMS sends: "Pylontech CAN" answered means the CAN jack is the one cabled.
  const DeviceInfo* sender = bms_from_kb ? battery : nullptr;
  const MenuValue* menu = inverter ? named_value(kb, *inverter, setting) : nullptr;
  const ProtocolInfo* inv_proto = menu ? kb.protocol(menu->protocol) : kb.find_protocol(setting);
  // A known inverter with a known menu: a setting that is none of its values selects nothing
  // bmslink can name (a protocol's name is not a menu entry), except a voltage-only one.
  const bool known_menu = inverter != nullptr && !inverter->battery_settings.empty();
  if (known_menu && menu == nullptr && !(inv_proto && inv_proto->voltage_only)) inv_proto = nullptr;
  if (menu) d.rests_on(menu->source_class);
  if (bms_from_kb) d.rests_on(battery->source_class);
  std::vector<const MenuValue*> wanted_values;
  if (inverter && bms_proto)
    wanted_values = values_for(kb, *inverter, *bms_proto, battery, a.inverter_model);
  const auto wanted = [&]() -> std::string {
    if (wanted_values.empty()) return {};
    return fmt::format("; on {} select {} in the {}", inverter->brand, quoted_values(wanted_values),
                       menu_name(*inverter));
  };
  const auto wanted_fix = [&]() -> std::string {
    if (wanted_values.empty()) return {};
    return fmt::format(
        "Select {} in the {}'s {}, save, and restart the inverter; then the battery's limits "
        "and state of charge show on the inverter.",
        quoted_values(wanted_values), inverter->brand, menu_name(*inverter));
  };
  const auto rests_on_wanted = [&] {
    for (const auto* m : wanted_values) d.rests_on(m->source_class);
  };
  if (inv_proto && inv_proto->voltage_only) {
    d.verdict = Verdict::kFail;
    d.reason = fmt::format("\"{}\" is {}: voltage-only control, no communication at all{}", setting,
                           inv_proto->name, wanted());
    d.cause = check.confirms;
    d.fix = wanted_fix();
    rests_on_wanted();
    return d;
  }
  if (inv_proto && bms_proto && menu && menu->bitrate_kbps && bms_proto->bitrate_kbps &&
      *menu->bitrate_kbps != *bms_proto->bitrate_kbps) {
    d.verdict = Verdict::kFail;
    d.cause = check.confirms;
    d.reason =
        fmt::format("\"{}\" runs the bus at {} kbit/s, but {} is sent at {} kbit/s{}", setting,
                    *menu->bitrate_kbps, bms_proto->name, *bms_proto->bitrate_kbps, wanted());
    d.fix = wanted_fix();
    rests_on_wanted();
    return d;
  }
  if (inv_proto && bms_proto) {
    const std::string read =
        sender ? kb.compatible_with_battery(inv_proto->id, *sender, menu)
               : (kb.compatible(inv_proto->id, bms_proto->id, menu) ? bms_proto->id : "");
    // A value reported to read the protocol on some models of the family only: on another
    // model it is not known either way (sources disagree), so a capture has to decide.
    if (menu && !menu->reported_for(a.inverter_model) && !read.empty()) {
      d.verdict = Verdict::kUnknown;
      d.reason = fmt::format(
          "\"{}\" is reported to read {} only on the {}, not on the {}; a capture shows whether "
          "the inverter answers{}",
          menu->value, bms_proto->name, fmt::join(menu->models, ", "), a.inverter_model, wanted());
      return d;
    }
    const std::string as_typed =
        menu && normalized_name(menu->value) != normalized_name(setting)
            ? fmt::format("\"{}\" (the menu's \"{}\")", setting, menu->value)
            : fmt::format("\"{}\"", setting);
    if (!read.empty()) {
      d.verdict = Verdict::kPass;
      const ProtocolInfo* other = kb.protocol(read);
      if (read != bms_proto->id && other != nullptr) {
        const ProtocolInfo* main = kb.protocol(sender->protocol);
        const bool other_bus = main && other->transport != main->transport &&
                               (other->transport == "rs485" || other->transport == "can");
        d.reason = other_bus
                       ? fmt::format(
                             "{} is {}, which the {} {} also sends on its {} port: the cable must "
                             "go there",
                             as_typed, inv_proto->name, sender->brand, sender->family,
                             other->transport == "rs485" ? "RS485" : "CAN")
                       : fmt::format("{} is {}, which the {} {} also speaks (to this inverter)",
                                     as_typed, inv_proto->name, sender->brand, sender->family);
      } else {
        d.reason =
            inv_proto->id == bms_proto->id
                ? fmt::format("{} is {}, the protocol the BMS sends", as_typed, bms_proto->name)
                : fmt::format("{} ({}) reads {}, the protocol the BMS sends", as_typed,
                              inv_proto->name, bms_proto->name);
      }
    } else if (menu && battery &&
               std::find(wanted_values.begin(), wanted_values.end(), menu) != wanted_values.end()) {
      // The setting reads this battery, but on another of its ports than the one said to be
      // cabled (a Voltronic's "PYL" is Pylontech RS485; the battery's CAN jack was cabled).
      d.verdict = Verdict::kFail;
      d.cause = check.confirms;
      d.reason = fmt::format(
          "{} is {}, but the BMS was said to send {}: the {} reads the {} {} only as {}, on the "
          "battery's {} port",
          as_typed, inv_proto->name, bms_proto->name, inverter->brand, battery->brand,
          battery->family, inv_proto->name, inv_proto->transport == "rs485" ? "RS485" : "other");
      d.fix = fmt::format(
          "Keep {} and take the inverter's cable from the battery's {} port (its pins as both "
          "manuals give them), or use an inverter setting that reads {}.",
          as_typed, inv_proto->transport == "rs485" ? "RS485" : "other", bms_proto->name);
      rests_on_wanted();
    } else {
      d.verdict = Verdict::kFail;
      d.reason = fmt::format("{} is {}, but the BMS sends {}{}", as_typed, inv_proto->name,
                             bms_proto->name, wanted());
      d.cause = check.confirms;
      d.fix = wanted_fix();
      rests_on_wanted();
    }
    d.reason = with_source(d.reason, d.source_class);
    return d;
  }
  if (setting == bms && !known_menu) {
    d.verdict = Verdict::kPass;
    d.reason =
        fmt::format("the inverter's setting reads exactly as the BMS's protocol (\"{}\")", setting);
    return d;
  }
  if (menu && inv_proto && !bms_proto) {
    d.verdict = Verdict::kUnknown;
    d.reason = with_source(
        fmt::format("\"{}\" selects {}; which protocol the BMS sends is not known (its app or "
                    "manual names it)",
                    menu->value, inv_proto->name),
        d.source_class);
    return d;
  }
  // The inverter is in the knowledge base but the setting is none of its menu values. Where the
  // knowledge base names the value this battery needs, the setting is suspect (it is not that
  // value); otherwise what it selects cannot be told from here.
  if (inverter) {
    if (!wanted_values.empty()) {
      rests_on_wanted();
      if (bms_from_kb) d.rests_on(battery->source_class);
      d.verdict = Verdict::kSuspect;
      d.cause = check.confirms;
      d.reason = with_source(
          fmt::format(
              "\"{}\" is not a value bmslink knows in the {} of the {} {}; for {} it lists {}",
              setting, menu_name(*inverter), inverter->brand, inverter->family, bms_proto->name,
              quoted_values(wanted_values)),
          d.source_class);
      d.fix = wanted_fix();
      return d;
    }
    d.verdict = Verdict::kUnknown;
    d.reason = fmt::format(
        "cannot tell which protocol \"{}\" selects; compare it with the "
        "inverter's manual",
        setting);
    return d;
  }
  // Neither side is known: the field guide's rule, the names must be the same exactly.
  d.verdict = Verdict::kFail;
  d.cause = check.confirms;
  d.reason = fmt::format(
      "\"{}\" is not \"{}\": the names must match exactly, case and spacing "
      "included (\"LFP-CAN\" is not \"Pylontech CAN\" is not \"Pylontech "
      "US2000\")",
      setting, bms);
  return d;
}

// ---------------------------------------------------------------------------------------------
// Termination by the meter's setup (docs/diagnose.md): two 120 Ω terminators in parallel read
// 60 Ω with everything connected; one device unplugged, the free cable end reads only the far
// side (120 Ω when healthy); a device's own port reads its own terminator.

enum class Ohms { kShort, kThree, kTwo, kOne, kAboveOne, kOpen, kOther };

struct Reading {
  Ohms kind = Ohms::kOther;
  double ohms = 0;  // when a number
};

Reading classify(const json& v, const json& p) {
  Reading r;
  if (!v.is_number()) {
    r.kind = Ohms::kOpen;
    return r;
  }
  r.ohms = v.get<double>();
  auto in = [&](const char* band) {
    return r.ohms >= p[band][0].get<double>() && r.ohms <= p[band][1].get<double>();
  };
  if (r.ohms > p["open_above"].get<double>())
    r.kind = Ohms::kOpen;
  else if (r.ohms < p["short_below"].get<double>())
    r.kind = Ohms::kShort;
  else if (in("correct"))
    r.kind = Ohms::kTwo;
  else if (in("one"))
    r.kind = Ohms::kOne;
  else if (in("three"))
    r.kind = Ohms::kThree;
  else if (r.ohms > p["one"][1].get<double>())
    r.kind = Ohms::kAboveOne;
  return r;
}

std::string ohms_text(const Reading& r) {
  return r.kind == Ohms::kOpen && r.ohms == 0 ? std::string("open") : fmt::format("{:g} Ω", r.ohms);
}

std::string device_name(const DeviceInfo* dev, const std::string& role) {
  if (dev != nullptr) return fmt::format("{} {}", dev->brand, dev->family);
  return role == "bms" ? "battery" : role == "inverter" ? "inverter" : "unplugged device";
}

// What the knowledge base says about a device terminating by itself, as a clause, or "".
BuiltinTermination builtin_of(const DeviceInfo* dev, const std::string& model) {
  if (dev == nullptr) return BuiltinTermination::kUnknown;
  if (!dev->termination_models.empty()) {
    const std::string m = normalized_name(model);
    const bool named =
        std::any_of(dev->termination_models.begin(), dev->termination_models.end(),
                    [&](const std::string& piece) { return m.find(piece) != std::string::npos; });
    if (!named) return BuiltinTermination::kUnknown;
  }
  return dev->termination_builtin;
}

std::string builtin_clause(const KnowledgeBase& kb, const DeviceInfo* dev, const std::string& model,
                           Decision& d) {
  if (builtin_of(dev, model) == BuiltinTermination::kUnknown) return {};
  const auto cls = kb.strongest(dev->termination_sources).value_or(dev->source_class);
  d.rests_on(cls);
  const std::string name = fmt::format("the {} {}", dev->brand, dev->family);
  switch (dev->termination_builtin) {
    case BuiltinTermination::kYes:
      return fmt::format("{} terminates by itself ({})", name, source_class_caveat(cls));
    case BuiltinTermination::kNo:
      return fmt::format("{} does not terminate by itself ({})", name, source_class_caveat(cls));
    case BuiltinTermination::kSwitchable:
      return fmt::format("{} has a switchable terminator{} ({})", name,
                         dev->termination.empty() ? "" : ": " + dev->termination,
                         source_class_caveat(cls));
    case BuiltinTermination::kUnknown:
      break;
  }
  return {};
}

// With everything connected: the reading is the whole bus.
Decision whole_bus(const Check& check, const KnowledgeBase& kb, const Answers& a, const Reading& r,
                   const std::string& prefix) {
  Decision d;
  d.verdict = Verdict::kFail;
  d.cause = check.confirms;
  const std::pair<const DeviceInfo*, std::string> devices[] = {
      {battery_of(kb, a), a.bms_model}, {inverter_of(kb, a), a.inverter_model}};
  std::vector<std::string> hints;
  auto hint_if = [&](BuiltinTermination want) {
    for (const auto& [dev, model] : devices)
      if (builtin_of(dev, model) == want) hints.push_back(builtin_clause(kb, dev, model, d));
  };
  switch (r.kind) {
    case Ohms::kTwo:
      d.verdict = Verdict::kPass;
      d.cause.reset();
      d.reason =
          fmt::format("{}: two 120 Ω terminators in parallel, correct (60 ± 5 Ω)", ohms_text(r));
      break;
    case Ohms::kOpen:
      d.reason = "open: no terminator at all; works only below about 1 m";
      d.too_few = true;
      hint_if(BuiltinTermination::kSwitchable);
      break;
    case Ohms::kShort:
      d.reason = fmt::format("{}: CAN-H and CAN-L are shorted", ohms_text(r));
      break;
    case Ohms::kOne:
      d.reason = fmt::format("{}: one 120 Ω terminator, the other is missing", ohms_text(r));
      d.too_few = true;
      hint_if(BuiltinTermination::kNo);
      hint_if(BuiltinTermination::kSwitchable);
      break;
    case Ohms::kThree:
      d.reason = fmt::format("{}: three terminators, one too many", ohms_text(r));
      for (const auto& [dev, model] : devices)
        if (builtin_of(dev, model) == BuiltinTermination::kYes)
          hints.push_back(builtin_clause(kb, dev, model, d) +
                          ": a 120 Ω plug at its end makes three; take the plug off");
      break;
    case Ohms::kAboveOne:
      d.reason = fmt::format(
          "{} is more than one 120 Ω terminator gives: a terminator of another value, or a wire "
          "or contact that is broken",
          ohms_text(r));
      break;
    case Ohms::kOther:
      d.reason = fmt::format("{} is what {:.1f} resistors of 120 Ω in parallel give, not two",
                             ohms_text(r), 120.0 / r.ohms);
      d.too_few = r.ohms > 60;
      break;
  }
  d.reason = prefix + d.reason;
  for (const auto& h : hints)
    if (!h.empty()) d.reason += "; " + h;
  return d;
}

// One side of the bus read on its own: how many terminators it holds, as a phrase.
std::string side_text(const Reading& r) {
  switch (r.kind) {
    case Ohms::kOne:
      return "one terminator";
    case Ohms::kTwo:
      return "two terminators";
    case Ohms::kThree:
      return "three terminators";
    case Ohms::kOpen:
      return "no terminator";
    case Ohms::kShort:
      return "a short between CAN-H and CAN-L";
    case Ohms::kAboveOne:
      return "more than 120 Ω (a terminator of another value or a broken wire)";
    case Ohms::kOther:
      return fmt::format("{:.1f} resistors of 120 Ω", 120.0 / r.ohms);
  }
  return {};
}

// An RS485 link (Pylontech's RS485 protocol at 9600 baud, a Modbus battery port): terminators
// matter only on long or fast runs, and makers such as Sol-Ark say their RS485 port needs none.
// Too many (40 Ω or less) load the drivers and a short is a short; anything else is no fault.
Decision rs485_termination(const Reading& r) {
  Decision d;
  d.verdict = Verdict::kPass;
  d.reason = fmt::format(
      "{} on an RS485 link: at 9600 baud over a few metres it works without terminators (some "
      "makers, such as Sol-Ark, say none is needed); 120 Ω at each end only for long or fast runs",
      ohms_text(r));
  return d;
}

Decision termination(const Check& check, const KnowledgeBase& kb, const Answers& a,
                     const LinkInfo& link) {  // NOLINT(misc-no-recursion): once, for RS485
  const json& p = check.params;
  if (!a.has("termination_ohms")) {
    Decision d;
    d.reason = "needs termination_ohms";
    d.missing = {"termination_ohms"};
    return d;
  }
  const Reading first = classify(a.values.at("termination_ohms"), p);
  if (link.bus == "rs485" && !link.termination_needed) {
    // An RS485 port whose maker does not ask for terminators: the setup's reading decides what is
    // too many or a short; too few is no fault at 9600 baud over a few metres.
    LinkInfo can_like = link;
    can_like.bus = "can";
    Decision d = termination(check, kb, a, can_like);
    if (d.verdict == Verdict::kFail && d.too_few) return rs485_termination(first);
    if (d.verdict == Verdict::kFail) d.reason += " (RS485: too many terminators load the drivers)";
    return d;
  }
  if (a.not_known.count("termination_setup") > 0 && !a.has("termination_setup")) {
    // How the meter was connected is not known: 120 Ω is right with one end unplugged and one
    // missing with both connected, so only what is wrong in every setup decides.
    if (first.kind == Ohms::kShort)
      return whole_bus(check, kb, a, first, "whatever the meter's setup: ");
    if (first.kind == Ohms::kThree) {
      Decision d;
      d.verdict = Verdict::kFail;
      d.cause = check.confirms;
      d.reason = fmt::format(
          "{} whatever the meter's setup: at least three terminators where the meter was, one "
          "too many or more",
          ohms_text(first));
      return d;
    }
    Decision d;
    d.reason = fmt::format(
        "{} without knowing how the meter was connected means nothing yet (120 Ω is right with "
        "one end unplugged, one terminator missing with both connected): measure again with both "
        "devices connected, everything powered off",
        ohms_text(first));
    return d;
  }
  if (!a.has("termination_setup"))
    return whole_bus(check, kb, a, first,
                     "no meter setup given, so taken as both devices connected (powered off): ");
  const std::string setup = a.values.at("termination_setup").get<std::string>();
  if (setup == "all_connected") return whole_bus(check, kb, a, first, "both devices connected: ");
  const std::string role =
      a.has("termination_device") ? a.values.at("termination_device").get<std::string>() : "";
  const DeviceInfo* near = role == "bms"        ? battery_of(kb, a)
                           : role == "inverter" ? inverter_of(kb, a)
                                                : nullptr;
  const DeviceInfo* far = role == "bms"        ? inverter_of(kb, a)
                          : role == "inverter" ? battery_of(kb, a)
                                               : nullptr;
  const std::string near_model = role == "bms"        ? a.bms_model
                                 : role == "inverter" ? a.inverter_model
                                                      : std::string();
  const std::string far_model = role == "bms"        ? a.inverter_model
                                : role == "inverter" ? a.bms_model
                                                     : std::string();
  const std::string near_name = device_name(near, role);
  const std::string far_role = role == "bms" ? "inverter" : role == "inverter" ? "bms" : "";
  const std::string far_name =
      far_role.empty() ? std::string("other device") : device_name(far, far_role);
  Decision d;
  d.cause = check.confirms;
  d.verdict = Verdict::kFail;
  auto need = [&](const char* key) {
    d.verdict = Verdict::kUnknown;
    d.cause.reset();
    if (role.empty() && !a.not_known.count("termination_device"))
      d.missing.push_back("termination_device");
    if (!a.not_known.count(key)) d.missing.push_back(key);
  };
  auto add_hint = [&](const DeviceInfo* dev, const std::string& model) {
    const std::string h = builtin_clause(kb, dev, model, d);
    if (!h.empty()) d.reason += "; " + h;
  };
  if (setup == "one_end_unplugged") {
    // The free cable end reads the far side: the far device and whatever the cable holds,
    // including a terminator in the plug at this end.
    const std::string at =
        fmt::format("{} at the free cable end ({} unplugged): ", ohms_text(first),
                    role.empty() ? std::string("one device") : "the " + near_name);
    if (first.kind == Ohms::kShort) {
      d.reason = at + "CAN-H and CAN-L are shorted in the cable or the far device";
      return d;
    }
    if (first.kind != Ohms::kOne && first.kind != Ohms::kTwo) {
      d.reason = at + side_text(first) + " on the far side (the cable and the " + far_name +
                 "), where exactly one belongs";
      d.too_few = first.kind == Ohms::kOpen || first.kind == Ohms::kAboveOne;
      add_hint(far, far_model);
      return d;
    }
    if (first.kind == Ohms::kOne)
      d.reason = at +
                 "one terminator on the far side, right for a healthy bus (the 60 Ω of a healthy "
                 "bus shows only with both ends connected)";
    else
      d.reason = at +
                 "two terminators on the cable side: right only if one of them is a plug or "
                 "resistor at this end of the cable";
    if (!a.has("termination_port_ohms")) {
      d.reason += fmt::format("; now the {}'s own port", near_name);
      add_hint(near, near_model);
      need("termination_port_ohms");
      return d;
    }
    Reading port = classify(a.values.at("termination_port_ohms"), p);
    if (port.kind == Ohms::kAboveOne) port.kind = Ohms::kOpen;  // transceiver inputs, no resistor
    d.reason += fmt::format("; the {}'s own port reads {}: ", near_name, ohms_text(port));
    if (first.kind == Ohms::kOne && port.kind == Ohms::kOne) {
      d.verdict = Verdict::kPass;
      d.cause.reset();
      d.reason += "one terminator at each end, 60 Ω once connected";
      return d;
    }
    if (first.kind == Ohms::kTwo && port.kind == Ohms::kOpen) {
      d.verdict = Verdict::kUnknown;
      d.cause.reset();
      d.reason +=
          "it does not terminate, so right only if the cable's plug at this end holds the second "
          "terminator (look at it); if both sit at the far end, this end has none";
      return d;
    }
    if (first.kind == Ohms::kTwo) {
      d.reason += side_text(port) + " more at this end: too many terminators";
      add_hint(near, near_model);
      return d;
    }
    d.reason += side_text(port) + " at this end, where exactly one belongs";
    d.too_few = port.kind == Ohms::kOpen;
    add_hint(near, near_model);
    return d;
  }
  // device_port: the reading is the device's own terminator. Above 120 Ω (transceiver inputs
  // read kΩ when unpowered) is no terminator.
  const Ohms own = first.kind == Ohms::kAboveOne ? Ohms::kOpen : first.kind;
  const std::string at = fmt::format("{} at the {}'s own port: ", ohms_text(first), near_name);
  if (own == Ohms::kTwo || own == Ohms::kThree || own == Ohms::kShort || own == Ohms::kOther) {
    d.reason = at + side_text(first) + " in the device, where at most one belongs";
    add_hint(near, near_model);
    return d;
  }
  d.reason = at + (own == Ohms::kOne ? "it terminates by itself" : "it does not terminate");
  if (own == Ohms::kOpen && builtin_of(near, near_model) == BuiltinTermination::kYes) {
    add_hint(near, near_model);
    d.reason += ", so its terminator is switched off or other pins were measured";
  }
  if (!a.has("termination_cable_ohms")) {
    d.reason += "; now the cable with the other device only";
    add_hint(far, far_model);
    need("termination_cable_ohms");
    return d;
  }
  const Reading cable = classify(a.values.at("termination_cable_ohms"), p);
  d.reason += fmt::format("; the cable with the {} reads {}: ", far_name, ohms_text(cable));
  if (own == Ohms::kOne) {
    if (cable.kind == Ohms::kOne) {
      d.verdict = Verdict::kPass;
      d.cause.reset();
      d.reason += "one terminator at each end, 60 Ω once connected";
      return d;
    }
    d.reason += side_text(cable) + " on that side, where exactly one belongs";
    d.too_few = cable.kind == Ohms::kOpen || cable.kind == Ohms::kAboveOne;
    add_hint(far, far_model);
    return d;
  }
  // The device does not terminate: its end needs a terminator in the cable (a plug).
  if (cable.kind == Ohms::kTwo) {
    d.verdict = Verdict::kUnknown;
    d.cause.reset();
    d.reason +=
        "two terminators there: right only if one of them is a plug at this device's end of the "
        "cable (look at that plug), otherwise both sit at the far end and this end has none";
    return d;
  }
  d.too_few =
      cable.kind == Ohms::kOne || cable.kind == Ohms::kOpen || cable.kind == Ohms::kAboveOne;
  d.reason += side_text(cable) + " there, and none in this device: " +
              (cable.kind == Ohms::kOne ? "this end of the bus has no terminator"
                                        : "the bus is not terminated as it should be");
  add_hint(far, far_model);
  return d;
}

std::string port_text(const CanPort& p) {
  auto pin = [](const std::optional<int>& x) { return x ? std::to_string(*x) : std::string("?"); };
  return fmt::format("CAN-H {}, CAN-L {}{}", pin(p.can_h), pin(p.can_l),
                     p.gnd ? ", GND " + std::to_string(*p.gnd) : "");
}

std::string rs485_text(const Rs485Port& p) {
  auto pin = [](const std::optional<int>& x) { return x ? std::to_string(*x) : std::string("?"); };
  return fmt::format("RS485 A {}, B {}{}{}", pin(p.a), pin(p.b),
                     p.gnd ? ", GND " + std::to_string(*p.gnd) : "",
                     p.port.empty() ? "" : " (" + p.port + ")");
}

// The pins both devices use on the link the pair runs: RS485 pins on an RS485 link (never the CAN
// pins there), CAN pins otherwise.
Decision pinout(const Check& check, const KnowledgeBase& kb, const Answers& a,
                const LinkInfo& link) {
  Decision d;
  const json& answer = a.values.at("rj45_pinout_matches");
  const bool matches = answer.is_boolean() && answer.get<bool>();
  const DeviceInfo* inverter =
      a.inverter_model.empty() ? nullptr : kb.find_inverter(a.inverter_model);
  const DeviceInfo* battery = a.bms_model.empty() ? nullptr : kb.find_battery(a.bms_model);
  const bool rs485 = link.bus == "rs485";
  std::string known;
  for (const auto* dev : {inverter, battery}) {
    if (dev == nullptr) continue;
    if (rs485) {
      if (dev->rs485_port && (dev->rs485_port->a || dev->rs485_port->b))
        known += fmt::format("; {} {}: {}", dev->brand, dev->family, rs485_text(*dev->rs485_port));
      else
        known += fmt::format("; {} {}: RS485 pins not in the knowledge base (see its manual)",
                             dev->brand, dev->family);
    } else if (dev->can_port && (dev->can_port->can_h || dev->can_port->can_l)) {
      known += fmt::format("; {} {}: {}", dev->brand, dev->family, port_text(*dev->can_port));
    }
  }
  // A pin trap about the CAN pins says nothing about an RS485 link; one about the jack does.
  for (const auto* dev : {inverter, battery})
    if (dev && !dev->pin_trap.empty() && (!rs485 || dev->pin_trap.find("CAN") == std::string::npos))
      known += "; pin trap: " + dev->pin_trap;
  const char* lines = rs485 ? "RS485 A, B and GND" : "CAN-H, CAN-L and GND";
  if (matches) {
    d.verdict = Verdict::kPass;
    d.reason = fmt::format("{} land on the right pins at both ends{}", lines, known);
  } else {
    d.verdict = Verdict::kFail;
    d.cause = check.confirms;
    d.reason = "the pins differ between the cable and the ports" + known;
  }
  return d;
}

bool contains_ci(std::string_view hay, std::string_view needle) {
  return !needle.empty() && lower(hay).find(lower(needle)) != std::string::npos;
}

Decision firmware(const Check& check, const KnowledgeBase& kb, const Answers& a) {
  Decision d;
  if (a.bms_firmware.empty() && a.inverter_firmware.empty()) {
    for (const char* k : {"bms_firmware", "inverter_firmware"})
      if (!a.not_known.count(k)) d.missing.push_back(k);
    d.reason =
        d.missing.empty() ? "not known: the firmware versions" : "the firmware versions are needed";
    return d;
  }
  const DeviceInfo* inverter =
      a.inverter_model.empty() ? nullptr : kb.find_inverter(a.inverter_model);
  const DeviceInfo* battery = a.bms_model.empty() ? nullptr : kb.find_battery(a.bms_model);
  for (auto [dev, own, other_model] : {std::tuple{battery, a.bms_firmware, a.inverter_model},
                                       std::tuple{inverter, a.inverter_firmware, a.bms_model}}) {
    if (!dev) continue;
    for (const auto& issue : dev->firmware_issues) {
      // Only versions known to break the link decide; other notes are quirks of the device.
      if (issue.firmware.empty() || !issue.breaks_comms) continue;
      // The issue's version must appear in what was answered ("ARM 17(449)" in "ARM 17(449)
      // beta"), not the other way round: "1" is no version of anything in particular.
      const bool version = contains_ci(own, issue.firmware);
      const bool pair = issue.device.empty() || contains_ci(other_model, issue.device) ||
                        contains_ci(issue.device, other_model);
      if (!own.empty() && version && pair) {
        d.verdict = Verdict::kFail;
        d.cause = check.confirms;
        d.reason =
            fmt::format("known issue of {} {} firmware {}{}: {} [{}]", dev->brand, dev->family,
                        issue.firmware, issue.device.empty() ? "" : " with " + issue.device,
                        issue.issue, fmt::join(issue.sources, ", "));
        return d;
      }
    }
  }
  d.verdict = Verdict::kPass;
  d.reason = fmt::format("no known issue for {} {} with {} {} in the knowledge base",
                         a.bms_model.empty() ? "the BMS" : a.bms_model, a.bms_firmware,
                         a.inverter_model.empty() ? "the inverter" : a.inverter_model,
                         a.inverter_firmware);
  return d;
}

// What a capture shows about a check's question.
bool fact(std::string_view name, const analysis::Evidence& e, const std::vector<Finding>& fs) {
  auto has = [&fs](Cause c, bool fault_only) {
    return std::any_of(fs.begin(), fs.end(), [&](const Finding& f) {
      return f.cause == c && (!fault_only || f.severity != Severity::kInfo);
    });
  };
  const bool long_enough = e.timed && e.duration_s >= 10;
  if (name == "bms_talks") return e.timing.bms_frames > 0;
  if (name == "bms_and_inverter_talk")
    return e.timing.bms_frames > 0 && e.timing.inverter_frames > 0 &&
           !has(Cause::kBitrateMismatch, true);
  if (name == "limits_followed") {
    if (e.timing.inverter_frames == 0 || e.limit_following.judged_seconds < 60) return false;
    return std::none_of(e.limit_following.breaches.begin(), e.limit_following.breaches.end(),
                        [](const analysis::LimitBreach& b) {
                          return b.longest_s >= analysis::LimitFollowingEvidence::kPersistS;
                        });
  }
  if (name == "unique_ids") return long_enough && e.timing.bms_frames > 0 && e.conflicts.empty();
  if (name == "acknowledged")
    return long_enough && e.ack.ack_visible && !has(Cause::kNoAck, true) &&
           e.timing.inverter_frames > 0;
  // Time-of-day and temperature patterns need most of a day to show (the hour pattern itself
  // needs 20 h): a shorter capture clears nothing here.
  if (name == "no_environment_pattern")
    return e.correlation.hours_covered >= 20 && !has(Cause::kEmiPowerCorrelated, true) &&
           !has(Cause::kThermalOrTimePattern, true);
  if (name == "no_dropouts")
    return e.timed && e.duration_s >= 600 && e.timing.bms_frames > 0 && e.uptime.dropout_count == 0;
  if (name == "clean_protocol") {
    if (!long_enough || e.timing.bms_frames == 0 || e.protocol.family == "unknown") return false;
    return std::none_of(fs.begin(), fs.end(), [](const Finding& f) {
      return f.layer == Layer::kProtocol && f.severity != Severity::kInfo;
    });
  }
  return false;
}

std::string fact_text(std::string_view name) {
  if (name == "limits_followed") return "the inverter answers and keeps within the BMS's limits";
  if (name == "bms_and_inverter_talk") return "frames from both the BMS and the inverter";
  if (name == "unique_ids") return "each id from one sender";
  if (name == "bms_talks") return "the BMS sends its frames";
  if (name == "acknowledged") return "the frames are acknowledged";
  if (name == "no_environment_pattern") return "no error pattern with current, temperature or time";
  if (name == "no_dropouts") return "no BMS silence longer than the inverter's timeout";
  if (name == "clean_protocol") return "a well-formed protocol without findings";
  return std::string(name);
}

Decision from_answers(const Check& check, const KnowledgeBase& kb, const Answers& a,
                      const LinkInfo& link) {
  Decision d;
  for (const auto& k : check.inputs) {
    if (a.has(k)) continue;
    // The BMS's protocol is known from its model in the knowledge base.
    if (k == "bms_protocol" && check.function == "protocol_match" && !a.bms_model.empty()) {
      const DeviceInfo* b = kb.find_battery(a.bms_model);
      if (b && !b->protocol.empty()) continue;
    }
    d.missing.push_back(k);
  }
  if (check.function == "firmware") return firmware(check, kb, a);
  if (!d.missing.empty()) {
    const bool known = std::any_of(d.missing.begin(), d.missing.end(),
                                   [&](const std::string& k) { return !a.not_known.count(k); });
    if (!known) {
      d.reason = fmt::format("not known: {}", fmt::join(d.missing, ", "));
      d.missing.clear();  // nothing left to ask here
      return d;
    }
    std::erase_if(d.missing, [&](const std::string& k) { return a.not_known.count(k) > 0; });
    d.reason = fmt::format("needs {}", fmt::join(d.missing, ", "));
    return d;
  }
  if (check.inputs.empty() && !check.optional_inputs.empty()) {
    const bool any = std::any_of(check.optional_inputs.begin(), check.optional_inputs.end(),
                                 [&](const std::string& k) { return a.has(k); });
    if (!any) {
      for (const auto& k : check.optional_inputs)
        if (!a.not_known.count(k)) d.missing.push_back(k);
      d.reason =
          d.missing.empty() ? "not known" : fmt::format("needs {}", fmt::join(d.missing, " or "));
      return d;
    }
  }
  if (check.function == "protocol_match") return protocol_match(check, kb, a);
  if (check.function == "pinout") return pinout(check, kb, a, link);
  if (check.function == "termination") return termination(check, kb, a, link);
  Decision out = from_outcomes(check, a);
  if (out.verdict == Verdict::kUnknown) {
    for (const auto& k : check.optional_inputs)
      if (!a.has(k) && !a.not_known.count(k)) out.missing.push_back(k);
  }
  return out;
}

Decision decide(const Check& check, const KnowledgeBase& kb, const Answers& a,
                const GuidedOptions& o, const LinkInfo& link) {
  if (link.bus == "rs485" &&
      std::find(check.buses.begin(), check.buses.end(), "rs485") == check.buses.end()) {
    Decision d;
    d.verdict = Verdict::kSkipped;
    d.reason = "not for an RS485 link";
    return d;
  }
  const bool capture = o.evidence != nullptr && o.findings != nullptr;
  if (capture) {
    for (const auto& f : *o.findings) {
      if (f.severity != Severity::kFault) continue;
      if (std::find(check.capture_confirms.begin(), check.capture_confirms.end(), f.cause) ==
          check.capture_confirms.end())
        continue;
      Decision d;
      d.verdict = Verdict::kFail;
      d.from_capture = true;
      d.cause = check.capture_only || f.cause == check.confirms ? f.cause : check.confirms;
      if (check.capture_only) d.cause = f.cause;
      d.reason = "the capture shows: " + f.title;
      d.fix = f.fix;
      return d;
    }
  }
  if (check.capture_only) {
    Decision d;
    if (capture) {
      for (const auto& name : check.capture_clears) {
        if (!fact(name, *o.evidence, *o.findings)) continue;
        d.verdict = Verdict::kSkipped;
        d.from_capture = true;
        d.reason = "not needed: the capture shows " + fact_text(name);
        return d;
      }
    }
    d.reason = capture ? "the capture cannot decide it" : "needs a capture";
    if (!capture) d.missing = {"capture"};
    return d;
  }
  // What the technician found wins over a capture that did not show it: a capture is a window
  // of time, the answer may be about another one (the cold mornings the capture missed).
  Decision answered = from_answers(check, kb, a, link);
  if (answered.verdict == Verdict::kFail || answered.verdict == Verdict::kPass || !capture)
    return answered;
  for (const auto& name : check.capture_clears) {
    if (!fact(name, *o.evidence, *o.findings)) continue;
    Decision d;
    d.verdict = Verdict::kSkipped;
    d.from_capture = true;
    d.reason = "not needed: the capture shows " + fact_text(name);
    return d;
  }
  return answered;
}

std::string port_line(const DeviceInfo& inverter, const std::string& bus) {
  auto pin = [](const std::optional<int>& x) { return x ? std::to_string(*x) : std::string("?"); };
  if (bus == "rs485" && inverter.rs485_port) {
    const auto& p = *inverter.rs485_port;
    return fmt::format("{} port {}: A {}, B {}{}", inverter.brand, p.port, pin(p.a), pin(p.b),
                       p.gnd ? ", GND " + std::to_string(*p.gnd) : "");
  }
  if (bus == "can" && inverter.can_port)
    return fmt::format("{} port {}: {}", inverter.brand, inverter.can_port->port,
                       port_text(*inverter.can_port));
  return {};
}

// Which link the pair runs: from the menu value answered, else from what the knowledge base says
// the inverter reads of this battery (RS485 only when every value that reads it is RS485).
LinkInfo find_link(const KnowledgeBase& kb, const Answers& a) {
  LinkInfo link;
  const DeviceInfo* inverter = inverter_of(kb, a);
  const DeviceInfo* battery = battery_of(kb, a);
  if (inverter == nullptr) return link;
  auto bus_of = [&](const MenuValue& m) {
    const ProtocolInfo* p = kb.protocol(m.protocol);
    return p && (p->transport == "can" || p->transport == "rs485") ? p->transport : std::string();
  };
  const ProtocolInfo* answered =
      a.has("bms_protocol") ? kb.find_protocol(show(a.values.at("bms_protocol"))) : nullptr;
  // Whether a menu value reads what the battery sends: the protocol answered, else the battery's
  // protocols, else (nothing known of the battery) taken as right.
  auto reads_battery = [&](const MenuValue& m) {
    if (answered) return kb.compatible(m.protocol, answered->id, &m);
    if (battery) return !kb.compatible_with_battery(m.protocol, *battery, &m).empty();
    return true;
  };
  if (a.has("inverter_battery_setting")) {
    const std::string setting = show(a.values.at("inverter_battery_setting"));
    // A setting that reads the battery gives the link; a wrong one does not (the link is then the
    // one the right value runs, below).
    if (const MenuValue* m = named_value(kb, *inverter, setting);
        m && !bus_of(*m).empty() && reads_battery(*m)) {
      const ProtocolInfo* p = kb.protocol(m->protocol);
      link.bus = bus_of(*m);
      link.protocol = m->protocol;
      link.source_class = m->source_class;
      link.reason = fmt::format("the {}'s \"{}\" selects {}", inverter->brand, m->value, p->name);
      link.port = port_line(*inverter, link.bus);
      link.termination_needed = inverter->rs485_port && inverter->rs485_port->termination_needed;
      return link;
    }
  }
  if (battery == nullptr && answered == nullptr) return link;
  std::vector<const MenuValue*> reading;
  for (const auto& m : inverter->battery_settings)
    if (m.reported_for(a.inverter_model) && !bus_of(m).empty() && reads_battery(m))
      reading.push_back(&m);
  if (reading.empty()) return link;
  const bool all_rs485 = std::all_of(reading.begin(), reading.end(),
                                     [&](const MenuValue* m) { return bus_of(*m) == "rs485"; });
  if (!all_rs485) {
    link.bus = "can";
    for (const auto* m : reading)
      if (bus_of(*m) == "can") {
        link.protocol = m->protocol;
        link.source_class = m->source_class;
        link.reason = fmt::format("the {} reads {} on CAN (\"{}\")", inverter->brand,
                                  battery ? battery->family : answered->name, m->value);
        break;
      }
    link.port = port_line(*inverter, link.bus);
    return link;
  }
  const ProtocolInfo* p = kb.protocol(reading.front()->protocol);
  link.bus = "rs485";
  link.protocol = reading.front()->protocol;
  for (const auto* m : reading)
    link.source_class =
        link.source_class ? std::min(*link.source_class, m->source_class) : m->source_class;
  link.reason = fmt::format(
      "the {} {} reads {} over RS485 only ({} = {}), not over CAN: battery RS485 port to the "
      "inverter's RS485 battery port",
      inverter->brand, inverter->family,
      battery ? fmt::format("the {} {}", battery->brand, battery->family) : answered->name,
      quoted_values(reading), p ? p->name : reading.front()->protocol);
  link.port = port_line(*inverter, link.bus);
  link.termination_needed = inverter->rs485_port && inverter->rs485_port->termination_needed;
  return link;
}

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// A question written for CAN, for an RS485 link.
std::string for_rs485(std::string prompt) {
  prompt = replace_all(std::move(prompt), "CAN-H/CAN-L", "A/B");
  prompt = replace_all(std::move(prompt), "CAN-H and CAN-L", "A and B");
  prompt = replace_all(std::move(prompt), "CAN-H, CAN-L and GND", "A, B and GND");
  prompt = replace_all(std::move(prompt), "CAN cable", "RS485 cable");
  prompt = replace_all(std::move(prompt), "CAN screw terminals", "RS485 screw terminals");
  prompt = replace_all(std::move(prompt), "CAN contact", "RS485 contact");
  prompt = replace_all(std::move(prompt), "carries CAN", "carries RS485");
  return prompt;
}

// "next: termination fault — 45 % of your company's calls, 3 min": the order's reason in the
// technician's words.
std::string next_reason(const Check& c, double probability, bool after_passes,
                        const OrderBasis& basis, bool shared_cause) {
  const double percent = probability * 100;
  const std::string share =
      percent >= 10 ? fmt::format("{:.0f} %", percent) : fmt::format("{:.1f} %", percent);
  // The share is this check's own: where several checks confirm one cause (a connection: the
  // terminals, the crimps, ...) the check is named beside it.
  const std::string what = shared_cause
                               ? fmt::format("{} ({})", cause_info(c.confirms).name, c.title)
                               : std::string(cause_info(c.confirms).name);
  const std::string took = fmt::format("{:g} min", c.minutes);
  if (basis.mode == OrderMode::kLearned) {
    // A known-bad pair's check: the pair's own record is the reason.
    if (const auto& bad = basis.known_bad;
        bad && std::find(bad->checks.begin(), bad->checks.end(), c.id) != bad->checks.end()) {
      const std::string record = fmt::format(
          "{} ended on {} in {} of its {} solved cases in your records (compatibility matrix)",
          basis.known_bad_pair, cause_info(bad->cause).name, bad->cases, bad->closed);
      const bool settles = c.id == bad->check || (bad->check.empty() && c.confirms == bad->cause);
      if (settles) return fmt::format("next: {} — {}, {}", what, record, took);
      return fmt::format("next: {} — needed first: {}, {}", what, record, took);
    }
    const std::string whose = basis.group == GroupKind::kCompany
                                  ? std::string("your company's calls")
                                  : fmt::format("your calls on {} ({} closed cases)",
                                                basis.group_name, basis.group_closed);
    return fmt::format("next: {} — {} of {}{}, {}", what, share, whose,
                       after_passes ? " that the checks passed so far leave open" : "", took);
  }
  const std::string why_guide =
      basis.requested == OrderMode::kGuide
          ? std::string("the field guide's order, as asked")
          : fmt::format("the field guide's order ({} closed cases of the {} that teach one)",
                        basis.closed, kMinClosedToLearn);
  return fmt::format("next: {} — {} of the field guide's calls{}, {}; {}", what, share,
                     after_passes ? " left open" : "", took, why_guide);
}

}  // namespace

std::string_view verdict_name(Verdict v) { return kVerdictNames[static_cast<std::size_t>(v)]; }

std::optional<Verdict> parse_verdict(std::string_view name) {
  for (std::size_t i = 0; i < kVerdictNames.size(); ++i)
    if (kVerdictNames[i] == name) return static_cast<Verdict>(i);
  return std::nullopt;
}

bool decided(Verdict v) {
  return v == Verdict::kPass || v == Verdict::kFail || v == Verdict::kMarginal ||
         v == Verdict::kSuspect;
}

nlohmann::json Answers::to_json() const {
  json a = json::object();
  for (const auto& [k, v] : values) a[k] = v;
  for (const auto& k : not_known)
    if (!values.count(k)) a[k] = nullptr;
  if (!minutes.empty()) a["minutes"] = minutes;
  json out = {{"answers", a}};
  for (auto [key, value] : {std::pair{"bms_model", &bms_model},
                            {"inverter_model", &inverter_model},
                            {"bms_firmware", &bms_firmware},
                            {"inverter_firmware", &inverter_firmware},
                            {"capture", &capture}}) {
    if (!value->empty()) out[key] = *value;
  }
  return out;
}

Result<json> parse_input_text(const InputSpec& spec, std::string_view text) {
  const auto v = normalise(spec, json(std::string(text)));
  if (!v)
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{}: expected {}", spec.key, expected(spec)));
  return *v;
}

Result<Answers> parse_answers(std::string_view text, std::string_view name,
                              const CheckCatalogue& catalogue) {
  auto parsed = parse_json(text, name);
  const JsonReader r{std::string(name)};
  auto fail = [&](const std::string& what) { return r.error("", what); };
  if (!parsed)
    return make_error(
        ErrorCode::kMalformed,
        parsed.error().message + ": not valid JSON (an answers file is a JSON object)");
  const json j = std::move(*parsed);
  if (!j.is_object()) return fail("expected a JSON object with \"answers\"");
  Answers out;
  auto device_field = [&](const std::string& key, const json& v) -> Result<void> {
    if (v.is_null()) {  // asked, not known ("-" at the prompt)
      out.not_known.insert(key);
      return {};
    }
    if (!v.is_string()) return r.field_error(key, "expected text or null");
    const std::string s = trim(v.get<std::string>());
    if (key == "bms_model") out.bms_model = s;
    if (key == "inverter_model") out.inverter_model = s;
    if (key == "bms_firmware") out.bms_firmware = s;
    if (key == "inverter_firmware") out.inverter_firmware = s;
    if (key == "capture") out.capture = s;
    return {};
  };
  auto minutes = [&](const json& m) -> Result<void> {
    if (!m.is_object())
      return r.field_error("minutes", "expected an object of check id -> minutes");
    for (const auto& [id, v] : m.items()) {
      if (!catalogue.find(id))
        return r.field_error("minutes", fmt::format("unknown check \"{}\"", id));
      if (!v.is_number() || v.get<double>() < 0 || !std::isfinite(v.get<double>()))
        return r.field_error("minutes." + id, "expected minutes (a number, 0 or more)");
      out.minutes[id] = v.get<double>();
    }
    return {};
  };
  for (const auto& [key, v] : j.items()) {
    if (key == "answers") continue;
    if (key == "minutes") {
      if (auto ok = minutes(v); !ok) return tl::unexpected(ok.error());
      continue;
    }
    if (std::find(kDeviceKeys.begin(), kDeviceKeys.end(), key) == kDeviceKeys.end())
      return fail(
          fmt::format("unknown key \"{}\" (expected answers, bms_model, inverter_model, "
                      "bms_firmware, inverter_firmware, capture)",
                      key));
    if (auto ok = device_field(key, v); !ok) return tl::unexpected(ok.error());
  }
  if (j.contains("answers")) {
    const json& a = j["answers"];
    if (!a.is_object()) return r.field_error("answers", "expected an object");
    for (const auto& [key, v] : a.items()) {
      if (key == "minutes") {
        if (auto ok = minutes(v); !ok) return tl::unexpected(ok.error());
        continue;
      }
      if (std::find(kDeviceKeys.begin(), kDeviceKeys.end(), key) != kDeviceKeys.end()) {
        if (auto ok = device_field(key, v); !ok) return tl::unexpected(ok.error());
        continue;
      }
      const InputSpec* spec = catalogue.input(key);
      if (spec == nullptr) return r.field_error("answers", fmt::format("unknown key \"{}\"", key));
      if (v.is_null()) {  // asked, not known
        out.not_known.insert(key);
        continue;
      }
      const auto n = normalise(*spec, v);
      if (!n)
        return r.field_error("answers." + key,
                             fmt::format("expected {}, got {}", expected(*spec), v.dump()));
      out.values[key] = *n;
    }
  }
  return out;
}

std::vector<const Check*> ordered_checks(const CheckCatalogue& catalogue) {
  return guide_order(catalogue);
}

namespace {

// What a picker offers for one question: a choice's values in words; the inverter's menu values
// from the knowledge base, the one this battery needs marked; the protocols the battery sends.
// Free text stays possible ("other") where the knowledge base may not know every value.
void offer_options(InputSpec& s, const KnowledgeBase& kb, const Answers& a) {
  s.options.clear();
  if (s.type == InputType::kChoice) {
    for (const auto& c : s.choices) {
      const std::string id = c.is_string() ? c.get<std::string>() : c.dump();
      const auto label = s.choice_labels.find(id);
      s.options.push_back({c,
                           label != s.choice_labels.end() ? label->second
                           : s.unit.empty()               ? id
                                                          : id + " " + s.unit,
                           "", false});
    }
    return;
  }
  const DeviceInfo* battery = battery_of(kb, a);
  const ProtocolInfo* bms_proto =
      a.has("bms_protocol") ? kb.find_protocol(show(a.values.at("bms_protocol"))) : nullptr;
  if (!bms_proto && battery && !battery->protocol.empty())
    bms_proto = kb.protocol(battery->protocol);
  if (s.key == "inverter_battery_setting") {
    const DeviceInfo* inverter = inverter_of(kb, a);
    if (inverter == nullptr || inverter->battery_settings.empty()) return;
    std::vector<const MenuValue*> wanted;
    if (bms_proto) wanted = values_for(kb, *inverter, *bms_proto, battery, a.inverter_model);
    for (const auto& m : inverter->battery_settings) {
      const ProtocolInfo* p = kb.protocol(m.protocol);
      const bool needed = std::find(wanted.begin(), wanted.end(), &m) != wanted.end();
      std::string note = p ? p->name : m.protocol;
      if (needed) note += " — what this battery needs";
      s.options.push_back({m.value, m.value, note, needed});
    }
    // Every inverter has a mode that talks to no BMS; installers meet it as "Lead-acid" or "AGM".
    s.options.push_back({"Lead-acid", "Lead-acid / AGM / voltage only",
                         "no communication with the BMS at all", false});
    s.other = true;
  } else if (s.key == "bms_protocol") {
    if (battery == nullptr || battery->protocol.empty()) return;
    std::vector<std::string> ids{battery->protocol};
    for (const auto& p : battery->other_protocols)
      if (std::find(ids.begin(), ids.end(), p) == ids.end()) ids.push_back(p);
    for (const auto& id : ids)
      if (const ProtocolInfo* p = kb.protocol(id))
        s.options.push_back({p->name, p->name,
                             id == battery->protocol ? "the battery's main protocol" : "",
                             id == battery->protocol});
    s.other = true;
  }
}

}  // namespace

GuidedResult run_guided(const CheckCatalogue& catalogue, const KnowledgeBase& kb,
                        const Answers& answers, const GuidedOptions& options) {
  GuidedResult r;
  if (!answers.inverter_model.empty())
    if (const auto* d = kb.find_inverter(answers.inverter_model)) r.inverter_entry = d->id;
  if (!answers.bms_model.empty())
    if (const auto* d = kb.find_battery(answers.bms_model)) r.battery_entry = d->id;
  r.link = find_link(kb, answers);
  if (const DeviceInfo* b =
          answers.bms_model.empty() ? nullptr : kb.find_battery_model(answers.bms_model);
      b && b->pack) {
    r.hardcode = HardcodeHint{b->id, b->pack->cells_series, b->pack->charge_max_v,
                              b->pack->cutoff_min_v, b->pack->source_class};
  }
  const bool capture = options.evidence != nullptr && options.findings != nullptr;
  std::optional<std::size_t> confirmed_at;
  const Check* confirmed_check = nullptr;
  Decision confirmed_decision;
  struct Pending {
    const Check* check;
    Decision decision;
  };
  std::vector<Pending> unknown;
  const CallDevices call = call_devices(kb, answers.inverter_model, answers.bms_model);
  const auto order = check_order(catalogue, options.history, options.order, &r.order, &call);
  for (const Check* c : order) {
    CheckVerdict v;
    v.check = c->id;
    v.layer = c->layer;
    const auto li = static_cast<std::size_t>(layer_number(c->layer) - 1);
    if (confirmed_check != nullptr) {
      v.verdict = Verdict::kSkipped;
      v.reason = fmt::format("stopped: {} is confirmed (layer {})", cause_id(*r.confirmed),
                             layer_number(confirmed_check->layer));
      r.verdicts.push_back(std::move(v));
      continue;
    }
    Decision d = decide(*c, kb, answers, options, r.link);
    v.verdict = d.verdict;
    v.reason = d.reason;
    v.from_capture = d.from_capture;
    v.cause = d.cause;
    v.source_class = d.source_class;
    if (d.verdict == Verdict::kSuspect || d.verdict == Verdict::kMarginal)
      v.fix = d.fix.empty() ? c->fix : d.fix;
    if (d.verdict == Verdict::kSuspect) r.suspects.push_back(v);
    if (d.verdict == Verdict::kMarginal) r.marginal.push_back(v);
    // A check the technician did takes its minutes whatever it decided: "can't tell" too. The
    // case records the same minutes per check (records/session.cc), so the clock and the bars
    // agree.
    bool asked = false;
    for (const auto& k : c->inputs) asked |= answers.has(k) || answers.not_known.count(k) > 0;
    if (decided(d.verdict) || (d.verdict == Verdict::kUnknown && asked)) {
      const auto m = answers.minutes.find(c->id);
      r.minutes[li] += m != answers.minutes.end() ? m->second : d.from_capture ? 0.0 : c->minutes;
    }
    if (d.verdict == Verdict::kUnknown) unknown.push_back({c, d});
    // A setting the knowledge base says is not the one this battery needs stops the walk like a
    // fail: changing a menu value costs a minute, every later layer costs more. It stays a
    // suspicion (tentative): when the change does not bring the link up, the technician corrects
    // the answer to the value now set and the walk goes on from there.
    if (d.verdict == Verdict::kFail || d.verdict == Verdict::kSuspect) {
      r.tentative = d.verdict == Verdict::kSuspect;
      confirmed_check = c;
      confirmed_decision = d;
      r.confirmed = d.cause ? *d.cause : c->confirms;
      r.layer = cause_layer(*r.confirmed).value_or(c->layer);
      confirmed_at = r.verdicts.size();
    }
    r.verdicts.push_back(std::move(v));
  }
  for (std::size_t i = 0; i < 5; ++i) {
    r.budget[i] = catalogue.budget(static_cast<Layer>(i + 1));
    r.budget_max[i] = catalogue.budget_max(static_cast<Layer>(i + 1));
    r.total_minutes += r.minutes[i];
  }
  if (confirmed_check != nullptr) {
    r.confirmed_by = confirmed_check->id;
    r.reason = confirmed_decision.reason;
    if (r.tentative)
      r.reason +=
          ". Most likely this is the cause: change the setting. If the link still does not come "
          "up, correct this answer to the value now set and the checks go on";
    r.fix = confirmed_decision.fix.empty() ? confirmed_check->fix : confirmed_decision.fix;
    r.reverify = confirmed_check->reverify;
    r.technician = confirmed_check->technician;
    r.customer = confirmed_check->customer;
    for (const auto& p : unknown)
      if (!p.check->capture_only) r.still_open.push_back(p.check->id);
    return r;
  }
  // Nothing confirmed: the next check that can be asked, else a capture, else escalate. Its
  // probability is its part of the calls the checks passed so far leave open.
  const auto probability = r.order.probability.empty()
                               ? check_probabilities(catalogue, CaseHistory{})
                               : r.order.probability;
  // A pass, or a skip (not needed after a capture, not for this link), takes its check's mass
  // out; unknown and marginal answers rule nothing out.
  double open_mass = 0, all_mass = 0;
  bool after_passes = false;
  for (const auto& [id, q] : probability) all_mass += q;
  open_mass = all_mass;
  for (const auto& v : r.verdicts) {
    if (v.verdict != Verdict::kPass && v.verdict != Verdict::kSkipped) continue;
    if (const auto it = probability.find(v.check); it != probability.end()) {
      open_mass -= it->second;
      if (it->second > 0 && (v.verdict == Verdict::kPass || v.from_capture)) after_passes = true;
    }
  }
  open_mass = std::max(open_mass, 0.0);
  auto explain = [&](NextStep& n, const Check& c) {
    const auto it = probability.find(c.id);
    n.probability = it == probability.end() || open_mass <= 0 ? 0.0 : it->second / open_mass;
    // A known-bad pair's check of its cause: the pair's own share is the better figure for this
    // call, split over the pair's checks of that cause as the order's probabilities split it.
    if (const auto& bad = r.order.known_bad;
        bad && bad->closed > 0 && c.confirms == bad->cause &&
        std::find(bad->checks.begin(), bad->checks.end(), c.id) != bad->checks.end()) {
      double of_cause = 0;
      for (const auto& id : bad->checks) {
        const Check* k = catalogue.find(id);
        const auto q = probability.find(id);
        if (k != nullptr && k->confirms == bad->cause && q != probability.end())
          of_cause += q->second;
      }
      const double part = of_cause > 0 && it != probability.end() ? it->second / of_cause : 1.0;
      n.probability = part * static_cast<double>(bad->cases) / static_cast<double>(bad->closed);
    }
    n.minutes = c.minutes;
    n.how = c.technician;
    const bool shared = std::count_if(catalogue.checks().begin(), catalogue.checks().end(),
                                      [&](const Check& k) { return k.confirms == c.confirms; }) > 1;
    n.why = next_reason(c, n.probability, after_passes, r.order, shared);
  };
  for (const auto& p : unknown) {
    if (p.check->capture_only) continue;
    NextStep n{p.check->id, p.check->layer, p.check->title, {}, {}, {}, 0, 0};
    explain(n, *p.check);
    // The meter's setup before its reading: asked first whenever the check is asked.
    std::vector<std::string> keys;
    if (!p.decision.missing.empty())
      for (const auto& k : p.check->ask_first)
        if (!answers.has(k) && !answers.not_known.count(k)) keys.push_back(k);
    // Which device is unplugged or measured: before the reading, once the setup says so.
    if (p.check->function == "termination" && answers.has("termination_setup") &&
        answers.values.at("termination_setup") != "all_connected" &&
        !answers.has("termination_device") && !answers.not_known.count("termination_device") &&
        std::find(p.decision.missing.begin(), p.decision.missing.end(), "termination_ohms") !=
            p.decision.missing.end())
      keys.push_back("termination_device");
    for (const auto& k : p.decision.missing)
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    for (const auto& k : keys) {
      if (const InputSpec* s = catalogue.input(k)) {
        InputSpec asked = *s;
        // A prompt worded for what was answered before (the reading for the meter's setup).
        for (const auto& [other, by_value] : s->prompt_by) {
          const auto it = answers.values.find(other);
          if (it == answers.values.end() || !it->second.is_string()) continue;
          if (const auto w = by_value.find(it->second.get<std::string>()); w != by_value.end())
            asked.prompt = w->second;
        }
        // On an RS485 link the two lines are A and B, and the cable is not a CAN cable.
        if (r.link.bus == "rs485") asked.prompt = for_rs485(asked.prompt);
        offer_options(asked, kb, answers);
        n.asks.push_back(std::move(asked));
      } else {
        InputSpec s2;
        s2.key = k;
        s2.type = InputType::kText;
        s2.prompt = k == "bms_firmware"        ? "BMS firmware version"
                    : k == "inverter_firmware" ? "Inverter firmware version"
                                               : k;
        n.asks.push_back(s2);
      }
    }
    if (n.asks.empty()) continue;  // undecidable from answers (no rule matched): not askable
    r.next = std::move(n);
    return r;
  }
  if (!capture && !options.no_capture) {
    // One capture decides every capture-only check; it is asked for under the layer-5 check
    // (the analyzer is the rarest, most expensive tool: last in the method).
    std::stable_sort(unknown.begin(), unknown.end(), [](const Pending& x, const Pending& y) {
      if (x.check->layer != y.check->layer) return x.check->layer > y.check->layer;
      return x.check->minutes > y.check->minutes;  // the analysis itself, not its first look
    });
    for (const auto& p : unknown) {
      if (!p.check->capture_only) continue;
      InputSpec cap;
      cap.key = "capture";
      cap.type = InputType::kText;
      cap.prompt = "A capture of the bus (candump -l, ASC, TRC, CSV, pcap), at least a minute";
      r.next = NextStep{p.check->id, p.check->layer, p.check->title, {cap}, {}, {}, 0, 0};
      explain(*r.next, *p.check);
      // One capture decides every capture-only check still open: its probability is theirs.
      double captured = 0;
      for (const auto& q : unknown) {
        if (!q.check->capture_only) continue;
        if (const auto it = probability.find(q.check->id); it != probability.end())
          captured += it->second;
      }
      r.next->probability = open_mass > 0 ? captured / open_mass : 0.0;
      r.next->minutes = 0;  // what it takes is the capture, done once for every such check
      r.next->why = fmt::format(
          "next: a capture of the bus, which decides {} checks no answer can (layer {})",
          std::count_if(unknown.begin(), unknown.end(),
                        [](const Pending& x) { return x.check->capture_only; }),
          layer_number(p.check->layer));
      return r;
    }
  }
  r.escalate = true;
  return r;
}

nlohmann::json guided_json(const GuidedResult& r) {
  json verdicts = json::array();
  auto verdict_json = [](const CheckVerdict& v) {
    json j = {
        {"check", v.check},
        {"layer", layer_number(v.layer)},
        {"verdict", std::string(verdict_name(v.verdict))},
        {"reason", v.reason},
        {"from_capture", v.from_capture},
        {"cause", v.cause ? json(std::string(cause_id(*v.cause))) : json(nullptr)},
        {"source_class",
         v.source_class ? json(std::string(source_class_name(*v.source_class))) : json(nullptr)}};
    if (!v.fix.empty()) j["fix"] = v.fix;
    return j;
  };
  for (const auto& v : r.verdicts) verdicts.push_back(verdict_json(v));
  json marginal = json::array(), suspects = json::array();
  for (const auto& v : r.marginal) marginal.push_back(verdict_json(v));
  for (const auto& v : r.suspects) suspects.push_back(verdict_json(v));
  json minutes = json::object();
  json budget = json::object();
  json budget_max = json::object();
  json over = json::array();
  for (std::size_t i = 0; i < 5; ++i) {
    const std::string k = std::to_string(i + 1);
    minutes[k] = r.minutes[i];
    budget[k] = r.budget[i];
    budget_max[k] = std::max(r.budget_max[i], r.budget[i]);
    const double top = std::max(r.budget_max[i], r.budget[i]);
    if (top > 0 && r.minutes[i] > top) over.push_back(static_cast<int>(i + 1));
  }
  minutes["total"] = r.total_minutes;
  json next = nullptr;
  if (r.next) {
    json asks = json::array();
    for (const auto& s : r.next->asks) {
      json a = {
          {"key", s.key}, {"type", std::string(input_type_name(s.type))}, {"prompt", s.prompt}};
      if (!s.unit.empty()) a["unit"] = s.unit;
      if (!s.choices.empty()) a["choices"] = s.choices;
      if (s.min) a["min"] = *s.min;
      if (s.max) a["max"] = *s.max;
      if (!s.allow.empty()) a["allow"] = s.allow;
      if (!s.options.empty()) {
        json o = json::array();
        for (const auto& x : s.options)
          o.push_back({{"value", x.value},
                       {"label", x.label},
                       {"note", x.note},
                       {"recommended", x.recommended}});
        a["options"] = std::move(o);
        a["other"] = s.other;
      }
      asks.push_back(std::move(a));
    }
    next = {{"check", r.next->check},
            {"layer", layer_number(r.next->layer)},
            {"title", r.next->title},
            {"asks", asks},
            {"why", r.next->why},
            {"how", r.next->how},
            {"probability", r.next->probability},
            {"minutes", r.next->minutes}};
  }
  auto opt = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  return {
      {"confirmed", r.confirmed ? json(std::string(cause_id(*r.confirmed))) : json(nullptr)},
      {"layer", r.layer ? json(layer_number(*r.layer)) : json(nullptr)},
      {"layer_name", r.layer ? json(std::string(layer_name(*r.layer))) : json(nullptr)},
      {"confirmed_by", opt(r.confirmed_by)},
      {"reason", opt(r.reason)},
      {"fix", opt(r.fix)},
      {"reverify", opt(r.reverify)},
      {"explain", {{"technician", opt(r.technician)}, {"customer", opt(r.customer)}}},
      {"verdicts", verdicts},
      {"order",
       {{"mode", std::string(order_mode_name(r.order.mode))},
        {"requested", std::string(order_mode_name(r.order.requested))},
        {"closed_cases", r.order.closed},
        {"group",
         {{"kind", std::string(group_kind_name(r.order.group))},
          {"name", r.order.group == GroupKind::kCompany ? json(nullptr) : json(r.order.group_name)},
          {"closed_cases", r.order.group_closed}}},
        {"known_bad",
         r.order.known_bad
             ? json{{"cause", std::string(cause_id(r.order.known_bad->cause))},
                    {"check", r.order.known_bad->check.empty() ? json(nullptr)
                                                               : json(r.order.known_bad->check)},
                    {"checks", r.order.known_bad->checks},
                    {"pair", r.order.known_bad_pair},
                    {"cases", r.order.known_bad->cases},
                    {"closed_cases", r.order.known_bad->closed}}
             : json(nullptr)}}},
      {"next", next},
      {"minutes", minutes},
      {"budget", budget},
      {"budget_max", budget_max},
      {"over_budget", over},
      {"link",
       r.link.bus.empty()
           ? json(nullptr)
           : json{{"bus", r.link.bus},
                  {"protocol", r.link.protocol},
                  {"reason", r.link.reason},
                  {"port", opt(r.link.port)},
                  {"source_class", r.link.source_class
                                       ? json(std::string(source_class_name(*r.link.source_class)))
                                       : json(nullptr)}}},
      {"marginal", marginal},
      {"suspects", suspects},
      {"hardcode",
       r.hardcode ? json{{"battery", r.hardcode->battery},
                         {"cells_series", r.hardcode->cells_series},
                         {"charge_max_v", r.hardcode->charge_max_v ? json(*r.hardcode->charge_max_v)
                                                                   : json(nullptr)},
                         {"cutoff_min_v", r.hardcode->cutoff_min_v ? json(*r.hardcode->cutoff_min_v)
                                                                   : json(nullptr)},
                         {"source_class",
                          r.hardcode->source_class
                              ? json(std::string(source_class_name(*r.hardcode->source_class)))
                              : json(nullptr)}}
                  : json(nullptr)},
      {"still_open", r.still_open},
      {"tentative", r.tentative},
      {"devices", {{"inverter", opt(r.inverter_entry)}, {"battery", opt(r.battery_entry)}}},
      {"escalate", r.escalate}};
}

}  // namespace bmslink::diagnosis
