// `simulate`: the capture of a simulated site written to a file, or the site live behind a
// virtual SLCAN or Waveshare adapter on a pseudo-terminal.

#include <string>

#include <fmt/format.h>

#include "bmslink/capture/writer.h"
#include "bmslink/sim/site.h"
#include "bmslink/sim/virtual_adapter.h"
#include "cli.h"

namespace bmslink::app {
namespace {

int cmd_simulate_pty(const sim::AdapterOptions& options) {
  auto& stop = stop_on_signals();
  auto adapter = sim::VirtualAdapter::open(options);
  if (!adapter) {
    fmt::print(stderr, "bmslink: {}\n", adapter.error().message);
    return kExitInput;
  }
  fmt::print("{}\n", (*adapter)->path());
  std::fflush(stdout);
  (*adapter)->run(stop);
  return kExitOk;
}

int cmd_simulate(const sim::SiteOptions& options, const std::string& to,
                 const std::string& output) {
  AtomicOutput out(output);
  if (!out.open()) return kExitInput;
  auto writer = capture::make_writer(
      to == "asc" ? capture::OutputFormat::kVectorAsc : capture::OutputFormat::kCandumpLog,
      out.file());
  auto frames = sim::simulate(options, [&](const can::Frame& f) { writer->write(f); });
  if (!frames) {
    fmt::print(stderr, "bmslink: {}\n", frames.error().message);
    return kExitUsage;
  }
  if (auto closed = writer->finish(); !closed) {
    fmt::print(stderr, "bmslink: {}\n", closed.error().message);
    return kExitInput;
  }
  if (!out.commit()) return kExitInput;
  if (out.to_file()) {
    fmt::print(stderr, "bmslink: {} frames of a {} site ({}) over {} s written to {}\n", *frames,
               sim::variant_name(options.variant), options.fault, options.duration_s, output);
  }
  return kExitOk;
}

}  // namespace

void add_simulate_command(CLI::App& app, Commands& commands) {
  struct Args {
    sim::SiteOptions site;
    std::string variant = "pylon", to = "candump", output;
    bool pty = false, waveshare = false, no_silent = false;
    sim::AdapterOptions adapter;
  };
  auto a = std::make_shared<Args>();
  auto* s = app.add_subcommand(
      "simulate", "Write the capture of a simulated BMS-inverter site, healthy or with one fault");
  std::vector<std::string> fault_choices;
  for (auto n : sim::fault_names()) fault_choices.emplace_back(n);
  s->add_option("--fault", a->site.fault, "Fault to inject (or healthy)")
      ->check(CLI::IsMember(fault_choices));
  s->add_option("--variant", a->variant, "Protocol the BMS speaks")
      ->check(CLI::IsMember({"pylon", "victron", "sma"}));
  s->add_option("--duration", a->site.duration_s, "Seconds to simulate (default 3600)")
      ->check(CLI::Range(1.0, 31.0 * 86400));
  s->add_option("--seed", a->site.seed, "Random seed (same seed, same capture)");
  s->add_option("--strength", a->site.fault_strength,
                "Scale the fault (1 = as designed; smaller to find where a rule stops firing)")
      ->check(CLI::Range(0.0, 100.0));
  s->add_option("--ambient-offset", a->site.ambient_offset_c,
                "Shift the day's ambient temperature in °C (default 0: 19-30 °C)")
      ->check(CLI::Range(-60.0, 60.0));
  s->add_flag("--cold-errors", a->site.cold_errors,
              "thermal_or_time_pattern: errors while the pack is below 8 °C (cold mornings) "
              "instead of above 25 °C");
  s->add_option("--to", a->to, "Output format")->check(CLI::IsMember({"candump", "asc"}));
  s->add_option("-o,--output", a->output, "Output file (standard output by default)");
  s->add_flag("--slcan-pty", a->pty,
              "Run the site live behind a virtual SLCAN adapter on a pseudo-terminal; prints its "
              "path first (open it as slcan:PATH)");
  s->add_flag("--waveshare-pty", a->waveshare,
              "The same behind a virtual Waveshare USB-CAN-A (open it as waveshare:PATH)");
  s->add_option("--bitrate", a->adapter.site_bitrate_bps,
                "The site's bus bit rate, for --slcan-pty (default 500000)")
      ->check(CLI::IsMember({125000, 250000, 500000, 1000000}));
  s->add_option("--speed", a->adapter.speed, "Site seconds per second, for --slcan-pty")
      ->check(CLI::Range(0.01, 1000.0));
  s->add_flag("--adapter-without-listen-only", a->no_silent,
              "The virtual adapter refuses L and M1, as old firmwares do");
  commands.add(s, [a] {
    a->site.variant = a->variant == "victron" ? sim::Variant::kVictron
                      : a->variant == "sma"   ? sim::Variant::kSma
                                              : sim::Variant::kPylon;
    if (a->pty || a->waveshare) {
      a->adapter.site = a->site;
      if (a->waveshare) a->adapter.dialect = sim::Dialect::kWaveshare;
      a->adapter.listen_only_supported = !a->no_silent;
      return cmd_simulate_pty(a->adapter);
    }
    return cmd_simulate(a->site, a->to, a->output);
  });
}

}  // namespace bmslink::app
