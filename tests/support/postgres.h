// Test helper: a real PostgreSQL server from Debian's packages, started for the tests on a free
// local port with private data and socket directories (as the postgres user when running as
// root: PostgreSQL refuses root), and stopped and removed after.
#pragma once

#include <glob.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <libpq-fe.h>

namespace bmslink::test {

class PostgresServer {
 public:
  // nullptr with `why` set when the server cannot be started here.
  static std::unique_ptr<PostgresServer> start(std::string& why) {
    glob_t g{};
    std::string bin;
    if (::glob("/usr/lib/postgresql/*/bin/initdb", 0, nullptr, &g) == 0 && g.gl_pathc > 0) {
      bin = g.gl_pathv[g.gl_pathc - 1];
      bin = bin.substr(0, bin.size() - std::string("/initdb").size());
    }
    ::globfree(&g);
    if (bin.empty()) {
      why = "no /usr/lib/postgresql/*/bin/initdb (scripts/bootstrap installs postgresql)";
      return nullptr;
    }
    char tmpl[] = "/tmp/bmslink-pg-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      why = "mkdtemp failed";
      return nullptr;
    }
    auto s = std::unique_ptr<PostgresServer>(new PostgresServer(bin, tmpl));
    const bool root = ::geteuid() == 0;
    s->as_ = root ? "runuser -u postgres -- " : "";
    if (root && ::getpwnam("postgres") == nullptr) {
      why = "no postgres user";
      return nullptr;
    }
    if (root) std::system(fmt::format("chown postgres {}", s->dir_).c_str());
    s->port_ = free_port();
    const std::string init = fmt::format(
        "{}{}/initdb -D {}/data -A trust -U postgres -E UTF8 --no-sync >{}/initdb.log 2>&1", s->as_,
        bin, s->dir_, s->dir_);
    if (std::system(init.c_str()) != 0) {
      why = "initdb failed, see " + s->dir_ + "/initdb.log";
      return nullptr;
    }
    const std::string start_cmd = fmt::format(
        "{}{}/pg_ctl -D {}/data -l {}/server.log -w -t 60 -o \"-p {} -k {} -c "
        "listen_addresses=127.0.0.1\" start >/dev/null 2>&1",
        s->as_, bin, s->dir_, s->dir_, s->port_, s->dir_);
    if (std::system(start_cmd.c_str()) != 0) {
      why = "pg_ctl start failed, see " + s->dir_ + "/server.log";
      return nullptr;
    }
    s->running_ = true;
    return s;
  }

  ~PostgresServer() {
    if (running_)
      std::system(fmt::format("{}{}/pg_ctl -D {}/data -m immediate -w stop >/dev/null 2>&1", as_,
                              bin_, dir_)
                      .c_str());
    std::system(fmt::format("rm -rf {}", dir_).c_str());
  }

  std::string url(const std::string& db = "postgres") const {
    return fmt::format("postgresql://postgres@127.0.0.1:{}/{}", port_, db);
  }

  // A fresh, empty database for one test.
  std::string fresh_database() {
    const std::string name = fmt::format("t{}", ++databases_);
    PGconn* c = PQconnectdb(url().c_str());
    PGresult* r = PQexec(c, fmt::format("CREATE DATABASE {}", name).c_str());
    PQclear(r);
    PQfinish(c);
    return url(name);
  }

 private:
  PostgresServer(std::string bin, std::string dir) : bin_(std::move(bin)), dir_(std::move(dir)) {}

  static int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    const int port = ntohs(a.sin_port);
    ::close(fd);
    return port;
  }

  std::string bin_, dir_, as_;
  int port_ = 0;
  int databases_ = 0;
  bool running_ = false;
};

}  // namespace bmslink::test
