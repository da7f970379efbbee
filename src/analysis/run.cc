// The parallel path reads with pread() into a per-thread buffer rather than mapping the file:
// mapped pages of a 1 GB file would count as resident memory, read buffers do not grow.

#include "bmslink/analysis/run.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "bmslink/protocol/builtin.h"
#include "bmslink/protocol/identify.h"

namespace bmslink::analysis {
namespace {

// Diagnostics of one block with block-relative line numbers; renumbered once every earlier
// block's line count is known. Bounded: beyond kKeep only the counts by reason are kept.
class BlockSink final : public DiagnosticSink {
 public:
  static constexpr std::size_t kKeep = 64;
  struct Held {
    std::size_t block;
    Diagnostic d;
  };
  std::size_t block = 0;
  std::vector<Held> held;
  std::map<std::string, std::uint64_t> overflow;  // reason -> count

  void report(Diagnostic d) override {
    if (held.size() < kKeep)
      held.push_back({block, std::move(d)});
    else
      ++overflow[d.reason];
  }
};

struct Range {
  std::uint64_t begin = 0, end = 0;
};

// Moves `pos` forward to the first byte after a newline (or to `limit`).
Result<std::uint64_t> next_line_start(int fd, std::uint64_t pos, std::uint64_t limit) {
  if (pos == 0) return pos;
  char buf[4096];
  std::uint64_t at = pos - 1;  // a range starting right after a newline keeps its start
  while (at < limit) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(sizeof buf, limit - at));
    const ssize_t got = ::pread(fd, buf, want, static_cast<off_t>(at));
    if (got < 0) return tl::unexpected(Error{ErrorCode::kIo, std::strerror(errno)});
    if (got == 0) break;
    if (const void* nl = std::memchr(buf, '\n', static_cast<std::size_t>(got))) {
      return at + static_cast<std::uint64_t>(static_cast<const char*>(nl) - buf) + 1;
    }
    at += static_cast<std::uint64_t>(got);
  }
  return limit;
}

struct Worker {
  explicit Worker(CaptureAnalyzer a) : analyzer(std::move(a)) {}
  CaptureAnalyzer analyzer;
  BlockSink sink;
  std::vector<std::uint64_t> block_lines;  // lines per block, in order
  capture::ReaderStats stats;
  std::optional<Error> failure;
};

void run_range(int fd, Range range, const std::string& name, std::size_t block_bytes, Worker& w,
               std::atomic<std::uint64_t>& done, const RunOptions& options, std::uint64_t total) {
  std::vector<char> buf(block_bytes);
  std::size_t carried = 0;  // bytes of an unfinished line at the start of buf
  std::uint64_t pos = range.begin;
  while (pos < range.end || carried > 0) {
    const auto want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size() - carried, range.end - pos));
    ssize_t got = 0;
    if (want > 0) {
      got = ::pread(fd, buf.data() + carried, want, static_cast<off_t>(pos));
      if (got < 0) {
        w.failure =
            Error{ErrorCode::kIo, fmt::format("{}: read failed: {}", name, std::strerror(errno))};
        return;
      }
      pos += static_cast<std::uint64_t>(got);
    }
    const std::size_t filled = carried + static_cast<std::size_t>(got);
    if (filled == 0) break;
    // Parse up to the last newline; at the end of the range (or a line longer than the buffer)
    // everything that is there.
    std::size_t cut = filled;
    const bool more = pos < range.end && got > 0;
    if (more) {
      const char* data = buf.data();
      std::size_t i = filled;
      while (i > 0 && data[i - 1] != '\n') --i;
      if (i > 0) cut = i;
    }
    w.sink.block = w.block_lines.size();
    const auto st =
        capture::read_candump_log_block(std::string_view(buf.data(), cut), name, 1, w.sink,
                                        [&w](const can::Frame& frame) { w.analyzer.add(frame); });
    w.stats.lines += st.lines;
    w.stats.frames += st.frames;
    w.stats.malformed += st.malformed;
    w.stats.ignored += st.ignored;
    w.block_lines.push_back(st.lines);
    carried = filled - cut;
    if (carried > 0) std::memmove(buf.data(), buf.data() + cut, carried);
    const std::uint64_t now = done.fetch_add(cut) + cut;
    if (options.progress) options.progress(now, total);
    if (!more && carried == 0) break;
    if (!more && carried > 0 && got == 0) {
      // Unreachable in practice: the final pass parses everything.
      break;
    }
  }
}

const protocol::Database* database_for(const protocol::Identification& id) {
  if (id.protocol.empty()) return nullptr;
  auto found = protocol::builtin_database(id.protocol);
  return found ? *found : nullptr;
}

}  // namespace

StreamingAnalysis::StreamingAnalysis(AnalyzerOptions options) : options_(options) {}
StreamingAnalysis::~StreamingAnalysis() = default;

void StreamingAnalysis::start() {
  identification_ = identifier_.result();
  if (const auto* db = database_for(identification_))
    decoder_ = std::make_unique<protocol::Decoder>(*db);
  analyzer_ = std::make_unique<CaptureAnalyzer>(decoder_.get(), options_);
  for (const auto& f : ahead_) analyzer_->add(f);
  ahead_.clear();
  ahead_.shrink_to_fit();
}

void StreamingAnalysis::add(const can::Frame& frame) {
  if (analyzer_) {
    analyzer_->add(frame);
    return;
  }
  identifier_.add(frame);
  ahead_.push_back(frame);
  if (ahead_.size() >= kIdentifyFrames) start();
}

Evidence StreamingAnalysis::finish() {
  if (!analyzer_) start();
  return analyzer_->finish(identification_);
}

Result<RunResult> analyze_capture(const std::string& path, DiagnosticSink& sink,
                                  const RunOptions& options) {
  capture::ReaderOptions ro;
  ro.format = options.format;
  auto opened = capture::open_capture(path, sink, ro);
  if (!opened) return tl::unexpected(opened.error());
  auto& reader = *opened;

  // Identify from the first frames, then pick the built-in definition to decode with.
  std::vector<can::Frame> ahead;
  ahead.reserve(256);
  protocol::Identifier identifier;
  can::Frame f;
  while (ahead.size() < kIdentifyFrames && reader->next(f)) {
    identifier.add(f);
    ahead.push_back(f);
  }
  const auto identification = identifier.result();
  const protocol::Database* db = database_for(identification);
  std::optional<protocol::Decoder> decoder;
  if (db != nullptr) decoder.emplace(*db);
  const protocol::Decoder* dec = decoder ? &*decoder : nullptr;

  RunResult out;
  out.file = reader->name();
  out.format = reader->format();
  out.variant = reader->variant();

  struct stat st {};
  const bool regular = path != "-" && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  const unsigned threads = options.threads == 0 ? cores : options.threads;
  const auto size = regular ? static_cast<std::uint64_t>(st.st_size) : 0;
  // Big candump logs take the bulk path even on one thread: it is the faster parser.
  const bool parallel = regular && reader->format() == capture::Format::kCandumpLog &&
                        size >= options.parallel_min_bytes;

  if (!parallel) {
    CaptureAnalyzer analyzer(dec, options.analyzer);
    for (const auto& g : ahead) analyzer.add(g);
    ahead.clear();
    ahead.shrink_to_fit();
    while (reader->next(f)) analyzer.add(f);
    out.stats = reader->stats();
    out.failure = reader->failure();
    out.evidence = analyzer.finish(identification);
    return out;
  }

  // Parallel: the sniffing reader is done with; ranges are read afresh from the file.
  reader.reset();
  ahead.clear();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return tl::unexpected(
        Error{ErrorCode::kIo, fmt::format("cannot open {}: {}", path, std::strerror(errno))});
  // More ranges than threads, taken in turn: a thread that finishes early picks up the next
  // range instead of waiting for the other (states are merged in file order either way).
  const unsigned parts = threads * std::max(1U, options.ranges_per_thread);
  std::vector<Range> ranges;
  std::uint64_t begin = 0;
  for (unsigned i = 0; i < parts; ++i) {
    std::uint64_t end = i + 1 == parts ? size : size / parts * (i + 1);
    auto start = next_line_start(fd, end, size);
    if (!start) {
      ::close(fd);
      return tl::unexpected(start.error());
    }
    end = i + 1 == parts ? size : *start;
    ranges.push_back({begin, std::max(begin, end)});
    begin = std::max(begin, end);
  }
  std::vector<std::unique_ptr<Worker>> workers;
  for (unsigned i = 0; i < parts; ++i)
    workers.push_back(std::make_unique<Worker>(CaptureAnalyzer(dec, options.analyzer)));
  std::atomic<std::uint64_t> done{0};
  std::atomic<unsigned> next_part{0};
  auto work = [&] {
    for (unsigned i = next_part++; i < parts; i = next_part++) {
      run_range(fd, ranges[i], out.file, options.block_bytes, *workers[i], done, options, size);
    }
  };
  {
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
  }
  ::close(fd);

  // Renumber diagnostics: block-relative line + lines of every earlier block.
  std::uint64_t line_base = 0;
  for (auto& wp : workers) {
    Worker& w = *wp;
    std::vector<std::uint64_t> starts;
    for (auto n : w.block_lines) {
      starts.push_back(line_base);
      line_base += n;
    }
    for (auto& h : w.sink.held) {
      if (h.d.line > 0 && h.block < starts.size()) h.d.line += starts[h.block];
      sink.report(std::move(h.d));
    }
    for (const auto& [reason, n] : w.sink.overflow) {
      for (std::uint64_t k = 0; k < n; ++k) sink.report({out.file, 0, reason, {}});
    }
    out.stats.lines += w.stats.lines;
    out.stats.frames += w.stats.frames;
    out.stats.malformed += w.stats.malformed;
    out.stats.ignored += w.stats.ignored;
    if (!out.failure && w.failure) out.failure = w.failure;
  }
  for (unsigned i = 1; i < parts; ++i) workers[0]->analyzer.merge(std::move(workers[i]->analyzer));
  out.evidence = workers[0]->analyzer.finish(identification);
  out.threads_used = threads;
  return out;
}

}  // namespace bmslink::analysis
