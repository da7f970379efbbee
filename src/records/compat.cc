#include "bmslink/records/compat.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bmslink/core/text.h"
#include "bmslink/diagnosis/order.h"
#include "bmslink/records/stats.h"

namespace bmslink::records {
namespace {

std::string or_unknown(const std::string& s) { return s.empty() ? "?" : s; }

// A CSV field: quoted when it holds a separator, a quote or a line break. A field a spreadsheet
// would run as a formula (= + - @ first) is prefixed with ' so it stays text.
std::string csv(std::string s) {
  if (!s.empty() && std::string_view("=+-@\t\r").find(s.front()) != std::string_view::npos)
    s.insert(0, 1, '\'');
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string md(const std::string& s) { return markdown_escape(s); }

// Installers type the same model differently ("US3000C", " us3000c"): grouped as the check
// order's groups are (diagnosis::model_key); the first spelling seen is the one shown.
std::string group_key(const std::string& s) { return diagnosis::model_key(s); }

const diagnosis::CheckCatalogue* catalogue() {
  static const auto builtin = diagnosis::CheckCatalogue::builtin();
  return builtin ? &*builtin : nullptr;
}

}  // namespace

std::vector<CompatRow> compatibility(const std::vector<Case>& cases) {
  std::map<std::pair<std::string, std::string>, CompatRow> rows;
  std::map<std::pair<std::string, std::string>, int> counts;
  std::map<std::pair<std::string, std::string>, diagnosis::CaseCounts> closed;
  // Adds a firmware text to a ", "-separated list once (as installers group it).
  const auto add_version = [](std::string& list, const std::string& version) {
    if (version.empty()) return;
    std::string_view rest = list;
    while (!rest.empty()) {
      const auto comma = rest.find(", ");
      if (group_key(std::string(rest.substr(0, comma))) == group_key(version)) return;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 2);
    }
    list += list.empty() ? version : ", " + version;
  };
  for (const auto& c : cases) {
    const auto key = std::make_pair(group_key(c.bms.model), group_key(c.inverter.model));
    auto& r = rows[key];
    if (counts[key] == 0) {
      r.bms_model = c.bms.model;
      r.inverter_model = c.inverter.model;
    }
    add_version(r.bms_firmware, c.bms.firmware);
    add_version(r.inverter_firmware, c.inverter.firmware);
    auto fw = std::find_if(r.by_firmware.begin(), r.by_firmware.end(), [&](const FirmwareCount& f) {
      return group_key(f.bms_firmware) == group_key(c.bms.firmware) &&
             group_key(f.inverter_firmware) == group_key(c.inverter.firmware);
    });
    if (fw == r.by_firmware.end())
      fw = r.by_firmware.insert(r.by_firmware.end(),
                                FirmwareCount{c.bms.firmware, c.inverter.firmware});
    switch (c.outcome) {
      case Outcome::kFixed:
        ++r.worked;
        ++fw->worked;
        break;
      case Outcome::kEscalated:
        ++r.failed;
        ++fw->failed;
        break;
      case Outcome::kHardcoded:
        ++r.hardcoded;
        ++fw->hardcoded;
        break;
      case Outcome::kOpen:
        ++r.open;
        ++fw->open;
        break;
    }
    if (c.root_cause) ++r.causes[std::string(diagnosis::cause_id(*c.root_cause))];
    count_case(closed[key], c);
    const int n = ++counts[key];
    for (std::size_t l = 0; l < 5; ++l)
      r.minutes_by_layer[l] += (c.minutes_by_layer[l] - r.minutes_by_layer[l]) / n;  // running mean
    // Only a fix that worked is worth repeating.
    if (c.outcome == Outcome::kFixed && !c.fix.empty() &&
        std::find(r.fixes.begin(), r.fixes.end(), c.fix) == r.fixes.end())
      r.fixes.push_back(c.fix);
    if (!c.symptom.empty() &&
        std::find(r.symptoms.begin(), r.symptoms.end(), c.symptom) == r.symptoms.end())
      r.symptoms.push_back(c.symptom);
  }
  std::vector<CompatRow> out;
  for (auto& [k, r] : rows) {
    // A pair needs both models: a row missing one is not a pair the walk can recognise.
    if (!k.first.empty() && !k.second.empty() && catalogue())
      r.known_bad = diagnosis::known_bad(*catalogue(), closed[k]);
    out.push_back(std::move(r));
  }
  return out;
}

nlohmann::json compat_json(const std::vector<CompatRow>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : rows) {
    nlohmann::json minutes = nlohmann::json::object();
    for (std::size_t l = 0; l < 5; ++l) minutes[std::to_string(l + 1)] = r.minutes_by_layer[l];
    nlohmann::json by_firmware = nlohmann::json::array();
    for (const auto& f : r.by_firmware)
      by_firmware.push_back({{"bms_firmware", f.bms_firmware},
                             {"inverter_firmware", f.inverter_firmware},
                             {"worked", f.worked},
                             {"failed", f.failed},
                             {"hardcoded", f.hardcoded},
                             {"open", f.open}});
    out.push_back(
        {{"bms", {{"model", r.bms_model}, {"firmware", r.bms_firmware}}},
         {"inverter", {{"model", r.inverter_model}, {"firmware", r.inverter_firmware}}},
         {"worked", r.worked},
         {"failed", r.failed},
         {"hardcoded", r.hardcoded},
         {"open", r.open},
         {"causes", r.causes},
         {"minutes_by_layer", minutes},
         {"fixes", r.fixes},
         {"symptoms", r.symptoms},
         {"by_firmware", by_firmware},
         {"known_bad",
          r.known_bad
              ? nlohmann::json{{"cause", std::string(diagnosis::cause_id(r.known_bad->cause))},
                               {"check", r.known_bad->check.empty()
                                             ? nlohmann::json(nullptr)
                                             : nlohmann::json(r.known_bad->check)},
                               {"cases", r.known_bad->cases},
                               {"closed_cases", r.known_bad->closed}}
              : nlohmann::json(nullptr)}});
  }
  return out;
}

std::string compat_csv(const std::vector<CompatRow>& rows) {
  std::string out =
      "bms_model,bms_firmware,inverter_model,inverter_firmware,worked,failed,hardcoded,open,"
      "causes\n";
  for (const auto& r : rows) {
    std::vector<std::string> causes;
    for (const auto& [c, n] : r.causes) causes.push_back(fmt::format("{}:{}", c, n));
    out += fmt::format("{},{},{},{},{},{},{},{},{}\n", csv(r.bms_model), csv(r.bms_firmware),
                       csv(r.inverter_model), csv(r.inverter_firmware), r.worked, r.failed,
                       r.hardcoded, r.open, csv(fmt::format("{}", fmt::join(causes, " "))));
  }
  return out;
}

std::string compat_markdown(const std::vector<CompatRow>& rows) {
  std::string out;
  auto it = std::back_inserter(out);
  fmt::format_to(it, "# BMS and inverter pairs from our service calls\n\n");
  fmt::format_to(
      it,
      "| BMS (firmware) | inverter (firmware) | worked | failed | hardcoded | causes found |\n"
      "|---|---|---|---|---|---|\n");
  for (const auto& r : rows) {
    std::vector<std::string> causes;
    for (const auto& [c, n] : r.causes) causes.push_back(fmt::format("{} ({})", c, n));
    fmt::format_to(it, "| {} ({}) | {} ({}) | {} | {} | {} | {} |\n", md(or_unknown(r.bms_model)),
                   md(or_unknown(r.bms_firmware)), md(or_unknown(r.inverter_model)),
                   md(or_unknown(r.inverter_firmware)), r.worked, r.failed, r.hardcoded,
                   md(fmt::format("{}", fmt::join(causes, ", "))));
  }
  for (const auto& r : rows) {
    fmt::format_to(it, "\n## {} {} with {} {}\n\n", md(or_unknown(r.bms_model)), md(r.bms_firmware),
                   md(or_unknown(r.inverter_model)), md(r.inverter_firmware));
    fmt::format_to(it, "- Outcome: worked {} time(s), failed {}, hardcoded {}.\n", r.worked,
                   r.failed, r.hardcoded);
    if (!r.symptoms.empty()) {
      std::vector<std::string> s;
      for (const auto& x : r.symptoms) s.push_back(md(x));
      fmt::format_to(it, "- Symptoms: {}.\n", fmt::join(s, "; "));
    }
    if (r.known_bad)
      fmt::format_to(it, "- Most of our solved cases of this pair ({} of {}) ended on: {}.\n",
                     r.known_bad->cases, r.known_bad->closed,
                     diagnosis::cause_info(r.known_bad->cause).name);
    fmt::format_to(it,
                   "- Time per layer (mean minutes): configuration {:.0f}, connections {:.0f}, "
                   "cable {:.0f}, environment {:.0f}, protocol/firmware {:.0f}.\n",
                   r.minutes_by_layer[0], r.minutes_by_layer[1], r.minutes_by_layer[2],
                   r.minutes_by_layer[3], r.minutes_by_layer[4]);
    for (const auto& f : r.fixes) fmt::format_to(it, "- Fix that worked: {}\n", md(f));
  }
  return out;
}

}  // namespace bmslink::records
