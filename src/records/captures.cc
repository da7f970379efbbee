#include "bmslink/records/captures.h"

#include <fcntl.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "bmslink/core/json.h"

#include "bmslink/records/store.h"

namespace bmslink::records {

Result<std::string> sha256_of_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return make_error(ErrorCode::kIo,
                      fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    return make_error(ErrorCode::kIo, "SHA-256 unavailable");
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto got = in.gcount();
    if (got > 0) EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(got));
  }
  if (in.bad()) return make_error(ErrorCode::kIo, fmt::format("{}: read failed", path));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
  return hex;
}

std::string captures_dir(std::string_view store_url) {
  std::string u(store_url);
  if (u.starts_with("sqlite://")) u = u.substr(9);
  if (u.find("://") == std::string::npos) {
    const auto slash = u.rfind('/');
    return (slash == std::string::npos ? std::string(".") : u.substr(0, slash)) + "/captures";
  }
  std::string def = default_store_url().substr(9);
  return def.substr(0, def.rfind('/')) + "/captures";
}

Result<std::string> keep_capture(const std::string& path, const std::string& dir) {
  auto sha = sha256_of_file(path);
  if (!sha) return sha;
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return make_error(ErrorCode::kIo,
                      fmt::format("cannot create {}: {}", dir, std::strerror(errno)));
  const std::string target = dir + "/" + *sha;
  struct stat st {};
  if (::stat(target.c_str(), &st) == 0) {
    // Kept already: kept again now, so the grace before an unreferenced one is removed starts
    // afresh.
    ::utimensat(AT_FDCWD, target.c_str(), nullptr, 0);
    return sha;
  }
  // A name of this process's own, and the copy hashed again: a file changed since it was hashed
  // must not be kept under the wrong name, and two processes keeping it at once must not mix.
  const std::string tmp = fmt::format("{}.{}.tmp", target, ::getpid());
  {
    std::ifstream in(path, std::ios::binary);
    std::ofstream out(tmp, std::ios::binary);
    out << in.rdbuf();
    out.close();
    if (!in || !out) {
      std::remove(tmp.c_str());
      return make_error(ErrorCode::kIo, fmt::format("cannot keep {} in {}", path, dir));
    }
  }
  auto copied = sha256_of_file(tmp);
  if (!copied || *copied != *sha) {
    std::remove(tmp.c_str());
    return make_error(ErrorCode::kIo,
                      fmt::format("{} changed while it was being kept; try again", path));
  }
  if (std::rename(tmp.c_str(), target.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    return make_error(ErrorCode::kIo, fmt::format("cannot keep {} in {}: {}", path, dir, why));
  }
  return sha;
}

struct CaptureKeeper::Hash {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), EVP_MD_CTX_free};
};

Result<std::unique_ptr<CaptureKeeper>> CaptureKeeper::open(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return make_error(ErrorCode::kIo,
                      fmt::format("cannot create {}: {}", dir, std::strerror(errno)));
  std::unique_ptr<CaptureKeeper> k(new CaptureKeeper());
  k->hash_ = std::make_unique<Hash>();
  if (!k->hash_->ctx || EVP_DigestInit_ex(k->hash_->ctx.get(), EVP_sha256(), nullptr) != 1)
    return make_error(ErrorCode::kIo, "SHA-256 unavailable");
  k->dir_ = dir;
  std::string pattern = dir + "/upload.XXXXXX";
  const int fd = ::mkstemp(pattern.data());
  if (fd < 0)
    return make_error(ErrorCode::kIo,
                      fmt::format("cannot create a file in {}: {}", dir, std::strerror(errno)));
  k->tmp_ = pattern;
  k->file_ = ::fdopen(fd, "wb");
  if (k->file_ == nullptr) {
    ::close(fd);
    return make_error(ErrorCode::kIo, fmt::format("cannot write {}", pattern));
  }
  return k;
}

CaptureKeeper::~CaptureKeeper() {
  if (file_ != nullptr) std::fclose(file_);
  if (!tmp_.empty()) std::remove(tmp_.c_str());
}

Result<void> CaptureKeeper::write(std::string_view bytes) {
  if (file_ == nullptr) return make_error(ErrorCode::kIo, "capture already finished");
  if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size())
    return make_error(ErrorCode::kIo,
                      fmt::format("cannot write {}: {}", tmp_, std::strerror(errno)));
  EVP_DigestUpdate(hash_->ctx.get(), bytes.data(), bytes.size());
  size_ += bytes.size();
  return {};
}

Result<std::string> CaptureKeeper::finish() {
  if (file_ == nullptr) return make_error(ErrorCode::kIo, "capture already finished");
  const bool ok = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
  std::fclose(file_);
  file_ = nullptr;
  if (!ok) return make_error(ErrorCode::kIo, fmt::format("cannot write {}", tmp_));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(hash_->ctx.get(), md, &len);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
  const std::string target = dir_ + "/" + hex;
  struct stat st {};
  if (::stat(target.c_str(), &st) != 0) {
    if (std::rename(tmp_.c_str(), target.c_str()) != 0)
      return make_error(ErrorCode::kIo, fmt::format("cannot keep the capture in {}: {}", dir_,
                                                    std::strerror(errno)));
    added_ = true;
  } else {
    ::utimensat(AT_FDCWD, target.c_str(), nullptr, 0);  // uploaded again: its grace starts again
  }
  std::remove(tmp_.c_str());  // kept already, or renamed (then this finds nothing)
  tmp_.clear();
  return hex;
}

void forget_capture(const std::string& dir, std::string_view sha256) {
  if (!kept_capture_path(dir, sha256)) return;
  std::remove((dir + "/" + std::string(sha256)).c_str());
  std::remove((dir + "/" + std::string(sha256) + ".options").c_str());
}

std::uint64_t kept_bytes(const std::string& dir) {
  std::error_code ec;
  std::uint64_t total = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::error_code size_ec;
    const auto size = entry.is_regular_file(size_ec) ? entry.file_size(size_ec) : 0;
    if (!size_ec) total += size;
  }
  return total;
}

Result<std::string> kept_capture_path(const std::string& dir, std::string_view sha256) {
  const bool hex =
      sha256.size() == 64 && sha256.find_first_not_of("0123456789abcdef") == std::string_view::npos;
  if (!hex)
    return make_error(ErrorCode::kInvalidArgument,
                      "capture id: expected the 64 lower-case hex digits of its SHA-256");
  const std::string path = dir + "/" + std::string(sha256);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return make_error(ErrorCode::kNotFound, fmt::format("no capture {} is kept", sha256));
  return path;
}

Result<void> keep_analysis_settings(const std::string& dir, std::string_view sha256,
                                    const AnalysisSettings& settings) {
  if (auto kept = kept_capture_path(dir, sha256); !kept) return tl::unexpected(kept.error());
  nlohmann::json j = nlohmann::json::object();
  if (settings.timeout_s) j["timeout_s"] = *settings.timeout_s;
  if (settings.bitrate_bps) j["bitrate_bps"] = *settings.bitrate_bps;
  const std::string path = dir + "/" + std::string(sha256) + ".options";
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << j.dump();
    if (!out) return make_error(ErrorCode::kIo, fmt::format("cannot write {}", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return make_error(ErrorCode::kIo,
                      fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  return {};
}

AnalysisSettings kept_analysis_settings(const std::string& dir, std::string_view sha256) {
  AnalysisSettings out;
  if (!kept_capture_path(dir, sha256)) return out;
  std::ifstream in(dir + "/" + std::string(sha256) + ".options", std::ios::binary);
  if (!in) return out;
  std::stringstream text;
  text << in.rdbuf();
  // Written by this server only; anything unreadable is the defaults.
  const auto parsed = parse_json(text.str(), "capture options");
  if (!parsed || !parsed->is_object()) return out;
  const auto& j = *parsed;
  if (const auto t = j.find("timeout_s"); t != j.end() && t->is_number()) {
    const double v = t->get<double>();
    if (v >= 0.1 && v <= 3600) out.timeout_s = v;
  }
  if (const auto b = j.find("bitrate_bps"); b != j.end() && b->is_number_unsigned()) {
    const auto v = b->get<std::uint64_t>();
    if (v >= 10000 && v <= 8000000) out.bitrate_bps = static_cast<std::uint32_t>(v);
  }
  return out;
}

namespace {
bool is_sha(std::string_view name) {
  return name.size() == 64 && name.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

struct KeptFile {
  std::string name;
  std::uint64_t bytes = 0;
  std::int64_t mtime_s = 0;
  bool leftover = false;  // an upload's temporary file
};

std::vector<KeptFile> kept_files(const std::string& dir) {
  std::vector<KeptFile> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    // A crashed upload leaves upload.XXXXXX (CaptureKeeper) or <sha>.<pid>.tmp (keep_capture).
    const bool leftover = name.ends_with(".tmp") || name.starts_with("upload.");
    if (!is_sha(name) && !leftover) continue;
    struct stat st {};
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    out.push_back({name, static_cast<std::uint64_t>(st.st_size), st.st_mtime, leftover});
  }
  std::sort(out.begin(), out.end(),
            [](const KeptFile& a, const KeptFile& b) { return a.mtime_s < b.mtime_s; });
  return out;
}
}  // namespace

Result<CollectedCaptures> collect_captures(std::vector<KeptFile> files,
                                           const std::vector<std::string>& referenced,
                                           const std::string& dir, std::int64_t grace_s,
                                           bool dry_run);

Result<CaptureUsage> capture_usage(Store& store, const std::string& dir) {
  auto referenced = store.referenced_captures();
  if (!referenced) return tl::unexpected(referenced.error());
  return capture_usage(*referenced, dir);
}

CaptureUsage capture_usage(const std::vector<std::string>& referenced, const std::string& dir) {
  const std::set<std::string> refs(referenced.begin(), referenced.end());
  CaptureUsage u;
  for (const auto& f : kept_files(dir)) {
    if (f.leftover) continue;
    ++u.files;
    u.bytes += f.bytes;
    if (refs.count(f.name)) {
      ++u.referenced_files;
      u.referenced_bytes += f.bytes;
    } else {
      ++u.unreferenced_files;
      u.unreferenced_bytes += f.bytes;
    }
  }
  return u;
}

Result<CollectedCaptures> collect_captures(Store& store, const std::string& dir,
                                           std::int64_t grace_s, bool dry_run) {
  // The references are read after the list of files: a file kept after the list is not looked
  // at, and one kept again (uploaded anew) in between has a new time (within the grace period).
  auto files = kept_files(dir);
  auto referenced = store.referenced_captures();
  if (!referenced) return tl::unexpected(referenced.error());
  return collect_captures(std::move(files), *referenced, dir, grace_s, dry_run);
}

Result<CollectedCaptures> collect_captures(const std::vector<std::string>& referenced,
                                           const std::string& dir, std::int64_t grace_s,
                                           bool dry_run) {
  return collect_captures(kept_files(dir), referenced, dir, grace_s, dry_run);
}

Result<CollectedCaptures> collect_captures(std::vector<KeptFile> files,
                                           const std::vector<std::string>& referenced,
                                           const std::string& dir, std::int64_t grace_s,
                                           bool dry_run) {
  const std::set<std::string> refs(referenced.begin(), referenced.end());
  const std::int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
  CollectedCaptures out;
  for (const auto& f : files) {
    if (!f.leftover) {
      ++out.before.files;
      out.before.bytes += f.bytes;
      if (refs.count(f.name)) {
        ++out.before.referenced_files;
        out.before.referenced_bytes += f.bytes;
        continue;
      }
      ++out.before.unreferenced_files;
      out.before.unreferenced_bytes += f.bytes;
    }
    // A leftover is a crashed upload's (a live one is written to all the time): a day is
    // plenty, an hour the least (an upload may be under way).
    const std::int64_t grace =
        f.leftover ? std::clamp<std::int64_t>(grace_s, 3600, 86400) : grace_s;
    if (now_s - f.mtime_s < grace) {
      if (!f.leftover) ++out.young_unreferenced;
      continue;
    }
    out.removed.push_back(f.name);
    out.removed_bytes += f.bytes;
    if (dry_run) continue;
    if (f.leftover)
      std::remove((dir + "/" + f.name).c_str());
    else
      forget_capture(dir, f.name);
  }
  return out;
}

}  // namespace bmslink::records
