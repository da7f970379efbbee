// libFuzzer target for the DBC reader: any text either parses into a database whose every message
// decodes without fault, or fails with a message naming a line.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "bmslink/protocol/dbc.h"
#include "bmslink/protocol/decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto db = bmslink::protocol::parse_dbc(text, "fuzz.dbc");
  if (!db) {
    if (db.error().message.find("fuzz.dbc:") != 0) std::abort();
    return 0;
  }
  const bmslink::protocol::Decoder decoder(*db);
  bmslink::can::Frame f;
  f.len = 64;
  f.fd = true;
  for (std::size_t i = 0; i < 64; ++i) f.data[i] = static_cast<std::uint8_t>(i * 37 + size);
  std::vector<bmslink::protocol::SignalValue> values;
  char text_buffer[512];
  for (const auto& m : db->messages) {
    const auto* md = decoder.find(m.id, m.extended);
    if (md == nullptr) std::abort();
    values.resize(md->signal_count());
    md->decode(f, values, text_buffer);
  }
  return 0;
}
