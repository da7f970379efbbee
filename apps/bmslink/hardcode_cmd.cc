// `bmslink hardcode` (static inverter settings when every layer is exhausted, and whether that
// is acceptable) and `bmslink devices` (the knowledge base). Arguments and printing only.

#include <cstdio>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "bmslink/diagnosis/hardcode.h"
#include "cli.h"
#include "guided_text.h"

namespace bmslink::app {
namespace {

using diagnosis::CheckCatalogue;
using diagnosis::KnowledgeBase;

struct HardcodeArgs {
  std::string chemistry = "lfp";
  std::optional<int> cells;
  std::string battery;
  double capacity_ah = 0;
  std::optional<double> kwh, c_rate, spread_mv;
  std::string soc_window;
  bool indoor = false, outdoor = false, commercial = false, json = false;
};

int cmd_hardcode(const HardcodeArgs& args) {
  diagnosis::HardcodeInput in;
  in.chemistry = args.chemistry;
  in.cells = args.cells;
  in.battery = args.battery;
  auto kb = KnowledgeBase::builtin();
  if (!kb) {
    fmt::print(stderr, "bmslink: built-in data: {}\n", kb.error().message);
    return kExitInput;
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
      return kExitUsage;
    }
    in.soc_low = lo;
    in.soc_high = hi;
  }
  if (args.indoor && args.outdoor) {
    fmt::print(stderr, "bmslink: --indoor and --outdoor exclude each other\n");
    return kExitUsage;
  }
  if (args.indoor) in.indoor = true;
  if (args.outdoor) in.indoor = false;
  in.commercial = args.commercial;
  auto advice = diagnosis::advise_hardcode(in, &*kb);
  if (!advice) {
    fmt::print(stderr, "bmslink: {}\n", advice.error().message);
    return advice.error().code == ErrorCode::kUnsupported ? kExitInput : kExitUsage;
  }
  if (args.json)
    fmt::print("{}\n", diagnosis::hardcode_json(*advice).dump(2));
  else
    fmt::print("{}", diagnosis::hardcode_text(*advice));
  return kExitOk;
}

int cmd_devices(const GuidedArgs& args, const std::string& query) {
  CheckCatalogue cat;
  KnowledgeBase kb;
  if (!load(args, cat, kb)) return kExitInput;
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
    return kExitOk;
  }
  if (query.empty()) {
    fmt::print("{} protocols, {} inverter families, {} battery families (--json for all of it)\n",
               kb.protocols().size(), kb.inverters().size(), kb.batteries().size());
    for (const auto& d : kb.inverters())
      fmt::print("  inverter  {:<24} {} {}\n", d.id, d.brand, d.family);
    for (const auto& d : kb.batteries())
      fmt::print("  battery   {:<24} {} {}\n", d.id, d.brand, d.family);
    return kExitOk;
  }
  if (!inv && !bat) {
    fmt::print(stderr, "bmslink: no device matches \"{}\"\n", query);
    return kExitInput;
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
  return kExitOk;
}

}  // namespace

void add_hardcode_commands(CLI::App& app, Commands& commands) {
  auto da = std::make_shared<GuidedArgs>();
  auto query = std::make_shared<std::string>();
  auto* devices = app.add_subcommand(
      "devices", "The device knowledge base: inverter menu values, pins, bit rates, known issues");
  devices->add_option("MODEL", *query, "An inverter or battery model to look up");
  devices->add_flag("--json", da->json, "Everything as JSON (for pickers)");
  devices->add_option("--devices", da->device_files, "Your own knowledge-base file(s) on top")
      ->expected(1);
  commands.add(devices, [da, query] { return cmd_devices(*da, *query); });

  auto ha = std::make_shared<HardcodeArgs>();
  auto* hardcode = app.add_subcommand(
      "hardcode",
      "When every layer is exhausted: static inverter settings, whether hardcoding is acceptable, "
      "what is lost, and the customer's acknowledgment");
  hardcode->add_option("--chemistry", ha->chemistry, "Cell chemistry (lfp)");
  hardcode->add_option("--battery", ha->battery,
                       "The battery model: its cells in series and the maker's limits come from "
                       "the knowledge base");
  hardcode->add_option("--cells", ha->cells,
                       "Cells in series, as counted (15 on Pylontech US-series packs, 16 on most "
                       "51.2 V packs); needed when --battery is not given");
  hardcode->add_option("--capacity-ah", ha->capacity_ah, "Capacity in Ah")->required();
  hardcode->add_option("--kwh", ha->kwh, "Energy in kWh (default: cells x 3.2 V x Ah)");
  hardcode->add_option("--c-rate", ha->c_rate, "Usual current as a C-rate (e.g. 0.25)");
  hardcode->add_option("--spread-mv", ha->spread_mv, "Cell voltage spread in mV");
  hardcode->add_option("--soc-window", ha->soc_window, "SOC window used, e.g. 30-80");
  hardcode->add_flag("--indoor", ha->indoor, "Temperature-controlled indoors");
  hardcode->add_flag("--outdoor", ha->outdoor, "Outdoors, uncontrolled temperature");
  hardcode->add_flag("--commercial", ha->commercial,
                     "Commercial or critical use, warranty or insurance constraints");
  hardcode->add_flag("--json", ha->json, "Machine-readable output");
  commands.add(hardcode, [ha] { return cmd_hardcode(*ha); });
}

}  // namespace bmslink::app
