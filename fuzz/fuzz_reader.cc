// libFuzzer target for one capture reader (BMSLINK_FUZZ_FORMAT names it; "auto" = sniffing).
// Beyond "no crash, no hang, no leak" it checks that no reader ever produces an impossible frame,
// then pushes every frame through every writer and the inventory so they are fuzzed as well.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "bmslink/analysis/inventory.h"
#include "bmslink/capture/reader.h"
#include "bmslink/capture/writer.h"
#include "bmslink/protocol/builtin.h"
#include "bmslink/protocol/decoder.h"
#include "bmslink/protocol/identify.h"

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

void check_frame(const bmslink::can::Frame& f) {
  using namespace bmslink::can;
  require(f.len <= kMaxFdLen);
  require(f.fd || f.len <= kMaxClassicLen);
  require(!f.fd || is_valid_fd_len(f.len));
  require(f.dlc <= 15);
  require(f.extended || f.error || f.id <= kStandardIdMask);
  require(f.id <= kExtendedIdMask);
  require(!(f.rtr && f.fd));
  require(!(f.error && (f.rtr || f.fd)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  bmslink::CollectingSink sink(4);
  bmslink::capture::ReaderOptions options;
  const std::string_view format = BMSLINK_FUZZ_FORMAT;
  if (format != "auto") options.format = bmslink::capture::parse_format_name(format);
  auto reader = bmslink::capture::open_capture_memory(bytes, "fuzz", sink, options);
  if (!reader) return 0;
  std::FILE* null_out = std::fopen("/dev/null", "wb");
  auto candump =
      bmslink::capture::make_writer(bmslink::capture::OutputFormat::kCandumpLog, null_out);
  auto asc = bmslink::capture::make_writer(bmslink::capture::OutputFormat::kVectorAsc, null_out);
  auto blf = bmslink::capture::make_writer(bmslink::capture::OutputFormat::kBlf, null_out);
  auto mf4 = bmslink::capture::make_writer(bmslink::capture::OutputFormat::kMf4, null_out);
  bmslink::analysis::InventoryBuilder inventory;
  bmslink::protocol::Identifier identifier;
  // Every frame is also decoded with every built-in protocol, so arbitrary payloads and lengths
  // reach the decoders.
  static const auto decoders = [] {
    std::vector<bmslink::protocol::Decoder> out;
    for (const auto& p : bmslink::protocol::builtin_protocols()) {
      out.emplace_back(**bmslink::protocol::builtin_database(p.name));
    }
    return out;
  }();
  std::vector<bmslink::protocol::SignalValue> values(64);
  char text[512];
  bmslink::can::Frame f;
  std::uint64_t n = 0;
  while ((*reader)->next(f)) {
    check_frame(f);
    candump->write(f);
    asc->write(f);
    blf->write(f);
    mf4->write(f);
    inventory.add(f);
    identifier.add(f);
    for (const auto& d : decoders) {
      if (const auto* md = d.find(f.id, f.extended)) {
        require(md->signal_count() <= values.size());
        md->decode(f, values, text);
      }
    }
    ++n;
  }
  (void)identifier.result();
  require(n == (*reader)->stats().frames);
  // One diagnostic per malformed line or note, plus one for a junk prefix.
  const auto& stats = (*reader)->stats();
  require(sink.total() == stats.malformed + stats.notes + (stats.junk > 0 ? 1 : 0));
  (void)candump->finish();
  (void)asc->finish();
  (void)blf->finish();
  (void)mf4->finish();
  (void)inventory.finish();
  std::fclose(null_out);
  return 0;
}
