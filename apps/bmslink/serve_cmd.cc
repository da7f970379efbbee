// `bmslink serve`: starts the web console and prints its URL; Ctrl-C (SIGINT) or SIGTERM stops
// it cleanly. `bmslink user add`: a team-mode account, the password read from standard input.

#include "serve_cmd.h"

#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "bmslink/records/store.h"
#include "bmslink/server/server.h"

namespace bmslink::app {

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
  o.live_iface = a.live;
  o.log = [](const std::string& line) { fmt::print(stderr, "bmslink serve: {}\n", line); };
  auto s = server::Server::create(o);
  if (!s) {
    fmt::print(stderr, "bmslink: {}\n", s.error().message);
    return 1;
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
  auto store = records::open_store(a.db.empty() ? records::default_store_url() : a.db);
  if (!store) {
    fmt::print(stderr, "bmslink: {}\n", store.error().message);
    return 1;
  }
  if (auto ok = (*store)->put_user(*user); !ok) {
    fmt::print(stderr, "bmslink: {}\n", ok.error().message);
    return 1;
  }
  fmt::print("{} ({}) can log in to bmslink serve --team\n", user->name, user->role);
  return 0;
}

}  // namespace bmslink::app
