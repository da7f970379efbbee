#include "bmslink/records/backup.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bmslink/core/json.h"
#include "bmslink/records/captures.h"
#include "bmslink/records/store.h"

namespace bmslink::records {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// What a restore holds in memory: each records entry, and all of them together.
constexpr std::uint64_t kMaxRecordsEntryBytes = std::uint64_t(512) << 20;
constexpr std::uint64_t kMaxRecordsBytes = std::uint64_t(1) << 30;
// A restore stops before the captures' file system has less than this left.
constexpr std::uint64_t kKeepFreeBytes = std::uint64_t(512) << 20;
constexpr std::uint64_t kMaxOptionsBytes = 4096;
constexpr std::size_t kMaxManifestBytes = 256ULL << 20;

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  }
  void add(const void* data, std::size_t n) { EVP_DigestUpdate(ctx_.get(), data, n); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &len);
    std::string out;
    for (unsigned int i = 0; i < len; ++i) out += fmt::format("{:02x}", md[i]);
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

bool is_sha(std::string_view s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// captures/<sha> or captures/<sha>.options: the file name, else empty.
std::string capture_entry(std::string_view path) {
  if (!path.starts_with("captures/")) return "";
  const auto name = path.substr(9);
  if (is_sha(name) ||
      (name.size() == 72 && name.ends_with(".options") && is_sha(name.substr(0, 64))))
    return std::string(name);
  return "";
}

constexpr const char* kRecordEntries[] = {"records/cases.jsonl", "records/versions.jsonl",
                                          "records/users.jsonl", "records/settings.jsonl"};

std::string jsonl(const std::vector<json>& rows) {
  std::string out;
  for (const auto& r : rows) {
    out += r.dump(-1, ' ', false, json::error_handler_t::replace);
    out += '\n';
  }
  return out;
}

struct Writer {
  archive* a = nullptr;
  std::string path;
  json files = json::array();

  tl::unexpected<Error> failed(const std::string& what) const {
    return make_error(
        ErrorCode::kIo,
        fmt::format("{}: {}: {}", path, what,
                    a && archive_error_string(a) ? archive_error_string(a) : "archive error"));
  }

  Result<void> header(const std::string& name, std::uint64_t size) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(),
                                                                    archive_entry_free);
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0600);
    archive_entry_set_mtime(e.get(), ::time(nullptr), 0);
    if (archive_write_header(a, e.get()) != ARCHIVE_OK) return failed("writing " + name);
    return {};
  }

  Result<void> text(const std::string& name, const std::string& body) {
    if (auto ok = header(name, body.size()); !ok) return ok;
    if (!body.empty() &&
        archive_write_data(a, body.data(), body.size()) != static_cast<la_ssize_t>(body.size()))
      return failed("writing " + name);
    Sha256 h;
    h.add(body.data(), body.size());
    files.push_back({{"path", name}, {"bytes", body.size()}, {"sha256", h.hex()}});
    return {};
  }

  // A kept file, streamed; its hash as it went in (false: it was gone).
  Result<bool> file(const std::string& name, const std::string& source, std::string& sha) {
    std::unique_ptr<std::FILE, decltype(&std::fclose)> in(std::fopen(source.c_str(), "rb"),
                                                          std::fclose);
    if (!in) return false;
    struct stat st {};
    if (::fstat(::fileno(in.get()), &st) != 0) return false;
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (auto ok = header(name, size); !ok) return tl::unexpected(ok.error());
    Sha256 h;
    std::vector<char> buf(1 << 20);
    std::uint64_t done = 0;
    while (done < size) {
      const auto n =
          std::fread(buf.data(), 1, std::min<std::uint64_t>(buf.size(), size - done), in.get());
      if (n == 0) return make_error(ErrorCode::kIo, fmt::format("{}: read failed", source));
      if (archive_write_data(a, buf.data(), n) != static_cast<la_ssize_t>(n))
        return failed("writing " + name);
      h.add(buf.data(), n);
      done += n;
    }
    sha = h.hex();
    files.push_back({{"path", name}, {"bytes", size}, {"sha256", sha}});
    return true;
  }
};

std::set<std::string> referenced_in(const RecordsDump& d) {
  std::set<std::string> refs;
  auto scan = [&](const std::string& body) {
    static constexpr std::string_view kKey = "\"sha256\":\"";
    for (auto at = body.find(kKey); at != std::string::npos; at = body.find(kKey, at + 1)) {
      const auto value = std::string_view(body).substr(at + kKey.size(), 64);
      if (is_sha(value)) refs.insert(std::string(value));
    }
  };
  for (const auto& c : d.cases) scan(c);
  for (const auto& v : d.versions) scan(v.body);
  return refs;
}

}  // namespace

Result<BackupSummary> write_backup(Store& store, const std::string& captures_dir,
                                   const std::string& archive_path) {
  auto dump = store.dump();
  if (!dump) return tl::unexpected(dump.error());
  BackupSummary summary;
  summary.cases = dump->cases.size();
  summary.versions = dump->versions.size();
  summary.users = dump->users.size();
  summary.settings = dump->settings.size();

  // Written under a name of its own and renamed when whole: a failed backup leaves no archive
  // that looks complete.
  const std::string tmp = fmt::format("{}.{}.tmp", archive_path, ::getpid());
  // The archive holds password hashes and customers' details: the owner's alone, and never
  // written through a link someone left under its name.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return make_error(ErrorCode::kIo,
                      fmt::format("{}: cannot create: {}", tmp, std::strerror(errno)));
  struct Fd {
    int fd;
    ~Fd() { ::close(fd); }
  } fd_owner{fd};
  Writer w;
  w.path = archive_path;
  w.a = archive_write_new();
  std::unique_ptr<archive, decltype(&archive_write_free)> owner(w.a, archive_write_free);
  auto fail = [&](Error e) -> Result<BackupSummary> {
    archive_write_close(w.a);
    std::remove(tmp.c_str());
    return tl::unexpected(std::move(e));
  };
  if (archive_write_add_filter_zstd(w.a) != ARCHIVE_OK ||
      archive_write_set_format_pax_restricted(w.a) != ARCHIVE_OK ||
      archive_write_open_fd(w.a, fd) != ARCHIVE_OK)
    return fail(w.failed("cannot create the archive").value());

  std::vector<json> rows;
  std::string cases_text;
  for (const auto& body : dump->cases) {
    cases_text += body;
    cases_text += '\n';
  }
  if (auto ok = w.text("records/cases.jsonl", cases_text); !ok) return fail(ok.error());
  for (const auto& v : dump->versions) {
    auto body = parse_json(v.body, "version " + v.saved_at);
    rows.push_back({{"case_id", v.case_id},
                    {"saved_at", v.saved_at},
                    {"deleted", v.deleted},
                    {"body", body ? *body : json(v.body)}});
  }
  if (auto ok = w.text("records/versions.jsonl", jsonl(rows)); !ok) return fail(ok.error());
  rows.clear();
  for (const auto& u : dump->users)
    rows.push_back({{"name", u.name},
                    {"password_hash", u.password_hash},
                    {"role", role_name(u.role)},
                    {"disabled", u.disabled}});
  if (auto ok = w.text("records/users.jsonl", jsonl(rows)); !ok) return fail(ok.error());
  rows.clear();
  for (const auto& [key, value] : dump->settings) rows.push_back({{"key", key}, {"value", value}});
  if (auto ok = w.text("records/settings.jsonl", jsonl(rows)); !ok) return fail(ok.error());

  // Every kept capture (a case may refer to one an admin restores later).
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(captures_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (!capture_entry("captures/" + name).empty()) names.insert(name);
  }
  std::set<std::string> carried;
  for (const auto& name : names) {
    std::string sha;
    auto got = w.file("captures/" + name, captures_dir + "/" + name, sha);
    if (!got) return fail(got.error());
    if (!*got) continue;  // removed meanwhile
    if (is_sha(name)) {
      if (sha != name)
        return fail(Error{ErrorCode::kIo,
                          fmt::format("{}/{}: the file does not have the hash it is named by (it "
                                      "was changed or damaged on disk)",
                                      captures_dir, name)});
      carried.insert(name);
      ++summary.captures;
      summary.capture_bytes += w.files.back()["bytes"].get<std::uint64_t>();
    }
  }
  for (const auto& sha : referenced_in(*dump))
    if (!carried.count(sha)) summary.missing_captures.push_back(sha);

  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  json manifest = {{"format", kBackupFormat},
                   {"version", kBackupVersion},
                   {"created_unix_s", now},
                   {"source", store.url()},
                   {"schema_version", dump->schema_version},
                   {"counts",
                    {{"cases", summary.cases},
                     {"versions", summary.versions},
                     {"users", summary.users},
                     {"settings", summary.settings},
                     {"captures", summary.captures}}},
                   {"missing_captures", summary.missing_captures},
                   {"files", w.files}};
  const std::string m = manifest.dump(1);
  if (auto ok = w.header("manifest.json", m.size()); !ok) return fail(ok.error());
  if (archive_write_data(w.a, m.data(), m.size()) != static_cast<la_ssize_t>(m.size()))
    return fail(w.failed("writing manifest.json").value());
  if (archive_write_close(w.a) != ARCHIVE_OK || ::fsync(fd) != 0)
    return fail(w.failed("finishing").value());
  if (std::rename(tmp.c_str(), archive_path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return make_error(ErrorCode::kIo,
                      fmt::format("{}: cannot write: {}", archive_path, std::strerror(errno)));
  }
  return summary;
}

namespace {

// Lines of a records entry, each a JSON object; errors name the entry and the line.
Result<std::vector<json>> read_lines(const std::string& entry, const std::string& text) {
  std::vector<json> out;
  std::size_t line = 0, at = 0;
  while (at < text.size()) {
    const auto nl = text.find('\n', at);
    const std::string_view l(text.data() + at, (nl == std::string::npos ? text.size() : nl) - at);
    at = nl == std::string::npos ? text.size() : nl + 1;
    ++line;
    if (l.empty()) continue;
    auto j = parse_json(std::string(l), fmt::format("{} line {}", entry, line));
    if (!j) return tl::unexpected(j.error());
    if (!j->is_object())
      return make_error(ErrorCode::kMalformed,
                        fmt::format("{} line {}: expected a JSON object", entry, line));
    out.push_back(std::move(*j));
  }
  return out;
}

Result<std::string> text_field(const json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string())
    return make_error(ErrorCode::kMalformed, fmt::format("{}: \"{}\": expected text", where, key));
  return it->get<std::string>();
}

bool bool_field(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

}  // namespace

Result<BackupSummary> restore_backup(const std::string& archive_path, Store& store,
                                     const std::string& captures_dir, bool merge) {
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_zstd(a.get());
  archive_read_support_filter_none(a.get());
  archive_read_support_format_tar(a.get());
  auto failed = [&](const std::string& what) {
    return make_error(ErrorCode::kMalformed,
                      fmt::format("{}: {}: {}", archive_path, what,
                                  archive_error_string(a.get()) ? archive_error_string(a.get())
                                                                : "not a bmslink backup"));
  };
  if (archive_read_open_filename(a.get(), archive_path.c_str(), 1 << 16) != ARCHIVE_OK)
    return failed("cannot open");

  std::error_code ec;
  fs::create_directories(captures_dir, ec);
  const std::string staging = fmt::format("{}/.restore-{}", captures_dir, ::getpid());
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  if (ec)
    return make_error(ErrorCode::kIo, fmt::format("cannot create {}: {}", staging, ec.message()));
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code e;
      fs::remove_all(dir, e);
    }
  } cleanup{staging};

  struct Seen {
    std::uint64_t bytes = 0;
    std::string sha;
  };
  std::map<std::string, Seen> seen;
  std::map<std::string, std::string> records;
  std::uint64_t records_bytes = 0;
  std::string manifest_text;
  // Room left where the captures go, looked at as they come.
  auto room_left = [&]() -> std::uint64_t {
    struct statvfs v {};
    if (::statvfs(staging.c_str(), &v) != 0) return std::numeric_limits<std::uint64_t>::max();
    const std::uint64_t blocks = v.f_bavail;
    return blocks * v.f_frsize;
  };
  archive_entry* e = nullptr;
  std::vector<char> buf(1 << 20);
  for (;;) {
    const int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return failed("reading the next entry");
    const std::string path = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    if (archive_entry_filetype(e) != AE_IFREG)
      return make_error(
          ErrorCode::kMalformed,
          fmt::format("{}: entry \"{}\": expected a regular file", archive_path, path));
    if (seen.count(path))
      return make_error(ErrorCode::kMalformed,
                        fmt::format("{}: entry \"{}\" appears twice", archive_path, path));
    const bool is_record = std::find(std::begin(kRecordEntries), std::end(kRecordEntries), path) !=
                           std::end(kRecordEntries);
    const std::string capture = capture_entry(path);
    if (!is_record && capture.empty() && path != "manifest.json")
      return make_error(ErrorCode::kMalformed,
                        fmt::format("{}: unexpected entry \"{}\" (expected records/*.jsonl, "
                                    "captures/<sha256> or manifest.json)",
                                    archive_path, path));
    const std::uint64_t limit =
        !capture.empty()
            ? (capture.ends_with(".options") ? kMaxOptionsBytes : std::uint64_t(1) << 50)
        : is_record ? kMaxRecordsEntryBytes
                    : kMaxManifestBytes;
    std::unique_ptr<std::FILE, decltype(&std::fclose)> out(nullptr, std::fclose);
    if (!capture.empty()) {
      out.reset(std::fopen((staging + "/" + capture).c_str(), "wb"));
      if (!out) return make_error(ErrorCode::kIo, fmt::format("cannot write in {}", staging));
    }
    std::string text;
    Sha256 h;
    std::uint64_t bytes = 0;
    for (;;) {
      const la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n < 0) return failed(fmt::format("reading \"{}\"", path));
      if (n == 0) break;
      bytes += static_cast<std::uint64_t>(n);
      if (bytes > limit)
        return make_error(
            ErrorCode::kMalformed,
            fmt::format("{}: entry \"{}\" is larger than {} bytes", archive_path, path, limit));
      h.add(buf.data(), static_cast<std::size_t>(n));
      if (is_record && (records_bytes += static_cast<std::uint64_t>(n)) > kMaxRecordsBytes)
        return make_error(ErrorCode::kMalformed,
                          fmt::format("{}: the records are larger than {} MB together",
                                      archive_path, kMaxRecordsBytes >> 20));
      if (out && bytes % (std::uint64_t(64) << 20) < static_cast<std::uint64_t>(n) &&
          room_left() < kKeepFreeBytes)
        return make_error(
            ErrorCode::kIo,
            fmt::format("{}: less than {} MB left in {}: the captures of {} do not "
                        "fit",
                        captures_dir, kKeepFreeBytes >> 20, captures_dir, archive_path));
      if (out) {
        if (std::fwrite(buf.data(), 1, static_cast<std::size_t>(n), out.get()) !=
            static_cast<std::size_t>(n))
          return make_error(ErrorCode::kIo, fmt::format("cannot write in {}", staging));
      } else {
        text.append(buf.data(), static_cast<std::size_t>(n));
      }
    }
    if (out && std::fclose(out.release()) != 0)
      return make_error(ErrorCode::kIo, fmt::format("cannot write in {}", staging));
    seen[path] = {bytes, h.hex()};
    if (is_record) records[path] = std::move(text);
    if (path == "manifest.json") manifest_text = std::move(text);
  }

  // The manifest names every entry with its size and hash; nothing more, nothing less.
  if (manifest_text.empty())
    return make_error(
        ErrorCode::kMalformed,
        fmt::format("{}: no manifest.json: not a whole bmslink backup", archive_path));
  auto manifest = parse_json(manifest_text, archive_path + ": manifest.json");
  if (!manifest) return tl::unexpected(manifest.error());
  const std::string where = archive_path + ": manifest.json";
  if (!manifest->is_object() || manifest->value("format", "") != kBackupFormat)
    return make_error(ErrorCode::kMalformed,
                      fmt::format("{}: \"format\": expected \"{}\"", where, kBackupFormat));
  const auto version = manifest->find("version");
  if (version == manifest->end() || !version->is_number_integer() ||
      version->get<int>() > kBackupVersion || version->get<int>() < 1)
    return make_error(
        ErrorCode::kMalformed,
        fmt::format("{}: \"version\": expected 1 to {} (a backup of a newer bmslink?)", where,
                    kBackupVersion));
  const auto files = manifest->find("files");
  if (files == manifest->end() || !files->is_array())
    return make_error(ErrorCode::kMalformed, fmt::format("{}: \"files\": expected a list", where));
  std::set<std::string> listed;
  for (std::size_t i = 0; i < files->size(); ++i) {
    const auto& f = (*files)[i];
    const std::string at = fmt::format("{} file {}", where, i + 1);
    if (!f.is_object()) return make_error(ErrorCode::kMalformed, at + ": expected an object");
    auto path = text_field(f, "path", at);
    auto sha = text_field(f, "sha256", at);
    if (!path) return tl::unexpected(path.error());
    if (!sha) return tl::unexpected(sha.error());
    const auto bytes = f.find("bytes");
    if (bytes == f.end() || !bytes->is_number_unsigned())
      return make_error(ErrorCode::kMalformed, at + ": \"bytes\": expected a size");
    const auto it = seen.find(*path);
    if (it == seen.end())
      return make_error(ErrorCode::kMalformed,
                        fmt::format("{}: \"{}\" is listed in the manifest but not in the archive",
                                    archive_path, *path));
    if (it->second.bytes != bytes->get<std::uint64_t>() || it->second.sha != *sha)
      return make_error(ErrorCode::kMalformed,
                        fmt::format("{}: \"{}\" does not match its checksum in the manifest (the "
                                    "archive is damaged or was altered)",
                                    archive_path, *path));
    listed.insert(*path);
  }
  for (const auto& [path, s] : seen) {
    if (path != "manifest.json" && !listed.count(path))
      return make_error(ErrorCode::kMalformed,
                        fmt::format("{}: \"{}\" is not in the manifest", archive_path, path));
    const std::string capture = capture_entry(path);
    if (is_sha(capture) && s.sha != capture)
      return make_error(
          ErrorCode::kMalformed,
          fmt::format("{}: \"{}\" does not have the hash it is named by", archive_path, path));
  }
  for (const char* entry : kRecordEntries)
    if (!records.count(entry))
      return make_error(ErrorCode::kMalformed,
                        fmt::format("{}: no {}: not a whole bmslink backup", archive_path, entry));

  // The records, read whole before anything is written.
  RecordsDump dump;
  {
    const auto& text = records["records/cases.jsonl"];
    std::size_t at = 0;
    while (at < text.size()) {
      const auto nl = text.find('\n', at);
      const auto end = nl == std::string::npos ? text.size() : nl;
      if (end > at) dump.cases.push_back(text.substr(at, end - at));
      at = end + 1;
    }
  }
  auto versions = read_lines("records/versions.jsonl", records["records/versions.jsonl"]);
  if (!versions) return tl::unexpected(versions.error());
  for (std::size_t i = 0; i < versions->size(); ++i) {
    const auto& v = (*versions)[i];
    const std::string at = fmt::format("records/versions.jsonl line {}", i + 1);
    auto id = text_field(v, "case_id", at);
    auto saved = text_field(v, "saved_at", at);
    if (!id) return tl::unexpected(id.error());
    if (!saved) return tl::unexpected(saved.error());
    const auto body = v.find("body");
    if (body == v.end() || !body->is_object())
      return make_error(ErrorCode::kMalformed, at + ": \"body\": expected the case");
    dump.versions.push_back({*id, *saved, bool_field(v, "deleted"),
                             body->dump(-1, ' ', false, json::error_handler_t::replace)});
  }
  auto users = read_lines("records/users.jsonl", records["records/users.jsonl"]);
  if (!users) return tl::unexpected(users.error());
  for (std::size_t i = 0; i < users->size(); ++i) {
    const auto& u = (*users)[i];
    const std::string at = fmt::format("records/users.jsonl line {}", i + 1);
    auto name = text_field(u, "name", at);
    auto hash = text_field(u, "password_hash", at);
    auto role = text_field(u, "role", at);
    if (!name) return tl::unexpected(name.error());
    if (!hash) return tl::unexpected(hash.error());
    if (!role) return tl::unexpected(role.error());
    const auto r = parse_role(*role);
    if (!r)
      return make_error(ErrorCode::kMalformed, at + ": \"role\": expected technician or admin");
    dump.users.push_back({*name, *hash, *r, bool_field(u, "disabled")});
  }
  auto settings = read_lines("records/settings.jsonl", records["records/settings.jsonl"]);
  if (!settings) return tl::unexpected(settings.error());
  for (std::size_t i = 0; i < settings->size(); ++i) {
    const std::string at = fmt::format("records/settings.jsonl line {}", i + 1);
    auto key = text_field((*settings)[i], "key", at);
    auto value = text_field((*settings)[i], "value", at);
    if (!key) return tl::unexpected(key.error());
    if (!value) return tl::unexpected(value.error());
    dump.settings.emplace_back(*key, *value);
  }

  BackupSummary summary;
  summary.cases = dump.cases.size();
  summary.versions = dump.versions.size();
  summary.users = dump.users.size();
  summary.settings = dump.settings.size();
  // Captures first (content-addressed: one already kept is the same file); then the records.
  // Should the records be refused, the captures are uploads no case refers to (bmslink gc).
  if (!merge) {
    // Refused before a capture moves: an occupied store stays as it was.
    auto probe = store.list();
    if (!probe) return tl::unexpected(probe.error());
    auto people = store.list_users();
    if (!people) return tl::unexpected(people.error());
    if (!probe->empty() || !people->empty())
      return make_error(ErrorCode::kConflict,
                        fmt::format("{} already holds cases or accounts: restore into an empty "
                                    "store, or add --merge",
                                    store.url()));
  }
  std::set<std::string> present;
  for (const auto& [path, s] : seen) {
    const std::string name = capture_entry(path);
    if (name.empty()) continue;
    const std::string target = captures_dir + "/" + name;
    if (fs::exists(target, ec)) {
      // Kept already: the same bytes by their name (an options file is replaced).
      if (!name.ends_with(".options")) {
        present.insert(name);
        ++summary.captures;
        summary.capture_bytes += s.bytes;
        continue;
      }
    }
    if (std::rename((staging + "/" + name).c_str(), target.c_str()) != 0)
      return make_error(ErrorCode::kIo,
                        fmt::format("cannot keep {}: {}", target, std::strerror(errno)));
    if (is_sha(name)) {
      present.insert(name);
      ++summary.captures;
      summary.capture_bytes += s.bytes;
    }
  }
  if (auto ok = store.load(dump, merge); !ok) return tl::unexpected(ok.error());
  for (const auto& sha : referenced_in(dump))
    if (!present.count(sha) && !fs::exists(captures_dir + "/" + sha, ec))
      summary.missing_captures.push_back(sha);
  return summary;
}

}  // namespace bmslink::records
