// Cost of decoding every signal of one frame with the built-in protocol definitions
// (issue 3 budget: well under 50 ns for a Pylontech frame). Google Benchmark.
#include <array>
#include <vector>

#include <benchmark/benchmark.h>

#include "bmslink/protocol/builtin.h"
#include "bmslink/protocol/decoder.h"
#include "bmslink/protocol/identify.h"

namespace {

bmslink::can::Frame make_frame(std::uint32_t id, std::vector<std::uint8_t> bytes) {
  bmslink::can::Frame f;
  f.id = id;
  f.len = static_cast<std::uint8_t>(bytes.size());
  f.dlc = f.len;
  std::copy(bytes.begin(), bytes.end(), f.data.begin());
  return f;
}

void decode_frame(benchmark::State& state, const char* protocol, bmslink::can::Frame frame) {
  const auto db = bmslink::protocol::builtin_database(protocol);
  const bmslink::protocol::Decoder decoder(**db);
  const auto* md = decoder.find(frame.id, false);
  std::vector<bmslink::protocol::SignalValue> values(md->signal_count());
  std::array<char, 128> text{};
  for (auto _ : state) {
    const auto* m = decoder.find(frame.id, false);  // lookup included, as in a real stream
    benchmark::DoNotOptimize(m->decode(frame, values, text));
    benchmark::DoNotOptimize(values.data());
  }
  state.counters["signals"] = static_cast<double>(md->signal_count());
}

void BM_Pylon351Limits(benchmark::State& s) {
  decode_frame(s, "pylon_lv_1_2",
               make_frame(0x351, {0x14, 0x02, 0x74, 0x0E, 0x74, 0x0E, 0xCC, 0x01}));
}
void BM_Pylon356Measurements(benchmark::State& s) {
  decode_frame(s, "pylon_lv_1_2", make_frame(0x356, {0x7A, 0x13, 0xF2, 0xFE, 0x6B, 0x01}));
}
void BM_Pylon359Flags18Signals(benchmark::State& s) {
  decode_frame(s, "pylon_lv_1_2", make_frame(0x359, {0, 0, 0, 0, 0x0A, 0x50, 0x4E}));
}
void BM_Victron35AAlarms26Signals(benchmark::State& s) {
  decode_frame(s, "victron", make_frame(0x35A, {0xAA, 0xAA, 0xAA, 0x02, 0xAA, 0xAA, 0xAA, 0x02}));
}
void BM_Pylon35EManufacturerText(benchmark::State& s) {
  decode_frame(s, "pylon_lv_1_2", make_frame(0x35E, {'P', 'Y', 'L', 'O', 'N', ' ', ' ', ' '}));
}

void BM_IdentifierAdd(benchmark::State& state) {
  bmslink::protocol::Identifier id;
  const auto f = make_frame(0x351, {0x14, 0x02, 0x74, 0x0E, 0x74, 0x0E, 0xCC, 0x01});
  for (auto _ : state) id.add(f);
}

BENCHMARK(BM_Pylon351Limits);
BENCHMARK(BM_Pylon356Measurements);
BENCHMARK(BM_Pylon359Flags18Signals);
BENCHMARK(BM_Victron35AAlarms26Signals);
BENCHMARK(BM_Pylon35EManufacturerText);
BENCHMARK(BM_IdentifierAdd);

}  // namespace

BENCHMARK_MAIN();
