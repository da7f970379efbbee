// The field guide's hardcoding section as numbers and rules: LFP at 3.40 V/cell charge and
// 3.00 V/cell cut-off, 0.3-0.5 C both ways; acceptable below 10 kWh with tight cells, a 30-80 %
// SOC window under 0.3 C indoors; not above 20 kWh, regularly above 0.5 C, outdoors (-10...45 °C)
// or commercial.

#include "bmslink/diagnosis/hardcode.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <iterator>

#include <fmt/format.h>

namespace bmslink::diagnosis {
namespace {

constexpr double kChargeVPerCell = 3.40;
constexpr double kCutoffVPerCell = 3.00;
constexpr double kCLow = 0.3, kCHigh = 0.5;
constexpr double kNominalVPerCell = 3.2;  // LFP nominal, for the energy when only Ah is given
constexpr double kSmallKwh = 10, kLargeKwh = 20;
constexpr double kTightSpreadMv = 30;
constexpr double kSocLow = 30, kSocHigh = 80;

constexpr std::array<std::string_view, 3> kNames = {"acceptable", "not_acceptable", "depends"};

}  // namespace

HardcodeTerms hardcode_terms() {
  HardcodeTerms t;
  t.lost_protection = {"dynamic charge and discharge limits from the BMS",
                       "temperature compensation (cold charging, heat)",
                       "cell-level imbalance protection",
                       "state-of-charge accuracy (the inverter estimates from voltage)",
                       "balancing coordination with the BMS"};
  t.maintenance = "A manual top-balance charge every quarter; check cell voltages and spread.";
  t.expected_life = "6 to 8 years instead of the 10 or more possible with communication.";
  return t;
}

std::string_view acceptability_name(Acceptability a) { return kNames[static_cast<std::size_t>(a)]; }

Result<HardcodeAdvice> advise_hardcode(const HardcodeInput& in, const KnowledgeBase* kb) {
  std::string chem;
  for (char c : in.chemistry)
    chem += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (chem != "lfp" && chem != "lifepo4") {
    return make_error(ErrorCode::kUnsupported,
                      fmt::format("chemistry \"{}\": bmslink gives hardcode settings for LFP only; "
                                  "for other chemistries use the cell maker's datasheet values "
                                  "(no cited source here)",
                                  in.chemistry));
  }
  HardcodeAdvice a;
  const bool cli = in.naming == HardcodeInput::Naming::kCli;
  const std::string battery_opt = cli ? "--battery" : "Battery model";
  const std::string cells_opt = cli ? "--cells N" : "the cells in series you counted";
  const std::string cells_name = cli ? "--cells" : "Cells in series";
  const std::string listed = cli ? "bmslink devices lists them" : "the list offers them";
  if (!in.battery.empty()) {
    // Only a battery named by one of its models: a brand or a family fragment is a guess.
    const DeviceInfo* b = kb != nullptr ? kb->find_battery_model(in.battery) : nullptr;
    if (b == nullptr)
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{} \"{}\": not a battery model bmslink knows "
                                    "({}); count the cells in series and give {}",
                                    battery_opt, in.battery, listed, cells_opt));
    if (!b->pack)
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{} \"{}\": bmslink knows the {} {} but not its cells in "
                                    "series from a source; count them and give {}",
                                    battery_opt, in.battery, b->brand, b->family, cells_opt));
    if (in.cells && *in.cells != b->pack->cells_series)
      return make_error(
          ErrorCode::kInvalidArgument,
          fmt::format("{} {} disagrees with the {} {}: {} cells in series per "
                      "its maker; check the pack and give one of the two",
                      cells_name, *in.cells, b->brand, b->family, b->pack->cells_series));
    a.cells = b->pack->cells_series;
    a.battery = b->id;
    a.battery_name = fmt::format("{} {}", b->brand, b->family);
    a.cells_source_class = b->pack->source_class;
    a.cells_sources = b->pack->sources;
    a.charge_max_v = b->pack->charge_max_v;
    a.cutoff_min_v = b->pack->cutoff_min_v;
  } else if (in.cells) {
    a.cells = *in.cells;
  } else {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("the cells in series are needed and are never guessed: give {} (a battery "
                    "bmslink knows, e.g. \"Pylontech US3000C\") or {} (15 on Pylontech "
                    "US-series packs, 16 on most 51.2 V packs)",
                    cli ? "--battery MODEL" : "the Battery model", cells_opt));
  }
  if (a.cells < 1 || a.cells > 64)
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{}: expected 1 to 64 cells in series", cells_name));
  if (!(in.capacity_ah > 0) || in.capacity_ah > 100000)
    return make_error(ErrorCode::kInvalidArgument, fmt::format("{}: expected a capacity in Ah",
                                                               cli ? "--capacity-ah" : "Capacity"));
  if (in.kwh && !(*in.kwh > 0))
    return make_error(ErrorCode::kInvalidArgument, "--kwh: expected the energy in kWh, above 0");
  if (in.c_rate && !(*in.c_rate >= 0 && *in.c_rate <= 10))
    return make_error(ErrorCode::kInvalidArgument, "--c-rate: expected a C-rate such as 0.3");
  if (in.spread_mv && !(*in.spread_mv >= 0 && *in.spread_mv <= 5000))
    return make_error(ErrorCode::kInvalidArgument, "--spread-mv: expected millivolts");
  if (in.soc_low && in.soc_high &&
      !(*in.soc_low >= 0 && *in.soc_low < *in.soc_high && *in.soc_high <= 100))
    return make_error(ErrorCode::kInvalidArgument,
                      "--soc-window: expected LOW-HIGH in %, e.g. 30-80");

  // The field guide's per-cell values, held within the maker's own limits where they are known.
  a.charge_voltage_v = std::round(kChargeVPerCell * a.cells * 100) / 100;
  a.cutoff_voltage_v = std::round(kCutoffVPerCell * a.cells * 100) / 100;
  if (a.charge_max_v && a.charge_voltage_v > *a.charge_max_v) {
    a.limited.push_back(
        fmt::format("{:.2f} V ({:.2f} V/cell) would exceed the maker's charge "
                    "maximum of {:.1f} V: held at {:.1f} V",
                    a.charge_voltage_v, kChargeVPerCell, *a.charge_max_v, *a.charge_max_v));
    a.charge_voltage_v = *a.charge_max_v;
  }
  if (a.cutoff_min_v && a.cutoff_voltage_v < *a.cutoff_min_v) {
    a.limited.push_back(
        fmt::format("{:.2f} V ({:.2f} V/cell) would go below the maker's cut-off "
                    "minimum of {:.1f} V: held at {:.1f} V",
                    a.cutoff_voltage_v, kCutoffVPerCell, *a.cutoff_min_v, *a.cutoff_min_v));
    a.cutoff_voltage_v = *a.cutoff_min_v;
  }
  a.charge_v_per_cell = std::round(a.charge_voltage_v / a.cells * 1000) / 1000;
  a.cutoff_v_per_cell = std::round(a.cutoff_voltage_v / a.cells * 1000) / 1000;
  a.current_low_a = std::round(kCLow * in.capacity_ah * 10) / 10;
  a.current_high_a = std::round(kCHigh * in.capacity_ah * 10) / 10;
  a.kwh_estimated = !in.kwh;
  a.kwh = in.kwh ? *in.kwh : std::round(a.cells * kNominalVPerCell * in.capacity_ah / 100) / 10;

  // Not acceptable.
  if (a.kwh > kLargeKwh)
    a.against.push_back(fmt::format("{:.1f} kWh is above 20 kWh: too much capital at risk", a.kwh));
  if (in.c_rate && *in.c_rate > kCHigh)
    a.against.push_back(
        fmt::format("{:.2f} C regularly is above 0.5 C: dynamic limits are "
                    "critical for cell life",
                    *in.c_rate));
  if (in.indoor && !*in.indoor)
    a.against.push_back("outdoors, uncontrolled (-10 to 45 °C): static limits cannot cover it");
  if (in.commercial)
    a.against.push_back("commercial or critical use, warranty or insurance constraints");

  // The acceptable list, and what stays undecided between the two lists.
  if (a.kwh < kSmallKwh)
    a.for_it.push_back(fmt::format("{:.1f} kWh is under 10 kWh", a.kwh));
  else if (a.kwh <= kLargeKwh)
    a.deciding.push_back(fmt::format("{:.1f} kWh is between 10 and 20 kWh", a.kwh));
  if (!in.spread_mv)
    a.deciding.push_back("cell spread unknown (under 30 mV is needed)");
  else if (*in.spread_mv < kTightSpreadMv)
    a.for_it.push_back(fmt::format("cell spread {:.0f} mV is under 30 mV", *in.spread_mv));
  else
    a.deciding.push_back(fmt::format("cell spread {:.0f} mV is not under 30 mV", *in.spread_mv));
  if (!in.soc_low || !in.soc_high)
    a.deciding.push_back("SOC window unknown (30-80 % is needed)");
  else if (*in.soc_low >= kSocLow && *in.soc_high <= kSocHigh)
    a.for_it.push_back(
        fmt::format("SOC window {:.0f}-{:.0f} % is within 30-80 %", *in.soc_low, *in.soc_high));
  else
    a.deciding.push_back(
        fmt::format("SOC window {:.0f}-{:.0f} % goes beyond 30-80 %", *in.soc_low, *in.soc_high));
  if (!in.c_rate)
    a.deciding.push_back("usual C-rate unknown (under 0.3 C is needed)");
  else if (*in.c_rate < kCLow)
    a.for_it.push_back(fmt::format("{:.2f} C is under 0.3 C", *in.c_rate));
  else if (*in.c_rate <= kCHigh)
    a.deciding.push_back(fmt::format("{:.2f} C is between 0.3 and 0.5 C", *in.c_rate));
  if (!in.indoor)
    a.deciding.push_back("indoors or outdoors unknown (temperature-controlled indoors is needed)");
  else if (*in.indoor)
    a.for_it.push_back("indoors, temperature-controlled");

  a.verdict = !a.against.empty()   ? Acceptability::kNotAcceptable
              : a.deciding.empty() ? Acceptability::kAcceptable
                                   : Acceptability::kDepends;
  if (a.verdict == Acceptability::kNotAcceptable) a.deciding.clear();

  HardcodeTerms terms = hardcode_terms();
  a.lost_protection = std::move(terms.lost_protection);
  a.maintenance = std::move(terms.maintenance);
  a.expected_life = std::move(terms.expected_life);
  a.acknowledgment = fmt::format(
      "I understand that the battery and the inverter could not be made to communicate after "
      "a full diagnosis across all five layers, and that the inverter now runs on fixed settings "
      "instead of the battery's own limits: charge to {:.1f} V, cut off at {:.1f} V, at most "
      "{:.0f} A charging and discharging. This removes dynamic charge and discharge limits, "
      "temperature compensation, cell imbalance protection, accurate state of charge and "
      "balancing coordination, may affect the warranty, needs a manual balancing charge every "
      "quarter and may shorten the battery's life to 6-8 years.",
      a.charge_voltage_v, a.cutoff_voltage_v, a.current_high_a);
  return a;
}

nlohmann::json hardcode_json(const HardcodeAdvice& a) {
  auto opt = [](const std::optional<double>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  return {
      {"pack",
       {{"cells_series", a.cells},
        {"from", a.battery.empty() ? "cells" : "battery"},
        {"battery", a.battery.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.battery)},
        {"battery_name",
         a.battery.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.battery_name)},
        {"charge_max_v", opt(a.charge_max_v)},
        {"cutoff_min_v", opt(a.cutoff_min_v)},
        {"sources", a.cells_sources},
        {"source_class", a.cells_source_class
                             ? nlohmann::json(std::string(source_class_name(*a.cells_source_class)))
                             : nlohmann::json(nullptr)}}},
      {"limited", a.limited},
      {"settings",
       {{"communication", "disabled"},
        {"battery_type", "LFP (manual)"},
        {"charge_voltage_v", a.charge_voltage_v},
        {"charge_v_per_cell", a.charge_v_per_cell},
        {"cutoff_voltage_v", a.cutoff_voltage_v},
        {"cutoff_v_per_cell", a.cutoff_v_per_cell},
        {"charge_current_a", {a.current_low_a, a.current_high_a}},
        {"discharge_current_a", {a.current_low_a, a.current_high_a}}}},
      {"kwh", a.kwh},
      {"kwh_estimated", a.kwh_estimated},
      {"verdict", std::string(acceptability_name(a.verdict))},
      {"against", a.against},
      {"for", a.for_it},
      {"deciding", a.deciding},
      {"lost_protection", a.lost_protection},
      {"maintenance", a.maintenance},
      {"expected_life", a.expected_life},
      {"acknowledgment", a.verdict == Acceptability::kNotAcceptable
                             ? nlohmann::json(nullptr)
                             : nlohmann::json(a.acknowledgment)}};
}

std::string hardcode_text(const HardcodeAdvice& a) {
  std::string out;
  auto it = std::back_inserter(out);
  if (a.battery.empty())
    fmt::format_to(it, "Pack: {} cells in series (as given)\n", a.cells);
  else
    fmt::format_to(it, "Pack: {}, {} cells in series ({}){}\n", a.battery_name, a.cells,
                   a.cells_source_class ? source_class_caveat(*a.cells_source_class) : "",
                   a.charge_max_v && a.cutoff_min_v ? fmt::format("; maker's range {:.1f}-{:.1f} V",
                                                                  *a.cutoff_min_v, *a.charge_max_v)
                                                    : std::string());
  fmt::format_to(it, "Static settings (communication disabled, battery type LFP):\n");
  fmt::format_to(it, "  charge voltage      {:.1f} V ({:.2f} V/cell)\n", a.charge_voltage_v,
                 a.charge_v_per_cell);
  fmt::format_to(it, "  low-voltage cut-off {:.1f} V ({:.2f} V/cell)\n", a.cutoff_voltage_v,
                 a.cutoff_v_per_cell);
  fmt::format_to(it, "  charge current      {:.0f}-{:.0f} A (0.3-0.5 C)\n", a.current_low_a,
                 a.current_high_a);
  fmt::format_to(it, "  discharge current   {:.0f}-{:.0f} A (the same)\n", a.current_low_a,
                 a.current_high_a);
  for (const auto& l : a.limited) fmt::format_to(it, "  note: {}\n", l);
  fmt::format_to(it, "\nSystem: {:.1f} kWh{}\n", a.kwh,
                 a.kwh_estimated ? " (estimated at 3.2 V per cell)" : "");
  const char* verdict = a.verdict == Acceptability::kAcceptable      ? "ACCEPTABLE"
                        : a.verdict == Acceptability::kNotAcceptable ? "NOT ACCEPTABLE"
                                                                     : "DEPENDS";
  fmt::format_to(it, "Hardcoding: {}\n", verdict);
  for (const auto& s : a.against) fmt::format_to(it, "  against: {}\n", s);
  for (const auto& s : a.for_it) fmt::format_to(it, "  for:     {}\n", s);
  for (const auto& s : a.deciding) fmt::format_to(it, "  decides: {}\n", s);
  fmt::format_to(it, "\nProtection lost:\n");
  for (const auto& s : a.lost_protection) fmt::format_to(it, "  - {}\n", s);
  fmt::format_to(it, "\nMaintenance: {}\nExpected life: {}\n", a.maintenance, a.expected_life);
  if (a.verdict == Acceptability::kNotAcceptable)
    fmt::format_to(it,
                   "\nNothing for the customer to sign: hardcoding is not acceptable for this "
                   "system. Escalate to the manufacturer or replace the BMS or the inverter.\n");
  else
    fmt::format_to(it, "\nFor the customer to sign:\n  {}\n", a.acknowledgment);
  return out;
}

}  // namespace bmslink::diagnosis
