// libFuzzer target for the web console's request bodies: the first byte picks a route (analyze,
// diagnose, hardcode, a new case, a replaced case, login, a new user, the company settings, a
// case version restored, an account changed), the rest is the body, sent
// to a real `Server` on a free port with its own SQLite file. Whatever the body, the answer is a
// 2xx or a 4xx with {"error": ...}; never a 5xx, a crash or a hang, and the server answers after.
// A first byte of 0xF0 or more sends the rest as the whole request, head included, on a raw
// socket (the server's own head reader): the answer is an HTTP status under 500 or a close.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "bmslink/server/server.h"

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

struct Fixture {
  std::unique_ptr<bmslink::server::Server> server;
  std::thread thread;
  int port = 0;
  Fixture() {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("bmslink-fuzz-http-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    bmslink::server::ServerOptions o;
    o.port = 0;
    o.db_url = (dir / "cases.db").string();
    o.max_upload_bytes = 1 << 20;
    o.threads = 4;
    o.head_timeout_ms = 500;
    // Loopback is the proxy: every raw request's X-Forwarded-For and -Proto are read.
    o.trusted_proxies = "127.0.0.1,::1";
    auto s = bmslink::server::Server::create(o);
    require(s.has_value());
    server = std::move(*s);
    auto p = server->bind();
    require(p.has_value());
    port = *p;
    thread = std::thread([this] { server->run(); });
  }
  ~Fixture() {
    server->stop();
    thread.join();
  }
};

// Sends `request` as it is, closes the sending side and returns what comes back.
std::string raw_exchange(int port, std::string_view request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  require(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  require(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  timeval wait{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Fixture f;
  if (size == 0) return 0;
  if (data[0] >= 0xF0) {
    const std::string answer =
        raw_exchange(f.port, std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
    if (!answer.empty()) {
      require(answer.rfind("HTTP/1.1 ", 0) == 0 && answer.size() >= 12);
      require(answer[9] >= '1' && answer[9] <= '4');
    }
    httplib::Client again("127.0.0.1", f.port);
    const auto r = again.Get("/api/session");
    require(r && r->status == 200);
    return 0;
  }
  httplib::Client c("127.0.0.1", f.port);
  c.set_read_timeout(30, 0);
  const std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto send = [&]() -> httplib::Result {
    switch (data[0] % 10) {
      case 0:
        return c.Post("/api/analyze?name=fuzz", body, "application/octet-stream");
      case 1:
        return c.Post("/api/diagnose", body, "application/json");
      case 2:
        return c.Post("/api/hardcode", body, "application/json");
      case 3:
        return c.Post("/api/cases", body, "application/json");
      case 4:
        return c.Put("/api/cases/fuzz-case", body, "application/json");
      case 5:
        return c.Post("/api/login", body, "application/json");
      case 6:
        return c.Post("/api/users", body, "application/json");
      case 7:
        return c.Put("/api/settings", body, "application/json");
      case 8:
        return c.Post("/api/cases/fuzz-case/restore", body, "application/json");
      default:
        return c.Put("/api/users/fuzz", body, "application/json");
    }
  };
  const auto r = send();
  require(static_cast<bool>(r));
  require(r->status < 500);
  if (r->status >= 400) {
    const auto j = nlohmann::json::parse(r->body, nullptr, false);
    require(j.is_object() && j.contains("error") && j["error"].is_string());
  }
  return 0;
}
