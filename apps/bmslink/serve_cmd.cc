// `bmslink serve`: starts the web console and prints its URL; Ctrl-C (SIGINT) or SIGTERM stops
// it cleanly; SIGHUP reads the TLS certificate again. `bmslink user add|list|disable|passwd`:
// team-mode accounts (passwords read from standard input).

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "bmslink/core/time.h"
#include "bmslink/records/store.h"
#include "bmslink/server/server.h"
#include "cli.h"

namespace bmslink::app {
namespace {

struct ServeArgs {
  std::string bind = "127.0.0.1", db, captures;
  int port = 8080;
  bool team = false;
  double max_upload_mb = 2048;
  double max_kept_mb = 20480;
  std::vector<std::string> samples;  // analysed into a demo case on the first start
  std::string live;                  // IFACE for the live page
  live::LiveOptions live_options;
  live::MqttOptions mqtt;
  std::string tls_cert, tls_key, trusted_proxy;
  std::string session_idle = "12h", session_max = "7d", keep_unreferenced = "7d";
};

struct UserArgs {
  std::string name, role = "technician", db;
  bool enable = false;
};

// "12h" -> seconds, or a message naming the option.
std::optional<std::chrono::seconds> duration_option(const std::string& option,
                                                    const std::string& text) {
  const auto s = parse_duration_s(text);
  if (!s || *s <= 0) {
    fmt::print(stderr, "bmslink: {} {}: expected a duration such as 90s, 15m, 12h or 7d\n", option,
               text);
    return std::nullopt;
  }
  return std::chrono::seconds(*s);
}

int cmd_serve(const ServeArgs& a) {
  // Signals are taken by one thread with sigwait, blocked everywhere else (the server's
  // workers inherit the mask).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  server::ServerOptions o;
  o.bind = a.bind;
  o.port = a.port;
  o.db_url = a.db;
  o.captures_dir = a.captures;
  o.team = a.team;
  o.max_upload_bytes = static_cast<std::uint64_t>(a.max_upload_mb * 1024 * 1024);
  o.max_kept_bytes = static_cast<std::uint64_t>(a.max_kept_mb * 1024 * 1024);
  o.live_iface = a.live;
  o.live = a.live_options;
  o.live_mqtt = a.mqtt;
  if (const char* pw = std::getenv("BMSLINK_MQTT_PASSWORD")) o.live_mqtt.password = pw;
  o.tls_cert_file = a.tls_cert;
  o.tls_key_file = a.tls_key;
  o.trusted_proxies = a.trusted_proxy;
  const auto idle = duration_option("--session-idle", a.session_idle);
  const auto longest = duration_option("--session-max", a.session_max);
  // "never", or at least an hour: an upload waits that long for the case it belongs to.
  const auto keep = a.keep_unreferenced == "never" ? std::optional<std::int64_t>(0)
                                                   : parse_duration_s(a.keep_unreferenced);
  if (!keep || (a.keep_unreferenced != "never" && *keep < 3600)) {
    fmt::print(stderr,
               "bmslink: --keep-unreferenced {}: expected a duration of an hour or more (12h, 7d) "
               "or never\n",
               a.keep_unreferenced);
    return kExitUsage;
  }
  o.keep_unreferenced = std::chrono::seconds(*keep);
  if (!idle || !longest) return kExitUsage;
  o.session_idle = *idle;
  o.session_longest = *longest;

  o.log = [](const std::string& line) { fmt::print(stderr, "bmslink serve: {}\n", line); };
  auto s = server::Server::create(o);
  if (!s) {
    fmt::print(stderr, "bmslink: {}\n", s.error().message);
    return s.error().code == ErrorCode::kInvalidArgument ? kExitUsage : kExitInput;
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
  if (a.team && a.bind == "127.0.0.1" && a.trusted_proxy.empty())
    fmt::print(
        "team mode on localhost only; --bind 0.0.0.0 with --tls-cert/--tls-key to reach it from "
        "the network\n");
  if (!a.team && a.bind != "127.0.0.1" && a.bind != "localhost" && a.bind != "::1")
    fmt::print(stderr,
               "bmslink: warning: single-user mode has no login and listens on {}: anyone who "
               "reaches it can read and change the records (use --team)\n",
               a.bind);
  fmt::print("bmslink web console: {}  (Ctrl-C stops it)\n", (*s)->url());
  std::fflush(stdout);
  std::thread signals([&] {
    for (;;) {
      int sig = 0;
      sigwait(&set, &sig);
      if (sig != SIGHUP) break;
      // A renewed certificate: new connections use it, the old one stays if it cannot be read.
      if (a.tls_cert.empty()) continue;
      auto loaded = (*s)->reload_tls();
      if (loaded)
        fmt::print(stderr, "bmslink serve: certificate read again: {}\n", *loaded);
      else
        fmt::print(stderr, "bmslink serve: certificate not renewed: {}\n", loaded.error().message);
    }
    (*s)->stop();
  });
  (*s)->run();
  // Stopped by a signal, or the listener failed: either way the signal thread must end (a
  // SIGTERM it waits for).
  pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
  return 0;
}

std::optional<std::string> read_password(const char* command) {
  std::string password;
  if (!std::getline(std::cin, password)) {
    fmt::print(stderr, "bmslink: {}: give the password on standard input\n", command);
    return std::nullopt;
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  return password;
}

int cmd_user_add(const UserArgs& a) {
  const auto password = read_password("user add");
  if (!password) return kExitUsage;
  auto user = server::make_user(a.name, *password, a.role);
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

int cmd_user_list(const UserArgs& a) {
  auto store = open_store(a.db);
  if (!store) return kExitInput;
  auto users = store->list_users();
  auto sessions = store->list_sessions();
  if (!users || !sessions) {
    fmt::print(stderr, "bmslink: {}\n", (!users ? users.error() : sessions.error()).message);
    return 1;
  }
  if (users->empty()) {
    fmt::print("no accounts (bmslink user add NAME)\n");
    return 0;
  }
  fmt::print("{:<24} {:<11} {:<9} {}\n", "name", "role", "state", "sessions");
  for (const auto& u : *users) {
    const auto n = std::count_if(sessions->begin(), sessions->end(),
                                 [&](const records::StoredSession& x) { return x.user == u.name; });
    fmt::print("{:<24} {:<11} {:<9} {}\n", u.name, records::role_name(u.role),
               u.disabled ? "disabled" : "enabled", n);
  }
  return 0;
}

// Disable (or --enable) an account, or give it a new password: its sessions end on every server.
int cmd_user_change(const UserArgs& a, bool password) {
  std::optional<std::string> new_password;
  if (password && !(new_password = read_password("user passwd"))) return kExitUsage;
  auto store = open_store(a.db);
  if (!store) return kExitInput;
  auto user = store->get_user(a.name);
  if (!user) {
    fmt::print(stderr, "bmslink: {}\n", user.error().message);
    return 1;
  }
  if (!*user) {
    fmt::print(stderr, "bmslink: no account {} (bmslink user list)\n", a.name);
    return kExitInput;
  }
  records::User u = **user;
  if (password) {
    auto fresh = server::make_user(u.name, *new_password, std::string(records::role_name(u.role)));
    if (!fresh) {
      fmt::print(stderr, "bmslink: {}\n", fresh.error().message);
      return kExitUsage;
    }
    u.password_hash = fresh->password_hash;
  } else {
    u.disabled = !a.enable;
  }
  if (auto ok = store->put_user(u); !ok) {
    fmt::print(stderr, "bmslink: {}\n", ok.error().message);
    return 1;
  }
  auto ended = store->remove_sessions_of(u.name);
  if (!ended) {
    fmt::print(stderr, "bmslink: {}\n", ended.error().message);
    return 1;
  }
  if (password)
    fmt::print("{} has a new password; {} session(s) ended\n", u.name, *ended);
  else
    fmt::print("{} is {}; {} session(s) ended\n", u.name, u.disabled ? "disabled" : "enabled",
               *ended);
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
  serve->add_option("--captures", sva->captures,
                    "Directory of kept uploads (default: beside the SQLite file, or the data "
                    "directory); servers sharing one PostgreSQL share it");
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
  serve->add_option("--tls-cert", sva->tls_cert,
                    "HTTPS: the certificate (chain) in PEM; SIGHUP reads it again after renewal");
  serve->add_option("--tls-key", sva->tls_key, "HTTPS: the certificate's private key (PEM)");
  serve->add_option("--trusted-proxy", sva->trusted_proxy,
                    "Addresses or networks (comma-separated) of the reverse proxy in front, whose "
                    "X-Forwarded-For/-Proto are believed");
  serve->add_option("--keep-unreferenced", sva->keep_unreferenced,
                    "Remove uploads no case refers to this long after they came (7d; 1h at least; "
                    "never)");
  serve->add_option("--session-idle", sva->session_idle,
                    "Team sessions end when unused this long (12h; 90s, 15m, 12h, 7d)");
  serve->add_option("--session-max", sva->session_max,
                    "Team sessions end this long after the login whatever their use (7d)");
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
  auto* list = user->add_subcommand("list", "Accounts, their role, state and open sessions");
  list->add_option("--db", ua->db, kDbHelp);
  commands.add(list, [ua] { return cmd_user_list(*ua); });
  auto* disable = user->add_subcommand(
      "disable", "Disable an account (kept for the record; its sessions end at once)");
  disable->add_option("NAME", ua->name, "Login name")->required();
  disable->add_flag("--enable", ua->enable, "Enable it again instead");
  disable->add_option("--db", ua->db, kDbHelp);
  commands.add(disable, [ua] { return cmd_user_change(*ua, false); });
  auto* passwd = user->add_subcommand(
      "passwd", "Set an account's password (read from standard input); its sessions end");
  passwd->add_option("NAME", ua->name, "Login name")->required();
  passwd->add_option("--db", ua->db, kDbHelp);
  commands.add(passwd, [ua] { return cmd_user_change(*ua, true); });
}

}  // namespace bmslink::app
