// Reading the device knowledge base. Known fields are type-checked and errors name the file, the
// entry and the field; fields the code does not use stay in `raw` for the API's pickers.

#include "bmslink/diagnosis/devices.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "diagnosis/embedded_data.h"

namespace bmslink::diagnosis {
namespace {

using nlohmann::json;

class Reader {
 public:
  explicit Reader(std::string_view name) : name_(name) {}

  tl::unexpected<Error> error(const std::string& where, const std::string& what) const {
    return make_error(ErrorCode::kMalformed, fmt::format("{}: {}: {}", name_, where, what));
  }
  // A string field; null and absent read as empty.
  bool text(const json& j, const char* key, std::string& out) const {
    if (!j.contains(key) || j[key].is_null()) return true;
    if (!j[key].is_string()) return false;
    out = j[key].get<std::string>();
    return true;
  }
  bool strings(const json& j, const char* key, std::vector<std::string>& out) const {
    if (!j.contains(key) || j[key].is_null()) return true;
    if (!j[key].is_array()) return false;
    for (const auto& v : j[key]) {
      if (!v.is_string()) return false;
      out.push_back(v.get<std::string>());
    }
    return true;
  }
  bool opt_int(const json& j, const char* key, std::optional<int>& out) const {
    if (!j.contains(key) || j[key].is_null()) return true;
    if (!j[key].is_number_integer()) return false;
    out = j[key].get<int>();
    return true;
  }

 private:
  std::string_view name_;
};

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

#define BMSLINK_FIELD(call, where, key)                                                \
  do {                                                                                 \
    if (!(call)) return r.error(where, fmt::format("\"{}\" has the wrong type", key)); \
  } while (0)

Result<ProtocolInfo> read_protocol(const Reader& r, const json& j) {
  ProtocolInfo p;
  if (!j.is_object() || !r.text(j, "id", p.id) || p.id.empty())
    return r.error("protocols", "each protocol has a string \"id\"");
  const std::string where = "protocol " + p.id;
  BMSLINK_FIELD(r.text(j, "name", p.name), where, "name");
  BMSLINK_FIELD(r.text(j, "transport", p.transport), where, "transport");
  BMSLINK_FIELD(r.opt_int(j, "bitrate_kbps", p.bitrate_kbps), where, "bitrate_kbps");
  BMSLINK_FIELD(r.strings(j, "aliases", p.aliases), where, "aliases");
  BMSLINK_FIELD(protocol_list(j, "interoperates_with", p.interoperates_with), where,
                "interoperates_with");
  BMSLINK_FIELD(r.text(j, "note", p.note), where, "note");
  BMSLINK_FIELD(r.strings(j, "sources", p.sources), where, "sources");
  BMSLINK_FIELD(r.text(j, "confidence", p.confidence), where, "confidence");
  if (j.contains("voltage_only") && !j["voltage_only"].is_boolean())
    return r.error(where, "\"voltage_only\" is true or false");
  p.voltage_only = j.value("voltage_only", false) || p.transport == "none";
  return p;
}

Result<CanPort> read_port(const Reader& r, const json& j, const std::string& where) {
  CanPort port;
  if (!j.is_object()) return r.error(where, "\"can_port\" is an object");
  BMSLINK_FIELD(r.text(j, "port", port.port), where, "can_port.port");
  BMSLINK_FIELD(r.opt_int(j, "can_h", port.can_h), where, "can_port.can_h");
  BMSLINK_FIELD(r.opt_int(j, "can_l", port.can_l), where, "can_port.can_l");
  BMSLINK_FIELD(r.opt_int(j, "gnd", port.gnd), where, "can_port.gnd");
  BMSLINK_FIELD(r.text(j, "note", port.note), where, "can_port.note");
  return port;
}

Result<std::vector<FirmwareIssue>> read_issues(const Reader& r, const json& j,
                                               const std::string& where) {
  std::vector<FirmwareIssue> out;
  if (!j.contains("firmware_issues") || j["firmware_issues"].is_null()) return out;
  if (!j["firmware_issues"].is_array()) return r.error(where, "\"firmware_issues\" is a list");
  for (const auto& f : j["firmware_issues"]) {
    FirmwareIssue i;
    if (!f.is_object()) return r.error(where, "each firmware issue is an object");
    BMSLINK_FIELD(r.text(f, "firmware", i.firmware), where, "firmware_issues.firmware");
    std::string inverter;
    BMSLINK_FIELD(r.text(f, "inverter", inverter), where, "firmware_issues.inverter");
    BMSLINK_FIELD(r.text(f, "device", i.device), where, "firmware_issues.device");
    if (i.device.empty()) i.device = inverter;
    BMSLINK_FIELD(r.text(f, "issue", i.issue), where, "firmware_issues.issue");
    if (f.contains("breaks_comms") && !f["breaks_comms"].is_boolean())
      return r.error(where, "\"firmware_issues.breaks_comms\" is true or false");
    i.breaks_comms = f.value("breaks_comms", false);
    BMSLINK_FIELD(r.strings(f, "sources", i.sources), where, "firmware_issues.sources");
    BMSLINK_FIELD(r.text(f, "confidence", i.confidence), where, "firmware_issues.confidence");
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

Result<DeviceInfo> read_device(const Reader& r, const json& j, DeviceInfo::Kind kind) {
  DeviceInfo d;
  d.kind = kind;
  const char* list = kind == DeviceInfo::Kind::kInverter ? "inverters" : "batteries";
  if (!j.is_object() || !r.text(j, "id", d.id) || d.id.empty())
    return r.error(list, "each entry has a string \"id\"");
  const std::string where =
      std::string(kind == DeviceInfo::Kind::kInverter ? "inverter " : "battery ") + d.id;
  d.raw = j;
  BMSLINK_FIELD(r.text(j, "brand", d.brand), where, "brand");
  BMSLINK_FIELD(r.text(j, "family", d.family), where, "family");
  BMSLINK_FIELD(r.strings(j, "models", d.models), where, "models");
  BMSLINK_FIELD(r.strings(j, "match", d.match), where, "match");
  for (auto& m : d.match) m = normalized_name(m);
  BMSLINK_FIELD(r.text(j, "menu", d.menu), where, "menu");
  BMSLINK_FIELD(r.text(j, "protocol", d.protocol), where, "protocol");
  BMSLINK_FIELD(r.text(j, "pin_trap", d.pin_trap), where, "pin_trap");
  BMSLINK_FIELD(r.strings(j, "sources", d.sources), where, "sources");
  BMSLINK_FIELD(r.text(j, "confidence", d.confidence), where, "confidence");
  BMSLINK_FIELD(r.opt_int(j, "max_parallel", d.max_parallel), where, "max_parallel");
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
      if (!v.is_object() || !r.text(v, "value", m.value) || m.value.empty() ||
          !r.text(v, "protocol", m.protocol) || m.protocol.empty() || !r.text(v, "note", m.note) ||
          !protocol_list(v, "accepts", m.accepts) || !r.opt_int(v, "bitrate_kbps", m.bitrate_kbps))
        return r.error(where, "each battery setting has a \"value\" and a \"protocol\"");
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
    BMSLINK_FIELD(r.strings(c, "codes", d.comms_loss_codes), where, "comms_loss.codes");
    BMSLINK_FIELD(r.text(c, "behaviour", d.comms_loss), where, "comms_loss.behaviour");
  }
  if (j.contains("termination")) d.termination = note_of(j["termination"]);
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

bool word_in(const std::string& text, const std::string& word) {
  if (word.empty()) return false;
  for (auto at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) {
    const bool start = at == 0 || !std::isalnum(static_cast<unsigned char>(text[at - 1]));
    const auto end = at + word.size();
    const bool stop = end >= text.size() || !std::isalnum(static_cast<unsigned char>(text[end]));
    if (start && stop) return true;
  }
  return false;
}

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
  const Reader r(name);
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return make_error(ErrorCode::kMalformed,
                      fmt::format("{}: not a JSON object (a device knowledge base)", name));
  KnowledgeBase kb;
  for (const char* list : {"protocols", "inverters", "batteries"}) {
    if (j.contains(list) && !j[list].is_array()) return r.error(list, "must be a list");
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
  for (const auto& p : more.protocols_) replace_or_add(protocols_, p);
  for (const auto& d : more.inverters_) replace_or_add(inverters_, d);
  for (const auto& d : more.batteries_) replace_or_add(batteries_, d);
  return {};
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

const DeviceInfo* KnowledgeBase::find_inverter(std::string_view model) const {
  return best(inverters_, model);
}

const DeviceInfo* KnowledgeBase::find_battery(std::string_view model) const {
  return best(batteries_, model);
}

bool MenuValue::reported_for(std::string_view model) const {
  if (models.empty() || model.empty()) return true;
  const std::string m = normalized_name(model);
  return std::any_of(models.begin(), models.end(),
                     [&](const std::string& piece) { return m.find(piece) != std::string::npos; });
}

const MenuValue* KnowledgeBase::menu_value(const DeviceInfo& inverter, std::string_view text) {
  const std::string t = normalized_name(text);
  for (const auto& m : inverter.battery_settings)
    if (normalized_name(m.value) == t) return &m;
  return nullptr;
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
