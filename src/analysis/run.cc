// The parallel path reads ranges into a per-thread buffer (RandomAccessFile::read_at) rather than
// mapping the file: mapped pages of a 1 GB file would count as resident memory, read buffers do
// not grow.

#include "bmslink/analysis/run.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
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
Result<std::uint64_t> next_line_start(const RandomAccessFile& file, std::uint64_t pos,
                                      std::uint64_t limit) {
  if (pos == 0) return pos;
  char buf[4096];
  std::uint64_t at = pos - 1;  // a range starting right after a newline keeps its start
  while (at < limit) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(sizeof buf, limit - at));
    auto got = file.read_at(at, std::span<char>(buf, want));
    if (!got) return tl::unexpected(got.error());
    if (*got == 0) break;
    if (const void* nl = std::memchr(buf, '\n', *got)) {
      return at + static_cast<std::uint64_t>(static_cast<const char*>(nl) - buf) + 1;
    }
    at += *got;
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

bool cancelled(const RunOptions& o) {
  return o.cancel != nullptr && o.cancel->load(std::memory_order_relaxed);
}

Error cancel_error(const std::string& name) {
  return Error{ErrorCode::kCancelled, fmt::format("{}: analysis cancelled", name)};
}

void run_range(const RandomAccessFile& file, Range range, const std::string& name,
               std::size_t block_bytes, Worker& w, std::atomic<std::uint64_t>& done,
               const RunOptions& options, std::uint64_t total) {
  std::vector<char> buf(block_bytes);
  std::size_t carried = 0;  // bytes of an unfinished line at the start of buf
  std::uint64_t pos = range.begin;
  while (pos < range.end || carried > 0) {
    if (cancelled(options)) return;
    const auto want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buf.size() - carried, range.end - pos));
    std::size_t got = 0;
    if (want > 0) {
      auto read = file.read_at(pos, std::span<char>(buf.data() + carried, want));
      if (!read) {
        w.failure = read.error();
        return;
      }
      got = *read;
      pos += got;
    }
    const std::size_t filled = carried + got;
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
    const auto st = capture::read_candump_log_block(
        std::string_view(buf.data(), cut), name, 1, w.sink,
        [&w](const can::Frame& frame) { w.analyzer.add(frame); }, capture::BlockStart::kInsideText);
    w.stats.lines += st.lines;
    w.stats.frames += st.frames;
    w.stats.malformed += st.malformed;
    w.stats.ignored += st.ignored;
    w.block_lines.push_back(st.lines);
    carried = filled - cut;
    if (carried > 0) std::memmove(buf.data(), buf.data() + cut, carried);
    const std::uint64_t now = done.fetch_add(cut) + cut;
    if (options.progress) options.progress(now, total);
    if (!more) break;
  }
}

protocol::Database overlay(const protocol::Database& base, const protocol::Database& top) {
  protocol::Database out = base;
  out.name = base.name + " + " + top.name;
  for (const auto& m : top.messages) {
    auto it = std::find_if(out.messages.begin(), out.messages.end(),
                           [&](const auto& x) { return x.id == m.id && x.extended == m.extended; });
    if (it != out.messages.end())
      *it = m;
    else
      out.messages.push_back(m);
  }
  for (const auto& [k, v] : top.attributes) out.attributes[k] = v;
  return out;
}

// Every frame of `source` into `analyzer`, with progress and cancel.
std::optional<Error> pump(can::FrameSource& source, CaptureAnalyzer& analyzer,
                          const RunOptions& options, const std::string& name) {
  can::Frame f;
  std::uint64_t n = 0;
  while (source.next(f)) {
    analyzer.add(f);
    if ((++n & 0xFFFF) == 0) {
      if (cancelled(options)) return cancel_error(name);
      if (options.progress) options.progress(n, 0);
    }
  }
  if (const auto now = source.now_ns()) analyzer.tick(*now);
  return std::nullopt;
}

// Same, with the reading on a thread of its own: frames pass in batches through a short queue,
// in order, so the analysis sees exactly what pump() would. For readers that cannot be cut into
// ranges (binary formats, ASC, TRC, CSV, sets of files), reading and analysing then overlap on
// two cores.
std::optional<Error> pump_threaded(can::FrameSource& source, CaptureAnalyzer& analyzer,
                                   const RunOptions& options, const std::string& name) {
  constexpr std::size_t kBatch = 1024;
  constexpr std::size_t kQueued = 32;  // batches read ahead at most
  struct Batch {
    std::vector<can::Frame> frames = std::vector<can::Frame>(kBatch);
    std::size_t count = 0;
  };
  std::mutex m;
  std::condition_variable ready, room;
  std::deque<std::unique_ptr<Batch>> full, spare;
  bool done = false;
  bool stop = false;
  std::exception_ptr failed;
  std::thread reader([&] {
    try {
      for (;;) {
        std::unique_ptr<Batch> b;
        {
          std::unique_lock lock(m);
          room.wait(lock, [&] { return stop || full.size() < kQueued; });
          if (stop) break;
          if (!spare.empty()) {
            b = std::move(spare.front());
            spare.pop_front();
          }
        }
        if (!b) b = std::make_unique<Batch>();
        b->count = 0;
        while (b->count < kBatch && source.next(b->frames[b->count])) ++b->count;
        const bool end = b->count < kBatch;
        {
          std::lock_guard lock(m);
          if (b->count > 0) full.push_back(std::move(b));
          if (end) done = true;
        }
        ready.notify_one();
        if (end) break;
      }
    } catch (...) {
      // Said on the analysing side, after the join: never a partial analysis passed as whole.
      std::lock_guard lock(m);
      failed = std::current_exception();
      done = true;
    }
    ready.notify_one();
  });
  // Whatever happens on this side (an analyzer or the progress callback throwing), the reader
  // is stopped and joined before the function is left.
  struct Joiner {
    std::mutex& m;
    std::condition_variable& room;
    bool& stop;
    std::thread& reader;
    ~Joiner() {
      {
        std::lock_guard lock(m);
        stop = true;
      }
      room.notify_one();
      if (reader.joinable()) reader.join();
    }
  } joiner{m, room, stop, reader};
  std::uint64_t n = 0;
  std::optional<Error> error;
  for (;;) {
    std::unique_ptr<Batch> b;
    {
      std::unique_lock lock(m);
      ready.wait(lock, [&] { return done || !full.empty(); });
      if (full.empty()) break;  // done, and everything taken
      b = std::move(full.front());
      full.pop_front();
    }
    room.notify_one();
    for (std::size_t i = 0; i < b->count; ++i) analyzer.add(b->frames[i]);
    n += b->count;
    {
      std::lock_guard lock(m);
      spare.push_back(std::move(b));
    }
    if (cancelled(options)) {
      error = cancel_error(name);
      break;
    }
    if (options.progress) options.progress(n, 0);
  }
  {
    std::lock_guard lock(m);
    stop = true;
  }
  room.notify_one();
  reader.join();
  if (failed) std::rethrow_exception(failed);
  if (error) return error;
  if (const auto now = source.now_ns()) analyzer.tick(*now);
  return std::nullopt;
}

}  // namespace

Result<DecoderSetup> choose_decoder(const protocol::Identification& identification,
                                    const ProtocolOptions& options) {
  DecoderSetup out;
  const std::string name = !options.protocol.empty() ? options.protocol : identification.protocol;
  const protocol::Database* base = nullptr;
  if (!name.empty()) {
    auto found = protocol::builtin_database(name);
    if (!found) return tl::unexpected(found.error());
    base = *found;
  }
  if (base != nullptr && options.user_dbc != nullptr) {
    out.database = std::make_unique<protocol::Database>(overlay(*base, *options.user_dbc));
  } else if (base != nullptr) {
    out.database = std::make_unique<protocol::Database>(*base);
  } else if (options.user_dbc != nullptr) {
    out.database = std::make_unique<protocol::Database>(*options.user_dbc);
  }
  if (out.database) {
    out.name = out.database->name;
    out.decoder = std::make_unique<protocol::Decoder>(*out.database);
  }
  return out;
}

IdentifiedSource::IdentifiedSource(can::FrameSource& source, std::size_t ahead) : source_(source) {
  protocol::Identifier identifier;
  can::Frame f;
  ahead_.reserve(std::min<std::size_t>(ahead, 256));
  while (ahead_.size() < ahead && source_.next(f)) {
    identifier.add(f);
    ahead_.push_back(f);
  }
  identification_ = identifier.result();
}

bool IdentifiedSource::next(can::Frame& frame) {
  if (replayed_ < ahead_.size()) {
    frame = ahead_[replayed_++];
    if (replayed_ == ahead_.size()) {
      ahead_.clear();
      ahead_.shrink_to_fit();
      replayed_ = 0;
    }
    return true;
  }
  return source_.next(frame);
}

CaptureInput CaptureInput::path(std::string path) {
  CaptureInput in;
  in.kind_ = Kind::kPath;
  in.name_ = std::move(path);
  return in;
}
CaptureInput CaptureInput::memory(std::string_view bytes, std::string name) {
  CaptureInput in;
  in.kind_ = Kind::kMemory;
  in.bytes_ = bytes;
  in.name_ = std::move(name);
  return in;
}
CaptureInput CaptureInput::stream(int fd, std::string name) {
  CaptureInput in;
  in.kind_ = Kind::kStream;
  in.fd_ = fd;
  in.name_ = std::move(name);
  return in;
}
CaptureInput CaptureInput::paths(std::vector<std::string> paths) {
  CaptureInput in;
  in.kind_ = Kind::kPaths;
  in.name_ = paths.empty() ? std::string() : paths.front();
  in.paths_ = std::move(paths);
  return in;
}
CaptureInput CaptureInput::source(can::FrameSource& source, std::string name) {
  CaptureInput in;
  in.kind_ = Kind::kSource;
  in.source_ = &source;
  in.name_ = std::move(name);
  return in;
}

Result<OpenedInput> open_input(const CaptureInput& input, DiagnosticSink& sink,
                               std::optional<capture::Format> format) {
  OpenedInput out;
  capture::ReaderOptions ro;
  ro.format = format;
  Result<std::unique_ptr<capture::FrameReader>> reader = nullptr;
  switch (input.kind()) {
    case CaptureInput::Kind::kPath:
      if (capture::is_capture_set({input.name()})) {
        auto set = capture::open_capture_set({input.name()}, sink, ro);
        if (!set) return tl::unexpected(set.error());
        reader = std::unique_ptr<capture::FrameReader>(std::move(*set));
      } else {
        reader = capture::open_capture(input.name(), sink, ro);
      }
      break;
    case CaptureInput::Kind::kPaths: {
      auto set = capture::open_capture_set(input.all_paths(), sink, ro);
      if (!set) return tl::unexpected(set.error());
      reader = std::unique_ptr<capture::FrameReader>(std::move(*set));
      break;
    }
    case CaptureInput::Kind::kMemory:
      reader = capture::open_capture_memory(input.bytes(), input.name(), sink, ro);
      break;
    case CaptureInput::Kind::kStream:
      reader = capture::open_capture_fd(input.fd(), input.name(), sink, ro);
      break;
    case CaptureInput::Kind::kSource:
      out.source = input.frame_source();
      out.name = input.name();
      return out;
  }
  if (!reader) return tl::unexpected(reader.error());
  out.reader = std::move(*reader);
  out.source = out.reader.get();
  out.name = out.reader->name();
  return out;
}

namespace {

// Name, format and reader detail of an opened input ("frame source" for a caller's source).
template <typename Out>
void describe_input(const OpenedInput& in, Out& out) {
  out.file = in.name;
  if (in.reader) {
    out.format = in.reader->format();
    out.variant = in.reader->variant();
  } else {
    out.variant = "frame source";
  }
}

// The reader's counters and failure; a caller's source counts only the frames it gave.
template <typename Out>
void reading_outcome(const OpenedInput& in, Out& out, std::uint64_t frames) {
  if (in.reader) {
    out.stats = in.reader->stats();
    out.failure = in.reader->failure();
  } else {
    out.stats.frames = frames;
  }
}

}  // namespace

Result<RunResult> analyze(const CaptureInput& input, DiagnosticSink& sink,
                          const RunOptions& options) {
  auto opened = open_input(input, sink, options.format);
  if (!opened) return tl::unexpected(opened.error());
  RunResult out;
  describe_input(*opened, out);

  IdentifiedSource ahead(*opened->source);
  const auto& identification = ahead.identification();
  auto setup = choose_decoder(identification, options.protocol);
  if (!setup) return tl::unexpected(setup.error());
  out.decoded_with = setup->name;
  const protocol::Decoder* dec = setup->decoder.get();
  if (cancelled(options)) return tl::unexpected(cancel_error(out.file));

  const Env& env = options.env != nullptr ? *options.env : Env::posix();
  const auto size = input.kind() == CaptureInput::Kind::kPath ? env.regular_file_size(input.name())
                                                              : std::nullopt;
  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  const unsigned threads = options.threads == 0 ? cores : options.threads;
  // Big candump logs take the bulk path even on one thread: it is the faster parser.
  const bool parallel = size && opened->reader &&
                        opened->reader->format() == capture::Format::kCandumpLog &&
                        !opened->reader->transcoded() && *size >= options.parallel_min_bytes;

  if (!parallel) {
    CaptureAnalyzer analyzer(dec, options.analyzer);
    // Reading on its own thread when there is a second core and a reader to read (a caller's
    // frame source keeps its own pace and clock).
    const bool overlap = threads >= 2 && opened->reader != nullptr;
    auto err = overlap ? pump_threaded(ahead, analyzer, options, out.file)
                       : pump(ahead, analyzer, options, out.file);
    if (err) return tl::unexpected(*err);
    out.evidence = analyzer.finish(identification);
    if (const auto* set = dynamic_cast<const capture::CaptureSet*>(opened->reader.get())) {
      apply_file_gaps(out.evidence, set->gaps());
    }
    reading_outcome(*opened, out, out.evidence.inventory.frames);
    return out;
  }

  // Parallel: the sniffing reader is done with; ranges are read afresh from the file, after any
  // byte-order mark and junk the reader already skipped and reported.
  const std::uint64_t text_offset = opened->reader->text_offset();
  const std::uint64_t first_line = opened->reader->first_line();
  out.stats.lines = opened->reader->stats().junk;
  out.stats.junk = opened->reader->stats().junk;
  opened->reader.reset();
  auto file = env.open_random_access(input.name());
  if (!file) return tl::unexpected(file.error());
  const RandomAccessFile& f = **file;
  const std::uint64_t total = f.size();
  // More ranges than threads, taken in turn: a thread that finishes early picks up the next range
  // instead of waiting for the other (states are merged in file order either way).
  const unsigned parts = threads * std::max(1U, options.ranges_per_thread);
  std::vector<Range> ranges;
  std::uint64_t begin = std::min(text_offset, total);
  for (unsigned i = 0; i < parts; ++i) {
    std::uint64_t end = i + 1 == parts ? total : total / parts * (i + 1);
    auto start = next_line_start(f, end, total);
    if (!start) return tl::unexpected(start.error());
    end = i + 1 == parts ? total : *start;
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
      run_range(f, ranges[i], out.file, options.block_bytes, *workers[i], done, options, total);
    }
  };
  {
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
  }
  if (cancelled(options)) return tl::unexpected(cancel_error(out.file));

  // Renumber diagnostics: block-relative line + lines of every earlier block.
  std::uint64_t line_base = first_line;
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

Result<RunResult> analyze_capture(const std::string& path, DiagnosticSink& sink,
                                  const RunOptions& options) {
  return analyze(CaptureInput::path(path), sink, options);
}

Result<IdentifyResult> identify(const CaptureInput& input, DiagnosticSink& sink,
                                const RunOptions& options) {
  auto opened = open_input(input, sink, options.format);
  if (!opened) return tl::unexpected(opened.error());
  IdentifyResult out;
  describe_input(*opened, out);
  protocol::Identifier identifier;
  can::Frame f;
  std::uint64_t n = 0;
  while (opened->source->next(f)) {
    identifier.add(f);
    if ((++n & 0xFFFF) == 0 && cancelled(options)) return tl::unexpected(cancel_error(out.file));
  }
  out.identification = identifier.result();
  reading_outcome(*opened, out, n);
  return out;
}

}  // namespace bmslink::analysis
