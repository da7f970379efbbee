// `bmslink serve`: starts the web console and prints its URL; Ctrl-C (SIGINT) or SIGTERM stops
// it cleanly. `bmslink user add`: a team-mode account, the password read from standard input.

#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "bmslink/records/store.h"
#include "bmslink/server/server.h"
#include "cli.h"

namespace bmslink::app {
namespace {

struct ServeArgs {
  std::string bind = "127.0.0.1", db;
  int port = 8080;
  bool team = false;
  double max_upload_mb = 2048;
  double max_kept_mb = 20480;
  std::vector<std::string> samples;  // analysed into a demo case on the first start
  std::string live;                  // IFACE for the live page
  live::LiveOptions live_options;
  live::MqttOptions mqtt;
};

struct UserArgs {
  std::string name, role = "technician", db;
};

int cmd_serve(const ServeArgs& a) {
  // Signals are taken by one thread with sigwait, blocked everywhere else (the server's
  // workers inherit the mask).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  server::ServerOptions o;
  o.bind = a.bind;
  o.port = a.port;
  o.db_url = a.db;
  o.team = a.team;
  o.max_upload_bytes = static_cast<std::uint64_t>(a.max_upload_mb * 1024 * 1024);
  o.max_kept_bytes = static_cast<std::uint64_t>(a.max_kept_mb * 1024 * 1024);
  o.live_iface = a.live;
  o.live = a.live_options;
  o.live_mqtt = a.mqtt;
  if (const char* pw = std::getenv("BMSLINK_MQTT_PASSWORD")) o.live_mqtt.password = pw;

  o.log = [](const std::string& line) { fmt::print(stderr, "bmslink serve: {}\n", line); };
  auto s = server::Server::create(o);
  if (!s) {
    fmt::print(stderr, "bmslink: {}\n", s.error().message);
    return kExitInput;
  }
  if (!a.samples.empty() && !a.team) {
    auto seeded = (*s)->seed_demo(a.samples);
    if (!seeded)
      fmt::print(stderr, "bmslink: demo case not loaded: {}\n", seeded.error().message);
    else if (*seeded)
      fmt::print("loaded a demo case with {} bundled sample capture(s)\n", a.samples.size());
  }
  auto port = (*s)->bind();
  if (!port) {
    fmt::print(stderr, "bmslink: {}\n", port.error().message);
    return 1;
  }
  if (a.team && a.bind == "127.0.0.1")
    fmt::print("team mode on localhost only; --bind 0.0.0.0 to reach it from the network\n");
  if (!a.team && a.bind != "127.0.0.1" && a.bind != "localhost" && a.bind != "::1")
    fmt::print(stderr,
               "bmslink: warning: single-user mode has no login and listens on {}: anyone who "
               "reaches it can read and change the records (use --team)\n",
               a.bind);
  fmt::print("bmslink web console: {}  (Ctrl-C stops it)\n", (*s)->url());
  std::fflush(stdout);
  std::thread signals([&] {
    int sig = 0;
    sigwait(&set, &sig);
    (*s)->stop();
  });
  (*s)->run();
  // Stopped by a signal, or the listener failed: either way the signal thread must end.
  pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
  return 0;
}

int cmd_user_add(const UserArgs& a) {
  std::string password;
  if (!std::getline(std::cin, password)) {
    fmt::print(stderr, "bmslink: user add: give the password on standard input\n");
    return 2;
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  auto user = server::make_user(a.name, password, a.role);
  if (!user) {
    fmt::print(stderr, "bmslink: {}\n", user.error().message);
    return 2;
  }
  auto store = open_store(a.db);
  if (!store) return kExitInput;
  if (auto ok = store->put_user(*user); !ok) {
    fmt::print(stderr, "bmslink: {}\n", ok.error().message);
    return 1;
  }
  fmt::print("{} ({}) can log in to bmslink serve --team\n", user->name,
             records::role_name(user->role));
  return 0;
}

}  // namespace

void add_serve_commands(CLI::App& app, Commands& commands) {
  auto sva = std::make_shared<ServeArgs>();
  auto* serve = app.add_subcommand(
      "serve", "The web console: cases, guided checks, capture upload, reports, statistics");
  serve->add_option("--port", sva->port, "TCP port (default 8080)")->check(CLI::Range(0, 65535));
  serve->add_option("--bind", sva->bind,
                    "Address to listen on (default 127.0.0.1: this machine only)");
  serve->add_option("--db", sva->db, kDbHelp);
  serve->add_flag("--team", sva->team,
                  "Team mode: accounts (bmslink user add), sessions, CSRF protection, roles");
  serve->add_option("--max-upload-mb", sva->max_upload_mb, "Largest capture accepted (2048)")
      ->check(CLI::PositiveNumber);
  serve
      ->add_option("--max-kept-mb", sva->max_kept_mb,
                   "Space all kept captures may take together (20480; 0: no limit)")
      ->check(CLI::NonNegativeNumber);
  serve->add_option("--live", sva->live,
                    "Monitor this interface on the live page (slcan:/dev/ttyACM0, socketcan:can0, "
                    "waveshare:/dev/ttyUSB0, replay:FILE)");
  // The monitor's options, named for the live page.
  add_live_options(serve, sva->live_options, true, false, "live-");
  serve->add_option("--mqtt", sva->mqtt.url,
                    "Also publish the live bus to this broker (mqtt:// or mqtts://), as "
                    "`monitor --mqtt` does");
  serve->add_option("--mqtt-user", sva->mqtt.user, "MQTT user name");
  serve->add_option("--mqtt-id", sva->mqtt.id, "Device id in the topics (default bmslink)");
  serve->add_option("--mqtt-ca", sva->mqtt.ca_file, "mqtts: the broker's CA file");
  serve->add_option("--mqtt-cert", sva->mqtt.cert_file, "mqtts: a client certificate (PEM)");
  serve->add_option("--mqtt-key", sva->mqtt.key_file, "mqtts: the client certificate's key");
  serve->add_option("--samples", sva->samples,
                    "Captures analysed into a demo case when the records are empty");
  commands.add(serve, [sva] { return cmd_serve(*sva); });

  auto* user = app.add_subcommand("user", "Team-mode accounts");
  user->require_subcommand(1);
  auto ua = std::make_shared<UserArgs>();
  auto* add = user->add_subcommand(
      "add", "Add or replace an account; the password is read from standard input");
  add->add_option("NAME", ua->name, "Login name")->required();
  add->add_option("--role", ua->role, "technician (default) or admin")
      ->check(CLI::IsMember({"technician", "admin"}));
  add->add_option("--db", ua->db, kDbHelp);
  commands.add(add, [ua] { return cmd_user_add(*ua); });
}

}  // namespace bmslink::app
