// Reading the device knowledge base. Known fields are type-checked and errors name the file, the
// entry and the field; fields the code does not use stay in `raw` for the API's pickers.

#include "bmslink/diagnosis/devices.h"

#include "bmslink/core/json.h"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "diagnosis/embedded_data.h"

namespace bmslink::diagnosis {
namespace {

using nlohmann::json;

// "source_class": absent leaves `declared` empty; a name that is no class is an error.
bool read_source_class(const json& j, std::optional<SourceClass>& declared) {
  if (!j.contains("source_class") || j["source_class"].is_null()) return true;
  if (!j["source_class"].is_string()) return false;
  declared = parse_source_class(j["source_class"].get<std::string>());
  return declared.has_value();
}

// A list of protocol ids, written as strings or as {"protocol": id, ...} objects.
bool protocol_list(const json& j, const char* key, std::vector<std::string>& out) {
  if (!j.contains(key) || j[key].is_null()) return true;
  if (!j[key].is_array()) return false;
  for (const auto& v : j[key]) {
    if (v.is_string()) {
      out.push_back(v.get<std::string>());
    } else if (v.is_object() && v.contains("protocol") && v["protocol"].is_string()) {
      out.push_back(v["protocol"].get<std::string>());
    } else {
      return false;
    }
  }
  return true;
}

constexpr std::array<std::string_view, 4> kClassNames = {
    "emulator_report", "installer_report", "vendor_compatibility_list", "vendor_manual"};
constexpr std::array<std::string_view, 4> kClassCaveats = {
    "reported by users of an emulator, not of the genuine device; confirm on the inverter's "
    "manual",
    "reported by installers, not by the maker; confirm on the inverter's manual",
    "from the maker's compatibility list", "from a vendor's manual"};

#define BMSLINK_FIELD(call, where, key)                                                \
  do {                                                                                 \
    if (!(call)) return r.error(where, fmt::format("\"{}\" has the wrong type", key)); \
  } while (0)

Result<ProtocolInfo> read_protocol(const JsonReader& r, const json& j) {
  ProtocolInfo p;
  if (!j.is_object() || !r.get(j, "id", p.id) || p.id.empty())
    return r.error("protocols", "each protocol has a string \"id\"");
  const std::string where = "protocol " + p.id;
  BMSLINK_FIELD(r.get(j, "name", p.name), where, "name");
  BMSLINK_FIELD(r.get(j, "transport", p.transport), where, "transport");
  BMSLINK_FIELD(r.get(j, "bitrate_kbps", p.bitrate_kbps), where, "bitrate_kbps");
  BMSLINK_FIELD(r.get(j, "aliases", p.aliases), where, "aliases");
  BMSLINK_FIELD(protocol_list(j, "interoperates_with", p.interoperates_with), where,
                "interoperates_with");
  BMSLINK_FIELD(r.get(j, "note", p.note), where, "note");
  BMSLINK_FIELD(r.get(j, "sources", p.sources), where, "sources");
  BMSLINK_FIELD(r.get(j, "confidence", p.confidence), where, "confidence");
  std::optional<SourceClass> declared;
  if (!read_source_class(j, declared))
    return r.error(where,
                   "\"source_class\" is one of emulator_report, installer_report, "
                   "vendor_compatibility_list, vendor_manual");
  if (j.contains("voltage_only") && !j["voltage_only"].is_boolean())
    return r.error(where, "\"voltage_only\" is true or false");
  p.voltage_only = j.value("voltage_only", false) || p.transport == "none";
  return p;
}

Result<CanPort> read_port(const JsonReader& r, const json& j, const std::string& where) {
  CanPort port;
  if (!j.is_object()) return r.error(where, "\"can_port\" is an object");
  BMSLINK_FIELD(r.get(j, "port", port.port), where, "can_port.port");
  BMSLINK_FIELD(r.get(j, "can_h", port.can_h), where, "can_port.can_h");
  BMSLINK_FIELD(r.get(j, "can_l", port.can_l), where, "can_port.can_l");
  BMSLINK_FIELD(r.get(j, "gnd", port.gnd), where, "can_port.gnd");
  BMSLINK_FIELD(r.get(j, "note", port.note), where, "can_port.note");
  return port;
}

Result<Rs485Port> read_rs485(const JsonReader& r, const json& j, const std::string& where) {
  Rs485Port port;
  if (!j.is_object()) return r.error(where, "\"rs485_port\" is an object");
  BMSLINK_FIELD(r.get(j, "port", port.port), where, "rs485_port.port");
  BMSLINK_FIELD(r.get(j, "a", port.a), where, "rs485_port.a");
  BMSLINK_FIELD(r.get(j, "b", port.b), where, "rs485_port.b");
  BMSLINK_FIELD(r.get(j, "gnd", port.gnd), where, "rs485_port.gnd");
  BMSLINK_FIELD(r.get(j, "note", port.note), where, "rs485_port.note");
  if (j.contains("termination_needed") && !j["termination_needed"].is_null()) {
    if (!j["termination_needed"].is_boolean())
      return r.error(where, "\"rs485_port.termination_needed\" is true or false");
    port.termination_needed = j["termination_needed"].get<bool>();
  }
  return port;
}

// "pack": cells in series (required) and the maker's voltages, with sources.
Result<PackFacts> read_pack(const JsonReader& r, const json& j, const std::string& where) {
  PackFacts p;
  if (!j.is_object()) return r.error(where, "\"pack\" is an object");
  std::optional<int> cells;
  if (!r.get(j, "cells_series", cells) || !cells || *cells < 1 || *cells > 400)
    return r.error(where, "\"pack.cells_series\" is the number of cells in series (1 to 400)");
  p.cells_series = *cells;
  BMSLINK_FIELD(r.get(j, "nominal_v", p.nominal_v), where, "pack.nominal_v");
  BMSLINK_FIELD(r.get(j, "charge_max_v", p.charge_max_v), where, "pack.charge_max_v");
  BMSLINK_FIELD(r.get(j, "cutoff_min_v", p.cutoff_min_v), where, "pack.cutoff_min_v");
  for (const auto& v : {p.nominal_v, p.charge_max_v, p.cutoff_min_v})
    if (v && !(*v > 0 && *v < 2000)) return r.error(where, "\"pack\" voltages are volts above 0");
  if (p.charge_max_v && p.cutoff_min_v && *p.charge_max_v <= *p.cutoff_min_v)
    return r.error(where, "\"pack.charge_max_v\" is above \"pack.cutoff_min_v\"");
  BMSLINK_FIELD(r.get(j, "sources", p.sources), where, "pack.sources");
  if (p.sources.empty()) return r.error(where, "\"pack\" cites its \"sources\"");
  return p;
}

Result<std::vector<FirmwareIssue>> read_issues(const JsonReader& r, const json& j,
                                               const std::string& where) {
  std::vector<FirmwareIssue> out;
  if (!j.contains("firmware_issues") || j["firmware_issues"].is_null()) return out;
  if (!j["firmware_issues"].is_array()) return r.error(where, "\"firmware_issues\" is a list");
  for (const auto& f : j["firmware_issues"]) {
    FirmwareIssue i;
    if (!f.is_object()) return r.error(where, "each firmware issue is an object");
    BMSLINK_FIELD(r.get(f, "firmware", i.firmware), where, "firmware_issues.firmware");
    std::string inverter;
    BMSLINK_FIELD(r.get(f, "inverter", inverter), where, "firmware_issues.inverter");
    BMSLINK_FIELD(r.get(f, "device", i.device), where, "firmware_issues.device");
    if (i.device.empty()) i.device = inverter;
    BMSLINK_FIELD(r.get(f, "issue", i.issue), where, "firmware_issues.issue");
    if (f.contains("breaks_comms") && !f["breaks_comms"].is_boolean())
      return r.error(where, "\"firmware_issues.breaks_comms\" is true or false");
    i.breaks_comms = f.value("breaks_comms", false);
    BMSLINK_FIELD(r.get(f, "sources", i.sources), where, "firmware_issues.sources");
    BMSLINK_FIELD(r.get(f, "confidence", i.confidence), where, "firmware_issues.confidence");
    out.push_back(std::move(i));
  }
  return out;
}

// A note field that may be text or an object with a "note".
std::string note_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("note") && v["note"].is_string())
    return v["note"].get<std::string>();
  return {};
}

Result<DeviceInfo> read_device(const JsonReader& r, const json& j, DeviceInfo::Kind kind) {
  DeviceInfo d;
  d.kind = kind;
  const char* list = kind == DeviceInfo::Kind::kInverter ? "inverters" : "batteries";
  if (!j.is_object() || !r.get(j, "id", d.id) || d.id.empty())
    return r.error(list, "each entry has a string \"id\"");
  const std::string where =
      std::string(kind == DeviceInfo::Kind::kInverter ? "inverter " : "battery ") + d.id;
  d.raw = j;
  BMSLINK_FIELD(r.get(j, "brand", d.brand), where, "brand");
  BMSLINK_FIELD(r.get(j, "family", d.family), where, "family");
  BMSLINK_FIELD(r.get(j, "models", d.models), where, "models");
  BMSLINK_FIELD(r.get(j, "match", d.match), where, "match");
  for (auto& m : d.match) m = normalized_name(m);
  BMSLINK_FIELD(r.get(j, "menu", d.menu), where, "menu");
  BMSLINK_FIELD(r.get(j, "protocol", d.protocol), where, "protocol");
  BMSLINK_FIELD(r.get(j, "pin_trap", d.pin_trap), where, "pin_trap");
  BMSLINK_FIELD(r.get(j, "sources", d.sources), where, "sources");
  BMSLINK_FIELD(r.get(j, "confidence", d.confidence), where, "confidence");
  BMSLINK_FIELD(r.get(j, "max_parallel", d.max_parallel), where, "max_parallel");
  if (j.contains("bitrate_kbps") && !j["bitrate_kbps"].is_null()) {
    const json& b = j["bitrate_kbps"];
    if (b.is_number_integer()) {
      d.bitrate_kbps.push_back(b.get<int>());
    } else if (b.is_array()) {
      for (const auto& x : b) {
        if (!x.is_number_integer()) return r.error(where, "\"bitrate_kbps\" holds numbers");
        d.bitrate_kbps.push_back(x.get<int>());
      }
    } else {
      return r.error(where, "\"bitrate_kbps\" is a number or a list of numbers");
    }
  }
  if (j.contains("battery_settings") && !j["battery_settings"].is_null()) {
    if (!j["battery_settings"].is_array()) return r.error(where, "\"battery_settings\" is a list");
    for (const auto& v : j["battery_settings"]) {
      MenuValue m;
      if (!v.is_object() || !r.get(v, "value", m.value) || m.value.empty() ||
          !r.get(v, "protocol", m.protocol) || m.protocol.empty() || !r.get(v, "note", m.note) ||
          !protocol_list(v, "accepts", m.accepts) || !r.get(v, "bitrate_kbps", m.bitrate_kbps))
        return r.error(where, "each battery setting has a \"value\" and a \"protocol\"");
      BMSLINK_FIELD(r.get(v, "sources", m.sources), where + " setting \"" + m.value + "\"",
                    "sources");
      if (std::optional<SourceClass> c; !read_source_class(v, c))
        return r.error(where + " setting \"" + m.value + "\"",
                       "\"source_class\" is one of emulator_report, installer_report, "
                       "vendor_compatibility_list, vendor_manual");
      if (v.contains("models") && !v["models"].is_null()) {
        if (!v["models"].is_array())
          return r.error(where, fmt::format("battery setting \"{}\": \"models\" is a list of "
                                            "model names",
                                            m.value));
        for (const auto& x : v["models"]) {
          if (!x.is_string() || x.get<std::string>().empty())
            return r.error(where, fmt::format("battery setting \"{}\": \"models\" holds "
                                              "model names",
                                              m.value));
          m.models.push_back(normalized_name(x.get<std::string>()));
        }
      }
      d.battery_settings.push_back(std::move(m));
    }
  }
  if (j.contains("can_port") && !j["can_port"].is_null()) {
    auto port = read_port(r, j["can_port"], where);
    if (!port) return tl::unexpected(port.error());
    d.can_port = *port;
  }
  if (j.contains("rs485_port") && !j["rs485_port"].is_null()) {
    auto port = read_rs485(r, j["rs485_port"], where);
    if (!port) return tl::unexpected(port.error());
    d.rs485_port = *port;
  }
  if (j.contains("pack") && !j["pack"].is_null()) {
    auto pack = read_pack(r, j["pack"], where);
    if (!pack) return tl::unexpected(pack.error());
    d.pack = *pack;
  }
  BMSLINK_FIELD(protocol_list(j, "other_protocols", d.other_protocols), where, "other_protocols");
  if (std::optional<SourceClass> c; !read_source_class(j, c))
    return r.error(where,
                   "\"source_class\" is one of emulator_report, installer_report, "
                   "vendor_compatibility_list, vendor_manual");
  if (j.contains("multiple_batteries") && !j["multiple_batteries"].is_null()) {
    const json& m = j["multiple_batteries"];
    if (m.is_boolean()) {
      d.multiple_batteries = m.get<bool>();
    } else if (m.is_object()) {
      if (m.contains("supported") && m["supported"].is_boolean())
        d.multiple_batteries = m["supported"].get<bool>();
      d.multiple_batteries_note = note_of(m);
    }
  }
  if (j.contains("comms_loss") && j["comms_loss"].is_object()) {
    const json& c = j["comms_loss"];
    BMSLINK_FIELD(r.get(c, "codes", d.comms_loss_codes), where, "comms_loss.codes");
    BMSLINK_FIELD(r.get(c, "behaviour", d.comms_loss), where, "comms_loss.behaviour");
  }
  if (j.contains("termination")) {
    const json& t = j["termination"];
    d.termination = note_of(t);
    if (t.is_object()) {
      if (t.contains("builtin") && !t["builtin"].is_null()) {
        const std::string b = t["builtin"].is_string() ? t["builtin"].get<std::string>() : "";
        if (!t["builtin"].is_string() || (b != "yes" && b != "no" && b != "switchable"))
          return r.error(where, "\"termination.builtin\" is yes, no or switchable");
        d.termination_builtin = b == "yes"  ? BuiltinTermination::kYes
                                : b == "no" ? BuiltinTermination::kNo
                                            : BuiltinTermination::kSwitchable;
      }
      BMSLINK_FIELD(r.get(t, "sources", d.termination_sources), where, "termination.sources");
      BMSLINK_FIELD(r.get(t, "models", d.termination_models), where, "termination.models");
      for (auto& m : d.termination_models) m = normalized_name(m);
    } else if (!t.is_string() && !t.is_null()) {
      return r.error(where, "\"termination\" is text or an object with \"builtin\"");
    }
  }
  if (j.contains("dip")) d.dip = note_of(j["dip"]);
  if (j.contains("address_ids") && j["address_ids"].is_string())
    d.dip += (d.dip.empty() ? "" : " ") + j["address_ids"].get<std::string>();
  auto issues = read_issues(r, j, where);
  if (!issues) return tl::unexpected(issues.error());
  d.firmware_issues = std::move(*issues);
  return d;
}

template <typename T>
void replace_or_add(std::vector<T>& into, const T& item) {
  auto it = std::find_if(into.begin(), into.end(), [&](const T& x) { return x.id == item.id; });
  if (it != into.end())
    *it = item;
  else
    into.push_back(item);
}

std::string first_word(const std::string& s) {
  const auto sp = s.find(' ');
  return sp == std::string::npos ? s : s.substr(0, sp);
}

bool word_in(const std::string& text, const std::string& word) { return contains_word(text, word); }

// How well `model` fits an entry: an exact model or id first, then a model name within what was
// typed, then a match fragment. Short model names ("5K", "EM", "ET") only count as whole words
// together with the brand: they are in many other names.
std::size_t fit(const DeviceInfo& d, const std::string& model, bool brand_named) {
  if (model.empty()) return 0;
  const std::string brand = first_word(normalized_name(d.brand));
  const bool brand_here = word_in(model, brand);
  // Another brand named and not this one: not this entry.
  if (brand_named && !brand_here) return 0;
  if (normalized_name(d.id) == model) return 10000;
  std::size_t best = 0;
  for (const auto& m : d.models) {
    const std::string n = normalized_name(m);
    if (n.empty()) continue;
    if (n == model) return 9000;
    const bool specific = n.size() >= 6 && std::any_of(n.begin(), n.end(), [](char c) {
                            return std::isdigit(static_cast<unsigned char>(c)) != 0;
                          });
    if ((specific && model.find(n) != std::string::npos) || (brand_here && word_in(model, n)))
      best = std::max(best, 1000 + n.size());
  }
  for (const auto& f : d.match) {
    if (f.size() < 4 && !brand_here) continue;
    if (f == brand ? word_in(model, f) : model.find(f) != std::string::npos)
      best = std::max(best, f.size() + (brand_here ? 100 : 0));
  }
  if (best == 0 && brand_here) best = 1;  // the brand alone: its (first) family
  return best;
}

const DeviceInfo* best(const std::vector<DeviceInfo>& list, std::string_view model) {
  const std::string m = normalized_name(model);
  bool brand_named = false;
  for (const auto& d : list) brand_named |= word_in(m, first_word(normalized_name(d.brand)));
  const DeviceInfo* out = nullptr;
  std::size_t score = 0;
  std::size_t brand_only = 0;
  for (const auto& d : list) {
    const std::size_t s = fit(d, m, brand_named);
    if (s == 1) ++brand_only;
    if (s > score) {
      score = s;
      out = &d;
    }
  }
  // The brand alone names a family only when the brand has one; otherwise it is a guess.
  if (score == 1 && brand_only > 1) return nullptr;
  return out;
}

}  // namespace

bool contains_word(std::string_view text, std::string_view word) {
  if (word.empty()) return false;
  for (auto at = text.find(word); at != std::string_view::npos; at = text.find(word, at + 1)) {
    const bool start = at == 0 || !std::isalnum(static_cast<unsigned char>(text[at - 1]));
    const auto end = at + word.size();
    const bool stop = end >= text.size() || !std::isalnum(static_cast<unsigned char>(text[end]));
    if (start && stop) return true;
  }
  return false;
}

std::string normalized_name(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

Result<KnowledgeBase> KnowledgeBase::parse(std::string_view text, std::string_view name) {
  const JsonReader r{std::string(name)};
  auto parsed = parse_json(text, name);
  if (!parsed) return tl::unexpected(parsed.error());
  const json j = std::move(*parsed);
  if (!j.is_object())
    return make_error(ErrorCode::kMalformed,
                      fmt::format("{}: not a JSON object (a device knowledge base)", name));
  KnowledgeBase kb;
  for (const char* list : {"protocols", "inverters", "batteries"}) {
    if (j.contains(list) && !j[list].is_array()) return r.error(list, "must be a list");
  }
  if (j.contains("sources")) {
    if (!j["sources"].is_object()) return r.error("sources", "must be an object of key -> source");
    for (const auto& [key, v] : j["sources"].items()) {
      SourceInfo si;
      si.key = key;
      const std::string where = "source " + key;
      if (!v.is_object()) return r.error(where, "must be an object");
      BMSLINK_FIELD(r.get(v, "title", si.title), where, "title");
      BMSLINK_FIELD(r.get(v, "url", si.url), where, "url");
      BMSLINK_FIELD(r.get(v, "kind", si.kind), where, "kind");
      std::string cls;
      if (!r.get(v, "class", cls) || !parse_source_class(cls))
        return r.error(where,
                       "\"class\" is one of emulator_report, installer_report, "
                       "vendor_compatibility_list, vendor_manual");
      si.source_class = *parse_source_class(cls);
      kb.sources_[key] = std::move(si);
    }
  }
  if (j.contains("protocols")) {
    for (const auto& p : j["protocols"]) {
      auto one = read_protocol(r, p);
      if (!one) return tl::unexpected(one.error());
      replace_or_add(kb.protocols_, *one);
    }
  }
  for (auto [list, kind] : {std::pair{"inverters", DeviceInfo::Kind::kInverter},
                            std::pair{"batteries", DeviceInfo::Kind::kBattery}}) {
    if (!j.contains(list)) continue;
    for (const auto& e : j[list]) {
      auto one = read_device(r, e, kind);
      if (!one) return tl::unexpected(one.error());
      replace_or_add(kind == DeviceInfo::Kind::kInverter ? kb.inverters_ : kb.batteries_, *one);
    }
  }
  return kb;
}

Result<void> KnowledgeBase::add(const KnowledgeBase& more) {
  for (const auto& [k, v] : more.sources_) sources_[k] = v;
  for (const auto& p : more.protocols_) replace_or_add(protocols_, p);
  for (const auto& d : more.inverters_) replace_or_add(inverters_, d);
  for (const auto& d : more.batteries_) replace_or_add(batteries_, d);
  return resolve_classes();
}

// Each entry's and menu value's class: as declared, which may not be stronger than the strongest
// source it cites (a value from emulator owners is not made "vendor manual" by its family), or
// else that strongest source's class. Sources not (yet) known count as the weakest class.
Result<void> KnowledgeBase::resolve_classes() {
  auto resolve = [&](const json& raw, const std::vector<std::string>& keys,
                     const std::string& where) -> Result<SourceClass> {
    const auto best = strongest(keys).value_or(SourceClass::kEmulatorReport);
    if (raw.is_object() && raw.contains("source_class") && raw["source_class"].is_string()) {
      const auto declared = parse_source_class(raw["source_class"].get<std::string>());
      if (declared && *declared > best && strongest(keys))
        return make_error(ErrorCode::kMalformed,
                          fmt::format("devices: {}: \"source_class\" {} is stronger than its "
                                      "sources ({}: at best {})",
                                      where, source_class_name(*declared), fmt::join(keys, ", "),
                                      source_class_name(best)));
      if (declared) return std::min(*declared, best);
    }
    return best;
  };
  for (auto& p : protocols_) {
    (void)p;  // protocols carry no class of their own: a verdict rests on the devices' facts
  }
  for (auto* list : {&inverters_, &batteries_}) {
    for (auto& d : *list) {
      auto c = resolve(d.raw, d.sources, d.id);
      if (!c) return tl::unexpected(c.error());
      d.source_class = *c;
      const json* settings =
          d.raw.contains("battery_settings") ? &d.raw["battery_settings"] : nullptr;
      for (std::size_t i = 0; i < d.battery_settings.size(); ++i) {
        auto& m = d.battery_settings[i];
        if (m.sources.empty()) {
          // A value that cites nothing of its own rests on no more than the entry's weakest
          // source: the entry's manual may say nothing about this value.
          m.sources = d.sources;
          std::optional<SourceClass> weakest;
          for (const auto& k : d.sources)
            if (const auto* src = source(k))
              weakest = weakest ? std::min(*weakest, src->source_class) : src->source_class;
          m.source_class = weakest.value_or(SourceClass::kEmulatorReport);
          continue;
        }
        const json& raw = settings && settings->is_array() && i < settings->size() ? (*settings)[i]
                                                                                   : json::object();
        auto mc = resolve(raw, m.sources, d.id + " setting \"" + m.value + "\"");
        if (!mc) return tl::unexpected(mc.error());
        m.source_class = *mc;
      }
      if (d.pack) {
        const json& raw = d.raw.contains("pack") ? d.raw["pack"] : json::object();
        auto pc = resolve(raw, d.pack->sources, d.id + " pack");
        if (!pc) return tl::unexpected(pc.error());
        d.pack->source_class = *pc;
      }
    }
  }
  return {};
}

const SourceInfo* KnowledgeBase::source(std::string_view key) const {
  auto it = sources_.find(std::string(key));
  return it == sources_.end() ? nullptr : &it->second;
}

std::optional<SourceClass> KnowledgeBase::strongest(const std::vector<std::string>& keys) const {
  std::optional<SourceClass> best;
  for (const auto& k : keys)
    if (const auto* s = source(k)) best = best ? std::max(*best, s->source_class) : s->source_class;
  return best;
}

std::string_view source_class_name(SourceClass c) {
  return kClassNames[static_cast<std::size_t>(c)];
}

std::optional<SourceClass> parse_source_class(std::string_view name) {
  for (std::size_t i = 0; i < kClassNames.size(); ++i)
    if (kClassNames[i] == name) return static_cast<SourceClass>(i);
  return std::nullopt;
}

std::string_view source_class_caveat(SourceClass c) {
  return kClassCaveats[static_cast<std::size_t>(c)];
}

Result<KnowledgeBase> KnowledgeBase::builtin() {
  KnowledgeBase all;
  for (const auto& [name, text] : detail::embedded_devices()) {
    auto one = parse(text, name);
    if (!one) return tl::unexpected(one.error());
    if (auto ok = all.add(*one); !ok) return tl::unexpected(ok.error());
  }
  // Every menu value and battery names a protocol the base knows: a typo in the data would
  // otherwise silently fail every protocol check for that device.
  for (const auto* list : {&all.inverters_, &all.batteries_}) {
    for (const auto& d : *list) {
      for (const auto& m : d.battery_settings) {
        std::vector<std::string> named = m.accepts;
        named.push_back(m.protocol);
        for (const auto& id : named) {
          if (!all.protocol(id))
            return make_error(ErrorCode::kMalformed,
                              fmt::format("devices: {}: menu value \"{}\" names unknown "
                                          "protocol \"{}\"",
                                          d.id, m.value, id));
        }
      }
      if (!d.protocol.empty() && !all.protocol(d.protocol))
        return make_error(ErrorCode::kMalformed,
                          fmt::format("devices: {}: unknown protocol \"{}\"", d.id, d.protocol));
      for (const auto& id : d.other_protocols)
        if (!all.protocol(id))
          return make_error(ErrorCode::kMalformed,
                            fmt::format("devices: {}: unknown other protocol \"{}\"", d.id, id));
      // Every source a fact cites is in sources.json: an unknown key would read as the weakest
      // class without anyone noticing.
      std::vector<std::string> cited = d.sources;
      for (const auto& m : d.battery_settings)
        cited.insert(cited.end(), m.sources.begin(), m.sources.end());
      if (d.pack) cited.insert(cited.end(), d.pack->sources.begin(), d.pack->sources.end());
      cited.insert(cited.end(), d.termination_sources.begin(), d.termination_sources.end());
      for (const auto& k : cited)
        if (!all.source(k))
          return make_error(ErrorCode::kMalformed,
                            fmt::format("devices: {}: unknown source \"{}\"", d.id, k));
    }
  }
  return all;
}

const ProtocolInfo* KnowledgeBase::protocol(std::string_view id) const {
  for (const auto& p : protocols_)
    if (p.id == id) return &p;
  return nullptr;
}

const ProtocolInfo* KnowledgeBase::find_protocol(std::string_view text) const {
  const std::string t = normalized_name(text);
  if (t.empty()) return nullptr;
  for (const auto& p : protocols_) {
    if (normalized_name(p.id) == t || normalized_name(p.name) == t) return &p;
    for (const auto& a : p.aliases)
      if (normalized_name(a) == t) return &p;
  }
  return nullptr;
}

bool KnowledgeBase::compatible(std::string_view inverter_protocol,
                               std::string_view battery_protocol, const MenuValue* menu) const {
  if (inverter_protocol == battery_protocol) return true;
  if (menu != nullptr && std::find(menu->accepts.begin(), menu->accepts.end(), battery_protocol) !=
                             menu->accepts.end())
    return true;
  if (const auto* p = protocol(inverter_protocol)) {
    const auto& w = p->interoperates_with;
    if (std::find(w.begin(), w.end(), battery_protocol) != w.end()) return true;
  }
  return false;
}

std::string KnowledgeBase::compatible_with_battery(std::string_view inverter_protocol,
                                                   const DeviceInfo& battery,
                                                   const MenuValue* menu) const {
  std::vector<std::string> sent;
  if (!battery.protocol.empty()) sent.push_back(battery.protocol);
  sent.insert(sent.end(), battery.other_protocols.begin(), battery.other_protocols.end());
  for (const auto& p : sent)
    if (compatible(inverter_protocol, p, menu)) return p;
  return {};
}

const DeviceInfo* KnowledgeBase::find_inverter(std::string_view model) const {
  return best(inverters_, model);
}

const DeviceInfo* KnowledgeBase::find_battery(std::string_view model) const {
  return best(batteries_, model);
}

namespace {

// The entry one of whose own model names (or id) stands as a whole word in what was typed, the
// longest name winning; null when none does.
const DeviceInfo* by_model_name(const std::vector<DeviceInfo>& list, std::string_view model) {
  const std::string m = normalized_name(model);
  if (m.empty()) return nullptr;
  const DeviceInfo* out = nullptr;
  std::size_t longest = 0;
  for (const auto& d : list) {
    std::vector<std::string> names = {normalized_name(d.id)};
    for (const auto& x : d.models) names.push_back(normalized_name(x));
    for (const auto& n : names) {
      // A model name as a whole word of what was typed ("US3000C" in "Pylontech US3000C").
      if (n.size() >= 4 && n.size() > longest && word_in(m, n)) {
        longest = n.size();
        out = &d;
      }
    }
  }
  return out;
}

}  // namespace

const DeviceInfo* KnowledgeBase::find_battery_model(std::string_view model) const {
  return by_model_name(batteries_, model);
}

const DeviceInfo* KnowledgeBase::find_inverter_model(std::string_view model) const {
  return by_model_name(inverters_, model);
}

bool MenuValue::reported_for(std::string_view model) const {
  if (models.empty() || model.empty()) return true;
  const std::string m = normalized_name(model);
  return std::any_of(models.begin(), models.end(),
                     [&](const std::string& piece) { return m.find(piece) != std::string::npos; });
}

namespace {

// A name as runs of letters and runs of digits, lower case: "LI + L51" -> {li, l} {51}.
struct Pieces {
  std::vector<std::string> letters, digits;
  std::string squashed;  // letters and digits only: "lil51"
};

Pieces pieces(std::string_view text) {
  Pieces p;
  std::string cur;
  int kind = 0;  // 1 letters, 2 digits
  auto flush = [&] {
    if (!cur.empty()) (kind == 1 ? p.letters : p.digits).push_back(cur);
    cur.clear();
  };
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const int k = std::isalpha(c) ? 1 : std::isdigit(c) ? 2 : 0;
    if (k != kind) flush();
    kind = k;
    if (k != 0) {
      cur += static_cast<char>(std::tolower(c));
      p.squashed += static_cast<char>(std::tolower(c));
    }
  }
  flush();
  return p;
}

// "li" and "lithium" are the same word as installers shorten it; one letter is not a word.
bool word_fits(const std::string& typed, const std::vector<std::string>& words) {
  return std::any_of(words.begin(), words.end(), [&](const std::string& w) {
    const auto& shorter = typed.size() <= w.size() ? typed : w;
    const auto& longer = typed.size() <= w.size() ? w : typed;
    if (shorter.size() < 2) return shorter == longer;
    return longer.compare(0, shorter.size(), shorter) == 0;
  });
}

bool same_numbers(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) continue;
    if (a[i].size() > 9 || b[i].size() > 9 || std::stol(a[i]) != std::stol(b[i])) return false;
  }
  return true;
}

// One menu value among `values` fitting `typed` by `fits`, or null when none or several do.
template <typename Fits>
const MenuValue* unique_fit(const std::vector<MenuValue>& values, Fits fits) {
  const MenuValue* found = nullptr;
  for (const auto& m : values) {
    if (!fits(m)) continue;
    if (found != nullptr) return nullptr;
    found = &m;
  }
  return found;
}

}  // namespace

const MenuValue* KnowledgeBase::menu_value(const DeviceInfo& inverter, std::string_view text) {
  const std::string t = normalized_name(text);
  if (t.empty()) return nullptr;
  const auto& values = inverter.battery_settings;
  for (const auto& m : values)
    if (normalized_name(m.value) == t) return &m;
  const Pieces typed = pieces(text);
  if (typed.squashed.empty()) return nullptr;
  // Spacing and punctuation: "li+l51", "LI L51".
  if (const auto* m = unique_fit(
          values, [&](const MenuValue& v) { return pieces(v.value).squashed == typed.squashed; }))
    return m;
  // One piece of the value on its own: "L51" for "LI + L51".
  if (const auto* m = unique_fit(values, [&](const MenuValue& v) {
        const std::string_view value = v.value;
        std::string word;
        for (std::size_t i = 0; i <= value.size(); ++i) {
          const bool alnum = i < value.size() && std::isalnum(static_cast<unsigned char>(value[i]));
          if (alnum) {
            word += static_cast<char>(std::tolower(static_cast<unsigned char>(value[i])));
          } else {
            if (word == typed.squashed) return true;
            word.clear();
          }
        }
        return false;
      }))
    return m;
  // The number that tells the values apart, with words that fit the value's own: "51", "00",
  // "Lithium 0", "lithium 01" for "Lithium Mode 01"; never "AGM 12" for "Lithium 12".
  // The menu's own name counts as the value's words ("Lithium 00" on Sol-Ark's "BMS Lithium Batt"
  // menu is its "00"), and so do the words installers put before a bare code ("Lithium 04",
  // "BMS 04" for a Growatt's "04"); a word of another kind ("AGM 12") does not.
  std::vector<std::string> menu_words = pieces(inverter.menu).letters;
  for (const char* w : {"li", "lithium", "lib", "batt", "battery", "bms", "mode", "type",
                        "protocol", "prog", "program", "setting", "no", "nr", "number"})
    menu_words.emplace_back(w);
  if (!typed.digits.empty()) {
    return unique_fit(values, [&](const MenuValue& v) {
      const Pieces p = pieces(v.value);
      if (!same_numbers(typed.digits, p.digits)) return false;
      return std::all_of(typed.letters.begin(), typed.letters.end(), [&](const std::string& w) {
        return word_fits(w, p.letters) || word_fits(w, menu_words);
      });
    });
  }
  // Words only: a shortened or longer code ("PYLON" for "PYL"), or words that fit one value
  // ("pylon" for "Lithium Battery > PYLON_LV").
  if (const auto* m = unique_fit(values, [&](const MenuValue& v) {
        const Pieces p = pieces(v.value);
        if (!p.digits.empty() || p.squashed.size() < 3 || typed.squashed.size() < 3) return false;
        const auto& shorter =
            p.squashed.size() <= typed.squashed.size() ? p.squashed : typed.squashed;
        const auto& longer =
            p.squashed.size() <= typed.squashed.size() ? typed.squashed : p.squashed;
        return longer.compare(0, shorter.size(), shorter) == 0;
      }))
    return m;
  // Words that all fit one value's words, one of them at least three letters long ("PYLON_LV" or
  // "Pylon LV" for Solis's "Lithium Battery > PYLON_LV", "SBR" for "Sungrow SBRxxx").
  return unique_fit(values, [&](const MenuValue& v) {
    const Pieces p = pieces(v.value);
    const bool long_word = std::any_of(typed.letters.begin(), typed.letters.end(),
                                       [](const std::string& w) { return w.size() >= 3; });
    return long_word && std::all_of(typed.letters.begin(), typed.letters.end(),
                                    [&](const std::string& w) { return word_fits(w, p.letters); });
  });
}

nlohmann::json knowledge_json(const KnowledgeBase& kb) {
  nlohmann::json out = {{"protocols", nlohmann::json::array()},
                        {"inverters", nlohmann::json::array()},
                        {"batteries", nlohmann::json::array()}};
  for (const auto& p : kb.protocols())
    out["protocols"].push_back({{"id", p.id},
                                {"name", p.name},
                                {"transport", p.transport},
                                {"bitrate_kbps", p.bitrate_kbps ? nlohmann::json(*p.bitrate_kbps)
                                                                : nlohmann::json(nullptr)},
                                {"aliases", p.aliases},
                                {"sources", p.sources},
                                {"confidence", p.confidence}});
  for (const auto& d : kb.inverters()) out["inverters"].push_back(d.raw);
  for (const auto& d : kb.batteries()) out["batteries"].push_back(d.raw);
  return out;
}

}  // namespace bmslink::diagnosis
