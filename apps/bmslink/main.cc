// bmslink command line: parses arguments, calls the library, prints. Exit codes: 0 done,
// 1 the input was unusable, 2 wrong usage.

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "bmslink/analysis/inventory.h"
#include "bmslink/can/error_frame.h"
#include "bmslink/capture/reader.h"
#include "bmslink/capture/writer.h"
#include "bmslink/protocol/builtin.h"
#include "bmslink/protocol/decoder.h"
#include "bmslink/protocol/identify.h"

namespace {

using bmslink::capture::FrameReader;

constexpr int kExitOk = 0;
constexpr int kExitInput = 1;
constexpr int kExitUsage = 2;

std::string format_choices() {
  std::string s;
  for (auto f : bmslink::capture::all_formats()) {
    if (!s.empty()) s += ", ";
    s += bmslink::capture::format_name(f);
  }
  return s;
}

// Opens or prints why not. Returns nullptr on failure.
std::unique_ptr<FrameReader> open_or_report(const std::string& path, const std::string& format,
                                            bmslink::DiagnosticSink& sink) {
  bmslink::capture::ReaderOptions options;
  if (!format.empty()) {
    options.format = bmslink::capture::parse_format_name(format);
    if (!options.format) {
      fmt::print(stderr, "bmslink: unknown format '{}'; one of: {}\n", format, format_choices());
      return nullptr;
    }
  }
  auto reader = bmslink::capture::open_capture(path, sink, options);
  if (!reader) {
    fmt::print(stderr, "bmslink: {}\n", reader.error().message);
    return nullptr;
  }
  return std::move(*reader);
}

// What went wrong while reading, on stderr; returns the exit code for the run.
int finish_reading(const FrameReader& reader, const bmslink::CollectingSink& sink) {
  const auto& st = reader.stats();
  if (st.malformed > 0) {
    fmt::print(stderr, "bmslink: {}: {} malformed line(s) skipped\n", reader.name(), st.malformed);
    for (const auto& d : sink.kept()) {
      if (&d - sink.kept().data() >= 5) break;
      fmt::print(stderr, "  {}\n", bmslink::format_diagnostic(d));
    }
    if (st.malformed > 5) {
      fmt::print(stderr, "  by reason:\n");
      for (const auto& [reason, n] : sink.by_reason())
        fmt::print(stderr, "  {:>10}  {}\n", n, reason);
    }
  }
  if (reader.failure()) fmt::print(stderr, "bmslink: {}\n", reader.failure()->message);
  if (st.frames == 0) {
    fmt::print(stderr, "bmslink: {}: no CAN frame could be read (read as {})\n", reader.name(),
               reader.variant());
    return kExitInput;
  }
  return kExitOk;
}

// candump-console-like line for people: time only when the capture had one.
void append_frame_text(std::string& out, const bmslink::can::Frame& f) {
  auto it = std::back_inserter(out);
  if (f.has_timestamp()) fmt::format_to(it, "({}) ", bmslink::format_seconds(f.timestamp_ns, 6));
  fmt::format_to(it, "{:<6} ", f.channel.empty() ? "-" : f.channel);
  if (f.direction != bmslink::can::Direction::kUnknown) {
    out += f.direction == bmslink::can::Direction::kRx ? "RX " : "TX ";
  }
  const std::string id = bmslink::can::id_hex(f).substr(2);
  fmt::format_to(it, "{:>8}  {}  ", id,
                 f.fd ? fmt::format("[{:02}]", f.len) : fmt::format("[{}]", f.len));
  if (f.rtr) {
    out += "remote request";
  } else {
    for (std::size_t i = 0; i < f.len; ++i) fmt::format_to(it, "{}{:02X}", i ? " " : "", f.data[i]);
  }
  if (f.error) {
    const auto words = bmslink::can::decode_error_frame(f).summary();
    fmt::format_to(it, "  ERRORFRAME {}",
                   words.empty() ? "unspecified" : fmt::format("{}", fmt::join(words, ",")));
  }
  out += '\n';
}

int cmd_frames(const std::string& path, const std::string& format, bool json) {
  bmslink::CollectingSink sink;
  auto reader = open_or_report(path, format, sink);
  if (!reader) return kExitInput;
  bmslink::can::Frame f;
  std::string out;
  out.reserve(1 << 17);
  while (reader->next(f)) {
    if (json) {
      bmslink::capture::append_json_line(out, f);
    } else {
      append_frame_text(out, f);
    }
    if (out.size() > (1 << 16)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return finish_reading(*reader, sink);
}

// Writes to OUT through a temporary file renamed into place on success, so a failed conversion
// never destroys an existing OUT.
int cmd_convert(const std::string& path, const std::string& format, const std::string& to,
                const std::string& output) {
  bmslink::CollectingSink sink;
  auto reader = open_or_report(path, format, sink);
  if (!reader) return kExitInput;
  const bool to_file = !output.empty() && output != "-";
  const std::string temp = output + ".bmslink-partial";
  std::FILE* out = stdout;
  if (to_file) {
    out = std::fopen(temp.c_str(), "wb");
    if (out == nullptr) {
      fmt::print(stderr, "bmslink: cannot write {}: {}\n", output, std::strerror(errno));
      return kExitInput;
    }
  }
  auto writer =
      bmslink::capture::make_writer(to == "asc" ? bmslink::capture::OutputFormat::kVectorAsc
                                                : bmslink::capture::OutputFormat::kCandumpLog,
                                    out);
  bmslink::can::Frame f;
  while (reader->next(f)) writer->write(f);
  const auto written = writer->finish();
  const int read_rc = finish_reading(*reader, sink);
  if (to_file) {
    const bool closed = std::fclose(out) == 0;
    if (!written || !closed || read_rc != kExitOk ||
        std::rename(temp.c_str(), output.c_str()) != 0) {
      if (written && closed && read_rc == kExitOk) {
        fmt::print(stderr, "bmslink: cannot write {}: {}\n", output, std::strerror(errno));
      }
      std::remove(temp.c_str());
      if (!written) fmt::print(stderr, "bmslink: {}: {}\n", output, written.error().message);
      if (read_rc == kExitOk) return kExitInput;
      fmt::print(stderr, "bmslink: {} left unchanged\n", output);
      return read_rc;
    }
  } else if (!written) {
    fmt::print(stderr, "bmslink: {}\n", written.error().message);
    return kExitInput;
  }
  if (writer->untimed() > 0) {
    fmt::print(stderr, "bmslink: {} frame(s) had no timestamp in {}; written at time 0\n",
               writer->untimed(), reader->name());
  }
  return read_rc;
}

std::string opt_ms(const std::optional<double>& v, int decimals = 1) {
  return v ? fmt::format("{:.{}f}", *v, decimals) : "-";
}

nlohmann::json identification_json(const bmslink::protocol::Identification& id) {
  return {
      {"family", id.family},
      {"variant", id.variant.empty() ? nlohmann::json(nullptr) : nlohmann::json(id.variant)},
      {"manufacturer",
       id.manufacturer.empty() ? nlohmann::json(nullptr) : nlohmann::json(id.manufacturer)},
      {"product", id.product.empty() ? nlohmann::json(nullptr) : nlohmann::json(id.product)},
      {"inverter", id.inverter.empty() ? nlohmann::json(nullptr) : nlohmann::json(id.inverter)},
      {"confidence", std::round(id.confidence * 100.0) / 100.0},
      {"reasons", id.reasons},
      {"ambiguities", id.ambiguities},
      {"protocol", id.protocol.empty() ? nlohmann::json(nullptr) : nlohmann::json(id.protocol)}};
}

nlohmann::json inventory_json(const FrameReader& reader, const bmslink::analysis::Inventory& inv,
                              const bmslink::protocol::Identification& protocol) {
  using nlohmann::json;
  auto opt = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  json ids = json::array();
  for (const auto& s : inv.ids) {
    ids.push_back(
        {{"id", bmslink::analysis::key_hex(s.extended ? (s.id | bmslink::can::kEffFlag) : s.id)},
         {"ext", s.extended},
         {"count", s.count},
         {"period_ms", opt(s.period_ms)},
         {"jitter_ms", opt(s.jitter_ms)},
         {"max_gap_ms", opt(s.max_gap_ms)},
         {"min_len", s.min_len},
         {"max_len", s.max_len},
         {"payload_changes", s.payload_changes}});
  }
  json talkers = json::array();
  for (const auto& t : inv.talkers) {
    json members = json::array();
    for (auto k : t.ids) members.push_back(bmslink::analysis::key_hex(k));
    talkers.push_back({{"ids", members},
                       {"period_ms", opt(t.period_ms)},
                       {"burst_span_ms", opt(t.burst_span_ms)}});
  }
  const auto& st = reader.stats();
  return {{"file", reader.name()},
          {"format", std::string(bmslink::capture::format_name(reader.format()))},
          {"variant", reader.variant()},
          {"lines", st.lines},
          {"malformed", st.malformed},
          {"frames", inv.frames},
          {"data_frames", inv.data_frames},
          {"remote_frames", inv.remote_frames},
          {"error_frames", inv.error_frames},
          {"fd_frames", inv.fd_frames},
          {"extended_frames", inv.extended_frames},
          {"untimed_frames", inv.untimed_frames},
          {"time", inv.time_kind == bmslink::TimeKind::kAbsolute   ? "absolute"
                   : inv.time_kind == bmslink::TimeKind::kRelative ? "relative"
                                                                   : "none"},
          {"duration_s", opt(inv.duration_s())},
          {"errors", inv.errors},
          {"channels", inv.channels},
          {"ids", ids},
          {"talkers", talkers},
          {"protocol", identification_json(protocol)}};
}

void print_inventory(const FrameReader& reader, const bmslink::analysis::Inventory& inv,
                     const bmslink::protocol::Identification& protocol) {
  const auto& st = reader.stats();
  fmt::print("{}: {} ({})\n", reader.name(), bmslink::capture::format_name(reader.format()),
             reader.variant());
  std::string span = "(no timestamps)";
  if (const auto d = inv.duration_s()) {
    span = fmt::format("over {:.1f} s of {} time", *d,
                       inv.time_kind == bmslink::TimeKind::kAbsolute ? "absolute" : "relative");
  }
  fmt::print("  {} frames {}: {} data, {} remote, {} error, {} CAN FD, {} with 29-bit ids\n",
             inv.frames, span, inv.data_frames, inv.remote_frames, inv.error_frames, inv.fd_frames,
             inv.extended_frames);
  if (st.malformed > 0) fmt::print("  {} malformed line(s) skipped\n", st.malformed);
  fmt::print(
      "  protocol: {}{}{} (confidence {:.2f}){}\n", protocol.family,
      protocol.variant.empty() ? "" : " / " + protocol.variant,
      protocol.manufacturer.empty() ? ""
                                    : fmt::format(", manufacturer \"{}\"", protocol.manufacturer),
      protocol.confidence, protocol.inverter.empty() ? "" : ", inverter " + protocol.inverter);
  fmt::print("\n  {:<12} {:>8} {:>11} {:>10} {:>11} {:>6} {:>8}\n", "id", "frames", "period ms",
             "jitter ms", "max gap ms", "len", "changes");
  for (const auto& s : inv.ids) {
    const std::string len = s.min_len == s.max_len ? fmt::format("{}", s.min_len)
                                                   : fmt::format("{}-{}", s.min_len, s.max_len);
    fmt::print("  {:<12} {:>8} {:>11} {:>10} {:>11} {:>6} {:>8}\n",
               bmslink::analysis::key_hex(s.extended ? (s.id | bmslink::can::kEffFlag) : s.id),
               s.count, opt_ms(s.period_ms), opt_ms(s.jitter_ms, 2), opt_ms(s.max_gap_ms), len,
               s.payload_changes);
  }
  if (inv.ids_beyond_cap > 0)
    fmt::print("  ... and {} frames of further ids\n", inv.ids_beyond_cap);
  fmt::print("\n  talkers (ids that leave the bus together in bursts):\n");
  char label = 'A';
  for (const auto& t : inv.talkers) {
    std::string members;
    for (auto k : t.ids) members += (members.empty() ? "" : " ") + bmslink::analysis::key_hex(k);
    std::string timing;
    if (t.period_ms) timing += fmt::format(", every {:.0f} ms", *t.period_ms);
    if (t.burst_span_ms) timing += fmt::format(", burst {:.1f} ms", *t.burst_span_ms);
    fmt::print("    {}: {}{}\n", label, members, timing);
    label = label == 'Z' ? 'Z' : static_cast<char>(label + 1);
  }
  if (!inv.errors.empty()) {
    fmt::print("\n  error frames by kind:\n");
    for (const auto& [kind, n] : inv.errors) fmt::print("    {:<40} {}\n", kind, n);
  }
}

// Reads every capture through a fresh `State` (frames go to visit(state, frame)), then lets
// report(state, reader) print text or return JSON; JSON is printed at the end, one object for one
// file, an array for several.
template <typename State, typename Visit, typename Report>
int over_captures(const std::vector<std::string>& paths, const std::string& format, bool json,
                  Visit visit, Report report) {
  int rc = kExitOk;
  nlohmann::json all = nlohmann::json::array();
  for (const auto& path : paths) {
    bmslink::CollectingSink sink;
    auto reader = open_or_report(path, format, sink);
    if (!reader) {
      rc = kExitInput;
      continue;
    }
    State state;
    bmslink::can::Frame f;
    while (reader->next(f)) visit(state, f);
    const int read_rc = finish_reading(*reader, sink);
    if (read_rc != kExitOk) {
      rc = read_rc;
      continue;
    }
    nlohmann::json one = report(state, *reader);
    if (json) all.push_back(std::move(one));
    if (!json && &path != &paths.back()) fmt::print("\n");
  }
  if (json) fmt::print("{}\n", paths.size() == 1 && !all.empty() ? all[0].dump(2) : all.dump(2));
  return rc;
}

struct AnalyzeState {
  bmslink::analysis::InventoryBuilder inventory;
  bmslink::protocol::Identifier identifier;
};

int cmd_analyze(const std::vector<std::string>& paths, const std::string& format, bool json) {
  return over_captures<AnalyzeState>(
      paths, format, json,
      [](AnalyzeState& s, const bmslink::can::Frame& f) {
        s.inventory.add(f);
        s.identifier.add(f);
      },
      [json](AnalyzeState& s, const FrameReader& reader) -> nlohmann::json {
        const auto inv = s.inventory.finish();
        if (json) return inventory_json(reader, inv, s.identifier.result());
        print_inventory(reader, inv, s.identifier.result());
        return nullptr;
      });
}

// The protocol to decode with: a user DBC file, or a built-in definition by name.
std::unique_ptr<bmslink::protocol::Database> load_protocol(const std::string& dbc_path,
                                                           const std::string& name) {
  if (!dbc_path.empty()) {
    std::FILE* in = std::fopen(dbc_path.c_str(), "rb");
    if (in == nullptr) {
      fmt::print(stderr, "bmslink: cannot open {}: {}\n", dbc_path, std::strerror(errno));
      return nullptr;
    }
    std::string text;
    char buf[65536];
    std::size_t got = 0;
    while ((got = std::fread(buf, 1, sizeof buf, in)) > 0 && text.size() < (64U << 20))
      text.append(buf, got);
    std::fclose(in);
    auto db = bmslink::protocol::parse_dbc(text, dbc_path);
    if (!db) {
      fmt::print(stderr, "bmslink: {}\n", db.error().message);
      return nullptr;
    }
    return std::make_unique<bmslink::protocol::Database>(std::move(*db));
  }
  auto db = bmslink::protocol::builtin_database(name);
  if (!db) {
    fmt::print(stderr, "bmslink: {}\n", db.error().message);
    return nullptr;
  }
  return std::make_unique<bmslink::protocol::Database>(**db);
}

void append_decoded_text(std::string& out, const bmslink::can::Frame& f,
                         const bmslink::protocol::MessageDecoder& d,
                         std::span<const bmslink::protocol::SignalValue> values) {
  auto it = std::back_inserter(out);
  if (f.has_timestamp()) fmt::format_to(it, "({}) ", bmslink::format_seconds(f.timestamp_ns, 6));
  fmt::format_to(it, "{} {}:", bmslink::can::id_hex(f), d.message().name);
  for (const auto& v : values) {
    if (!v.present) continue;
    if (v.signal->is_text()) {
      fmt::format_to(it, " {}=\"{}\"", v.signal->name, v.text);
    } else if (const auto label = v.signal->values.find(v.raw); label != v.signal->values.end()) {
      fmt::format_to(it, " {}={}", v.signal->name, label->second);
    } else {
      fmt::format_to(it, " {}={}{}", v.signal->name, v.value,
                     v.signal->unit.empty() ? "" : " " + v.signal->unit);
    }
  }
  out += '\n';
}

// Frames read ahead to identify the protocol before decoding; a Pylon burst is 6-20 frames.
constexpr std::size_t kIdentifyFrames = 2000;

int cmd_decode(const std::string& path, const std::string& format, bool json,
               const std::string& dbc_path, std::string protocol) {
  bmslink::CollectingSink sink;
  auto reader = open_or_report(path, format, sink);
  if (!reader) return kExitInput;
  std::vector<bmslink::can::Frame> ahead;
  if (protocol.empty()) {
    bmslink::protocol::Identifier identifier;
    bmslink::can::Frame g;
    while (ahead.size() < kIdentifyFrames && reader->next(g)) {
      identifier.add(g);
      ahead.push_back(g);
    }
    const auto id = identifier.result();
    protocol = id.protocol.empty() ? "pylon_lv_1_2" : id.protocol;
    fmt::print(stderr, "bmslink: {} {}{}; decoding with {}\n", reader->name(), id.family,
               id.variant.empty() ? "" : " / " + id.variant, protocol);
  }
  // A user's DBC is consulted first; ids it does not define fall back to the built-in protocol.
  std::unique_ptr<bmslink::protocol::Database> user_db;
  if (!dbc_path.empty()) {
    user_db = load_protocol(dbc_path, {});
    if (!user_db) return kExitInput;
  }
  auto db = load_protocol({}, protocol);
  if (!db) return kExitInput;
  const bmslink::protocol::Decoder decoder(*db);
  std::optional<bmslink::protocol::Decoder> user_decoder;
  if (user_db) user_decoder.emplace(*user_db);
  std::vector<bmslink::protocol::SignalValue> values;
  std::array<char, 512> text{};
  std::map<std::string, std::uint64_t> unknown;
  std::string out;
  bmslink::can::Frame f;
  std::size_t next_ahead = 0;
  auto next = [&](bmslink::can::Frame& frame) {
    if (next_ahead < ahead.size()) {
      frame = ahead[next_ahead++];
      return true;
    }
    return reader->next(frame);
  };
  while (next(f)) {
    if (f.error) continue;
    const auto* md = user_decoder ? user_decoder->find(f.id, f.extended) : nullptr;
    if (md == nullptr) md = decoder.find(f.id, f.extended);
    if (md == nullptr) {
      ++unknown[bmslink::can::id_hex(f)];
      continue;
    }
    values.resize(md->signal_count());
    md->decode(f, values, text);
    if (json) {
      bmslink::protocol::append_decoded_json(out, f, *md, values);
    } else {
      append_decoded_text(out, f, *md, values);
    }
    if (out.size() > (1 << 16)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  if (!unknown.empty()) {
    std::string ids;
    for (const auto& [id, n] : unknown) ids += fmt::format(" {}({})", id, n);
    fmt::print(stderr, "bmslink: frames of ids not in {}{}:{}\n", db->name,
               user_db ? " or " + user_db->name : std::string(), ids);
  }
  return finish_reading(*reader, sink);
}

int cmd_identify(const std::vector<std::string>& paths, const std::string& format, bool json) {
  return over_captures<bmslink::protocol::Identifier>(
      paths, format, json,
      [](bmslink::protocol::Identifier& s, const bmslink::can::Frame& f) { s.add(f); },
      [json](bmslink::protocol::Identifier& s, const FrameReader& reader) -> nlohmann::json {
        const auto id = s.result();
        if (json) {
          auto j = identification_json(id);
          j["file"] = reader.name();
          return j;
        }
        fmt::print(
            "{}: {}{}{} (confidence {:.2f})\n", reader.name(), id.family,
            id.variant.empty() ? "" : " / " + id.variant,
            id.manufacturer.empty() ? "" : fmt::format(", manufacturer \"{}\"", id.manufacturer),
            id.confidence);
        if (!id.inverter.empty()) fmt::print("  inverter: {}\n", id.inverter);
        for (const auto& reason : id.reasons) fmt::print("  - {}\n", reason);
        for (const auto& a : id.ambiguities) fmt::print("  ! {}\n", a);
        if (!id.protocol.empty()) fmt::print("  decode with: {}\n", id.protocol);
        return nullptr;
      });
}

int cmd_dbc_export(const std::string& name, const std::string& output) {
  for (const auto& p : bmslink::protocol::builtin_protocols()) {
    if (p.name != name) continue;
    std::FILE* out = output.empty() || output == "-" ? stdout : std::fopen(output.c_str(), "wb");
    if (out == nullptr) {
      fmt::print(stderr, "bmslink: cannot write {}: {}\n", output, std::strerror(errno));
      return kExitInput;
    }
    const bool ok = std::fwrite(p.dbc.data(), 1, p.dbc.size(), out) == p.dbc.size();
    if (out != stdout) std::fclose(out);
    return ok ? kExitOk : kExitInput;
  }
  std::string known;
  for (const auto& p : bmslink::protocol::builtin_protocols()) known += " " + std::string(p.name);
  fmt::print(stderr, "bmslink: no built-in protocol '{}'; known:{}\n", name, known);
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) try {
  CLI::App app{"bmslink: why a battery's BMS and an inverter are not talking over CAN"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");
  std::string format;
  const std::string format_help =
      "Read the input as this format instead of detecting it (" + format_choices() + ")";

  auto* frames = app.add_subcommand(
      "frames", "Print the raw frames of a capture (candump-style text, or JSON)");
  std::string frames_in;
  bool frames_json = false;
  frames->add_option("FILE", frames_in, "Capture file, '-' for standard input")->required();
  frames->add_flag("--json", frames_json, "One JSON object per frame (keys in docs/json.md)");
  frames->add_option("--format", format, format_help);

  auto* convert = app.add_subcommand("convert", "Convert a capture to candump log or Vector ASC");
  std::string convert_in, convert_to = "candump", convert_out;
  convert->add_option("FILE", convert_in, "Capture file, '-' for standard input")->required();
  convert->add_option("--to", convert_to, "Output format")
      ->check(CLI::IsMember({"candump", "asc"}));
  convert->add_option("-o,--output", convert_out, "Output file (standard output by default)");
  convert->add_option("--format", format, format_help);

  auto* analyze = app.add_subcommand(
      "analyze", "What a capture contains: frames per id, periods, talkers, errors");
  std::vector<std::string> analyze_in;
  bool analyze_json = false;
  analyze->add_option("FILE", analyze_in, "Capture file(s)")->required();
  analyze->add_flag("--json", analyze_json, "Machine-readable output (keys in docs/json.md)");
  analyze->add_option("--format", format, format_help);

  auto* decode =
      app.add_subcommand("decode", "Decoded signals of every frame (table, or JSON lines)");
  std::string decode_in, decode_dbc, decode_protocol;
  bool decode_json = false;
  decode->add_option("FILE", decode_in, "Capture file, '-' for standard input")->required();
  decode->add_flag("--json", decode_json, "One JSON object per decoded frame (docs/json.md)");
  decode->add_option("--protocol", decode_protocol,
                     "Built-in protocol to decode with (bmslink dbc list); identified from the "
                     "capture by default");
  decode->add_option(
      "--dbc", decode_dbc,
      "Add the messages of this DBC file; they take precedence over the built-in protocol");
  decode->add_option("--format", format, format_help);

  auto* identify =
      app.add_subcommand("identify", "Which battery protocol a capture speaks, and why");
  std::vector<std::string> identify_in;
  bool identify_json = false;
  identify->add_option("FILE", identify_in, "Capture file(s)")->required();
  identify->add_flag("--json", identify_json, "Machine-readable output (keys in docs/json.md)");
  identify->add_option("--format", format, format_help);

  auto* dbc = app.add_subcommand("dbc", "The built-in protocol definitions, for other CAN tools");
  dbc->require_subcommand(1);
  auto* dbc_list = dbc->add_subcommand("list", "Names of the built-in protocols");
  auto* dbc_export = dbc->add_subcommand("export", "Write a built-in protocol as a DBC file");
  std::string export_name, export_out;
  dbc_export->add_option("NAME", export_name, "Protocol name (bmslink dbc list)")->required();
  dbc_export->add_option("-o,--output", export_out, "Output file (standard output by default)");

  auto* help = app.add_subcommand("help", "Show help for every command");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  if (*help) {
    fmt::print("{}", app.get_formatter()->make_help(&app, "bmslink", CLI::AppFormatMode::All));
    return kExitOk;
  }
  if (*frames) return cmd_frames(frames_in, format, frames_json);
  if (*convert) return cmd_convert(convert_in, format, convert_to, convert_out);
  if (*analyze) return cmd_analyze(analyze_in, format, analyze_json);
  if (*identify) return cmd_identify(identify_in, format, identify_json);
  if (*decode) return cmd_decode(decode_in, format, decode_json, decode_dbc, decode_protocol);
  if (*dbc_list) {
    for (const auto& p : bmslink::protocol::builtin_protocols()) fmt::print("{}\n", p.name);
    return kExitOk;
  }
  if (*dbc_export) return cmd_dbc_export(export_name, export_out);
  return kExitUsage;
} catch (const std::exception& e) {
  fmt::print(stderr, "bmslink: internal error: {}\n", e.what());
  return kExitInput;
}
