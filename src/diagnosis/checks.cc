// Reading the check catalogue. Every rule is validated when the file is read (operators, input
// names, verdicts, causes), so evaluation never meets a malformed rule.

#include "bmslink/diagnosis/checks.h"

#include "bmslink/core/json.h"

#include <algorithm>
#include <array>
#include <set>

#include <fmt/format.h>

#include "diagnosis/embedded_data.h"

namespace bmslink::diagnosis {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 5> kTypeNames = {"text", "number", "choice", "yes_no",
                                                        "list"};

std::optional<InputType> parse_type(std::string_view s) {
  for (std::size_t i = 0; i < kTypeNames.size(); ++i)
    if (kTypeNames[i] == s) return static_cast<InputType>(i);
  return std::nullopt;
}

const std::vector<std::string_view> kFacts = {
    "limits_followed", "bms_and_inverter_talk",  "unique_ids",  "bms_talks",
    "acknowledged",    "no_environment_pattern", "no_dropouts", "clean_protocol"};

constexpr std::array<std::string_view, 4> kFunctions = {"protocol_match", "pinout", "firmware",
                                                        "termination"};

// Operators a condition may use besides all/any/not.
constexpr std::array<std::string_view, 10> kOps = {
    "is",       "in",      "between",      "above",    "below",
    "at_least", "at_most", "equals_input", "distinct", "size_equals_input"};

Result<void> check_condition(const JsonReader& r, const json& c, const std::string& where,
                             const std::map<std::string, InputSpec>& inputs) {
  if (!c.is_object() || c.empty()) return r.error(where, "a condition must be an object");
  if (c.contains("all") || c.contains("any")) {
    const json& list = c.contains("all") ? c["all"] : c["any"];
    if (!list.is_array() || list.empty())
      return r.error(where, "\"all\"/\"any\" take a non-empty list of conditions");
    for (const auto& sub : list) {
      if (auto ok = check_condition(r, sub, where, inputs); !ok) return ok;
    }
    return {};
  }
  if (c.contains("not")) return check_condition(r, c["not"], where, inputs);
  if (!c.contains("input") || !c["input"].is_string())
    return r.error(where, "a condition names an \"input\"");
  const auto key = c["input"].get<std::string>();
  if (!inputs.count(key)) return r.error(where, fmt::format("unknown input \"{}\"", key));
  int ops = 0;
  for (const auto& [k, v] : c.items()) {
    if (k == "input") continue;
    if (std::find(kOps.begin(), kOps.end(), k) == kOps.end())
      return r.error(where, fmt::format("unknown operator \"{}\"", k));
    ++ops;
    if ((k == "above" || k == "below" || k == "at_least" || k == "at_most") && !v.is_number())
      return r.error(where, fmt::format("\"{}\" takes a number", k));
    if (k == "between" &&
        !(v.is_array() && v.size() == 2 && v[0].is_number() && v[1].is_number() && v[0] <= v[1]))
      return r.error(where, "\"between\" takes [low, high]");
    if (k == "in" && !v.is_array()) return r.error(where, "\"in\" takes a list");
    if ((k == "equals_input" || k == "size_equals_input") &&
        !(v.is_string() && inputs.count(v.get<std::string>())))
      return r.error(where, fmt::format("\"{}\" names another input", k));
    if (k == "distinct" && !v.is_boolean()) return r.error(where, "\"distinct\" takes true/false");
  }
  if (ops != 1) return r.error(where, "a condition has exactly one operator");
  return {};
}

Result<InputSpec> read_input(const JsonReader& r, const std::string& key, const json& j) {
  const std::string where = "input " + key;
  if (!j.is_object()) return r.error(where, "must be an object");
  InputSpec s;
  s.key = key;
  auto type = r.text(j, "type", where, true);
  if (!type) return tl::unexpected(type.error());
  const auto t = parse_type(*type);
  if (!t) return r.error(where, "\"type\" is one of text, number, choice, yes_no, list");
  s.type = *t;
  auto unit = r.text(j, "unit", where, false);
  auto prompt = r.text(j, "prompt", where, false);
  if (!unit || !prompt) return tl::unexpected(!unit ? unit.error() : prompt.error());
  s.unit = *unit;
  s.prompt = *prompt;
  if (j.contains("choices")) {
    if (!j["choices"].is_array() || j["choices"].empty())
      return r.error(where, "\"choices\" is a non-empty list");
    for (const auto& c : j["choices"]) s.choices.push_back(c);
  }
  if (s.type == InputType::kChoice && s.choices.empty())
    return r.error(where, "a choice needs \"choices\"");
  if (j.contains("min")) s.min = j["min"].is_number() ? j["min"].get<double>() : s.min;
  if (j.contains("max")) s.max = j["max"].is_number() ? j["max"].get<double>() : s.max;
  auto allow = r.strings(j, "allow", where);
  if (!allow) return tl::unexpected(allow.error());
  s.allow = *allow;
  if (j.contains("default")) s.default_value = j["default"];
  if (j.contains("prompt_by")) {
    const json& by = j["prompt_by"];
    if (!by.is_object()) return r.error(where, "\"prompt_by\" is {input: {value: prompt}}");
    for (const auto& [other, values] : by.items()) {
      if (!values.is_object()) return r.error(where, "\"prompt_by\" is {input: {value: prompt}}");
      for (const auto& [value, text] : values.items()) {
        if (!text.is_string()) return r.error(where, "\"prompt_by\" prompts are text");
        s.prompt_by[other][value] = text.get<std::string>();
      }
    }
  }
  if (j.contains("choice_labels")) {
    const json& labels = j["choice_labels"];
    if (!labels.is_object()) return r.error(where, "\"choice_labels\" is {choice: words}");
    for (const auto& [value, text] : labels.items()) {
      if (!text.is_string()) return r.error(where, "\"choice_labels\" are text");
      s.choice_labels[value] = text.get<std::string>();
    }
  }
  s.integer = j.value("integer", false);
  s.magnitude = j.value("magnitude", false);
  auto items = r.text(j, "items", where, false);
  if (!items) return tl::unexpected(items.error());
  s.items = *items;
  return s;
}

Result<Cause> read_cause(const JsonReader& r, const json& j, const char* key,
                         const std::string& where) {
  auto id = r.text(j, key, where, true);
  if (!id) return tl::unexpected(id.error());
  const auto c = parse_cause(*id);
  if (!c || is_note(*c)) return r.error(where, fmt::format("unknown cause id \"{}\"", *id));
  return *c;
}

// The termination rule's bands, in ohms: "correct" [low, high] around 60 (two terminators),
// "one" around 120, "three" around 40, "short_below" and "open_above".
Result<void> check_termination_params(const JsonReader& r, const json& p,
                                      const std::string& where) {
  for (const char* band : {"correct", "one", "three"}) {
    if (!p.contains(band) || !p[band].is_array() || p[band].size() != 2 ||
        !p[band][0].is_number() || !p[band][1].is_number() || p[band][0] > p[band][1])
      return r.error(where,
                     fmt::format("the termination rule needs \"{}\": [low, high] in ohms", band));
  }
  for (const char* limit : {"short_below", "open_above"})
    if (!p.contains(limit) || !p[limit].is_number())
      return r.error(where, fmt::format("the termination rule needs \"{}\" in ohms", limit));
  return {};
}

Result<Check> read_check(const JsonReader& r, const json& j,
                         const std::map<std::string, InputSpec>& inputs) {
  Check c;
  auto id = r.text(j, "id", "a check", true);
  if (!id) return tl::unexpected(id.error());
  c.id = *id;
  const std::string where = "check " + c.id;
  auto layer = r.number_or(j, "layer", where, std::nullopt);
  if (!layer) return tl::unexpected(layer.error());
  const auto l = layer_from_number(static_cast<int>(*layer));
  if (!l || *layer != static_cast<int>(*layer)) return r.error(where, "\"layer\" is 1 to 5");
  c.layer = *l;
  for (auto [field, key, required] :
       {std::tuple{&c.title, "title", true}, std::tuple{&c.fix, "fix", true},
        std::tuple{&c.technician, "technician", true}, std::tuple{&c.customer, "customer", true},
        std::tuple{&c.reverify, "reverify", false}}) {
    auto v = r.text(j, key, where, required);
    if (!v) return tl::unexpected(v.error());
    *field = *v;
  }
  auto minutes = r.number_or(j, "minutes", where, 0.0);
  auto likelihood = r.number_or(j, "likelihood", where, 0.0);
  if (!minutes || !likelihood)
    return tl::unexpected(!minutes ? minutes.error() : likelihood.error());
  if (*minutes < 0 || *likelihood < 0)
    return r.error(where, "\"minutes\" and \"likelihood\" are not negative");
  c.minutes = *minutes;
  c.likelihood = *likelihood;
  auto ins = r.strings(j, "inputs", where);
  auto opt = r.strings(j, "optional_inputs", where);
  if (!ins || !opt) return tl::unexpected(!ins ? ins.error() : opt.error());
  c.inputs = *ins;
  c.optional_inputs = *opt;
  for (const auto& k : c.inputs)
    if (!inputs.count(k)) return r.error(where, fmt::format("unknown input \"{}\"", k));
  for (const auto& k : c.optional_inputs)
    if (!inputs.count(k)) return r.error(where, fmt::format("unknown input \"{}\"", k));
  auto first = r.strings(j, "ask_first", where);
  auto buses = r.strings(j, "applies_to", where);
  auto former = r.strings(j, "former_ids", where);
  auto needs = r.strings(j, "needs", where);
  if (!first || !buses || !former || !needs)
    return tl::unexpected(!first    ? first.error()
                          : !buses  ? buses.error()
                          : !former ? former.error()
                                    : needs.error());
  c.needs = *needs;
  for (const auto& k : *first)
    if (std::find(c.optional_inputs.begin(), c.optional_inputs.end(), k) == c.optional_inputs.end())
      return r.error(where, fmt::format("\"ask_first\" names \"{}\", which is not one of its "
                                        "optional inputs",
                                        k));
  c.ask_first = *first;
  if (j.contains("applies_to")) {
    for (const auto& b : *buses)
      if (b != "can" && b != "rs485")
        return r.error(where, "\"applies_to\" lists links: \"can\", \"rs485\"");
    if (buses->empty()) return r.error(where, "\"applies_to\" lists at least one link");
    c.buses = *buses;
  }
  c.former_ids = *former;
  c.capture_only = j.value("capture_only", false);
  auto cause = read_cause(r, j, "confirms", where);
  if (!cause) return tl::unexpected(cause.error());
  c.confirms = *cause;
  if (j.contains("capture")) {
    const json& cap = j["capture"];
    auto confirms = r.strings(cap, "confirms", where + " capture");
    auto clears = r.strings(cap, "clears", where + " capture");
    if (!confirms || !clears) return tl::unexpected(!confirms ? confirms.error() : clears.error());
    for (const auto& id2 : *confirms) {
      const auto cc = parse_cause(id2);
      if (!cc || is_note(*cc)) return r.error(where, fmt::format("unknown cause id \"{}\"", id2));
      c.capture_confirms.push_back(*cc);
    }
    for (const auto& f : *clears) {
      if (std::find(kFacts.begin(), kFacts.end(), f) == kFacts.end())
        return r.error(where, fmt::format("unknown capture fact \"{}\"", f));
    }
    c.capture_clears = *clears;
  }
  if (j.contains("rule")) {
    const json& rule = j["rule"];
    if (rule.contains("function")) {
      if (!rule["function"].is_string()) return r.error(where, "\"function\" must be a string");
      c.function = rule["function"].get<std::string>();
      if (std::find(kFunctions.begin(), kFunctions.end(), c.function) == kFunctions.end())
        return r.error(where, fmt::format("unknown rule function \"{}\"", c.function));
      c.params = rule;
      c.params.erase("function");
      // What each rule in code reads: it must be among the check's inputs, of the right type.
      static const std::map<std::string, std::pair<std::string, InputType>> kNeeds = {
          {"protocol_match", {"inverter_battery_setting", InputType::kText}},
          {"pinout", {"rj45_pinout_matches", InputType::kYesNo}},
          {"termination", {"termination_ohms", InputType::kNumber}}};
      if (auto need = kNeeds.find(c.function); need != kNeeds.end()) {
        const auto& [key, type] = need->second;
        const auto spec = inputs.find(key);
        if (std::find(c.inputs.begin(), c.inputs.end(), key) == c.inputs.end() ||
            spec == inputs.end() || spec->second.type != type)
          return r.error(
              where, fmt::format("the rule \"{}\" needs \"{}\" ({}) among its inputs", c.function,
                                 key, kTypeNames[static_cast<std::size_t>(type)]));
      }
      if (c.function == "termination") {
        if (auto ok = check_termination_params(r, c.params, where); !ok)
          return tl::unexpected(ok.error());
      }
    } else {
      if (!rule.contains("outcomes") || !rule["outcomes"].is_array() || rule["outcomes"].empty())
        return r.error(where, "a rule has \"outcomes\" or a \"function\"");
      std::size_t n = 0;
      for (const auto& o : rule["outcomes"]) {
        const std::string at = fmt::format("{} outcome {}", where, ++n);
        if (!o.is_object()) return r.error(at, "must be an object");
        const std::string verdict = o.value("verdict", "");
        if (verdict != "pass" && verdict != "fail" && verdict != "unknown" && verdict != "marginal")
          return r.error(at, "\"verdict\" is pass, fail, marginal or unknown");
        if (!o.contains("reason") || !o["reason"].is_string())
          return r.error(at, "\"reason\" is missing");
        if (o.contains("confirms")) {
          auto oc = read_cause(r, o, "confirms", at);
          if (!oc) return tl::unexpected(oc.error());
        }
        if (o.value("otherwise", false)) continue;
        if (!o.contains("when")) return r.error(at, "needs \"when\" or \"otherwise\": true");
        if (auto ok = check_condition(r, o["when"], at, inputs); !ok)
          return tl::unexpected(ok.error());
      }
      c.outcomes = rule["outcomes"];
    }
  } else if (!c.capture_only) {
    return r.error(where, "a check that is not capture_only needs a \"rule\"");
  }
  return c;
}

}  // namespace

std::string_view input_type_name(InputType type) {
  return kTypeNames[static_cast<std::size_t>(type)];
}

const std::vector<std::string_view>& capture_fact_names() { return kFacts; }

Result<CheckCatalogue> CheckCatalogue::parse(std::string_view text, std::string_view name,
                                             const CheckCatalogue* base) {
  const JsonReader r{std::string(name)};
  auto parsed = parse_json(text, name);
  if (!parsed) return tl::unexpected(parsed.error());
  json j = std::move(*parsed);
  if (!j.is_object())
    return make_error(ErrorCode::kMalformed,
                      fmt::format("{}: not a JSON object (a check catalogue)", name));
  CheckCatalogue out;
  std::map<std::string, InputSpec> known = base != nullptr ? base->inputs_ : decltype(known){};
  if (j.contains("layers")) {
    if (!j["layers"].is_array()) return r.error("layers", "must be a list");
    for (const auto& l : j["layers"]) {
      if (!l.is_object() || !l.contains("layer") || !l["layer"].is_number_integer())
        return r.error("layers", "\"layer\" is 1 to 5");
      const auto n = l["layer"].get<int>();
      const auto layer = layer_from_number(n);
      if (!layer) return r.error("layers", "\"layer\" is 1 to 5");
      if (!l.is_object()) return r.error("layers", "each layer is an object");
      for (const char* k : {"budget_minutes", "budget_max_minutes"})
        if (l.contains(k) && !(l[k].is_number() && l[k].get<double>() >= 0))
          return r.error("layers", fmt::format("\"{}\" is minutes, 0 or more", k));
      if (l.contains("name") && !l["name"].is_string())
        return r.error("layers", "\"name\" must be a string");
      const double budget = l.value("budget_minutes", 0.0);
      const double top = l.value("budget_max_minutes", budget);
      if (top < budget)
        return r.error("layers", "\"budget_max_minutes\" is not below \"budget_minutes\"");
      out.layers_.push_back(
          {*layer, l.value("name", std::string(layer_name(*layer))), budget, top});
    }
  }
  if (j.contains("inputs")) {
    if (!j["inputs"].is_object()) return r.error("inputs", "must be an object");
    for (const auto& [key, spec] : j["inputs"].items()) {
      auto s = read_input(r, key, spec);
      if (!s) return tl::unexpected(s.error());
      out.inputs_[key] = *s;
      known[key] = *s;
    }
  }
  if (j.contains("checks")) {
    if (!j["checks"].is_array()) return r.error("checks", "must be a list");
    for (const auto& c : j["checks"]) {
      if (!c.is_object()) return r.error("checks", "each check is an object");
      auto check = read_check(r, c, known);
      if (!check) return tl::unexpected(check.error());
      if (out.find(check->id)) return r.error("check " + check->id, "the id is used twice");
      out.checks_.push_back(std::move(*check));
    }
  }
  for (const auto& c : out.checks_) {
    for (const auto& n : c.needs) {
      if (n == c.id) return r.error("check " + c.id, "\"needs\" names the check itself");
      if (out.find(n) == nullptr && (base == nullptr || base->find(n) == nullptr))
        return r.error("check " + c.id,
                       fmt::format("\"needs\" names \"{}\", which is no check", n));
    }
  }
  // A loop of needs (a needs b, b needs a) would leave its checks no place: refused.
  auto lookup = [&](const std::string& id) -> const Check* {
    if (const Check* k = out.find(id)) return k;
    return base != nullptr ? base->find(id) : nullptr;
  };
  for (const auto& c : out.checks_) {
    std::set<std::string> seen;
    std::vector<std::string> stack(c.needs.begin(), c.needs.end());
    while (!stack.empty()) {
      const std::string id = std::move(stack.back());
      stack.pop_back();
      if (id == c.id)
        return r.error("check " + c.id, "\"needs\" leads back to the check itself (a loop)");
      if (!seen.insert(id).second) continue;
      if (const Check* k = lookup(id)) stack.insert(stack.end(), k->needs.begin(), k->needs.end());
    }
  }
  return out;
}

Result<void> CheckCatalogue::add(const CheckCatalogue& more) {
  for (const auto& [k, v] : more.inputs_) inputs_[k] = v;
  for (const auto& l : more.layers_) {
    auto it = std::find_if(layers_.begin(), layers_.end(),
                           [&](const LayerInfo& x) { return x.layer == l.layer; });
    if (it != layers_.end())
      *it = l;
    else
      layers_.push_back(l);
  }
  for (const auto& c : more.checks_) {
    auto it =
        std::find_if(checks_.begin(), checks_.end(), [&](const Check& x) { return x.id == c.id; });
    if (it != checks_.end())
      *it = c;
    else
      checks_.push_back(c);
  }
  return {};
}

const Check* CheckCatalogue::find(std::string_view id) const {
  for (const auto& c : checks_)
    if (c.id == id) return &c;
  for (const auto& c : checks_)
    if (std::find(c.former_ids.begin(), c.former_ids.end(), id) != c.former_ids.end()) return &c;
  return nullptr;
}

const InputSpec* CheckCatalogue::input(std::string_view key) const {
  auto it = inputs_.find(std::string(key));
  return it == inputs_.end() ? nullptr : &it->second;
}

double CheckCatalogue::budget(Layer layer) const {
  for (const auto& l : layers_)
    if (l.layer == layer) return l.budget_minutes;
  return 0;
}

double CheckCatalogue::budget_max(Layer layer) const {
  for (const auto& l : layers_)
    if (l.layer == layer) return std::max(l.budget_max_minutes, l.budget_minutes);
  return 0;
}

Result<CheckCatalogue> CheckCatalogue::builtin() {
  CheckCatalogue all;
  for (const auto& [name, text] : detail::embedded_checks()) {
    // A later file may use inputs an earlier one declared: read each against what came before.
    auto one = parse(text, name, &all);
    if (!one) return tl::unexpected(one.error());
    if (auto ok = all.add(*one); !ok) return tl::unexpected(ok.error());
  }
  return all;
}

}  // namespace bmslink::diagnosis
