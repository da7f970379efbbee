// libFuzzer target for what a serial CAN adapter may send: any bytes, cut into chunks where the
// first byte says, through the SLCAN line splitter and parser (every line as a host command too)
// (timestamped frames through the adapter clock) and through the Waveshare USB-CAN-A stream
// parser. A frame that parses writes back to the same frame; nothing crashes or grows unbounded.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "bmslink/can/slcan.h"
#include "bmslink/can/waveshare.h"

namespace {
void require(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace bmslink::can::slcan;
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 17;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  LineSplitter splitter;
  // Timestamped frames also go through the adapter clock, read at host times that move by what
  // the chunk number says (forwards, or backwards as a stepped clock does): a time is never later
  // than its read unless the read went back in time, and never earlier than the last one unless
  // the clock was re-anchored.
  AdapterClock clock;
  std::int64_t host_ns = 1'700'000'000'000'000'000, last_ns = 0;
  std::uint64_t reanchors = 0;
  for (std::size_t at = 0; at < bytes.size(); at += chunk) {
    splitter.feed(bytes.substr(at, chunk));
    host_ns += (static_cast<std::int64_t>(at % 97) - 8) * 7'000'000;
    while (auto line = splitter.next()) {
      if (const auto* f = std::get_if<FrameLine>(&*line); f != nullptr && f->timestamp_ms) {
        const auto t = clock.stamp(*f->timestamp_ms, host_ns);
        const bool reanchored = clock.reanchors() != reanchors;
        reanchors = clock.reanchors();
        require(t <= std::max(host_ns, last_ns));
        require(last_ns == 0 || reanchored || t >= last_ns);
        last_ns = t;
      }
      if (const auto* f = std::get_if<FrameLine>(&*line)) {
        std::string again = encode_frame(f->frame, f->timestamp_ms);
        again.pop_back();  // the CR
        const auto back = parse_line(again);
        const auto* g = std::get_if<FrameLine>(&back);
        require(g != nullptr && g->frame.id == f->frame.id && g->frame.len == f->frame.len &&
                g->frame.extended == f->frame.extended && g->frame.rtr == f->frame.rtr &&
                g->frame.data == f->frame.data && g->timestamp_ms == f->timestamp_ms);
      }
    }
  }
  (void)parse_command(bytes);
  // The same bytes as a Waveshare USB-CAN-A stream.
  bmslink::can::waveshare::StreamParser ws;
  for (std::size_t at = 0; at < bytes.size(); at += chunk) {
    ws.feed(bytes.substr(at, chunk));
    while (auto item = ws.next()) {
      if (const auto* f = std::get_if<bmslink::can::Frame>(&*item)) {
        bmslink::can::waveshare::StreamParser again;
        again.feed(bmslink::can::waveshare::encode_frame(*f));
        const auto back = again.next();
        const auto* g = back ? std::get_if<bmslink::can::Frame>(&*back) : nullptr;
        require(g != nullptr && g->id == f->id && g->len == f->len && g->rtr == f->rtr &&
                g->extended == f->extended && g->data == f->data);
      }
    }
  }
  return 0;
}
