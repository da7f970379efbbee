// bmslink command line: parses arguments, calls the library, prints. Exit codes: 0 done,
// 1 the input was unusable, 2 wrong usage (3: analyze --fail-on-fault found a fault).
// Each command is a file of its own that registers itself (the table below).

#include <exception>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli.h"

namespace {

using bmslink::app::Commands;

// The command files, in the order `bmslink help` lists their commands.
constexpr void (*kCommandFiles[])(CLI::App&, Commands&) = {
    bmslink::app::add_capture_commands, bmslink::app::add_analyze_command,
    bmslink::app::add_simulate_command, bmslink::app::add_live_commands,
    bmslink::app::add_diagnose_command, bmslink::app::add_hardcode_commands,
    bmslink::app::add_case_command,     bmslink::app::add_records_commands,
    bmslink::app::add_serve_commands,
};

// "bmslink help [COMMAND [SUBCOMMAND]]".
int print_help(CLI::App& app, CLI::App* help, const std::vector<std::string>& topic_words) {
  if (topic_words.empty()) {
    fmt::print("{}", app.get_formatter()->make_help(&app, "bmslink", CLI::AppFormatMode::All));
    return bmslink::app::kExitOk;
  }
  CLI::App* topic = &app;
  std::string path = "bmslink";  // the parents: CLI11 adds the command's own name
  std::string parent = path;
  for (const auto& word : topic_words) {
    CLI::App* sub = nullptr;
    try {
      sub = topic->get_subcommand(word);
    } catch (const CLI::OptionNotFound&) {
      sub = nullptr;
    }
    if (sub == nullptr || sub == help) {
      if (topic == &app)
        fmt::print(stderr, "bmslink: no command '{}'; 'bmslink help' lists them\n", word);
      else
        fmt::print(stderr, "bmslink: '{}' has no subcommand '{}'; 'bmslink help {}' shows it\n",
                   path, word, path.substr(8));
      return bmslink::app::kExitUsage;
    }
    topic = sub;
    parent = path;
    path += " " + word;
  }
  fmt::print("{}", topic->help(parent));
  return bmslink::app::kExitOk;
}

}  // namespace

int main(int argc, char** argv) try {
  CLI::App app{"bmslink: why a battery's BMS and an inverter are not talking over CAN"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");
  Commands commands;
  for (auto add : kCommandFiles) add(app, commands);
  auto* help = app.add_subcommand("help", "Show help: 'bmslink help COMMAND' for one command");
  std::vector<std::string> help_topic;
  help->add_option("COMMAND", help_topic, "The command (and subcommand) to explain");
  app.set_version_flag("--version", std::string("bmslink ") + BMSLINK_VERSION);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return bmslink::app::kExitUsage;
  }
  if (help->parsed()) return print_help(app, help, help_topic);
  if (const auto rc = commands.run_parsed()) return *rc;
  return bmslink::app::kExitUsage;
} catch (const std::exception& e) {
  fmt::print(stderr, "bmslink: internal error: {}\n", e.what());
  return bmslink::app::kExitInput;
}
