// `frames`, `convert`, `decode`, `identify` and `dbc list|export`: a capture's frames, in another
// format, decoded, its protocol, and the built-in definitions. Arguments and printing only.

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <span>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "bmslink/analysis/run.h"
#include "bmslink/can/error_frame.h"
#include "bmslink/capture/writer.h"
#include "bmslink/protocol/builtin.h"
#include "bmslink/protocol/dbc.h"
#include "bmslink/protocol/decoder.h"
#include "bmslink/report/analysis_report.h"
#include "cli.h"

namespace bmslink::app {
namespace {

using capture::FrameReader;

// candump-console-like line for people: time only when the capture had one.
void append_frame_text(std::string& out, const can::Frame& f) {
  auto it = std::back_inserter(out);
  if (f.has_timestamp()) fmt::format_to(it, "({}) ", format_seconds(f.timestamp_ns, 6));
  fmt::format_to(it, "{:<6} ", f.channel.empty() ? "-" : f.channel);
  if (f.direction != can::Direction::kUnknown) {
    out += f.direction == can::Direction::kRx ? "RX " : "TX ";
  }
  const std::string id = can::id_hex(f).substr(2);
  fmt::format_to(it, "{:>8}  {}  ", id,
                 f.fd ? fmt::format("[{:02}]", f.len) : fmt::format("[{}]", f.len));
  if (f.rtr) {
    out += "remote request";
  } else {
    for (std::size_t i = 0; i < f.len; ++i) fmt::format_to(it, "{}{:02X}", i ? " " : "", f.data[i]);
  }
  if (f.error) {
    const auto words = can::decode_error_frame(f).summary();
    fmt::format_to(it, "  ERRORFRAME {}",
                   words.empty() ? "unspecified" : fmt::format("{}", fmt::join(words, ",")));
  }
  out += '\n';
}

int cmd_frames(const std::vector<std::string>& paths, const std::string& format, bool json) {
  CollectingSink sink;
  auto reader = open_or_report(paths, format, sink);
  if (!reader) return kExitInput;
  can::Frame f;
  std::string out;
  out.reserve(1 << 17);
  while (reader->next(f)) {
    if (json) {
      capture::append_json_line(out, f);
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

int cmd_convert(const std::vector<std::string>& paths, const std::string& format,
                const std::string& to, const std::string& output) {
  CollectingSink sink;
  auto reader = open_or_report(paths, format, sink);
  if (!reader) return kExitInput;
  AtomicOutput out(output);
  if (!out.open()) return kExitInput;
  const auto output_format = to == "asc"   ? capture::OutputFormat::kVectorAsc
                             : to == "blf" ? capture::OutputFormat::kBlf
                             : to == "mf4" ? capture::OutputFormat::kMf4
                                           : capture::OutputFormat::kCandumpLog;
  auto writer = capture::make_writer(output_format, out.file());
  can::Frame f;
  while (reader->next(f)) writer->write(f);
  const auto written = writer->finish();
  const int read_rc = finish_reading(*reader, sink);
  if (out.to_file()) {
    if (!written || read_rc != kExitOk) {
      out.abandon();
      if (!written) fmt::print(stderr, "bmslink: {}: {}\n", output, written.error().message);
      if (read_rc == kExitOk) return kExitInput;
      fmt::print(stderr, "bmslink: {} left unchanged\n", output);
      return read_rc;
    }
    if (!out.commit()) return kExitInput;
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

// The protocol to decode with: a user DBC file, or a built-in definition by name.
std::unique_ptr<protocol::Database> load_protocol(const std::string& dbc_path,
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
    auto db = protocol::parse_dbc(text, dbc_path);
    if (!db) {
      fmt::print(stderr, "bmslink: {}\n", db.error().message);
      return nullptr;
    }
    return std::make_unique<protocol::Database>(std::move(*db));
  }
  auto db = protocol::builtin_database(name);
  if (!db) {
    fmt::print(stderr, "bmslink: {}\n", db.error().message);
    return nullptr;
  }
  return std::make_unique<protocol::Database>(**db);
}

void append_decoded_text(std::string& out, const can::Frame& f, const protocol::MessageDecoder& d,
                         std::span<const protocol::SignalValue> values) {
  auto it = std::back_inserter(out);
  if (f.has_timestamp()) fmt::format_to(it, "({}) ", format_seconds(f.timestamp_ns, 6));
  fmt::format_to(it, "{} {}:", can::id_hex(f), d.message().name);
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

int cmd_decode(const std::string& path, const std::string& format, bool json,
               const std::string& dbc_path, const std::string& protocol) {
  CollectingSink sink;
  auto reader = open_or_report(path, format, sink);
  if (!reader) return kExitInput;
  // A user's DBC is consulted first; ids it does not define fall back to the built-in protocol.
  std::unique_ptr<protocol::Database> user_db;
  if (!dbc_path.empty()) {
    user_db = load_protocol(dbc_path, {});
    if (!user_db) return kExitInput;
  }
  analysis::IdentifiedSource source(*reader);
  const auto& id = source.identification();
  analysis::ProtocolOptions po;
  // Without any definition the Pylon LV V1.2 one shows what can be read.
  po.protocol = !protocol.empty() ? protocol : id.protocol.empty() ? "pylon_lv_1_2" : "";
  po.user_dbc = user_db.get();
  auto setup = analysis::choose_decoder(id, po);
  if (!setup) {
    fmt::print(stderr, "bmslink: {}\n", setup.error().message);
    return kExitUsage;
  }
  if (protocol.empty()) {
    fmt::print(stderr, "bmslink: {} {}{}; decoding with {}\n", reader->name(), id.family,
               id.variant.empty() ? "" : " / " + id.variant, setup->name);
  }
  const protocol::Decoder& decoder = *setup->decoder;
  std::vector<protocol::SignalValue> values;
  std::array<char, 512> text{};
  std::map<std::string, std::uint64_t> unknown;
  std::string out;
  can::Frame f;
  while (source.next(f)) {
    if (f.error) continue;
    const auto* md = decoder.find(f.id, f.extended);
    if (md == nullptr) {
      ++unknown[can::id_hex(f)];
      continue;
    }
    values.resize(md->signal_count());
    md->decode(f, values, text);
    if (json) {
      protocol::append_decoded_json(out, f, *md, values);
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
    for (const auto& [uid, n] : unknown) ids += fmt::format(" {}({})", uid, n);
    fmt::print(stderr, "bmslink: frames of ids not in {}:{}\n", setup->name, ids);
  }
  return finish_reading(*reader, sink);
}

int cmd_identify(const std::vector<std::string>& paths, const std::string& format, bool json) {
  analysis::RunOptions options;
  if (!format.empty()) options.format = capture::parse_format_name(format);
  int rc = kExitOk;
  nlohmann::json all = nlohmann::json::array();
  bool first = true;
  for (const auto& path : paths) {
    CollectingSink sink;
    auto result = analysis::identify(analysis::CaptureInput::path(path), sink, options);
    if (!result) {
      fmt::print(stderr, "bmslink: {}\n", result.error().message);
      rc = kExitInput;
      continue;
    }
    const int read_rc =
        report_problems(result->file, result->stats, result->failure, sink, result->variant);
    if (read_rc != kExitOk) {
      rc = read_rc;
      continue;
    }
    const auto& id = result->identification;
    if (json) {
      auto j = report::identification_json(id);
      j["file"] = result->file;
      all.push_back(std::move(j));
      continue;
    }
    if (!first) fmt::print("\n");
    first = false;
    fmt::print("{}: {}{}{} (confidence {:.2f})\n", result->file, id.family,
               id.variant.empty() ? "" : " / " + id.variant,
               id.manufacturer.empty() ? "" : fmt::format(", manufacturer \"{}\"", id.manufacturer),
               id.confidence);
    if (!id.inverter.empty()) fmt::print("  inverter: {}\n", id.inverter);
    for (const auto& reason : id.reasons) fmt::print("  - {}\n", reason);
    for (const auto& a : id.ambiguities) fmt::print("  ! {}\n", a);
    if (!id.protocol.empty()) fmt::print("  decode with: {}\n", id.protocol);
  }
  if (json)
    fmt::print("{}\n", paths.size() == 1 && !all.empty()
                           ? all[0].dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                           : all.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  return rc;
}

int cmd_dbc_export(const std::string& name, const std::string& output) {
  for (const auto& p : protocol::builtin_protocols()) {
    if (p.name != name) continue;
    return write_text(p.dbc, output) ? kExitOk : kExitInput;
  }
  std::string known;
  for (const auto& p : protocol::builtin_protocols()) known += " " + std::string(p.name);
  fmt::print(stderr, "bmslink: no built-in protocol '{}'; known:{}\n", name, known);
  return kExitUsage;
}

}  // namespace

void add_capture_commands(CLI::App& app, Commands& commands) {
  struct Args {
    std::string in, format, to = "candump", output, dbc, protocol, name;
    std::vector<std::string> paths;
    bool json = false;
  };
  auto frames = std::make_shared<Args>();
  auto* f = app.add_subcommand("frames",
                               "Print the raw frames of a capture (candump-style text, or JSON)");
  f->add_option("FILE", frames->paths,
                "Capture file ('-' for standard input); several files or a logger's folder are "
                "read as one capture, in time order")
      ->required();
  f->add_flag("--json", frames->json, "One JSON object per frame (keys in docs/json.md)");
  add_format_option(f, frames->format);
  commands.add(f, [frames] {
    if (!check_format(frames->format)) return kExitUsage;
    return cmd_frames(frames->paths, frames->format, frames->json);
  });

  auto convert = std::make_shared<Args>();
  auto* c =
      app.add_subcommand("convert", "Convert a capture to candump log, Vector ASC or BLF, or MF4");
  c->add_option("FILE", convert->paths,
                "Capture file ('-' for standard input); several files or a logger's folder are "
                "joined into one, in time order")
      ->required();
  c->add_option("--to", convert->to, "Output format")
      ->check(CLI::IsMember({"candump", "asc", "blf", "mf4"}));
  c->add_option("-o,--output", convert->output, "Output file (standard output by default)");
  add_format_option(c, convert->format);
  commands.add(c, [convert] {
    if (!check_format(convert->format)) return kExitUsage;
    return cmd_convert(convert->paths, convert->format, convert->to, convert->output);
  });

  auto decode = std::make_shared<Args>();
  auto* d = app.add_subcommand("decode", "Decoded signals of every frame (table, or JSON lines)");
  d->add_option("FILE", decode->in, "Capture file, '-' for standard input")->required();
  d->add_flag("--json", decode->json, "One JSON object per decoded frame (docs/json.md)");
  d->add_option("--protocol", decode->protocol,
                "Built-in protocol to decode with (bmslink dbc list); identified from the "
                "capture by default");
  d->add_option("--dbc", decode->dbc,
                "Add the messages of this DBC file; they take precedence over the built-in "
                "protocol");
  add_format_option(d, decode->format);
  commands.add(d, [decode] {
    if (!check_format(decode->format)) return kExitUsage;
    return cmd_decode(decode->in, decode->format, decode->json, decode->dbc, decode->protocol);
  });

  auto identify = std::make_shared<Args>();
  auto* i = app.add_subcommand("identify", "Which battery protocol a capture speaks, and why");
  i->add_option("FILE", identify->paths, "Capture file(s)")->required();
  i->add_flag("--json", identify->json, "Machine-readable output (keys in docs/json.md)");
  add_format_option(i, identify->format);
  commands.add(i, [identify] {
    if (!check_format(identify->format)) return kExitUsage;
    return cmd_identify(identify->paths, identify->format, identify->json);
  });

  auto* dbc = app.add_subcommand("dbc", "The built-in protocol definitions, for other CAN tools");
  dbc->require_subcommand(1);
  auto* list = dbc->add_subcommand("list", "Names of the built-in protocols");
  commands.add(list, [] {
    for (const auto& p : protocol::builtin_protocols()) fmt::print("{}\n", p.name);
    return kExitOk;
  });
  auto exported = std::make_shared<Args>();
  auto* e = dbc->add_subcommand("export", "Write a built-in protocol as a DBC file");
  e->add_option("NAME", exported->name, "Protocol name (bmslink dbc list)")->required();
  e->add_option("-o,--output", exported->output, "Output file (standard output by default)");
  commands.add(e, [exported] { return cmd_dbc_export(exported->name, exported->output); });
}

}  // namespace bmslink::app
