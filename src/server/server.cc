// The HTTP side of the web console: routes, the streaming upload, and the team mode's
// accounts, sessions and CSRF checks (auth.cc). Handlers parse, call the library and answer
// JSON; exceptions stop at the handler (httplib's exception handler answers 500 and logs).

#include "bmslink/server/server.h"

#include <malloc.h>
#include <unistd.h>

#include <httplib.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <regex>
#include <semaphore>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bmslink/capture/reader.h"
#include "bmslink/core/diagnostics.h"
#include "bmslink/core/json.h"
#include "bmslink/diagnosis/guided.h"
#include "bmslink/diagnosis/hardcode.h"
#include "bmslink/diagnosis/pipeline.h"
#include "bmslink/diagnosis/serialize.h"
#include "bmslink/link/live.h"
#include "bmslink/live/loop.h"
#include "bmslink/records/captures.h"
#include "bmslink/records/compat.h"
#include "bmslink/records/session.h"
#include "bmslink/records/stats.h"
#include "bmslink/records/store.h"
#include "bmslink/report/analysis_report.h"
#include "bmslink/report/records_report.h"
#include "server/auth.h"
#include "server/connection.h"
#include "server/web_assets.h"

namespace bmslink::server {

using nlohmann::json;

namespace {

// A response that carries a case names it and its entity tag: `ETag` for the case's own routes,
// and X-Case-Id / X-Case-ETag everywhere a case comes back (diagnose too), so a page can send
// If-Match with its next update.
void case_headers(httplib::Response& res, const records::Case& c) {
  const auto tag = records::case_etag(c);
  res.set_header("ETag", tag);
  res.set_header("X-Case-Id", c.id);
  res.set_header("X-Case-ETag", tag);
}

// If-Match: "*" or a comma-separated list of tags, compared strongly (RFC 9110): a weak tag
// (W/"...") never matches.
bool if_match(std::string_view header, std::string_view tag) {
  while (!header.empty()) {
    const auto comma = header.find(',');
    auto item = header.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item == "*" || item == tag) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

void send_json(httplib::Response& res, const json& body, int status = 200) {
  res.status = status;
  // Bytes from a capture (a channel name, a text signal) may not be UTF-8: shown as U+FFFD.
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, {{"error", message}}, status);
}

// Pages (the app, reports, the statistics page) run no script but the app's own, fetch nothing
// from elsewhere and are never framed.
void page_headers(httplib::Response& res) {
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                 "frame-ancestors 'none'");
}

int status_of(const Error& e) {
  switch (e.code) {
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kIo:
      return 500;
    case ErrorCode::kCancelled:
      return 499;
    default:
      return 400;
  }
}

// Log lines carry text from requests (paths, names): control characters are written as \xNN so
// a request cannot forge a line or move a terminal's cursor.
std::string log_safe(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  for (const char ch : line) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f || c == '\\')
      out += fmt::format("\\x{:02x}", c);
    else
      out += ch;
  }
  return out;
}

// After a request whose body or answer was larger than this, freed memory goes back to the
// system.
constexpr std::size_t kBigBody = 256 * 1024;
constexpr std::size_t kBigAnswer = 4 << 20;
// What one request body may become in memory once parsed.
constexpr std::size_t kJsonMemoryBytes = std::size_t(128) << 20;
// What all requests together may hold: JSON bodies waiting to be parsed, and the values parsed
// from them. A request waits for its share (a body up to 30 s, then 503).
// A parsed body is copied about three times more on its way (into a case, back to JSON for the
// store and for the answer), so a request holds four times the estimate of its values while it
// runs: a few small ones run side by side, two big cases one after the other.
constexpr std::size_t kBodiesBytes = std::size_t(64) << 20;
constexpr std::size_t kValuesBytes = std::size_t(256) << 20;
constexpr std::size_t kCopiesPerRequest = 4;

// A share of memory requests take and give back.
class Budget {
 public:
  explicit Budget(std::size_t total) : total_(total) {}
  bool take(std::size_t n, std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex_);
    if (n > total_) return false;
    if (!freed_.wait_for(lock, wait, [&] { return used_ + n <= total_; })) return false;
    used_ += n;
    return true;
  }
  void give(std::size_t n) {
    if (n == 0) return;
    {
      std::lock_guard lock(mutex_);
      used_ -= std::min(n, used_);
    }
    freed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable freed_;
  std::size_t total_, used_ = 0;
};

// What the request on this thread holds of the budgets (given back after its answer).
thread_local std::size_t t_body_held = 0, t_values_held = 0;
// A login is a name and a password.
constexpr std::size_t kMaxLoginBytes = 4096;
// Answers kept by query (lists, statistics, the matrix), in bytes.
constexpr std::size_t kCacheBytes = std::size_t(64) << 20;

// Tolerates a parse failure of a query number by answering with the parameter's name.
Result<std::optional<double>> query_number(const httplib::Request& req, const char* key, double lo,
                                           double hi) {
  if (!req.has_param(key)) return std::optional<double>();
  const std::string v = req.get_param_value(key);
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !(d >= lo && d <= hi))
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("?{}={}: expected a number from {:g} to {:g}", key, v, lo, hi));
  return std::optional<double>(d);
}

// What a pipe's reader drains: the analysis thread reads the upload as it streams in.
class Pipe {
 public:
  Pipe() {
    int fds[2];
    if (::pipe(fds) == 0) {
      read_ = fds[0];
      write_ = fds[1];
    }
  }
  ~Pipe() {
    close_write();
    if (read_ >= 0) ::close(read_);
  }
  bool ok() const { return read_ >= 0; }
  int read_fd() const { return read_; }
  bool write(const char* data, std::size_t len) {
    while (len > 0) {
      const ssize_t n = ::write(write_, data, len);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data += n;
      len -= static_cast<std::size_t>(n);
    }
    return true;
  }
  void close_write() {
    if (write_ >= 0) ::close(write_);
    write_ = -1;
  }

 private:
  int read_ = -1, write_ = -1;
};

// The hardcode advisor's inputs as JSON: the CLI's options by name (docs/api.md).
Result<diagnosis::HardcodeInput> hardcode_input(const json& j) {
  if (!j.is_object()) return make_error(ErrorCode::kMalformed, "hardcode: expected a JSON object");
  diagnosis::HardcodeInput in;
  for (const auto& item : j.items()) {
    const std::string& key = item.key();
    const json& v = item.value();
    auto number = [&, k = key](double lo, double hi) -> Result<double> {
      if (!v.is_number() || !(v.get<double>() >= lo && v.get<double>() <= hi))
        return make_error(
            ErrorCode::kInvalidArgument,
            fmt::format("hardcode: \"{}\": expected a number from {:g} to {:g}", k, lo, hi));
      return v.get<double>();
    };
    if (v.is_null()) continue;
    if (key == "chemistry" || key == "battery") {
      if (!v.is_string() || v.get<std::string>().size() > 200)
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("hardcode: \"{}\": expected text", key));
      (key == "battery" ? in.battery : in.chemistry) = v.get<std::string>();
    } else if (key == "cells") {
      auto n = number(1, 400);
      if (!n) return tl::unexpected(n.error());
      if (*n != std::floor(*n))
        return make_error(ErrorCode::kInvalidArgument,
                          "hardcode: \"cells\": expected a whole number of cells in series");
      in.cells = static_cast<int>(*n);
    } else if (key == "capacity_ah") {
      auto n = number(0.1, 100000);
      if (!n) return tl::unexpected(n.error());
      in.capacity_ah = *n;
    } else if (key == "kwh" || key == "c_rate" || key == "spread_mv" || key == "soc_low" ||
               key == "soc_high") {
      auto n = number(0, key == "spread_mv" ? 5000 : key == "c_rate" ? 10 : 100000);
      if (!n) return tl::unexpected(n.error());
      if (key == "kwh") in.kwh = *n;
      if (key == "c_rate") in.c_rate = *n;
      if (key == "spread_mv") in.spread_mv = *n;
      if (key == "soc_low") in.soc_low = *n;
      if (key == "soc_high") in.soc_high = *n;
    } else if (key == "indoor" || key == "commercial") {
      if (!v.is_boolean())
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("hardcode: \"{}\": expected true or false", key));
      if (key == "indoor") in.indoor = v.get<bool>();
      if (key == "commercial") in.commercial = v.get<bool>();
    } else {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("hardcode: \"{}\": unknown key", key));
    }
  }
  if (in.capacity_ah <= 0)
    return make_error(ErrorCode::kInvalidArgument, "hardcode: \"capacity_ah\" is required");
  return in;
}

}  // namespace

// The live monitor behind /api/live: one thread runs the live loop on the interface, every client
// gets the same stream of value snapshots and alarm events (server-sent events).
struct LiveFeed {
  struct Message {
    std::uint64_t seq = 0;
    std::string text;
    bool values = false;  // a snapshot: only the last one is sent to a new client
  };
  std::thread thread;
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::condition_variable changed;
  std::uint64_t seq = 0;       // of the newest message
  std::deque<Message> recent;  // the last messages, by seq
  std::string last_values;
  std::uint64_t last_values_seq = 0;
  // Names this run of the server in event ids, so a Last-Event-ID from an earlier run is not
  // taken for a position in this one's sequence.
  const std::string instance = fmt::format(
      "{:x}", std::chrono::system_clock::now().time_since_epoch().count() & 0xffffffffffff);

  void post(std::string message, bool values) {
    {
      std::lock_guard lock(mutex);
      ++seq;
      if (values) {
        last_values = message;
        last_values_seq = seq;
      }
      recent.push_back({seq, std::move(message), values});
      if (recent.size() > 200) recent.pop_front();
    }
    changed.notify_all();
  }

  void status(const char* state, const std::optional<std::string>& detail, const char* detail_key) {
    json m{{"type", "status"}, {"status", state}};
    m[detail_key] = detail ? json(*detail) : json(nullptr);
    post(m.dump(-1, ' ', false, json::error_handler_t::replace), false);
  }

  // A USB adapter that went away (re-enumerated, unplugged) is opened again every few seconds;
  // a replay that ended stays ended.
  std::unique_ptr<live::MqttPublisher> mqtt;  // connected by Server::create; kept across reopens

  void run(const ServerOptions& o) {
    while (!stop.load()) {
      const bool again = run_once(o);
      if (!again) return;
      std::unique_lock lock(mutex);
      changed.wait_for(lock, std::chrono::seconds(3), [&] { return stop.load(); });
    }
  }

  bool run_once(const ServerOptions& o) {
    auto source = link::open_interface(o.live_iface, o.live.link());
    if (!source) {
      status("failed", source.error().message, "error");
      if (o.log) o.log("live: " + source.error().message);
      return true;
    }
    status("running", (*source)->describe(), "source");
    live::LiveLoop loop(**source, o.live);
    live::MessageSink sink(
        [this](std::string message, bool values) { post(std::move(message), values); },
        [&o](std::string_view note) {
          if (o.log) o.log(fmt::format("live: {}", note));
        });
    loop.add_sink(sink);
    if (mqtt) loop.add_sink(*mqtt);
    const auto outcome = loop.run(stop);
    switch (outcome.end) {
      case live::LoopEnd::kFailed:
        status("lost", outcome.failure ? outcome.failure->message : "failed", "error");
        return true;
      case live::LoopEnd::kEnded:
      case live::LoopEnd::kDuration:
        status("ended", std::nullopt, "error");
        return false;
      case live::LoopEnd::kStopped:
        return false;
    }
    return false;
  }
};

// Kept uploads no case refers to leave after the grace period: one look an hour, on a thread
// that stops with the server.
struct Collector {
  std::thread thread;
  std::mutex mutex;
  std::condition_variable wake;
  bool stop = false;
};

struct Server::Impl {
  ServerOptions options;
  Collector collector;
  LiveFeed live;
  std::unique_ptr<records::Store> store;
  std::mutex store_mutex;  // SQLite handles and PGconn are used by one thread at a time
  diagnosis::CheckCatalogue catalogue;
  diagnosis::KnowledgeBase kb;
  json devices;
  json vocabulary;  // /api/vocabulary: words for the ids
  std::string captures_dir;
  GuardedServer http;
  int port = 0;
  Auth auth;
  AddressSet proxies;  // --trusted-proxy

  // The client behind a trusted proxy (the rightmost X-Forwarded-For entry that is not one of
  // the proxies), else the peer itself.
  std::string client_address(const httplib::Request& req) const {
    if (proxies.empty() || !proxies.contains(req.remote_addr)) return req.remote_addr;
    // Every X-Forwarded-For line, in order: a proxy may add a line of its own after the
    // client's (which the client may have forged).
    std::string chain;
    const auto lines = req.get_header_value_count("X-Forwarded-For");
    for (std::size_t i = 0; i < lines && i < 16; ++i) {
      if (!chain.empty()) chain += ',';
      chain += req.get_header_value("X-Forwarded-For", i);
    }
    std::string_view rest = chain;
    std::string leftmost;
    while (!rest.empty()) {
      const auto comma = rest.rfind(',');
      std::string_view entry = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
      while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
      while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
      if (entry.empty() || entry.size() > 64) continue;
      leftmost = std::string(entry);
      if (!proxies.contains(leftmost)) return leftmost;
    }
    return leftmost.empty() ? req.remote_addr : leftmost;
  }

  // Reached over HTTPS: this server's TLS, or a trusted proxy that says so.
  bool https(const httplib::Request& req) const {
    if (http.tls_enabled()) return true;
    if (proxies.empty() || !proxies.contains(req.remote_addr)) return false;
    return forwarded_proto(req) == "https";
  }

  // A password may come over HTTPS, from the proxy, or from this machine; a client on the
  // network that reached the plain-HTTP port past the proxy would send it in clear.
  bool password_channel_ok(const httplib::Request& req) const {
    if (https(req) || proxies.contains(req.remote_addr)) return true;
    const auto& a = req.remote_addr;
    return a == "127.0.0.1" || a == "::1" || a.starts_with("::ffff:127.") || a.starts_with("127.");
  }

  // The scheme the nearest proxy saw: the last value (a proxy appends to what came before it).
  static std::string forwarded_proto(const httplib::Request& req) {
    const auto lines = req.get_header_value_count("X-Forwarded-Proto");
    if (lines == 0) return "";
    std::string proto = req.get_header_value("X-Forwarded-Proto", lines - 1);
    if (const auto comma = proto.rfind(','); comma != std::string::npos)
      proto = proto.substr(comma + 1);
    while (!proto.empty() && proto.front() == ' ') proto.erase(0, 1);
    while (!proto.empty() && proto.back() == ' ') proto.pop_back();
    return proto;
  }

  // The session cookie is Secure unless a trusted proxy says its client is on plain HTTP (the
  // proxy's owner chose that). Browsers keep a Secure cookie from http://localhost, and drop it
  // on a plain-HTTP page reached past the proxy, whose login page then says to use HTTPS.
  bool secure_cookie(const httplib::Request& req) const {
    if (http.tls_enabled() || proxies.empty() || !proxies.contains(req.remote_addr)) return true;
    return forwarded_proto(req) != "http";
  }

  void log(const std::string& line) const {
    if (options.log) options.log(log_safe(line));
  }

  // A JSON body, or an error naming what was wrong with it: nesting and the memory it would take
  // are bounded before it is built, and the values wait for their share of what all requests
  // may hold (kept until the answer is sent).
  Budget bodies{kBodiesBytes}, values{kValuesBytes};
  Result<json> parse_body(const httplib::Request& req, std::string_view what) {
    const auto document = fmt::format("{}: the request body", what);
    const std::size_t estimate = json_memory_estimate(req.body);
    if (estimate <= kJsonMemoryBytes) {
      const std::size_t share = std::min(kValuesBytes, kCopiesPerRequest * estimate);
      while (!values.take(share, std::chrono::seconds(60))) {
      }
      t_values_held += share;
    }
    return parse_json(req.body, document, kMaxJsonDepth, kJsonMemoryBytes);
  }

  // The HTTP status for a body the client announces (Content-Length), before it is read: 413
  // over the route's limit, else 0.
  int announced_body_status(const httplib::Request& req, std::string& why) const {
    const std::string length = req.get_header_value("Content-Length");
    const auto n = std::strtoull(length.c_str(), nullptr, 10);
    if (req.path == "/api/analyze") {
      if (n > options.max_upload_bytes)
        why = fmt::format("the capture is larger than the server takes ({} MB)",
                          options.max_upload_bytes >> 20);
    } else if (req.path == "/api/login" && n > kMaxLoginBytes) {
      why = "a login is a name and a password: the body is too large";
    } else if (n > options.max_json_bytes) {
      why = fmt::format("the request body is larger than {} MB", options.max_json_bytes >> 20);
    }
    return why.empty() ? 0 : 413;
  }

  template <typename F>
  auto locked(F&& f) {
    std::lock_guard lock(store_mutex);
    return f(*store);
  }

  // The last few analyses by capture id: each answer of a guided session that uses a capture
  // would otherwise analyse it again.
  std::mutex analyses_mutex;
  std::vector<std::pair<std::string, std::shared_ptr<const diagnosis::CaptureResult>>> analyses;
  static constexpr std::size_t kAnalysesKept = 8;

  void remember_analysis(const std::string& id, std::shared_ptr<const diagnosis::CaptureResult> r) {
    std::lock_guard lock(analyses_mutex);
    std::erase_if(analyses, [&](const auto& a) { return a.first == id; });
    analyses.emplace_back(id, std::move(r));
    if (analyses.size() > kAnalysesKept) analyses.erase(analyses.begin());
  }

  std::shared_ptr<const diagnosis::CaptureResult> recall_analysis(const std::string& id) {
    std::lock_guard lock(analyses_mutex);
    for (const auto& a : analyses)
      if (a.first == id) return a.second;
    return nullptr;
  }

  // Answers computed from all the cases (lists, statistics, the matrix), kept until the store's
  // revision moves: fifty phones polling the statistics cost one computation per change. Bounded
  // in bytes, the oldest answer leaving first: twenty distinct queries over a big store do not
  // hold twenty copies of it.
  struct CacheEntry {
    std::string key;
    std::uint64_t revision = 0;
    std::string body;
  };
  std::deque<CacheEntry> cache;  // oldest first
  std::size_t cache_bytes = 0;

  template <typename F>
  Result<std::string> cached(const std::string& key, F&& compute) {
    std::lock_guard lock(store_mutex);
    const auto rev = store->revision();
    if (rev) {
      for (const auto& e : cache)
        if (e.key == key && e.revision == *rev) return e.body;
    }
    Result<std::string> body = compute(*store);
    if (body && rev) {
      // Answers of an older revision are never given again.
      std::erase_if(cache, [&](const CacheEntry& e) { return e.revision != *rev || e.key == key; });
      cache_bytes = 0;
      for (const auto& e : cache) cache_bytes += e.key.size() + e.body.size();
      const std::size_t size = key.size() + body->size();
      if (size <= kCacheBytes / 2) {
        while (!cache.empty() && cache_bytes + size > kCacheBytes) {
          cache_bytes -= cache.front().key.size() + cache.front().body.size();
          cache.pop_front();
        }
        cache.push_back({key, *rev, *body});
        cache_bytes += size;
      }
    }
    return body;
  }

  // The closed cases counted for the check order (records::case_history), kept until the store's
  // revision moves: a walk without a case writes nothing, and its next answer reuses them.
  std::uint64_t history_revision = 0;
  std::shared_ptr<const diagnosis::CaseHistory> history_cache;

  // Under store_mutex.
  std::shared_ptr<const diagnosis::CaseHistory> case_history_now() {
    const auto rev = store->revision();
    if (rev && history_cache && history_revision == *rev) return history_cache;
    auto all = store->list();
    auto h = std::make_shared<const diagnosis::CaseHistory>(all ? records::case_history(*all, &kb)
                                                                : diagnosis::CaseHistory{});
    if (rev && all) {
      history_revision = *rev;
      history_cache = h;
    }
    return h;
  }

  // A kept capture's analysis: remembered, else analysed again as it was uploaded (its own
  // timeout and bit rate).
  Result<std::shared_ptr<const diagnosis::CaptureResult>> analysis_of(const std::string& id) {
    auto path = records::kept_capture_path(captures_dir, id);
    if (!path) return tl::unexpected(path.error());
    if (auto known = recall_analysis(id)) return known;
    const auto settings = records::kept_analysis_settings(captures_dir, id);
    analysis::RunOptions run_options;
    if (settings.timeout_s)
      run_options.analyzer.inverter_timeout_ms =
          static_cast<std::int64_t>(*settings.timeout_s * 1000);
    if (settings.bitrate_bps) run_options.analyzer.bitrate_bps = *settings.bitrate_bps;
    CollectingSink sink;
    auto r = diagnosis::diagnose(analysis::CaptureInput::path(*path), sink, run_options);
    if (!r) return make_error(ErrorCode::kInvalidArgument, r.error().message);
    auto shared = std::make_shared<const diagnosis::CaptureResult>(std::move(*r));
    remember_analysis(id, shared);
    return shared;
  }

  // The company details for reports: {name, phone, email, address, website} (all text).
  static Result<json> read_company(const json& body) {
    if (!body.is_object() || !body.contains("company") || !body["company"].is_object())
      return make_error(ErrorCode::kInvalidArgument,
                        "settings: \"company\": expected {name, phone, email, address, website}");
    json out = json::object();
    for (const auto& [k, v] : body["company"].items()) {
      if (k != "name" && k != "phone" && k != "email" && k != "address" && k != "website")
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("settings: \"company.{}\": unknown key", k));
      if (!v.is_string() || v.get<std::string>().size() > 500)
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("settings: \"company.{}\": expected text (500 at most)", k));
      out[k] = v;
    }
    return out;
  }

  Result<json> company_settings() {
    auto text = locked([&](records::Store& st) { return st.get_setting("company"); });
    if (!text) return tl::unexpected(text.error());
    if (!*text) return json::object();
    auto j = parse_json(**text, "the stored company settings");
    if (!j || !j->is_object()) return json::object();
    return *j;
  }

  void routes();
  void analyze(const httplib::Request& req, httplib::Response& res,
               const httplib::ContentReader& reader);
  void diagnose(const httplib::Request& req, httplib::Response& res);
  void hardcode(const httplib::Request& req, httplib::Response& res);
  void cases(const httplib::Request& req, httplib::Response& res);
  void case_one(const httplib::Request& req, httplib::Response& res);
  void report(const httplib::Request& req, httplib::Response& res);
};

Result<std::unique_ptr<Server>> Server::create(ServerOptions options) {
  // glibc gives each thread that allocates its own arena (up to 8 per core), and an arena keeps
  // what it once held: with a thread per connection, every big request would leave its peak
  // behind in another arena. Four arenas share the freed memory instead.
  ::mallopt(M_ARENA_MAX, 4);
  // A client gone mid-answer must not end the process: OpenSSL writes to the socket with
  // write(), which raises SIGPIPE (plain HTTP sends with MSG_NOSIGNAL).
  std::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<Server> s(new Server());
  s->impl_ = std::make_unique<Impl>();
  auto& m = *s->impl_;
  m.options = std::move(options);
  const std::string url =
      m.options.db_url.empty() ? records::default_store_url() : m.options.db_url;
  auto store = records::open_store(url);
  if (!store) return tl::unexpected(store.error());
  m.store = std::move(*store);
  m.captures_dir = m.options.captures_dir.empty() ? records::captures_dir(m.store->url())
                                                  : m.options.captures_dir;
  auto cat = diagnosis::CheckCatalogue::builtin();
  if (!cat) return tl::unexpected(cat.error());
  m.catalogue = std::move(*cat);
  auto kb = diagnosis::KnowledgeBase::builtin();
  if (!kb) return tl::unexpected(kb.error());
  m.kb = std::move(*kb);
  m.devices = diagnosis::knowledge_json(m.kb);
  {
    json causes = json::object(), checks = json::object(), layers = json::object();
    for (const auto& c : diagnosis::cause_catalogue()) causes[std::string(c.id)] = c.name;
    for (const auto& c : m.catalogue.checks()) checks[c.id] = c.title;
    for (const auto& l : m.catalogue.layers())
      layers[std::to_string(diagnosis::layer_number(l.layer))] = l.name;
    json inputs = json::object();
    for (const auto& [key, spec] : m.catalogue.inputs())
      inputs[key] = {{"prompt", spec.prompt},
                     {"type", std::string(diagnosis::input_type_name(spec.type))},
                     {"unit", spec.unit},
                     {"choices", spec.choices},
                     {"labels", spec.choice_labels}};
    m.vocabulary = {{"causes", causes}, {"checks", checks}, {"layers", layers}, {"inputs", inputs}};
  }
  m.auth.team = m.options.team;
  m.auth.attach(*m.store, m.store_mutex);
  m.auth.idle = m.options.session_idle;
  m.auth.longest = m.options.session_longest;
  if (!m.options.trusted_proxies.empty()) {
    auto proxies = AddressSet::parse(m.options.trusted_proxies);
    if (!proxies) return tl::unexpected(proxies.error());
    m.proxies = std::move(*proxies);
    // Only a proxy's own address, not a whole trusted network (clients may be in it), is free
    // of the per-address connection ceiling.
    m.http.unlimited_peers = m.proxies.single_addresses();
  }
  if (m.options.tls_cert_file.empty() != m.options.tls_key_file.empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "HTTPS needs both --tls-cert FILE and --tls-key FILE");
  if (!m.options.tls_cert_file.empty()) {
    auto tls = TlsContext::load(m.options.tls_cert_file, m.options.tls_key_file);
    if (!tls) return tl::unexpected(tls.error());
    m.http.set_tls(std::move(*tls));
  }
  // Team mode's cookie and passwords cross the network: only over HTTPS, here or at a proxy.
  const auto& b = m.options.bind;
  const bool loopback_only = b == "127.0.0.1" || b == "localhost" || b == "::1";
  if (m.options.team && !loopback_only && m.options.tls_cert_file.empty() &&
      m.options.trusted_proxies.empty())
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("--team --bind {}: passwords and session cookies would cross the network in "
                    "clear. Add --tls-cert FILE --tls-key FILE (HTTPS here), or "
                    "--trusted-proxy ADDRESS for the HTTPS proxy in front (docs/deploy.md)",
                    b));
  // A broker that cannot be used as configured (a wrong URL, a CA file that is not there) is a
  // start-up error, as it is for `bmslink monitor`; a broker that is only away is retried.
  if (!m.options.live_mqtt.url.empty()) {
    if (m.options.live_iface.empty())
      return make_error(ErrorCode::kInvalidArgument,
                        "--mqtt publishes the live bus: give --live IFACE too");
    auto mqtt = live::MqttPublisher::connect(m.options.live_mqtt);
    if (!mqtt) return tl::unexpected(mqtt.error());
    m.live.mqtt = std::move(*mqtt);
  }
  m.routes();
  return s;
}

Server::~Server() {
  if (!impl_) return;
  impl_->http.stop();
  {
    std::lock_guard lock(impl_->collector.mutex);
    impl_->collector.stop = true;
  }
  impl_->collector.wake.notify_all();
  if (impl_->collector.thread.joinable()) impl_->collector.thread.join();
  impl_->live.stop = true;
  impl_->live.changed.notify_all();
  if (impl_->live.thread.joinable()) impl_->live.thread.join();
}

Result<int> Server::bind() {
  auto& m = *impl_;
  if (m.options.port == 0) {
    m.port = m.http.bind_to_any_port(m.options.bind);
  } else {
    m.port = m.http.bind_to_port(m.options.bind, m.options.port) ? m.options.port : -1;
  }
  if (m.port <= 0)
    return make_error(ErrorCode::kIo, fmt::format("cannot listen on {}:{}: {}", m.options.bind,
                                                  m.options.port, std::strerror(errno)));
  for (const std::string host : {"127.0.0.1", "localhost", "[::1]"})
    m.auth.allowed_hosts.push_back(fmt::format("{}:{}", host, m.port));
  const auto& b = m.options.bind;
  if (b != "127.0.0.1" && b != "localhost" && b != "0.0.0.0" && b != "::")
    m.auth.allowed_hosts.push_back(
        fmt::format("{}:{}", b.find(':') != std::string::npos ? "[" + b + "]" : b, m.port));
  if (m.options.port == 80)
    for (const std::string host : {"127.0.0.1", "localhost"}) m.auth.allowed_hosts.push_back(host);
  return m.port;
}

void Server::run() {
  auto& m = *impl_;
  if (!m.options.live_iface.empty() && !m.live.thread.joinable())
    m.live.thread = std::thread([&m] { m.live.run(m.options); });
  // The default captures directory of a PostgreSQL store is the user's data directory's,
  // which a local SQLite store shares: nothing is removed there unless --captures names one.
  const bool shared_default = m.options.captures_dir.empty() &&
                              m.store->url().find("://") != std::string::npos &&
                              !m.store->url().starts_with("sqlite://");
  if (shared_default && m.options.keep_unreferenced.count() > 0)
    m.log(
        fmt::format("captures: uploads no case refers to are not removed from {} (shared with "
                    "the local records): give --captures DIR",
                    m.captures_dir));
  if (m.options.keep_unreferenced.count() > 0 && !shared_default && !m.collector.thread.joinable())
    m.collector.thread = std::thread([&m] {
      std::unique_lock lock(m.collector.mutex);
      // The first look a minute after the start (not in the way of a restart), then hourly.
      auto next = std::chrono::steady_clock::now() + std::chrono::minutes(1);
      while (!m.collector.wake.wait_until(lock, next, [&] { return m.collector.stop; })) {
        lock.unlock();
        // The references under the store's lock, the files without it.
        auto refs = m.locked([&](records::Store& st) { return st.referenced_captures(); });
        auto gone = refs ? records::collect_captures(*refs, m.captures_dir,
                                                     m.options.keep_unreferenced.count(), false)
                         : Result<records::CollectedCaptures>(tl::unexpected(refs.error()));
        if (!gone)
          m.log("captures: " + gone.error().message);
        else if (!gone->removed.empty())
          m.log(fmt::format("captures: removed {} upload(s) no case refers to ({} MB)",
                            gone->removed.size(), gone->removed_bytes >> 20));
        lock.lock();
        next = std::chrono::steady_clock::now() + std::chrono::hours(1);
      }
    });
  m.http.listen_after_bind();
}
void Server::stop() {
  impl_->live.stop = true;
  impl_->live.changed.notify_all();
  impl_->http.stop();
}

std::string Server::url() const {
  const auto& b = impl_->options.bind;
  const std::string host = b == "0.0.0.0" || b == "::" ? "127.0.0.1" : b;
  return fmt::format("{}://{}:{}/", impl_->http.tls_enabled() ? "https" : "http", host,
                     impl_->port);
}

Result<std::string> Server::reload_tls() {
  auto& m = *impl_;
  if (m.options.tls_cert_file.empty())
    return make_error(ErrorCode::kInvalidArgument, "no --tls-cert to read again");
  auto tls = TlsContext::load(m.options.tls_cert_file, m.options.tls_key_file);
  if (!tls) return tl::unexpected(tls.error());
  std::string what = (*tls)->describe();
  m.http.set_tls(std::move(*tls));
  return what;
}

Result<void> Server::set_user(const std::string& name, const std::string& password,
                              const std::string& role) {
  auto user = make_user(name, password, role);
  if (!user) return tl::unexpected(user.error());
  return impl_->locked([&](records::Store& st) { return st.put_user(*user); });
}

Result<bool> Server::seed_demo(const std::vector<std::string>& sample_paths) {
  auto& m = *impl_;
  return m.locked([&](records::Store& st) -> Result<bool> {
    auto all = st.list();
    if (!all) return tl::unexpected(all.error());
    if (!all->empty()) return false;
    records::Case c;
    c.id = "demo-termination";
    c.opened = "2026-11-30T08:10:00Z";
    c.closed = "2026-11-30T08:31:00Z";
    c.installer = "Demo";
    c.site = {"Demo site (bundled example)", "Example customer", ""};
    c.bms = {"Pylontech US3000C", "V1.4", 2, 7.1};
    c.inverter = {"Deye SUN-5K-SG03LP1-EU", ""};
    c.symptom = "Battery communication fault on the inverter";
    c.checks.push_back(
        {"l1.protocol_setting", 1,
         json{{"inverter_battery_setting", "Lithium 00"}, {"bms_protocol", "Pylontech CAN"}},
         diagnosis::Verdict::kPass, 3});
    c.checks.push_back(
        {"l2.termination", 2, json{{"termination_ohms", 120.0}}, diagnosis::Verdict::kFail, 4});
    c.root_cause = diagnosis::Cause::kTerminationFault;
    c.layer = 2;
    c.fix = "Second 120 ohm terminator fitted at the inverter end; the bus reads 60 ohm";
    c.verification.uptime_share = 1.0;
    c.verification.hours = 24;
    c.outcome = records::Outcome::kFixed;
    c.minutes_by_layer = {3, 4, 0, 0, 0};
    for (const auto& path : sample_paths) {
      CollectingSink sink;
      auto r = diagnosis::diagnose(analysis::CaptureInput::path(path), sink);
      if (!r) return tl::unexpected(r.error());
      auto sha = records::keep_capture(path, m.captures_dir);
      if (!sha) return tl::unexpected(sha.error());
      const auto slash = path.rfind('/');
      records::attach_capture(c, slash == std::string::npos ? path : path.substr(slash + 1), *sha,
                              r->findings);
    }
    if (auto ok = st.put(c); !ok) return tl::unexpected(ok.error());
    return true;
  });
}

void Server::Impl::routes() {
  // A thread per connection, started as needed: a slow client holds a sleeping thread, never a
  // place another client waits for.
  http.new_task_queue = [n = options.threads] { return new ElasticPool(n + 64); };
  http.limits.max_connections = options.threads;
  http.limits.head_timeout = std::chrono::milliseconds(options.head_timeout_ms);
  http.on_refused = [this](int status, const std::string& peer, const std::string& why) {
    log(fmt::format("refused a request from {} ({}): {}", peer, status, why));
  };
  http.limits.overflow_connections = 64;
  http.limits.upload_max_bytes = options.max_upload_bytes + (1 << 20);
  http.limits.body_max_bytes = options.max_json_bytes + (1 << 20);
  http.after_request = [this] {
    bodies.give(t_body_held);
    values.give(t_values_held);
    t_body_held = t_values_held = 0;
  };
  // A client that asks before sending its body (Expect: 100-continue) is told the limit first.
  http.set_expect_100_continue_handler([this](const httplib::Request& req, httplib::Response& res) {
    std::string why;
    const int status = announced_body_status(req, why);
    if (status == 0) return 100;
    send_error(res, status, why);
    return status;
  });
  // Uploads check their own limit (413 with a message); this only bounds everything else.
  http.set_payload_max_length(options.max_upload_bytes + (1 << 20));
  // Socket timeouts for single reads and writes (the whole head and the body's rate are the
  // connection layer's).
  http.set_read_timeout(20, 0);
  http.set_write_timeout(60, 0);
  // Headers and body leave in two writes: without NODELAY the second waits for a delayed ACK
  // (40 ms on Linux) on every keep-alive request.
  http.set_tcp_nodelay(true);
  http.set_exception_handler(
      [this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        log(fmt::format("{} {}: internal error: {}", req.method, req.path, what));
        send_error(res, 500, "internal error: " + what);
      });
  // API answers are never sniffed as another type and never stored by a browser or a proxy
  // (they carry customers' details); the live stream sets its own no-cache.
  http.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // Team mode over HTTPS: the browser goes on using HTTPS for this name.
    if (options.team && https(req)) res.set_header("Strict-Transport-Security", "max-age=31536000");
    // A big body's parsed values, or the cases a big answer was made from, are gone by now:
    // their pages go back to the system rather than stay with the thread's arena (connections
    // have threads of their own, so each would keep its own high-water mark).
    if (!req.path.starts_with("/api/")) return;
    // Only after big ones: it walks every arena under their locks (a few ms).
    if (req.body.size() > kBigBody || res.body.size() > kBigAnswer) ::malloc_trim(0);
    if (!res.has_header("X-Content-Type-Options"))
      res.set_header("X-Content-Type-Options", "nosniff");
    if (!res.has_header("Cache-Control")) res.set_header("Cache-Control", "no-store");
  });
  // httplib's own answers (no route for the method, a malformed request) are JSON under /api/.
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (req.path.starts_with("/api/") && res.body.empty())
      send_error(res, res.status,
                 fmt::format("{} {}: refused (HTTP {})", req.method, req.path, res.status));
  });
  // Every API call passes the gate first: the origin check for writes (both modes) and, in
  // team mode, the session, the CSRF token and the role.
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const bool writes = req.method != "GET" && req.method != "HEAD" && req.method != "OPTIONS";
    if (!req.path.starts_with("/api/")) {
      // The pages take no body (httplib would read one whole before answering 404).
      if (!writes) return httplib::Server::HandlerResponse::Unhandled;
      res.set_header("Allow", "GET, HEAD");
      res.status = 405;
      res.set_content("only GET outside /api/\n", "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    }
    // JSON bodies are small, sent whole and as JSON; only the capture upload may be large,
    // chunked or compressed (it counts its own bytes).
    if (req.path != "/api/analyze") {
      // A POST, PUT or PATCH says how long its body is (httplib would read one without a
      // length until the connection closes).
      const bool sends_body = req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
      if (sends_body && !req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) {
        send_error(res, 411, "send the request body with a Content-Length (0 for none)");
        return httplib::Server::HandlerResponse::Handled;
      }
      const auto encoding = req.get_header_value("Content-Encoding");
      if (req.has_header("Transfer-Encoding")) {
        send_error(res, 411, "send the request body with a Content-Length");
        return httplib::Server::HandlerResponse::Handled;
      }
      if (!encoding.empty() && encoding != "identity") {
        send_error(res, 415, "the request body must not be compressed");
        return httplib::Server::HandlerResponse::Handled;
      }
      const bool has_body =
          std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10) > 0;
      if (has_body && !req.get_header_value("Content-Type").starts_with("application/json")) {
        send_error(res, 415, "expected Content-Type: application/json");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    std::string why;
    if (const int status = announced_body_status(req, why); status != 0) {
      send_error(res, status, why);
      return httplib::Server::HandlerResponse::Handled;
    }
    const auto verdict = auth.gate(req);
    if (verdict.status == 0) {
      // A JSON body is held whole before it is parsed: its bytes wait for their share.
      const auto length =
          std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10);
      if (req.path != "/api/analyze" && length > 0) {
        if (!bodies.take(length, std::chrono::seconds(30))) {
          send_error(res, 503, "the server is busy with other large requests: try again");
          return httplib::Server::HandlerResponse::Handled;
        }
        t_body_held += length;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (verdict.status == 401 || verdict.status == 403 || verdict.status == 429)
      log(fmt::format("refused {} {} from {}: {}", req.method, req.path, client_address(req),
                      verdict.message));
    send_error(res, verdict.status, verdict.message);
    return httplib::Server::HandlerResponse::Handled;
  });

  http.Post("/api/login", [this](const httplib::Request& req, httplib::Response& res) {
    if (!password_channel_ok(req))
      return send_error(res, 403,
                        "log in over HTTPS: this address is the server's own, behind the proxy");
    auto body = parse_body(req, "login");
    if (!body) return send_error(res, 400, body.error().message);
    const std::string client = client_address(req);
    const auto r = auth.login(*body, client, secure_cookie(req));
    if (r.status != 200) {
      if (r.status == 401 || r.status == 429)
        log(fmt::format("failed login from {}: {}", client, r.message));
      return send_error(res, r.status, r.message);
    }
    res.set_header("Set-Cookie", r.cookie);
    send_json(res, r.body);
  });
  http.Post("/api/logout", [this](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Set-Cookie", auth.logout(req, secure_cookie(req)));
    send_json(res, {{"ok", true}});
  });
  // Every session of the caller's account ends, on every server of the store.
  http.Post("/api/logout/everywhere", [this](const httplib::Request& req, httplib::Response& res) {
    auto ended = auth.logout_everywhere(req);
    if (!ended) return send_error(res, 500, ended.error().message);
    res.set_header("Set-Cookie", auth.logout(req, secure_cookie(req)));
    send_json(res, {{"ok", true}, {"sessions_ended", *ended}});
  });
  // A user's own password: {"current", "new"}; the other sessions end, this one goes on with a
  // new cookie and CSRF token.
  http.Post("/api/password", [this](const httplib::Request& req, httplib::Response& res) {
    if (!password_channel_ok(req))
      return send_error(res, 403, "change a password over HTTPS, through the proxy");
    auto body = parse_body(req, "password");
    if (!body) return send_error(res, 400, body.error().message);
    const auto r = auth.change_password(req, *body, client_address(req), secure_cookie(req));
    if (r.status != 200) return send_error(res, r.status, r.message);
    log(fmt::format("{} changed their password", r.body.value("user", "")));
    res.set_header("Set-Cookie", r.cookie);
    send_json(res, r.body);
  });
  http.Get("/api/session", [this](const httplib::Request& req, httplib::Response& res) {
    json j = auth.session_json(req);
    j["max_upload_bytes"] = options.max_upload_bytes;
    if (options.team) j["cookie_secure"] = secure_cookie(req);
    send_json(res, j);
  });
  http.Post("/api/users", [this](const httplib::Request& req, httplib::Response& res) {
    auto body = parse_body(req, "user");
    if (!body) return send_error(res, 400, body.error().message);
    auto get = [&](const char* k) {
      return body->contains(k) && (*body)[k].is_string() ? (*body)[k].get<std::string>() : "";
    };
    auto user = make_user(get("name"), get("password"), get("role"));
    if (!user) return send_error(res, 400, user.error().message);
    auto ok = locked([&](records::Store& st) { return st.put_user(*user); });
    if (!ok) return send_error(res, 500, ok.error().message);
    send_json(res, {{"name", user->name}, {"role", records::role_name(user->role)}}, 201);
  });

  http.Get("/api/users", [this](const httplib::Request&, httplib::Response& res) {
    auto users = locked([&](records::Store& st) { return st.list_users(); });
    if (!users) return send_error(res, 500, users.error().message);
    json out = json::array();
    for (const auto& u : *users)
      out.push_back(
          {{"name", u.name}, {"role", records::role_name(u.role)}, {"disabled", u.disabled}});
    send_json(res, out);
  });
  // An account changed by an admin: its role, disabled or not, a new password (a reset).
  http.Put(R"(/api/users/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    auto body = parse_body(req, "user");
    if (!body) return send_error(res, 400, body.error().message);
    JsonReader r("user");
    if (!body->is_object()) return send_error(res, 400, "user: expected a JSON object");
    if (auto ok = r.only(*body, "", {"role", "disabled", "password"}); !ok)
      return send_error(res, 400, ok.error().message);
    auto result = locked([&](records::Store& st) -> Result<int> {
      auto user = st.get_user(name);
      if (!user) return tl::unexpected(user.error());
      if (!*user) return 404;
      records::User u = **user;
      if (body->contains("role")) {
        const auto role = (*body)["role"].is_string()
                              ? records::parse_role((*body)["role"].get<std::string>())
                              : std::nullopt;
        if (!role)
          return make_error(ErrorCode::kInvalidArgument,
                            "user: \"role\": expected technician or admin");
        u.role = *role;
      }
      if (body->contains("disabled")) {
        if (!(*body)["disabled"].is_boolean())
          return make_error(ErrorCode::kInvalidArgument,
                            "user: \"disabled\": expected true or false");
        u.disabled = (*body)["disabled"].get<bool>();
      }
      if (body->contains("password")) {
        if (!(*body)["password"].is_string())
          return make_error(ErrorCode::kInvalidArgument, "user: \"password\": expected text");
        auto fresh = make_user(u.name, (*body)["password"].get<std::string>(),
                               std::string(records::role_name(u.role)));
        if (!fresh) return tl::unexpected(fresh.error());
        u.password_hash = fresh->password_hash;
      }
      // Never leave the team without an enabled admin (nobody could manage it any more).
      if (u.role != records::Role::kAdmin || u.disabled) {
        auto all = st.list_users();
        if (!all) return tl::unexpected(all.error());
        const bool another = std::any_of(all->begin(), all->end(), [&](const records::User& x) {
          return x.name != u.name && x.role == records::Role::kAdmin && !x.disabled;
        });
        if (!another)
          return make_error(
              ErrorCode::kConflict,
              fmt::format("{} is the last enabled admin: make another admin first", u.name));
      }
      if (auto ok = st.put_user(u); !ok) return tl::unexpected(ok.error());
      return 200;
    });
    if (!result) return send_error(res, status_of(result.error()), result.error().message);
    if (*result == 404) return send_error(res, 404, fmt::format("no user {}", name));
    if (auto ended = auth.end_sessions_of(name); !ended)
      return send_error(res, 500, ended.error().message);
    auto u = locked([&](records::Store& st) { return st.get_user(name); });
    if (!u || !*u) return send_error(res, 500, "the account could not be read back");
    send_json(res, {{"name", (*u)->name},
                    {"role", records::role_name((*u)->role)},
                    {"disabled", (*u)->disabled}});
  });
  // The team's settings: the company details printed on reports.
  http.Get("/api/settings", [this](const httplib::Request&, httplib::Response& res) {
    auto company = company_settings();
    if (!company) return send_error(res, 500, company.error().message);
    send_json(res, {{"company", *company}});
  });
  http.Put("/api/settings", [this](const httplib::Request& req, httplib::Response& res) {
    auto body = parse_body(req, "settings");
    if (!body) return send_error(res, 400, body.error().message);
    auto company = read_company(*body);
    if (!company) return send_error(res, 400, company.error().message);
    auto ok =
        locked([&](records::Store& st) { return st.put_setting("company", company->dump()); });
    if (!ok) return send_error(res, 500, ok.error().message);
    send_json(res, {{"company", *company}});
  });
  // Versions of a case kept by the store, and the cases deleted: an admin brings one back.
  http.Get(R"(/api/cases/([^/]+)/versions)",
           [this](const httplib::Request& req, httplib::Response& res) {
             const std::string id = req.matches[1];
             auto v = locked([&](records::Store& st) { return st.versions(id); });
             if (!v) return send_error(res, 500, v.error().message);
             json out = json::array();
             for (const auto& x : *v)
               out.push_back({{"saved_at", x.saved_at},
                              {"deleted", x.deleted},
                              {"case", records::case_to_json(x.the_case)}});
             send_json(res, out);
           });
  http.Get("/api/deleted", [this](const httplib::Request&, httplib::Response& res) {
    auto v = locked([&](records::Store& st) { return st.deleted_cases(); });
    if (!v) return send_error(res, 500, v.error().message);
    json out = json::array();
    for (const auto& x : *v)
      out.push_back({{"saved_at", x.saved_at},
                     {"deleted", true},
                     {"case", records::case_to_json(x.the_case)}});
    send_json(res, out);
  });
  http.Post(
      R"(/api/cases/([^/]+)/restore)", [this](const httplib::Request& req, httplib::Response& res) {
        const std::string id = req.matches[1];
        auto body = parse_body(req, "restore");
        if (!body) return send_error(res, 400, body.error().message);
        if (!body->is_object() || !(*body)["saved_at"].is_string())
          return send_error(res, 400,
                            "restore: \"saved_at\": expected the version's time (from "
                            "/versions or /api/deleted)");
        const std::string at = (*body)["saved_at"].get<std::string>();
        auto restored = locked([&](records::Store& st) -> Result<std::optional<records::Case>> {
          auto v = st.versions(id);
          if (!v) return tl::unexpected(v.error());
          for (auto& x : *v)
            if (x.saved_at == at) {
              records::Case c = std::move(x.the_case);
              c.history.push_back(
                  {records::now_iso_utc(), auth.user_of(req), "restored", "", "", nullptr, at, ""});
              if (auto ok = st.put(c); !ok) return tl::unexpected(ok.error());
              return std::optional<records::Case>(std::move(c));
            }
          return std::optional<records::Case>();
        });
        if (!restored) return send_error(res, 500, restored.error().message);
        if (!*restored)
          return send_error(res, 404, fmt::format("case {} has no version of {}", id, at));
        case_headers(res, **restored);
        send_json(res, records::case_to_json(**restored));
      });
  http.Delete(R"(/api/users/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    if (name == auth.user_of(req))
      return send_error(res, 409, "you cannot remove your own account");
    auto removed = locked([&](records::Store& st) { return st.remove_user(name); });
    if (!removed) return send_error(res, 500, removed.error().message);
    if (!*removed) return send_error(res, 404, fmt::format("no user {}", name));
    if (auto ended = auth.end_sessions_of(name); !ended)
      return send_error(res, 500, ended.error().message);
    res.status = 204;
  });

  http.Post("/api/analyze",
            [this](const httplib::Request& req, httplib::Response& res,
                   const httplib::ContentReader& reader) { analyze(req, res, reader); });
  http.Post("/api/diagnose",
            [this](const httplib::Request& req, httplib::Response& res) { diagnose(req, res); });
  http.Post("/api/hardcode",
            [this](const httplib::Request& req, httplib::Response& res) { hardcode(req, res); });
  http.Get("/api/cases",
           [this](const httplib::Request& req, httplib::Response& res) { cases(req, res); });
  http.Post("/api/cases",
            [this](const httplib::Request& req, httplib::Response& res) { cases(req, res); });
  http.Get(R"(/api/cases/([^/]+)/report)",
           [this](const httplib::Request& req, httplib::Response& res) { report(req, res); });
  for (const char* method : {"GET", "PUT", "DELETE"}) {
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      case_one(req, res);
    };
    const std::string pattern = R"(/api/cases/([^/]+))";
    if (std::string_view(method) == "GET") http.Get(pattern, handler);
    if (std::string_view(method) == "PUT") http.Put(pattern, handler);
    if (std::string_view(method) == "DELETE") http.Delete(pattern, handler);
  }
  http.Get("/api/stats", [this](const httplib::Request& req, httplib::Response& res) {
    records::CaseFilter filter{req.get_param_value("since"), req.get_param_value("installer")};
    const bool html = req.get_param_value("format") == "html";
    auto body = cached(fmt::format("stats\n{}\n{}\n{}", filter.since, filter.installer, html),
                       [&](records::Store& st) -> Result<std::string> {
                         auto all = st.list(filter);
                         if (!all) return tl::unexpected(all.error());
                         const auto stats = records::compute_stats(*all, &kb);
                         if (!html)
                           return stats.dump(-1, ' ', false, json::error_handler_t::replace);
                         return report::stats_report(stats, fmt::format("{} case(s)", all->size()),
                                                     &catalogue);
                       });
    if (!body) return send_error(res, 500, body.error().message);
    if (html) page_headers(res);
    res.set_content(*body, html ? "text/html; charset=utf-8" : "application/json");
  });
  // The space the kept uploads take, for the statistics page.
  http.Get("/api/storage", [this](const httplib::Request&, httplib::Response& res) {
    auto refs = locked([&](records::Store& st) { return st.referenced_captures(); });
    if (!refs) return send_error(res, 500, refs.error().message);
    const auto usage = records::capture_usage(*refs, captures_dir);
    send_json(res, {{"captures_files", usage.files},
                    {"captures_bytes", usage.bytes},
                    {"referenced_files", usage.referenced_files},
                    {"referenced_bytes", usage.referenced_bytes},
                    {"unreferenced_files", usage.unreferenced_files},
                    {"unreferenced_bytes", usage.unreferenced_bytes},
                    {"quota_bytes", options.max_kept_bytes},
                    {"keep_unreferenced_s", options.keep_unreferenced.count()}});
  });
  http.Get("/api/compat", [this](const httplib::Request& req, httplib::Response& res) {
    const auto format = req.get_param_value("format");
    auto body = cached("compat\n" + format, [&](records::Store& st) -> Result<std::string> {
      auto all = st.list();
      if (!all) return tl::unexpected(all.error());
      const auto rows = records::compatibility(*all);
      if (format == "md") return records::compat_markdown(rows);
      if (format == "csv") return records::compat_csv(rows);
      return records::compat_json(rows).dump(-1, ' ', false, json::error_handler_t::replace);
    });
    if (!body) return send_error(res, 500, body.error().message);
    res.set_content(*body, format == "md"    ? "text/markdown; charset=utf-8"
                           : format == "csv" ? "text/csv; charset=utf-8"
                                             : "application/json");
  });
  http.Get("/api/live", [this](const httplib::Request& req, httplib::Response& res) {
    if (options.live_iface.empty())
      return send_error(res, 404, "no live interface: start the server with --live IFACE");
    res.set_header("Cache-Control", "no-cache");
    // Each client starts with the last values and the recent events, then gets what comes.
    // Messages carry ids "<instance>-<seq>": a browser that reconnects sends the last one it
    // got (Last-Event-ID) and is sent only what came after it, so its log shows no alarm twice;
    // an id from an earlier run of the server starts it afresh.
    struct Client {
      bool fresh = true;
      std::uint64_t sent = 0;
      std::optional<std::uint64_t> resume;  // seq of the last message the client had
    };
    auto client = std::make_shared<Client>();
    if (const auto last = req.get_header_value("Last-Event-ID");
        last.starts_with(live.instance + "-")) {
      const auto digits = std::string_view(last).substr(live.instance.size() + 1);
      std::uint64_t n = 0;
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
      if (!digits.empty() && ec == std::errc() && end == digits.data() + digits.size())
        client->resume = n;
    }
    res.set_chunked_content_provider("text/event-stream", [this, client](std::size_t,
                                                                         httplib::DataSink& sink) {
      std::vector<std::pair<std::uint64_t, std::string>> out;
      {
        std::unique_lock lock(live.mutex);
        if (client->fresh) {
          client->fresh = false;
          // A new client: the last values, then the alarms and status seen lately (those
          // after its Last-Event-ID when it reconnects).
          // A resume point this run never reached is not one of its ids: start afresh.
          const auto after = client->resume && *client->resume <= live.seq ? *client->resume : 0;
          bool values_sent = live.last_values.empty();
          for (const auto& m : live.recent) {
            // In sequence order, the last values in their place, so the last id a client gets
            // is the newest it has.
            if (!values_sent && m.seq >= live.last_values_seq) {
              out.emplace_back(live.last_values_seq, live.last_values);
              values_sent = true;
            }
            if (m.seq > after && !m.values) out.emplace_back(m.seq, m.text);
          }
          if (!values_sent) out.emplace_back(live.last_values_seq, live.last_values);
          client->sent = live.seq;
          if (out.empty()) out.emplace_back(0, "");
        } else {
          if (!live.changed.wait_for(lock, std::chrono::seconds(15),
                                     [&] { return live.stop.load() || live.seq > client->sent; }))
            out.emplace_back(0, "");  // a comment line keeps proxies and the browser connected
          for (const auto& m : live.recent)
            if (m.seq > client->sent) out.emplace_back(m.seq, m.text);
          client->sent = live.seq;
        }
      }
      if (live.stop.load()) return false;
      for (const auto& [seq, message] : out) {
        const std::string chunk =
            message.empty() ? ": keep-alive\n\n"
                            : fmt::format("id: {}-{}\ndata: {}\n\n", live.instance, seq, message);
        if (!sink.write(chunk.data(), chunk.size())) return false;
      }
      return true;
    });
  });
  // A kept capture's analysis, as /api/analyze answered it: a reopened case shows its captures'
  // findings and plots again.
  http.Get(R"(/api/captures/([0-9a-f]{64}))",
           [this](const httplib::Request& req, httplib::Response& res) {
             const std::string id = req.matches[1];
             auto r = analysis_of(id);
             if (!r) return send_error(res, status_of(r.error()), r.error().message);
             json out = report::analysis_json(**r);
             if (req.has_param("name")) out["file"] = req.get_param_value("name");
             out["capture_id"] = id;
             send_json(res, out);
           });
  // The words for the ids the API speaks: causes, checks, layers, verdicts, signals with units.
  http.Get("/api/vocabulary",
           [this](const httplib::Request&, httplib::Response& res) { send_json(res, vocabulary); });
  http.Get("/api/devices",
           [this](const httplib::Request&, httplib::Response& res) { send_json(res, devices); });
  http.Get("/api/checks", [this](const httplib::Request&, httplib::Response& res) {
    json layers = json::array(), checks = json::array();
    for (const auto& l : catalogue.layers())
      layers.push_back({{"layer", diagnosis::layer_number(l.layer)},
                        {"name", l.name},
                        {"budget_minutes", l.budget_minutes}});
    for (const auto& c : diagnosis::ordered_checks(catalogue))
      checks.push_back({{"check", c->id},
                        {"layer", diagnosis::layer_number(c->layer)},
                        {"title", c->title},
                        {"minutes", c->minutes},
                        {"capture_only", c->capture_only}});
    send_json(res, {{"layers", layers}, {"checks", checks}});
  });
  http.Get("/api/.*", [](const httplib::Request& req, httplib::Response& res) {
    send_error(res, 404, fmt::format("no such API route: {}", req.path));
  });

  // The front end: files built from web/ and compiled in; every other path is the app (its
  // router reads the hash).
  http.Get(".*", [](const httplib::Request& req, httplib::Response& res) {
    const auto* asset = find_web_asset(req.path == "/" ? "/index.html" : req.path);
    if (asset == nullptr && req.path.starts_with("/assets/"))
      return send_error(res, 404, fmt::format("no such file: {}", req.path));
    if (asset == nullptr) asset = find_web_asset("/index.html");
    if (asset == nullptr) return send_error(res, 404, "the web front end was not built");
    const bool hashed = req.path.starts_with("/assets/");
    res.set_header("Cache-Control", hashed ? "public, max-age=31536000, immutable" : "no-cache");
    page_headers(res);
    res.set_content(std::string(asset->body), std::string(asset->mime));
  });
}

// The upload is analysed as it streams in: the bytes go into a pipe the analysis reads and
// into the capture kept by hash (so diagnose can take it by id). A client that goes away
// mid-upload ends the analysis at what arrived and leaves nothing kept.
void Server::Impl::analyze(const httplib::Request& req, httplib::Response& res,
                           const httplib::ContentReader& reader) {
  auto timeout = query_number(req, "timeout", 0.1, 3600);
  auto bitrate = query_number(req, "bitrate", 10000, 1000000);
  if (!timeout) return send_error(res, 400, timeout.error().message);
  if (!bitrate) return send_error(res, 400, bitrate.error().message);
  // Refused before reading a byte when the client says how much is coming; a chunked upload is
  // counted as it arrives.
  const std::string length = req.get_header_value("Content-Length");
  if (!length.empty() && std::strtoull(length.c_str(), nullptr, 10) > options.max_upload_bytes)
    return send_error(res, 413,
                      fmt::format("the capture is larger than the server takes ({} MB)",
                                  options.max_upload_bytes >> 20));
  // Kept uploads have a quota: a full disk would stop the store too.
  const std::uint64_t already_kept = options.max_kept_bytes ? records::kept_bytes(captures_dir) : 0;
  const auto over_quota = [&](std::uint64_t more) {
    return options.max_kept_bytes != 0 && already_kept + more > options.max_kept_bytes;
  };
  const auto quota_message = [&] {
    return fmt::format(
        "the space for kept captures is full ({} MB of {} MB used): an admin removes old "
        "captures, or starts the server with a larger --max-kept-mb",
        already_kept >> 20, options.max_kept_bytes >> 20);
  };
  if (over_quota(std::strtoull(length.c_str(), nullptr, 10)))
    return send_error(res, 507, quota_message());
  auto keeper = records::CaptureKeeper::open(captures_dir);
  if (!keeper) return send_error(res, 500, keeper.error().message);
  Pipe pipe;
  if (!pipe.ok()) return send_error(res, 500, "cannot create a pipe");
  std::string name = req.has_param("name") ? req.get_param_value("name") : "upload";

  analysis::RunOptions run_options;
  if (*timeout)
    run_options.analyzer.inverter_timeout_ms = static_cast<std::int64_t>(**timeout * 1000);
  if (*bitrate) run_options.analyzer.bitrate_bps = static_cast<std::uint32_t>(**bitrate);
  std::optional<Result<diagnosis::CaptureResult>> result;
  std::string crashed;  // what the analysis thread threw, if it did
  CollectingSink sink;
  bool started = false;
  std::thread worker;
  // Whatever leaves this function (an answer, an exception), the analysis thread is ended and
  // joined: its pipe is closed under it.
  struct Joiner {
    Pipe& pipe;
    std::thread& thread;
    ~Joiner() {
      pipe.close_write();
      if (thread.joinable()) thread.join();
    }
  } joiner{pipe, worker};
  auto start = [&] {
    if (started) return;
    started = true;
    worker = std::thread([&] {
      try {
        result = diagnosis::diagnose(analysis::CaptureInput::stream(pipe.read_fd(), name), sink,
                                     run_options);
      } catch (const std::exception& e) {
        crashed = e.what();
      }
      // Drain what is still coming so the writer never blocks on a finished reader.
      char buf[65536];
      while (::read(pipe.read_fd(), buf, sizeof buf) > 0) {
      }
    });
  };
  // pcap and pcapng need their whole file (their readers seek): such an upload is kept first and
  // analysed from the kept file; every text format streams into the analysis as it arrives.
  std::optional<bool> whole_file;
  std::uint64_t received = 0;
  std::string failure;
  auto feed = [&](const char* data, std::size_t len) {
    received += len;
    if (received > options.max_upload_bytes) {
      failure = "too large";
      return false;
    }
    if (over_quota(received)) {
      failure = "quota";
      return false;
    }
    if (auto ok = (*keeper)->write({data, len}); !ok) {
      failure = ok.error().message;
      return false;
    }
    if (!whole_file) whole_file = capture::needs_whole_file({data, len});
    if (*whole_file) return true;
    start();
    return pipe.write(data, len);
  };
  bool read_ok = true;
  bool saw_file = false;
  if (req.is_multipart_form_data()) {
    bool in_file = false;
    read_ok = reader(
        [&](const httplib::MultipartFormData& part) {
          in_file = part.name == "file";
          if (in_file) {
            if (saw_file) {
              failure = "one capture per request (several 'file' fields)";
              return false;
            }
            saw_file = true;
            if (!part.filename.empty()) name = part.filename;
          }
          return true;
        },
        [&](const char* data, std::size_t len) { return in_file ? feed(data, len) : true; });
    if (!saw_file && failure.empty()) failure = "multipart upload without a 'file' field";
  } else {
    read_ok = reader([&](const char* data, std::size_t len) { return feed(data, len); });
  }
  pipe.close_write();
  if (!started && !whole_file.value_or(false)) start();  // an empty body: the analysis says so
  if (worker.joinable()) worker.join();
  if (!read_ok || !failure.empty()) {
    if (failure == "too large")
      return send_error(res, 413,
                        fmt::format("the capture is larger than the server takes ({} MB)",
                                    options.max_upload_bytes >> 20));
    if (failure == "quota") return send_error(res, 507, quota_message());
    return send_error(res, 400,
                      failure.empty() ? "the upload was cut off before its end" : failure);
  }
  // What is not a capture is not kept: a streamed upload the analysis refused is dropped
  // unfinished, a whole-file one removed again unless it was kept before.
  const bool streamed_failed = !whole_file.value_or(false) && (!result || !*result);
  if (streamed_failed && crashed.empty())
    return send_error(
        res, 400,
        fmt::format("{}: {}", name, result ? result->error().message : "nothing was analysed"));
  auto sha = (*keeper)->finish();
  if (!sha) return send_error(res, 500, sha.error().message);
  if (whole_file.value_or(false)) {
    auto path = records::kept_capture_path(captures_dir, *sha);
    if (!path) return send_error(res, 500, path.error().message);
    try {
      result = diagnosis::diagnose(analysis::CaptureInput::path(*path), sink, run_options);
    } catch (const std::exception& e) {
      crashed = e.what();
    }
    if ((!result || !*result) && crashed.empty() && (*keeper)->added())
      records::forget_capture(captures_dir, *sha);
  }
  if (!crashed.empty()) {
    // Not kept either: nothing could be made of it.
    if ((*keeper)->added()) records::forget_capture(captures_dir, *sha);
    log(fmt::format("analysis of {} failed: {}", name, crashed));
    return send_error(res, 500, "internal error in the analysis: " + crashed);
  }
  if (!result || !*result)
    return send_error(
        res, 400,
        fmt::format("{}: {}", name, result ? result->error().message : "nothing was analysed"));
  auto& r = **result;
  r.run.file = name;
  records::AnalysisSettings settings;
  if (*timeout) settings.timeout_s = **timeout;
  if (*bitrate) settings.bitrate_bps = static_cast<std::uint32_t>(**bitrate);
  if (auto kept = records::keep_analysis_settings(captures_dir, *sha, settings); !kept)
    log(kept.error().message);
  json out = report::analysis_json(r);
  out["capture_id"] = *sha;
  out["size_bytes"] = received;
  remember_analysis(*sha, std::make_shared<diagnosis::CaptureResult>(std::move(r)));
  send_json(res, out);
}

// The answers object of docs/diagnose.md, plus "capture_id" (a capture uploaded to
// /api/analyze) and "case" (record the session in that case, resuming from what it holds). A
// path in "capture" is refused: the server reads only captures it kept.
void Server::Impl::diagnose(const httplib::Request& req, httplib::Response& res) {
  auto body = parse_body(req, "diagnose");
  if (!body) return send_error(res, 400, body.error().message);
  if (!body->is_object()) return send_error(res, 400, "diagnose: expected a JSON object");
  std::string capture_id, case_id, capture_name = "upload", order = "learned";
  for (auto [key, target] :
       {std::pair{"capture_id", &capture_id}, std::pair{"case", &case_id},
        std::pair{"capture_name", &capture_name}, std::pair{"order", &order}}) {
    if (!body->contains(key)) continue;
    if (!(*body)[key].is_string() && !(*body)[key].is_null())
      return send_error(res, 400, fmt::format("diagnose: \"{}\": expected a string", key));
    if ((*body)[key].is_string()) *target = (*body)[key].get<std::string>();
    body->erase(key);
  }
  // "capture": null says no capture can be taken on this call: the walk does not ask for one.
  const bool no_capture = body->contains("capture") && (*body)["capture"].is_null();
  if (no_capture) body->erase("capture");
  const bool path_given = (body->contains("capture") && !(*body)["capture"].is_null()) ||
                          (body->contains("answers") && (*body)["answers"].is_object() &&
                           (*body)["answers"].contains("capture"));
  if (path_given)
    return send_error(res, 400,
                      "diagnose: \"capture\": the server takes a capture by \"capture_id\" "
                      "(upload it to /api/analyze first)");
  auto answers = diagnosis::parse_answers(body->dump(), "diagnose", catalogue);
  if (!answers) return send_error(res, 400, answers.error().message);

  // "order": "guide" takes the field guide's fixed order; "learned" (the default) the company's
  // own once enough cases are closed.
  const auto order_mode = diagnosis::parse_order_mode(order);
  if (!order_mode)
    return send_error(res, 400, "diagnose: \"order\": expected \"learned\" or \"guide\"");
  diagnosis::GuidedOptions guided;
  guided.order = *order_mode;
  std::shared_ptr<const diagnosis::CaseHistory> history;
  std::optional<records::Case> walked;
  {
    std::lock_guard lock(store_mutex);
    history = case_history_now();
    if (!case_id.empty())
      if (auto c = store->get(case_id); c && *c) walked = std::move(**c);
  }
  guided.history = *history;  // copied outside the lock
  // A case walked again (reopened, corrected) is not its own evidence.
  if (walked) records::without_case(guided.history, *walked, &kb);
  guided.no_capture = no_capture;
  std::shared_ptr<const diagnosis::CaptureResult> capture;
  if (!capture_id.empty()) {
    auto analysed = analysis_of(capture_id);
    if (!analysed) return send_error(res, status_of(analysed.error()), analysed.error().message);
    capture = *analysed;
    guided.evidence = &capture->run.evidence;
    guided.findings = &capture->findings;
  }
  if (case_id.empty()) {
    const auto result = diagnosis::run_guided(catalogue, kb, *answers, guided);
    json out = diagnosis::guided_json(result);
    out["answers"] = answers->to_json();
    if (!capture_id.empty()) out["capture_id"] = capture_id;
    return send_json(res, out);
  }
  // records::record_guided loads, resumes, runs, records and writes conditionally, again when
  // another writer (a second device, a CLI) changed the case in between.
  std::optional<records::SessionCapture> attach;
  if (capture) attach = records::SessionCapture{capture_name, capture_id, &capture->findings};
  auto recorded = locked([&](records::Store& st) {
    return records::record_guided(
        st, case_id, *answers, catalogue,
        [&](const diagnosis::Answers& merged) {
          return diagnosis::run_guided(catalogue, kb, merged, guided);
        },
        attach, records::Resume::kYes, 5, auth.user_of(req));
  });
  if (!recorded) {
    return send_error(res, status_of(recorded.error()), recorded.error().message);
  }
  json out = diagnosis::guided_json(recorded->result);
  out["answers"] = recorded->answers.to_json();
  if (!capture_id.empty()) out["capture_id"] = capture_id;
  out["case"] = records::case_to_json(recorded->the_case);
  case_headers(res, recorded->the_case);
  send_json(res, out);
}

void Server::Impl::hardcode(const httplib::Request& req, httplib::Response& res) {
  auto body = parse_body(req, "hardcode");
  if (!body) return send_error(res, 400, body.error().message);
  auto in = hardcode_input(*body);
  if (!in) return send_error(res, 400, in.error().message);
  in->naming = diagnosis::HardcodeInput::Naming::kForm;
  auto advice = diagnosis::advise_hardcode(*in, &kb);
  if (!advice) return send_error(res, 400, advice.error().message);
  send_json(res, diagnosis::hardcode_json(*advice));
}

void Server::Impl::cases(const httplib::Request& req, httplib::Response& res) {
  if (req.method == "GET") {
    records::CaseFilter filter{req.get_param_value("since"), req.get_param_value("installer")};
    auto body = cached("cases\n" + filter.since + "\n" + filter.installer,
                       [&](records::Store& st) -> Result<std::string> {
                         auto all = st.list(filter);
                         if (!all) return tl::unexpected(all.error());
                         json out = json::array();
                         for (const auto& c : *all) out.push_back(records::case_to_json(c));
                         return out.dump(-1, ' ', false, json::error_handler_t::replace);
                       });
    if (!body) return send_error(res, 500, body.error().message);
    res.set_content(*body, "application/json");
    return;
  }
  auto body = parse_body(req, "case");
  if (!body) return send_error(res, 400, body.error().message);
  if (!body->is_object()) return send_error(res, 400, "case: expected a JSON object");
  if (!body->contains("id") || (*body)["id"].is_null() || (*body)["id"] == "")
    (*body)["id"] = records::new_case_id();
  if (!body->contains("opened") || (*body)["opened"].is_null())
    (*body)["opened"] = records::now_iso_utc();
  auto c = records::case_from_json(*body, "case");
  if (!c) return send_error(res, 400, c.error().message);
  c->history.clear();  // a new case has no past; the server writes its history, not the body
  // In team mode the author is whoever is logged in, never what the body says.
  if (auth.team) c->installer = auth.user_of(req);
  // Atomic in the store: another server or a CLI on the same database cannot take the id
  // between the look-up and the write.
  auto created = locked([&](records::Store& st) { return st.create(*c); });
  if (!created) return send_error(res, 500, created.error().message);
  if (!*created) return send_error(res, 409, fmt::format("case {} exists", c->id));
  case_headers(res, *c);
  send_json(res, records::case_to_json(*c), 201);
}

// Empty as a technician's body would blank a field with it.
bool blank(const json& v) {
  return v.is_null() || v == json("") || ((v.is_object() || v.is_array()) && v.empty());
}

// `value` over `stored`, field by field inside objects, where a blank never replaces what the
// stored value says.
json keep_over(const json& stored, const json& value) {
  if (blank(value) && !blank(stored)) return stored;
  if (value.is_object() && stored.is_object()) {
    json out = stored;
    for (const auto& [key, v] : value.items())
      out[key] = keep_over(stored.contains(key) ? stored[key] : json(), v);
    return out;
  }
  return value;
}

// What a case says of the site and the equipment: a technician's blank never empties it. (The
// outcome, the cause, the closing time and the verification are the work's state, which the
// page clears on purpose: reopening a case, handing the cause back to the checks.)
bool descriptive(std::string_view key) {
  return key == "site" || key == "bms" || key == "inverter" || key == "symptom" || key == "notes" ||
         key == "opened" || key == "minutes_by_layer";
}

// What a technician's PUT body makes of a stored case (as JSON): a key left out keeps its stored
// value, a blank never empties what the case says of the site and the equipment, the recorded
// checks are the walk's (only /api/diagnose changes them), kept captures are never dropped (new
// ones are added), and the author and the history stay. Only an admin replaces a case whole;
// every replaced version stays restorable.
json technician_update(const json& stored, const json& body) {
  json out = stored;
  for (const auto& [key, value] : body.items()) {
    if (key == "checks" || key == "installer" || key == "history") continue;
    if (key == "captures" && value.is_array()) {
      json captures = stored.contains("captures") && stored["captures"].is_array()
                          ? stored["captures"]
                          : json::array();
      for (const auto& add : value) {
        const bool known = std::any_of(captures.begin(), captures.end(), [&](const json& x) {
          return x.is_object() && add.is_object() && x.contains("sha256") &&
                 add.contains("sha256") && x["sha256"] == add["sha256"];
        });
        if (!known) captures.push_back(add);
      }
      out["captures"] = std::move(captures);
      continue;
    }
    out[key] =
        descriptive(key) ? keep_over(stored.contains(key) ? stored[key] : json(), value) : value;
  }
  return out;
}

void Server::Impl::case_one(const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  if (req.method == "DELETE") {
    auto removed = locked([&](records::Store& st) { return st.remove(id); });
    if (!removed) return send_error(res, 500, removed.error().message);
    if (!*removed) return send_error(res, 404, fmt::format("no case {}", id));
    res.status = 204;
    return;
  }
  if (req.method == "PUT") {
    auto body = parse_body(req, "case");
    if (!body) return send_error(res, 400, body.error().message);
    if (!body->is_object()) return send_error(res, 400, "case: expected a JSON object");
    if (!body->contains("id")) (*body)["id"] = id;
    if ((*body)["id"] != id)
      return send_error(res, 400, fmt::format("case: \"id\": the URL names {}", id));
    const bool admin = auth.is_admin(req);
    const std::string who = auth.user_of(req);
    // A technician's body may be part of a case: it is read over the stored one (and merged
    // again inside the write, against the case as it is then).
    json full = *body;
    if (!admin) {
      auto stored = locked([&](records::Store& st) { return st.get(id); });
      if (!stored) return send_error(res, 500, stored.error().message);
      if (*stored) full = technician_update(records::case_to_json(**stored), *body);
    }
    auto c = records::case_from_json(full, "case " + id);
    if (!c) return send_error(res, 400, c.error().message);
    // Inside the write, against the case as it is then: a technician's body merged again, and in
    // team mode the author kept (nobody changes who did the work).
    const auto settle = [&](const records::Case& stored) {
      if (!admin)
        if (auto m = records::case_from_json(
                technician_update(records::case_to_json(stored), *body), "case " + id))
          *c = std::move(*m);
      if (auth.team) c->installer = stored.installer.empty() ? who : stored.installer;
      records::carry_history(stored, *c, who);
    };
    if (req.has_header("If-Match")) {
      // Only over the version the client loaded: a case another device saved meanwhile is not
      // overwritten (the lost update of two people editing one case).
      const std::string wanted = req.get_header_value("If-Match");
      bool missing = false;
      // The history is the store's, not the body's: what changed is added to it (the case
      // behind `*c` is written after this check, inside the same transaction).
      auto written = locked([&](records::Store& st) {
        return st.put_if(*c, [&](const std::optional<records::Case>& stored) {
          missing = !stored;
          if (!stored || !if_match(wanted, records::case_etag(*stored))) return false;
          settle(*stored);
          return true;
        });
      });
      if (!written) return send_error(res, 500, written.error().message);
      if (!*written)
        return send_error(res, 412,
                          missing ? fmt::format("no case {} to update", id)
                                  : fmt::format("case {} was changed elsewhere since it was "
                                                "loaded: reload it and make the change again",
                                                id));
    } else {
      auto ok = locked([&](records::Store& st) {
        return st.put_if(*c, [&](const std::optional<records::Case>& stored) {
          if (stored)
            settle(*stored);
          else if (auth.team)
            c->installer = who;
          return true;
        });
      });
      if (!ok) return send_error(res, 500, ok.error().message);
    }
    case_headers(res, *c);
    return send_json(res, records::case_to_json(*c));
  }
  auto c = locked([&](records::Store& st) { return st.get(id); });
  if (!c) return send_error(res, 500, c.error().message);
  if (!*c) return send_error(res, 404, fmt::format("no case {}", id));
  case_headers(res, **c);
  send_json(res, records::case_to_json(**c));
}

void Server::Impl::report(const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  const std::string kind = req.has_param("kind") ? req.get_param_value("kind") : "customer";
  const auto k = report::parse_case_report_kind(kind);
  if (!k) return send_error(res, 400, "?kind=: expected technician, customer or acknowledgment");
  auto c = locked([&](records::Store& st) { return st.get(id); });
  if (!c) return send_error(res, 500, c.error().message);
  if (!*c) return send_error(res, 404, fmt::format("no case {}", id));
  if (*k == report::CaseReportKind::kAcknowledgment &&
      (**c).outcome != records::Outcome::kHardcoded)
    return send_error(
        res, 409, fmt::format("case {} is not hardcoded: there is no acknowledgment to sign", id));
  const bool md = req.get_param_value("format") == "md";
  // Times in the reader's zone (?tz= minutes east of UTC, as the page sends it); the company
  // details from the settings.
  auto tz = query_number(req, "tz", -840, 840);
  if (!tz) return send_error(res, 400, tz.error().message);
  report::ReportContext context;
  if (*tz) context.utc_offset_minutes = static_cast<int>(**tz);
  if (auto company = company_settings()) {
    const auto text = [&](const char* key) {
      return company->contains(key) && (*company)[key].is_string()
                 ? (*company)[key].get<std::string>()
                 : std::string();
    };
    context.company = text("name");
    context.phone = text("phone");
    context.email = text("email");
    context.address = text("address");
    context.website = text("website");
  }
  page_headers(res);
  res.set_content(
      report::case_report(
          **c, *k, md ? report::CaseReportFormat::kMarkdown : report::CaseReportFormat::kHtml,
          &catalogue, context),
      md ? "text/markdown; charset=utf-8" : "text/html; charset=utf-8");
}

}  // namespace bmslink::server
