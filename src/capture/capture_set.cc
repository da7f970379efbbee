// Several files read as one capture: a logger's SD card, rotated candump files, or files named
// one by one. Files are put in time order by their first frame (by name when they have no
// wall-clock time) and read one after the other, so memory holds one reader at a time.
//
// Where one file ends and the next begins later, the time between is not in any file. For a
// CANedge card the folders say what happened: splits of one session follow each other while
// the logger runs (time between them is the bus's own silence), a new session folder means the
// logger started again (time before it was not recorded). Between any other files bmslink
// cannot tell, so it says the time was not recorded rather than blame the battery.

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "bmslink/capture/reader.h"

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
