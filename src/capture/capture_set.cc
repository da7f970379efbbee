// Several files read as one capture: a logger's SD card, rotated candump files, or files named
// one by one. Files are put in time order by their first frame (by name when they have no
// wall-clock time) and read one after the other, so memory holds one reader at a time.
//
// Where one file ends and the next begins later, the time between is not in any file. For a
// CANedge card the folders say what happened: splits of one session follow each other while
// the logger runs (time between them is the bus's own silence), a new session folder means the
// logger started again (time before it was not recorded). Between any other files bmslink
// cannot tell, so it says the time was not recorded rather than blame the battery.

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "bmslink/capture/reader.h"
#include "capture/binary_readers.h"

namespace bmslink::capture {
namespace {

constexpr std::size_t kMaxFiles = 100'000;
constexpr int kMaxDepth = 8;
// Shorter breaks between files are the normal hand-over of a split.
constexpr std::int64_t kBoundaryGapNs = 1'000'000'000;

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void list_files(const std::string& dir, int depth, std::vector<std::string>& out,
                DiagnosticSink& sink, std::uint64_t& skipped) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    sink.report(
        Diagnostic{dir, 0, fmt::format("cannot read the folder: {}", std::strerror(errno)), {}});
    ++skipped;
    return;
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;  // ".", "..", hidden files
    names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    const std::string path = dir + "/" + n;
    if (is_directory(path)) {
      if (depth < kMaxDepth) list_files(path, depth + 1, out, sink, skipped);
      continue;
    }
    if (out.size() < kMaxFiles) out.push_back(path);
  }
}

// "LOG/<device>/<session>/<split>.MF4": the session folder, or "" for other layouts.
std::string canedge_session(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return {};
  std::string name = path.substr(slash + 1);
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (name.size() < 4 || name.compare(name.size() - 4, 4, ".MF4") != 0) return {};
  const std::string dir = path.substr(0, slash);
  const auto session_slash = dir.rfind('/');
  const std::string session =
      dir.substr(session_slash == std::string::npos ? 0 : session_slash + 1);
  if (session.size() != 8 || session.find_first_not_of("0123456789") != std::string::npos)
    return {};
  return dir;
}

struct Member {
  std::string path;
  std::optional<std::int64_t> first_ns;  // first frame, wall clock only
  std::string session;
};

class CaptureSetReader final : public CaptureSet {
 public:
  CaptureSetReader(std::vector<Member> members, std::string name, DiagnosticSink& sink,
                   ReaderOptions options, Format format, std::string first_variant,
                   std::uint64_t left_out)
      : CaptureSet(std::move(name)),
        members_(std::move(members)),
        sink_(sink),
        options_(options),
        format_(format),
        first_variant_(std::move(first_variant)) {
    stats_.notes = left_out;  // files left out were reported as the set was made
  }

  bool next(can::Frame& frame) override {
    for (;;) {
      if (!reader_ && !open_next()) return false;
      if (reader_->next(frame)) {
        if (frame.time_kind == TimeKind::kAbsolute) {
          if (!first_in_file_) {
            first_in_file_ = true;
            boundary(frame.timestamp_ns);
          }
          last_ns_ = frame.timestamp_ns;
        }
        ++stats_.frames;
        return true;
      }
      close_current();
    }
  }

  Format format() const override { return format_; }
  std::string variant() const override {
    return fmt::format("{} files; the first: {}", members_.size(), first_variant_);
  }

 private:
  bool open_next() {
    while (index_ < members_.size()) {
      const Member& m = members_[index_++];
      auto r = open_capture(m.path, sink_, options_);
      if (!r) {
        sink_.report(Diagnostic{m.path, 0, r.error().message, {}});
        ++stats_.notes;
        continue;
      }
      reader_ = std::move(*r);
      first_in_file_ = false;
      current_ = index_ - 1;
      return true;
    }
    return false;
  }

  void close_current() {
    const ReaderStats& s = reader_->stats();
    stats_.lines += s.lines;
    stats_.malformed += s.malformed;
    stats_.ignored += s.ignored;
    stats_.notes += s.notes;
    if (s.junk > 0) ++stats_.notes;  // each file's junk was reported once: a note of the set
    if (reader_->failure() && !failure_) failure_ = reader_->failure();
    previous_ = current_;
    reader_.reset();
  }

  void boundary(std::int64_t first_ns) {
    if (!previous_ || !last_ns_ || first_ns - *last_ns_ <= kBoundaryGapNs) return;
    const Member& before = members_[*previous_];
    const Member& after = members_[current_];
    FileGap g;
    g.start_ns = *last_ns_;
    g.length_ns = first_ns - *last_ns_;
    g.before = before.path;
    g.after = after.path;
    g.recorded = !before.session.empty() && before.session == after.session;
    gaps_.push_back(std::move(g));
  }

  std::vector<Member> members_;
  DiagnosticSink& sink_;
  ReaderOptions options_;
  Format format_;
  std::string first_variant_;
  std::unique_ptr<FrameReader> reader_;
  std::size_t index_ = 0;
  std::size_t current_ = 0;
  std::optional<std::size_t> previous_;
  std::optional<std::int64_t> last_ns_;
  bool first_in_file_ = false;
};

}  // namespace

Result<std::unique_ptr<CaptureSet>> open_capture_set(const std::vector<std::string>& inputs,
                                                     DiagnosticSink& sink, ReaderOptions options) {
  std::vector<std::string> files;
  std::uint64_t skipped = 0;
  for (const auto& in : inputs) {
    if (is_directory(in)) {
      std::string dir = in;
      while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
      list_files(dir, 0, files, sink, skipped);
    } else {
      files.push_back(in);
    }
  }
  if (files.empty()) {
    return make_error(ErrorCode::kUnknownFormat,
                      fmt::format("{}: no files to read", inputs.empty() ? "" : inputs.front()));
  }
  // Each file's first frame places it in time; files no reader takes (a logger's config.json)
  // are left out and named.
  std::vector<Member> members;
  std::optional<Format> format;
  std::string first_variant;
  for (const auto& path : files) {
    NullSink quiet;
    auto r = open_capture(path, quiet, options);
    if (!r) {
      sink.report(Diagnostic{path, 0, fmt::format("left out: {}", r.error().message), {}});
      ++skipped;
      continue;
    }
    Member m;
    m.path = path;
    m.session = canedge_session(path);
    can::Frame f;
    if ((*r)->next(f) && f.time_kind == TimeKind::kAbsolute) m.first_ns = f.timestamp_ns;
    if (!format) {
      format = (*r)->format();
      first_variant = (*r)->variant();
    }
    members.push_back(std::move(m));
  }
  if (members.empty()) {
    return make_error(
        ErrorCode::kUnknownFormat,
        fmt::format("{}: none of its {} file(s) is a capture bmslink reads",
                    inputs.size() == 1 ? inputs.front() : "the files given", files.size()));
  }
  // Time order; files without wall-clock time keep their name order, after the timed ones.
  std::stable_sort(members.begin(), members.end(), [](const Member& a, const Member& b) {
    if (a.first_ns && b.first_ns) return *a.first_ns < *b.first_ns;
    return a.first_ns.has_value() && !b.first_ns.has_value();
  });
  const std::string name = inputs.size() == 1
                               ? inputs.front()
                               : fmt::format("{} and {} more", inputs.front(), inputs.size() - 1);
  auto set = std::make_unique<CaptureSetReader>(std::move(members), name, sink, options, *format,
                                                std::move(first_variant), skipped);
  return std::unique_ptr<CaptureSet>(std::move(set));
}

bool is_capture_set(const std::vector<std::string>& inputs) {
  return inputs.size() > 1 || (inputs.size() == 1 && is_directory(inputs.front()));
}

}  // namespace bmslink::capture

// ---- a zip of a logger's folder ----

namespace bmslink::capture::detail {
namespace {

constexpr std::size_t kMaxZipEntries = 10'000;
constexpr std::uint64_t kMaxZipBytes = 32ULL << 30;  // unpacked, whatever the ratio allows
constexpr std::uint64_t kMaxZipRatio = 64;           // unpacked bytes per packed byte
constexpr std::uint64_t kFreeSpaceFloor = 512ULL << 20;

// The set read from the unpacked folder; the folder goes with the reader. Gaps name the files
// by their path inside the zip ("LOG/..."), not the temporary path.
class ZipSet final : public CaptureSet {
 public:
  ZipSet(std::unique_ptr<CaptureSet> inner, std::string dir, std::string name)
      : CaptureSet(std::move(name)), inner_(std::move(inner)), dir_(std::move(dir)) {}
  ~ZipSet() override {
    inner_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  bool next(can::Frame& frame) override {
    const bool got = inner_->next(frame);
    stats_ = inner_->stats();
    if (inner_->gaps().size() != gaps_.size()) {
      for (std::size_t i = gaps_.size(); i < inner_->gaps().size(); ++i) {
        FileGap g = inner_->gaps()[i];
        g.before = inside(g.before);
        g.after = inside(g.after);
        gaps_.push_back(std::move(g));
      }
    }
    if (!got && inner_->failure() && !failure_) failure_ = inner_->failure();
    return got;
  }
  Format format() const override { return inner_->format(); }
  std::string variant() const override { return "zip: " + inner_->variant(); }

 private:
  std::string inside(const std::string& path) const {
    // The path inside the zip: the report already names the zip (and a server's copy of it
    // lives at a path that is nobody's business).
    return path.rfind(dir_ + "/", 0) == 0 ? path.substr(dir_.size() + 1) : path;
  }
  std::unique_ptr<CaptureSet> inner_;
  std::string dir_;
};

// Entry names that stay inside the folder: relative, no "..", no empty parts.
bool safe_entry(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.find('\\') != std::string_view::npos)
    return false;
  std::size_t start = 0;
  while (start <= name.size()) {
    const auto end = name.find('/', start);
    const auto part = name.substr(start, end == std::string_view::npos ? end : end - start);
    if (part == ".." || (part.empty() && end != std::string_view::npos)) return false;
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<FrameReader>> open_zip(const std::string& path, std::string_view memory,
                                              std::string name, DiagnosticSink& sink,
                                              ReaderOptions options) {
  struct ArchiveCloser {
    void operator()(archive* a) const { archive_read_free(a); }
  };
  std::unique_ptr<archive, ArchiveCloser> a(archive_read_new());
  archive_read_support_format_zip(a.get());
  const int opened = path.empty() ? archive_read_open_memory(a.get(), memory.data(), memory.size())
                                  : archive_read_open_filename(a.get(), path.c_str(), 1 << 16);
  if (opened != ARCHIVE_OK) {
    return make_error(ErrorCode::kMalformed, fmt::format("{}: not a readable zip: {}", name,
                                                         archive_error_string(a.get())));
  }
  std::uint64_t packed = memory.size();
  if (!path.empty()) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) packed = static_cast<std::uint64_t>(st.st_size);
  }
  const std::uint64_t budget =
      std::min(kMaxZipBytes, std::max<std::uint64_t>(packed, 1) * kMaxZipRatio);
  const char* tmp = std::getenv("TMPDIR");
  std::string dir =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/bmslink-zip-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) {
    return make_error(ErrorCode::kIo, fmt::format("{}: cannot make a folder to unpack into: {}",
                                                  name, std::strerror(errno)));
  }
  auto fail = [&](std::string message) -> Result<std::unique_ptr<FrameReader>> {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return make_error(ErrorCode::kMalformed, fmt::format("{}: {}", name, message));
  };
  std::uint64_t unpacked = 0;
  std::size_t entries = 0;
  archive_entry* e = nullptr;
  std::vector<char> buf(1 << 16);
  for (;;) {
    const int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      return fail(
          fmt::format("zip entry {} unreadable: {}", entries + 1, archive_error_string(a.get())));
    }
    if (++entries > kMaxZipEntries)
      return fail(fmt::format("more than {} entries", kMaxZipEntries));
    const char* raw_name = archive_entry_pathname(e);
    const std::string entry = raw_name != nullptr ? raw_name : "";
    if (archive_entry_filetype(e) != AE_IFREG) continue;  // folders are made as files need them
    if (!safe_entry(entry)) {
      sink.report(Diagnostic{
          name, 0, fmt::format("zip entry '{}' left out: its name leaves the folder", entry), {}});
      continue;
    }
    const std::string out_path = dir + "/" + entry;
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(out_path).parent_path(), ec);
    std::FILE* out = std::fopen(out_path.c_str(), "wbx");
    if (out == nullptr)
      return fail(fmt::format("cannot unpack '{}': {}", entry, std::strerror(errno)));
    for (;;) {
      const la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n == 0) break;
      if (n < 0) {
        std::fclose(out);
        return fail(
            fmt::format("zip entry '{}' unreadable: {}", entry, archive_error_string(a.get())));
      }
      unpacked += static_cast<std::uint64_t>(n);
      // The disk is checked as the bytes come, every 16 MiB, not once an entry is whole.
      if ((unpacked >> 24) != ((unpacked - static_cast<std::uint64_t>(n)) >> 24)) {
        struct statvfs fs {};
        if (::statvfs(dir.c_str(), &fs) == 0 && fs.f_bavail * fs.f_frsize < kFreeSpaceFloor) {
          std::fclose(out);
          return fail("unpacking would leave less than 512 MB free");
        }
      }
      if (unpacked > budget) {
        std::fclose(out);
        return fail(fmt::format("unpacks to more than {} MB ({} times its size at most)",
                                budget >> 20, kMaxZipRatio));
      }
      if (std::fwrite(buf.data(), 1, static_cast<std::size_t>(n), out) !=
          static_cast<std::size_t>(n)) {
        std::fclose(out);
        return fail(fmt::format("cannot unpack '{}': {}", entry, std::strerror(errno)));
      }
    }
    std::fclose(out);
    struct statvfs fs {};
    if (::statvfs(dir.c_str(), &fs) == 0 && fs.f_bavail * fs.f_frsize < kFreeSpaceFloor) {
      return fail("unpacking would leave less than 512 MB free");
    }
  }
  options.archives = false;  // one level: a zip inside is left out, not unpacked
  auto set = open_capture_set({dir}, sink, options);
  if (!set) return fail(set.error().message);
  return std::unique_ptr<FrameReader>(new ZipSet(std::move(*set), dir, std::move(name)));
}

bool looks_like_zip(std::string_view head) {
  return head.substr(0, 4) == std::string_view("PK\x03\x04", 4);
}

}  // namespace bmslink::capture::detail
