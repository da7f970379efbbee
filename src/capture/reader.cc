#include "bmslink/capture/reader.h"

#include <fcntl.h>
#include <unistd.h>
#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "capture/binary_readers.h"
#include "capture/line_parser.h"
#include "capture/line_source.h"
#include "capture/pcap_reader.h"

namespace bmslink::capture {
namespace {

constexpr std::array<std::pair<Format, std::string_view>, 9> kNames = {{
    {Format::kCandumpLog, "candump-log"},
    {Format::kCandumpConsole, "candump"},
    {Format::kVectorAsc, "asc"},
    {Format::kPeakTrc, "trc"},
    {Format::kCsv, "csv"},
    {Format::kPcap, "pcap"},
    {Format::kPasted, "pasted"},
    {Format::kMf4, "mf4"},
    {Format::kBlf, "blf"},
}};

constexpr std::size_t kSniffBytes = 64 * 1024;
constexpr std::size_t kSniffLines = 400;
// How far the sniffer looks for the first frame past junk at the start.
constexpr std::uint64_t kJunkLimitBytes = 64ULL * 1024 * 1024;

class TextFrameReader final : public FrameReader {
 public:
  TextFrameReader(std::unique_ptr<detail::LineSource> lines,
                  std::unique_ptr<detail::LineParser> parser, std::string name,
                  DiagnosticSink& sink)
      : FrameReader(std::move(name)),
        lines_(std::move(lines)),
        parser_(std::move(parser)),
        sink_(sink) {}

  bool next(can::Frame& frame) override {
    std::string_view line;
    bool too_long = false;
    while (lines_->next_line(line, too_long)) {
      ++stats_.lines;
      if (too_long) {
        report(line, "line longer than the 256 KiB read buffer; skipped");
        continue;
      }
      std::string_view reason;
      switch (parser_->parse(line, frame, reason)) {
        case detail::LineOutcome::kFrame:
          ++stats_.frames;
          return true;
        case detail::LineOutcome::kIgnored:
          ++stats_.ignored;
          break;
        case detail::LineOutcome::kMalformed:
          report(line, reason);
          break;
      }
    }
    if (lines_->error()) {
      failure_ = Error{ErrorCode::kIo, fmt::format("{}: read failed after line {}: {}", name_,
                                                   lines_->line_number(), *lines_->error())};
    }
    return false;
  }

  Format format() const override { return parser_->format(); }
  std::string variant() const override {
    std::string v = parser_->variant();
    if (encoding_ != detail::TextEncoding::kUtf8) {
      v += fmt::format("{}{}{}", v.empty() ? "" : ", ", detail::encoding_name(encoding_),
                       transcoded() ? " converted" : "");
    }
    return v;
  }

  void start(const ReaderStats& stats, detail::TextEncoding encoding, std::size_t mark_bytes) {
    stats_ = stats;
    encoding_ = encoding;
    transcoded_ =
        encoding == detail::TextEncoding::kUtf16Le || encoding == detail::TextEncoding::kUtf16Be;
    text_offset_ = transcoded_ ? 0 : mark_bytes + lines_->bytes_consumed();
    first_line_ = lines_->line_number();
  }

 private:
  void report(std::string_view line, std::string_view reason) {
    ++stats_.malformed;
    sink_.report(Diagnostic{name_, lines_->line_number(), std::string(reason), excerpt_of(line)});
  }

  std::unique_ptr<detail::LineSource> lines_;
  std::unique_ptr<detail::LineParser> parser_;
  DiagnosticSink& sink_;
  detail::TextEncoding encoding_ = detail::TextEncoding::kUtf8;
};

// The first complete lines of the head, for sniffing and prescan.
std::vector<std::string_view> head_lines(std::string_view head, bool whole) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < head.size() && out.size() < kSniffLines) {
    const std::size_t nl = head.find('\n', pos);
    if (nl == std::string_view::npos) {
      if (whole) out.push_back(head.substr(pos));
      break;
    }
    std::string_view l = head.substr(pos, nl - pos);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    out.push_back(l);
    pos = nl + 1;
  }
  return out;
}

struct SniffResult {
  std::unique_ptr<detail::LineParser> parser;
  std::string detail;  // why nothing matched
};

// Every text parser reads the head; the one that turns most lines into frames wins, then the one
// with fewer malformed lines, then the earlier (more specific) format.
SniffResult sniff_text(std::span<const std::string_view> lines) {
  SniffResult result;
  long best_frames = 0;
  long best_malformed = 0;
  std::string first_problem;
  for (Format f : all_formats()) {
    auto parser = detail::make_line_parser(f);
    if (!parser) continue;
    parser->prescan(lines);
    long frames = 0, malformed = 0;
    can::Frame frame;
    for (std::string_view l : lines) {
      std::string_view reason;
      const auto outcome = parser->parse(l, frame, reason);
      if (outcome == detail::LineOutcome::kFrame) ++frames;
      if (outcome == detail::LineOutcome::kMalformed) {
        ++malformed;
        if (first_problem.empty()) first_problem = fmt::format("as {}: {}", format_name(f), reason);
      }
    }
    if (frames > best_frames ||
        (frames > 0 && frames == best_frames && malformed < best_malformed)) {
      best_frames = frames;
      best_malformed = malformed;
      result.parser = std::move(parser);
    }
  }
  result.detail = first_problem;
  return result;
}

// Binary formats people send that no reader here handles yet: say what it is and what to do.
std::optional<std::string> known_unsupported(std::string_view head) {
  if (head.starts_with("\x1f\x8b")) return "gzip-compressed; decompress it first (gunzip)";
  if (head.starts_with("\xd0\xcf\x11\xe0"))
    return "an old Office document; export the capture as text";
  return std::nullopt;
}

std::string tried_list() {
  std::string s;
  for (Format f : all_formats()) {
    if (!s.empty()) s += ", ";
    s += format_name(f);
  }
  return s;
}

// Index of the first line the parser turns into a frame, and whether any line before it was
// malformed for that parser (then those lines are junk, not a header).
std::pair<std::size_t, bool> lead_before_first_frame(Format format,
                                                     std::span<const std::string_view> lines) {
  auto parser = detail::make_line_parser(format);
  parser->prescan(lines);
  can::Frame frame;
  bool malformed = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view reason;
    const auto outcome = parser->parse(lines[i], frame, reason);
    if (outcome == detail::LineOutcome::kFrame) return {i, malformed};
    if (outcome == detail::LineOutcome::kMalformed) malformed = true;
  }
  return {lines.size(), malformed};
}

Result<std::unique_ptr<FrameReader>> open_text(std::unique_ptr<detail::LineSource> lines,
                                               const detail::DecodingSource& decoding,
                                               std::string name, DiagnosticSink& sink,
                                               const ReaderOptions& options) {
  // 32 lines are enough to tell formats apart and do not keep a slow live pipe waiting.
  std::string_view head = lines->head(32, kSniffBytes);
  if (lines->error()) {
    return make_error(ErrorCode::kIo, fmt::format("{}: cannot read: {}", name, *lines->error()));
  }
  if (head.empty()) return make_error(ErrorCode::kUnknownFormat, name + ": the file is empty");
  if (auto what = known_unsupported(head); what && !options.format) {
    return make_error(ErrorCode::kUnsupported, fmt::format("{}: this is {}", name, *what));
  }
  auto sample = head_lines(head, lines->head_is_everything());
  std::unique_ptr<detail::LineParser> parser;
  ReaderStats stats;
  if (options.format) {
    parser = detail::make_line_parser(*options.format);
    parser->prescan(sample);
  } else {
    auto sniffed = sniff_text(sample);
    // Boot output or a console log before the frames: look further, a window at a time.
    std::string first_junk;
    // A first window without one complete line is binary or one endless line, not junk.
    while (!sniffed.parser && !sample.empty() && !lines->head_is_everything() &&
           lines->bytes_consumed() < kJunkLimitBytes) {
      const std::size_t n = std::max<std::size_t>(sample.size(), 1);
      if (first_junk.empty() && !sample.empty()) first_junk = excerpt_of(sample.front());
      std::string_view line;
      bool too_long = false;
      for (std::size_t i = 0; i < n && lines->next_line(line, too_long); ++i) ++stats.junk;
      head = lines->head(32, kSniffBytes);
      if (lines->error()) {
        return make_error(ErrorCode::kIo, fmt::format("{}: cannot read after line {}: {}", name,
                                                      lines->line_number(), *lines->error()));
      }
      sample = head_lines(head, lines->head_is_everything());
      sniffed = sniff_text(sample);
    }
    if (!sniffed.parser) {
      std::string where;
      if (stats.junk > 0) {
        where = fmt::format("no CAN frames recognised in the first {} lines ({} KiB)",
                            lines->line_number() + sample.size(),
                            (lines->bytes_consumed() + head.size()) / 1024);
      } else {
        where = sample.empty()
                    ? "the first 64 KiB hold no complete line"
                    : fmt::format("no CAN frames recognised in the first {} lines", sample.size());
      }
      return make_error(
          ErrorCode::kUnknownFormat,
          fmt::format("{}: {}; tried {}{}", name, where, tried_list(),
                      sniffed.detail.empty() ? "" : " (first problem " + sniffed.detail + ")"));
    }
    const Format chosen = sniffed.parser->format();
    // After skipped windows, lines before the first frame that the chosen reader calls malformed
    // are junk too; a header before the first frame (only ignored lines) stays with the reader.
    // In the first window they stay malformed lines, each reported.
    const auto [lead, malformed] = lead_before_first_frame(chosen, sample);
    if (stats.junk > 0 && malformed && lead > 0) {
      if (first_junk.empty()) first_junk = excerpt_of(sample.front());
      std::vector<std::string> kept(sample.begin(), sample.end());
      std::string_view line;
      bool too_long = false;
      for (std::size_t i = 0; i < lead && lines->next_line(line, too_long); ++i) ++stats.junk;
      std::vector<std::string_view> views(kept.begin(), kept.end());
      parser = detail::make_line_parser(chosen);
      parser->prescan(views);
    } else {
      // Sniffing consumed the parser's header state; start again from a fresh one.
      parser = detail::make_line_parser(chosen);
      parser->prescan(sample);
    }
    if (stats.junk > 0) {
      stats.lines = stats.junk;
      sink.report(Diagnostic{
          name, 1,
          fmt::format("lines 1-{} ({} KiB) before the first {} frame are not CAN frames (boot "
                      "output or a console log?); skipped",
                      stats.junk, (lines->bytes_consumed() + 1023) / 1024, format_name(chosen)),
          first_junk});
    }
  }
  auto reader =
      std::make_unique<TextFrameReader>(std::move(lines), std::move(parser), std::move(name), sink);
  reader->start(stats, decoding.encoding(), decoding.mark_bytes());
  return std::unique_ptr<FrameReader>(std::move(reader));
}

std::unique_ptr<detail::LineSource> text_lines(std::unique_ptr<detail::ByteSource> bytes,
                                               const detail::DecodingSource*& decoding) {
  auto dec = std::make_unique<detail::DecodingSource>(std::move(bytes));
  decoding = dec.get();
  return std::make_unique<detail::LineSource>(std::move(dec));
}

}  // namespace

std::string_view format_name(Format format) {
  for (const auto& [f, n] : kNames) {
    if (f == format) return n;
  }
  return "unknown";
}

std::optional<Format> parse_format_name(std::string_view name) {
  for (const auto& [f, n] : kNames) {
    if (n == name) return f;
  }
  return std::nullopt;
}

const std::vector<Format>& all_formats() {
  static const std::vector<Format> kAll = {
      Format::kMf4,       Format::kBlf, Format::kPcap,       Format::kPeakTrc,
      Format::kVectorAsc, Format::kCsv, Format::kCandumpLog, Format::kCandumpConsole,
      Format::kPasted};
  return kAll;
}

namespace detail {
std::unique_ptr<LineParser> make_line_parser(Format format) {
  switch (format) {
    case Format::kCandumpLog:
      return make_candump_log_parser();
    case Format::kCandumpConsole:
      return make_candump_console_parser();
    case Format::kVectorAsc:
      return make_asc_parser();
    case Format::kPeakTrc:
      return make_trc_parser();
    case Format::kCsv:
      return make_csv_parser();
    case Format::kPasted:
      return make_pasted_parser();
    case Format::kPcap:
    case Format::kMf4:
    case Format::kBlf:
      return nullptr;
  }
  return nullptr;
}
}  // namespace detail

namespace {

// The binary formats are told apart by their first bytes, before any text decoding.
enum class Binary { kNone, kPcap, kMf4, kBlf, kZip, kZipInZip };
Binary binary_kind(std::string_view head, const ReaderOptions& options) {
  if (options.format) {
    switch (*options.format) {
      case Format::kPcap:
        return Binary::kPcap;
      case Format::kMf4:
        return Binary::kMf4;
      case Format::kBlf:
        return Binary::kBlf;
      default:
        return Binary::kNone;
    }
  }
  if (detail::looks_like_mf4(head)) return Binary::kMf4;
  if (detail::looks_like_blf(head)) return Binary::kBlf;
  if (detail::looks_like_pcap(head)) return Binary::kPcap;
  if (detail::looks_like_zip(head)) return options.archives ? Binary::kZip : Binary::kZipInZip;
  return Binary::kNone;
}

constexpr std::size_t kHeadBytes = 8;

// Zips are unpacked one level deep: a zip in a zip (or one containing itself) would multiply
// the work and the disk used with every level.
Result<std::unique_ptr<FrameReader>> zip_in_zip(const std::string& name) {
  return make_error(ErrorCode::kUnsupported,
                    fmt::format("{}: a zip inside a zip is not unpacked; unpack it first", name));
}

}  // namespace

Result<std::unique_ptr<FrameReader>> open_capture(const std::string& path, DiagnosticSink& sink,
                                                  ReaderOptions options) {
  const bool is_stdin = path == "-";
  if (!is_stdin) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return make_error(ErrorCode::kIo,
                        fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
    }
    char head[kHeadBytes] = {};
    ssize_t got = 0;
    do {
      got = ::pread(fd, head, sizeof head, 0);
    } while (got < 0 && errno == EINTR);
    const std::string_view sniffed(head, got > 0 ? static_cast<std::size_t>(got) : 0);
    switch (binary_kind(sniffed, options)) {
      case Binary::kMf4:
        return detail::open_mf4(fd, {}, path, sink);
      case Binary::kBlf:
        return detail::open_blf(std::make_unique<detail::FdSource>(fd, true), path, sink);
      case Binary::kPcap:
        ::close(fd);
        return detail::open_pcap(path, {}, path, sink);
      case Binary::kZip:
        ::close(fd);
        return detail::open_zip(path, {}, path, sink, options);
      case Binary::kZipInZip:
        ::close(fd);
        return zip_in_zip(path);
      case Binary::kNone:
        break;
    }
    const detail::DecodingSource* decoding = nullptr;
    auto lines = text_lines(std::make_unique<detail::FdSource>(fd, true), decoding);
    return open_text(std::move(lines), *decoding, path, sink, options);
  }
  return open_capture_fd(0, "<stdin>", sink, options);
}

Result<std::unique_ptr<FrameReader>> open_capture_fd(int fd, std::string name, DiagnosticSink& sink,
                                                     ReaderOptions options) {
  auto raw = std::make_unique<detail::FdSource>(fd, false);
  std::string head = detail::read_head(*raw, kHeadBytes);
  const Binary kind = binary_kind(head, options);
  auto bytes = std::make_unique<detail::PrefixSource>(std::move(head), std::move(raw));
  switch (kind) {
    case Binary::kBlf:
      return detail::open_blf(std::move(bytes), std::move(name), sink);
    case Binary::kMf4:
    case Binary::kPcap:
    case Binary::kZip:
    case Binary::kZipInZip:
      return make_error(
          ErrorCode::kUnsupported,
          fmt::format("{}: {} from a stream is not supported; give the file path", name,
                      kind == Binary::kMf4   ? "MF4"
                      : kind == Binary::kZip ? "a zip"
                                             : "pcap"));
    case Binary::kNone:
      break;
  }
  const detail::DecodingSource* decoding = nullptr;
  auto lines = text_lines(std::move(bytes), decoding);
  return open_text(std::move(lines), *decoding, std::move(name), sink, options);
}

Result<std::unique_ptr<FrameReader>> open_capture_memory(std::string_view bytes, std::string name,
                                                         DiagnosticSink& sink,
                                                         ReaderOptions options) {
  switch (binary_kind(bytes.substr(0, kHeadBytes), options)) {
    case Binary::kMf4:
      return detail::open_mf4(-1, bytes, std::move(name), sink);
    case Binary::kBlf:
      return detail::open_blf(std::make_unique<detail::MemorySource>(bytes), std::move(name), sink);
    case Binary::kPcap:
      if (bytes.empty())
        return make_error(ErrorCode::kUnknownFormat, name + ": the input is empty");
      return detail::open_pcap({}, bytes, std::move(name), sink);
    case Binary::kZip:
      return detail::open_zip({}, bytes, std::move(name), sink, options);
    case Binary::kZipInZip:
      return zip_in_zip(name);
    case Binary::kNone:
      break;
  }
  const detail::DecodingSource* decoding = nullptr;
  auto lines = text_lines(std::make_unique<detail::MemorySource>(bytes), decoding);
  return open_text(std::move(lines), *decoding, std::move(name), sink, options);
}

bool needs_whole_file(std::string_view head) {
  return detail::looks_like_pcap(head) || detail::looks_like_mf4(head) ||
         detail::looks_like_zip(head);
}

}  // namespace bmslink::capture
