// A company's deployment of the console (issue 21): HTTPS with a certificate renewed without a
// restart, a reverse proxy in front (its forwarded client and scheme believed only from it),
// team mode refusing to put passwords on the network in clear, sessions that live in the store
// (a restart keeps them, expiry, log out everywhere, a password change), and two servers on one
// PostgreSQL serving one team.
#include <arpa/inet.h>
#include <httplib.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bmslink/records/store.h"
#include "bmslink/server/server.h"
#include "server/auth.h"
#include "server/connection.h"
#include "support/postgres.h"

namespace bmslink::server {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kSample = std::string(BMSLINK_SOURCE_DIR) + "/data/samples/pylontech_session.log";

fs::path scratch(const std::string& name) {
  static int count = 0;
  const fs::path dir =
      fs::temp_directory_path() / fmt::format("bmslink-team-{}-{}-{}", name, ::getpid(), count++);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// A self-signed certificate for 127.0.0.1 with this common name (openssl from Debian).
void make_certificate(const fs::path& cert, const fs::path& key, const std::string& cn) {
  const std::string cmd = fmt::format(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
      "-subj /CN={} -addext subjectAltName=IP:127.0.0.1 -keyout {} -out {} 2>/dev/null",
      cn, key.string(), cert.string());
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// A server on a free port, run on a thread; the store and captures are the caller's.
class Serving {
 public:
  explicit Serving(ServerOptions o) {
    o.port = 0;
    auto s = Server::create(o);
    if (!s) {
      error_ = s.error().message;
      return;
    }
    server_ = std::move(*s);
    auto port = server_->bind();
    EXPECT_TRUE(port);
    port_ = port ? *port : 0;
    thread_ = std::thread([this] { server_->run(); });
  }
  ~Serving() { stop(); }
  void stop() {
    if (!server_) return;
    server_->stop();
    thread_.join();
    server_.reset();
  }
  bool ok() const { return server_ != nullptr; }
  const std::string& error() const { return error_; }
  int port() const { return port_; }
  Server& server() { return *server_; }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(30, 0);
    return c;
  }

 private:
  std::unique_ptr<Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::string error_;
};

ServerOptions team_options(const fs::path& dir) {
  ServerOptions o;
  o.db_url = (dir / "cases.db").string();
  o.captures_dir = (dir / "captures").string();
  o.team = true;
  return o;
}

// The cookie a login set ("bmslink_session=..."), the CSRF token, and the Set-Cookie line.
struct Login {
  int status = 0;
  std::string cookie, csrf, set_cookie;
  httplib::Headers headers() const { return {{"Cookie", cookie}, {"X-CSRF-Token", csrf}}; }
};

Login log_in(httplib::Client& c, const std::string& name, const std::string& password,
             const httplib::Headers& extra = {}) {
  Login l;
  auto r = c.Post("/api/login", extra, json{{"name", name}, {"password", password}}.dump(),
                  "application/json");
  if (!r) return l;
  l.status = r->status;
  if (r->status != 200) return l;
  l.set_cookie = r->get_header_value("Set-Cookie");
  l.cookie = l.set_cookie.substr(0, l.set_cookie.find(';'));
  l.csrf = json::parse(r->body)["csrf"].get<std::string>();
  return l;
}

int status_of(const httplib::Result& r) { return r ? r->status : -1; }

// The subject of the certificate a TLS server on `port` shows a new connection.
std::string peer_subject(int port) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string subject;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
      if (X509* cert = SSL_get1_peer_certificate(ssl)) {
        char buf[256] = {};
        X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
        subject = buf;
        X509_free(cert);
      }
    }
    SSL_free(ssl);
  }
  ::close(fd);
  SSL_CTX_free(ctx);
  return subject;
}

int raw_connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

TEST(Tls, TheConsoleAnswersOverHttpsAndTakesARenewedCertificateWithoutARestart) {
  const auto dir = scratch("tls");
  make_certificate(dir / "cert.pem", dir / "key.pem", "first.example");
  auto o = team_options(dir);
  o.tls_cert_file = (dir / "cert.pem").string();
  o.tls_key_file = (dir / "key.pem").string();
  Serving s(o);
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_TRUE(s.server().url().starts_with("https://")) << s.server().url();
  ASSERT_TRUE(s.server().set_user("ann", "correct-horse-1", "admin"));
  httplib::Client c(fmt::format("https://127.0.0.1:{}", s.port()));
  c.enable_server_certificate_verification(false);
  const auto login = log_in(c, "ann", "correct-horse-1");
  ASSERT_EQ(login.status, 200);
  // Over HTTPS the cookie is Secure and the browser is told to stay on HTTPS.
  EXPECT_NE(login.set_cookie.find("Secure"), std::string::npos) << login.set_cookie;
  auto stats = c.Get("/api/stats", login.headers());
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->status, 200);
  EXPECT_EQ(stats->get_header_value("Strict-Transport-Security"), "max-age=31536000");
  // An upload over TLS is analysed as over plain HTTP (the bundled sample: 6318 frames).
  std::ifstream in(kSample, std::ios::binary);
  std::stringstream body;
  body << in.rdbuf();
  auto up =
      c.Post("/api/analyze?name=site.log", login.headers(), body.str(), "application/octet-stream");
  ASSERT_TRUE(up);
  ASSERT_EQ(up->status, 200) << up->body;
  EXPECT_EQ(json::parse(up->body)["frames"], 6318);
  EXPECT_NE(peer_subject(s.port()).find("CN=first.example"), std::string::npos);

  // Renewed in place: new connections get the new certificate, the session goes on.
  make_certificate(dir / "cert.pem", dir / "key.pem", "second.example");
  auto reloaded = s.server().reload_tls();
  ASSERT_TRUE(reloaded) << reloaded.error().message;
  EXPECT_NE(reloaded->find("second.example"), std::string::npos) << *reloaded;
  EXPECT_NE(peer_subject(s.port()).find("CN=second.example"), std::string::npos);
  httplib::Client c2(fmt::format("https://127.0.0.1:{}", s.port()));
  c2.enable_server_certificate_verification(false);
  EXPECT_EQ(status_of(c2.Get("/api/cases", login.headers())), 200);

  // A broken renewal is refused with the reason, and the certificate in use stays.
  std::ofstream(dir / "key.pem") << "not a key\n";
  auto broken = s.server().reload_tls();
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().message.find("--tls-key"), std::string::npos) << broken.error().message;
  EXPECT_NE(peer_subject(s.port()).find("CN=second.example"), std::string::npos);
  fs::remove_all(dir);
}

TEST(Tls, AClientThatNeverShakesHandsIsDroppedAndPlainHttpGetsNothing) {
  const auto dir = scratch("tls-slow");
  make_certificate(dir / "cert.pem", dir / "key.pem", "slow.example");
  auto o = team_options(dir);
  o.team = false;
  o.tls_cert_file = (dir / "cert.pem").string();
  o.tls_key_file = (dir / "key.pem").string();
  o.head_timeout_ms = 1000;
  Serving s(o);
  ASSERT_TRUE(s.ok()) << s.error();
  // Ten connections that never start the handshake, and one that speaks plain HTTP.
  std::vector<int> silent;
  for (int i = 0; i < 10; ++i) silent.push_back(raw_connect(s.port()));
  const int plain = raw_connect(s.port());
  const std::string get = "GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  ::send(plain, get.data(), get.size(), MSG_NOSIGNAL);
  // Meanwhile a real client is served at once.
  httplib::Client c(fmt::format("https://127.0.0.1:{}", s.port()));
  c.enable_server_certificate_verification(false);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(status_of(c.Get("/api/stats")), 200);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 900ms);
  // Within the head's second (and a little), every silent one is closed by the server.
  for (int fd : silent) {
    timeval wait{3, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
    char b;
    EXPECT_EQ(::recv(fd, &b, 1, 0), 0) << "closed, not left open";
    ::close(fd);
  }
  // Plain HTTP on the HTTPS port: no HTTP answer (the handshake fails), the server goes on.
  timeval wait{3, 0};
  ::setsockopt(plain, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  char buf[512];
  const ssize_t n = ::recv(plain, buf, sizeof buf, 0);
  EXPECT_TRUE(n <= 0 || std::string(buf, static_cast<std::size_t>(n)).find("HTTP/1.1 200") ==
                            std::string::npos);
  ::close(plain);
  EXPECT_EQ(status_of(c.Get("/api/stats")), 200);
  fs::remove_all(dir);
}

// Clients that hang up while a big answer is on its way: the server goes on writing into a
// closed TLS connection (OpenSSL's write() raises SIGPIPE once the peer has reset it) and must
// live on.
TEST(Tls, ClientsThatHangUpMidAnswerLeaveTheServerRunning) {
  const auto dir = scratch("tls-reset");
  make_certificate(dir / "cert.pem", dir / "key.pem", "reset.example");
  auto o = team_options(dir);
  o.team = false;
  o.tls_cert_file = (dir / "cert.pem").string();
  o.tls_key_file = (dir / "key.pem").string();
  Serving s(o);
  ASSERT_TRUE(s.ok()) << s.error();
  // Two cases of 6 MB each: the list is larger than any socket buffer.
  httplib::Client c(fmt::format("https://127.0.0.1:{}", s.port()));
  c.enable_server_certificate_verification(false);
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(status_of(c.Post(
                  "/api/cases",
                  json{{"site", {{"name", "big"}}}, {"notes", std::string(6 << 20, 'n')}}.dump(),
                  "application/json")),
              201);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  for (int i = 0; i < 5; ++i) {
    const int fd = raw_connect(s.port());
    ASSERT_GE(fd, 0);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    ASSERT_EQ(SSL_connect(ssl), 1);
    const std::string get =
        fmt::format("GET /api/cases HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n", s.port());
    SSL_write(ssl, get.data(), static_cast<int>(get.size()));
    char b[4096];
    SSL_read(ssl, b, sizeof b);  // the answer has started
    SSL_free(ssl);
    ::close(fd);  // gone: what the server writes next is answered with a reset
  }
  SSL_CTX_free(ctx);
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(status_of(c.Get("/api/stats")), 200);
  fs::remove_all(dir);
}

TEST(Team, OnTheNetworkTeamModeNeedsHttpsHereOrAProxyInFront) {
  const auto dir = scratch("bind");
  auto o = team_options(dir);
  o.bind = "0.0.0.0";
  auto refused = Server::create(o);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  for (const char* fix : {"--tls-cert", "--tls-key", "--trusted-proxy"})
    EXPECT_NE(refused.error().message.find(fix), std::string::npos) << refused.error().message;
  // Single-user mode and loopback are not refused (single-user warns on the command line).
  o.team = false;
  EXPECT_TRUE(Server::create(o));
  o.team = true;
  o.bind = "127.0.0.1";
  EXPECT_TRUE(Server::create(o));
  // A proxy in front, or TLS here, is enough.
  o.bind = "0.0.0.0";
  o.trusted_proxies = "10.0.0.5";
  EXPECT_TRUE(Server::create(o));
  o.trusted_proxies.clear();
  make_certificate(dir / "cert.pem", dir / "key.pem", "office.example");
  o.tls_cert_file = (dir / "cert.pem").string();
  EXPECT_FALSE(Server::create(o)) << "a certificate without its key";
  o.tls_key_file = (dir / "key.pem").string();
  EXPECT_TRUE(Server::create(o));
  // A proxy list that is not addresses is refused with the entry named.
  o.trusted_proxies = "10.0.0.0/8, proxy.example";
  auto bad = Server::create(o);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("\"proxy.example\""), std::string::npos)
      << bad.error().message;
  fs::remove_all(dir);
}

TEST(AddressSet, NetworksOfBothFamiliesMatchByPrefix) {
  auto set = AddressSet::parse("10.0.0.0/8, 192.168.1.10,fd00::/8 ,::1");
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_TRUE(set->contains("10.200.3.4"));
  EXPECT_TRUE(set->contains("::ffff:10.1.1.1"));  // how a dual-stack socket names it
  EXPECT_FALSE(set->contains("11.0.0.1"));
  EXPECT_TRUE(set->contains("192.168.1.10"));
  EXPECT_FALSE(set->contains("192.168.1.11"));
  EXPECT_TRUE(set->contains("fd12:3456::1"));
  EXPECT_FALSE(set->contains("fe80::1"));
  EXPECT_TRUE(set->contains("::1"));
  EXPECT_FALSE(set->contains("not an address"));
  auto odd = AddressSet::parse("172.16.0.0/12");
  ASSERT_TRUE(odd);
  EXPECT_TRUE(odd->contains("172.31.255.255"));
  EXPECT_FALSE(odd->contains("172.32.0.0"));
  for (const char* bad : {"10.0.0.0/33", "fd00::/129", "10.0.0.0/", "10.0.0.0/x", "example.com"})
    EXPECT_FALSE(AddressSet::parse(bad)) << bad;
}

// Behind a proxy every technician shares its address: the login limit counts the client the
// proxy forwards, and the cookie's Secure flag follows the scheme it forwards.
TEST(Proxy, LoginLimitsCountTheForwardedClientSoOneGuesserLocksOutNobodyElse) {
  const auto dir = scratch("proxy");
  auto o = team_options(dir);
  o.trusted_proxies = "127.0.0.1";
  Serving s(o);
  ASSERT_TRUE(s.ok()) << s.error();
  ASSERT_TRUE(s.server().set_user("ann", "correct-horse-1", "technician"));
  auto c = s.client();
  const httplib::Headers guesser = {{"X-Forwarded-For", "203.0.113.7"},
                                    {"X-Forwarded-Proto", "https"}};
  int refused = 0;
  for (int i = 0; i < 24; ++i) {
    auto r =
        c.Post("/api/login", guesser,
               json{{"name", "nobody" + std::to_string(i)}, {"password", "wrong-wrong"}}.dump(),
               "application/json");
    refused += status_of(r) == 429;
  }
  EXPECT_EQ(refused, 4) << "the 21st to 24th failures from 203.0.113.7 are refused";
  // The office colleague behind the same proxy logs in at once.
  const auto ann = log_in(c, "ann", "correct-horse-1",
                          {{"X-Forwarded-For", "198.51.100.20"}, {"X-Forwarded-Proto", "https"}});
  ASSERT_EQ(ann.status, 200);
  EXPECT_NE(ann.set_cookie.find("Secure"), std::string::npos) << ann.set_cookie;
  auto r = c.Get("/api/cases", {{"Cookie", ann.cookie}, {"X-Forwarded-Proto", "https"}});
  EXPECT_EQ(r->get_header_value("Strict-Transport-Security"), "max-age=31536000");
  // A chain: the client is the rightmost address that is not the proxy.
  int chained = 0;
  for (int i = 0; i < 3; ++i)
    chained += status_of(c.Post(
                   "/api/login", {{"X-Forwarded-For", "203.0.113.7, 127.0.0.1"}},
                   json{{"name", fmt::format("chained{}", i)}, {"password", "wrong-wrong"}}.dump(),
                   "application/json")) == 429;
  EXPECT_EQ(chained, 3) << "203.0.113.7 behind two proxies is still 203.0.113.7";
  // A proxy that adds a line of its own after the client's: the client's line (forged here)
  // does not decide; 198.51.100.99, the proxy's line, is the client and is counted.
  int appended = 0;
  for (int i = 0; i < 22; ++i) {
    httplib::Headers two = {{"X-Forwarded-For", fmt::format("192.0.2.{}", i)},
                            {"X-Forwarded-For", "198.51.100.99"}};
    appended +=
        status_of(
            c.Post("/api/login", two,
                   json{{"name", fmt::format("appended{}", i)}, {"password", "wrong-wrong"}}.dump(),
                   "application/json")) == 429;
  }
  EXPECT_EQ(appended, 2) << "failures 21 and 22 of 198.51.100.99";
  // A proxy that says plain HTTP, for a name that is not this machine's: no Secure flag.
  const auto plain = log_in(c, "ann", "correct-horse-1",
                            {{"X-Forwarded-For", "198.51.100.21"},
                             {"X-Forwarded-Proto", "http"},
                             {"Host", "office.example"}});
  ASSERT_EQ(plain.status, 200);
  EXPECT_EQ(plain.set_cookie.find("Secure"), std::string::npos) << plain.set_cookie;
  fs::remove_all(dir);
}

TEST(Proxy, ForwardedHeadersFromAPeerThatIsNotTheProxyAreIgnored) {
  const auto dir = scratch("noproxy");
  auto o = team_options(dir);
  o.trusted_proxies = "10.9.9.9";  // the proxy is elsewhere: loopback clients speak for themselves
  Serving s(o);
  ASSERT_TRUE(s.ok()) << s.error();
  auto c = s.client();
  int refused = 0;
  for (int i = 0; i < 22; ++i) {
    // A guesser inventing a new forwarded address each time is still one address.
    auto r = c.Post("/api/login", {{"X-Forwarded-For", fmt::format("203.0.113.{}", i)}},
                    json{{"name", "n" + std::to_string(i)}, {"password", "wrong-wrong"}}.dump(),
                    "application/json");
    refused += status_of(r) == 429;
  }
  EXPECT_EQ(refused, 2);
  // Nor does a forged X-Forwarded-Proto make the cookie or HSTS follow it.
  ASSERT_TRUE(s.server().set_user("ann", "correct-horse-1", "technician"));
  auto r = c.Get("/api/stats", {{"X-Forwarded-Proto", "https"}});
  EXPECT_FALSE(r->has_header("Strict-Transport-Security"));
  fs::remove_all(dir);
}

// The server's own plain-HTTP port, reached from the network past the proxy: no password is
// taken there (it would cross the network in clear); through the proxy, or here, it is.
TEST(Proxy, APasswordIsNotTakenOverPlainHttpFromTheNetwork) {
  // This machine's own address on the network, if it has one.
  std::string own;
  {
    FILE* p = ::popen("hostname -I 2>/dev/null", "r");
    char buf[256] = {};
    if (p != nullptr && std::fgets(buf, sizeof buf, p) != nullptr) own = buf;
    if (p != nullptr) ::pclose(p);
    own = own.substr(0, own.find_first_of(" \n"));
  }
  if (own.empty() || own.find(':') != std::string::npos || own.starts_with("127."))
    GTEST_SKIP() << "no IPv4 address but loopback";
  const auto dir = scratch("direct");
  auto o = team_options(dir);
  o.bind = "0.0.0.0";
  o.trusted_proxies = "10.9.9.9";
  Serving s(o);
  ASSERT_TRUE(s.ok()) << s.error();
  ASSERT_TRUE(s.server().set_user("ann", "correct-horse-1", "technician"));
  httplib::Client direct(own, s.port());
  auto r = direct.Post("/api/login", {{"Host", fmt::format("{}:{}", own, s.port())}},
                       json{{"name", "ann"}, {"password", "correct-horse-1"}}.dump(),
                       "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403) << r->body;
  EXPECT_NE(r->body.find("HTTPS"), std::string::npos) << r->body;
  auto local = s.client();
  EXPECT_EQ(log_in(local, "ann", "correct-horse-1").status, 200) << "on this machine it is";
  fs::remove_all(dir);
}

TEST(Sessions, ARestartKeepsEveryoneLoggedInAndTheTokenIsNotInTheStore) {
  const auto dir = scratch("restart");
  const auto o = team_options(dir);
  Login ann;
  {
    Serving s(o);
    ASSERT_TRUE(s.ok()) << s.error();
    ASSERT_TRUE(s.server().set_user("ann", "correct-horse-1", "technician"));
    auto c = s.client();
    ann = log_in(c, "ann", "correct-horse-1");
    ASSERT_EQ(ann.status, 200);
    EXPECT_EQ(status_of(c.Get("/api/cases", ann.headers())), 200);
  }
  // The store holds a digest of the token, never the token.
  auto store = records::open_store(o.db_url);
  ASSERT_TRUE(store);
  auto sessions = (*store)->list_sessions();
  ASSERT_TRUE(sessions);
  ASSERT_EQ(sessions->size(), 1u);
  const std::string token = ann.cookie.substr(ann.cookie.find('=') + 1);
  EXPECT_EQ(sessions->front().user, "ann");
  EXPECT_EQ(sessions->front().token_hash, Auth::token_hash(token));
  EXPECT_NE(sessions->front().token_hash, token);
  EXPECT_EQ(sessions->front().address, "127.0.0.1");
  // A new process on the same store: the page's cookie and token go on working.
  Serving again(o);
  ASSERT_TRUE(again.ok());
  auto c = again.client();
  auto session = c.Get("/api/session", ann.headers());
  ASSERT_EQ(status_of(session), 200);
  EXPECT_EQ(json::parse(session->body)["user"], "ann");
  EXPECT_EQ(json::parse(session->body)["csrf"], ann.csrf);
  auto created = c.Post("/api/cases", ann.headers(),
                        json{{"site", {{"name", "After the restart"}}}}.dump(), "application/json");
  EXPECT_EQ(status_of(created), 201) << (created ? created->body : "");
  fs::remove_all(dir);
}

TEST(Sessions, AnUnusedSessionAndAnOldOneEnd) {
  const auto dir = scratch("expiry");
  auto o = team_options(dir);
  o.session_idle = 2s;
  o.session_longest = 5s;
  Serving s(o);
  ASSERT_TRUE(s.ok()) << s.error();
  ASSERT_TRUE(s.server().set_user("ann", "correct-horse-1", "technician"));
  auto c = s.client();
  const auto idle = log_in(c, "ann", "correct-horse-1");
  const auto busy = log_in(c, "ann", "correct-horse-1");
  // `busy` is used every second: it lives past the idle time, up to the longest.
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(1s);
    EXPECT_EQ(status_of(c.Get("/api/cases", busy.headers())), 200) << i;
  }
  // `idle` was not used for 4 s (over its 2 s).
  EXPECT_EQ(status_of(c.Get("/api/cases", idle.headers())), 401);
  std::this_thread::sleep_until(t0 + 5500ms);
  EXPECT_EQ(status_of(c.Get("/api/cases", busy.headers())), 401) << "5 s after the login";
  fs::remove_all(dir);
}

TEST(Sessions, LogOutEverywhereEndsEveryDeviceOfThatAccountOnly) {
  const auto dir = scratch("everywhere");
  Serving s(team_options(dir));
  ASSERT_TRUE(s.ok()) << s.error();
  ASSERT_TRUE(s.server().set_user("ann", "correct-horse-1", "technician"));
  ASSERT_TRUE(s.server().set_user("bob", "correct-horse-2", "technician"));
  auto c = s.client();
  const auto phone = log_in(c, "ann", "correct-horse-1");
  const auto laptop = log_in(c, "ann", "correct-horse-1");
  const auto bob = log_in(c, "bob", "correct-horse-2");
  auto r = c.Post("/api/logout/everywhere", phone.headers(), "", "application/json");
  ASSERT_EQ(status_of(r), 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["sessions_ended"], 2);
  EXPECT_NE(r->get_header_value("Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(status_of(c.Get("/api/cases", phone.headers())), 401);
  EXPECT_EQ(status_of(c.Get("/api/cases", laptop.headers())), 401);
  EXPECT_EQ(status_of(c.Get("/api/cases", bob.headers())), 200);
  // Without the CSRF token it is refused (a page elsewhere cannot log a technician out).
  auto forged = c.Post("/api/logout/everywhere", {{"Cookie", bob.cookie}}, "", "application/json");
  EXPECT_EQ(status_of(forged), 403);
  EXPECT_EQ(status_of(c.Get("/api/cases", bob.headers())), 200);
  fs::remove_all(dir);
}

TEST(Sessions, ChangingYourPasswordEndsYourOtherSessionsAndKeepsThisOne) {
  const auto dir = scratch("passwd");
  Serving s(team_options(dir));
  ASSERT_TRUE(s.ok()) << s.error();
  ASSERT_TRUE(s.server().set_user("ann", "correct-horse-1", "technician"));
  auto c = s.client();
  const auto here = log_in(c, "ann", "correct-horse-1");
  const auto other = log_in(c, "ann", "correct-horse-1");
  auto change = [&](const Login& who, const std::string& current, const std::string& fresh) {
    return c.Post("/api/password", who.headers(), json{{"current", current}, {"new", fresh}}.dump(),
                  "application/json");
  };
  auto wrong = change(here, "not-my-password", "new-password-22");
  EXPECT_EQ(status_of(wrong), 403);
  EXPECT_NE(wrong->body.find("current"), std::string::npos) << wrong->body;
  auto short_one = change(here, "correct-horse-1", "short");
  EXPECT_EQ(status_of(short_one), 400);
  EXPECT_NE(short_one->body.find("\\\"new\\\""), std::string::npos) << short_one->body;
  EXPECT_EQ(status_of(c.Get("/api/cases", other.headers())), 200) << "nothing changed yet";
  auto done = change(here, "correct-horse-1", "new-password-22");
  ASSERT_EQ(status_of(done), 200) << done->body;
  // This device goes on with the new cookie and token; the other device and the old cookie are out.
  Login renewed;
  renewed.set_cookie = done->get_header_value("Set-Cookie");
  renewed.cookie = renewed.set_cookie.substr(0, renewed.set_cookie.find(';'));
  renewed.csrf = json::parse(done->body)["csrf"];
  EXPECT_EQ(status_of(c.Post("/api/cases", renewed.headers(),
                             json{{"site", {{"name", "x"}}}}.dump(), "application/json")),
            201);
  EXPECT_EQ(status_of(c.Get("/api/cases", here.headers())), 401);
  EXPECT_EQ(status_of(c.Get("/api/cases", other.headers())), 401);
  EXPECT_EQ(log_in(c, "ann", "correct-horse-1").status, 401);
  EXPECT_EQ(log_in(c, "ann", "new-password-22").status, 200);
  fs::remove_all(dir);
}

// What the statistics page shows of the disk, and what an upload leaves behind.
TEST(Retention, TheSpaceUsedCountsWhatCasesKeepAndAFailedUploadLeavesNothing) {
  const auto dir = scratch("storage");
  auto o = team_options(dir);
  o.team = false;
  Serving s(o);
  ASSERT_TRUE(s.ok()) << s.error();
  auto c = s.client();
  auto storage = [&] { return json::parse(c.Get("/api/storage")->body); };
  EXPECT_EQ(storage()["captures_files"], 0);
  // Not a capture: refused and nothing kept.
  auto bad = c.Post("/api/analyze?name=notes.txt", "shopping list\nmilk\n", "text/plain");
  EXPECT_EQ(status_of(bad), 400);
  EXPECT_EQ(storage()["captures_files"], 0);
  EXPECT_FALSE(fs::exists(dir / "captures") && !fs::is_empty(dir / "captures"));
  std::ifstream in(kSample, std::ios::binary);
  std::stringstream body;
  body << in.rdbuf();
  const auto size = body.str().size();
  auto up = c.Post("/api/analyze?name=site.log", body.str(), "application/octet-stream");
  ASSERT_EQ(status_of(up), 200);
  const std::string sha = json::parse(up->body)["capture_id"];
  auto st = storage();
  EXPECT_EQ(st["captures_files"], 1);
  EXPECT_EQ(st["captures_bytes"], size);
  EXPECT_EQ(st["unreferenced_files"], 1);
  EXPECT_EQ(st["referenced_bytes"], 0);
  EXPECT_EQ(st["keep_unreferenced_s"], 7 * 86400);
  // Attached to a case, it is the case's.
  auto created = c.Post(
      "/api/cases",
      json{{"site", {{"name", "Kept"}}}, {"captures", {{{"file", "site.log"}, {"sha256", sha}}}}}
          .dump(),
      "application/json");
  ASSERT_EQ(status_of(created), 201) << created->body;
  st = storage();
  EXPECT_EQ(st["referenced_files"], 1);
  EXPECT_EQ(st["referenced_bytes"], size);
  EXPECT_EQ(st["unreferenced_files"], 0);
  fs::remove_all(dir);
}

test::PostgresServer* postgres() {
  static std::string why;
  static std::unique_ptr<test::PostgresServer> s = test::PostgresServer::start(why);
  if (!s) ADD_FAILURE() << "PostgreSQL: " << why;
  return s.get();
}

// Two server processes' worth of servers on one PostgreSQL and one captures directory: a login
// made on one is valid on the other, a case or an upload made on one is seen on the other at the
// next request, and a logout on one ends the session on the other within Auth::kRecheck.
TEST(TwoServers, OneDatabaseServesOneTeam) {
  auto* pg = postgres();
  ASSERT_NE(pg, nullptr);
  const auto dir = scratch("two");
  ServerOptions o = team_options(dir);
  o.db_url = pg->fresh_database();
  Serving a(o), b(o);
  ASSERT_TRUE(a.ok()) << a.error();
  ASSERT_TRUE(b.ok()) << b.error();
  ASSERT_TRUE(a.server().set_user("ann", "correct-horse-1", "technician"));
  auto ca = a.client(), cb = b.client();
  const auto ann = log_in(ca, "ann", "correct-horse-1");
  ASSERT_EQ(ann.status, 200);
  auto session = cb.Get("/api/session", ann.headers());
  EXPECT_EQ(json::parse(session->body)["user"], "ann") << "a login on A is valid on B";
  // B's statistics are computed before A's write, then follow it.
  EXPECT_EQ(json::parse(cb.Get("/api/stats", ann.headers())->body)["cases"], 0);
  auto created = ca.Post("/api/cases", ann.headers(),
                         json{{"site", {{"name", "Seen on both"}}}}.dump(), "application/json");
  ASSERT_EQ(status_of(created), 201) << created->body;
  const std::string id = json::parse(created->body)["id"];
  auto seen = cb.Get("/api/cases/" + id, ann.headers());
  ASSERT_EQ(status_of(seen), 200);
  EXPECT_EQ(json::parse(seen->body)["site"]["name"], "Seen on both");
  EXPECT_EQ(json::parse(cb.Get("/api/cases", ann.headers())->body).size(), 1u);
  EXPECT_EQ(json::parse(cb.Get("/api/stats", ann.headers())->body)["cases"], 1);
  // An upload to A is diagnosed by B from the shared directory.
  std::ifstream in(kSample, std::ios::binary);
  std::stringstream body;
  body << in.rdbuf();
  auto up =
      ca.Post("/api/analyze?name=site.log", ann.headers(), body.str(), "application/octet-stream");
  ASSERT_EQ(status_of(up), 200);
  const std::string sha = json::parse(up->body)["capture_id"];
  auto d =
      cb.Post("/api/diagnose", ann.headers(), json{{"capture_id", sha}}.dump(), "application/json");
  ASSERT_EQ(status_of(d), 200) << d->body;
  EXPECT_EQ(json::parse(d->body)["capture_id"], sha);
  // A logout on B: A knows within its recheck.
  EXPECT_EQ(status_of(cb.Post("/api/logout", ann.headers(), "", "application/json")), 200);
  std::this_thread::sleep_for(Auth::kRecheck + 300ms);
  EXPECT_EQ(status_of(ca.Get("/api/cases", ann.headers())), 401);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace bmslink::server
