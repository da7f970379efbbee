// One pipeline, many inputs: the same capture analysed from a file, from memory, from a stream,
// as a frame source, on the parallel path through an in-memory Env and fed live with clock ticks
// gives the same Evidence.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <span>

#include "bmslink/analysis/run.h"
#include "bmslink/protocol/builtin.h"
#include "bmslink/sim/site.h"
#include "support/frames.h"

namespace bmslink::analysis {
namespace {

std::string simulated_log(const std::string& fault, double seconds) {
  std::string out;
  sim::SiteOptions o;
  o.fault = fault;
  o.duration_s = seconds;
  auto n = sim::simulate(o, [&](const can::Frame& f) {
    if (f.error || f.extended) return;  // the fault used here makes neither
    out += fmt::format("({}.{:06d}) can0 {:03X}#", f.timestamp_ns / 1'000'000'000,
                       (f.timestamp_ns % 1'000'000'000) / 1000, f.id);
    for (std::size_t i = 0; i < f.len; ++i) out += fmt::format("{:02X}", f.data[i]);
    out += '\n';
  });
  EXPECT_TRUE(n.has_value());
  return out;
}

// The parts of Evidence every consumer reads, compared field by field.
void expect_same(const Evidence& a, const Evidence& b, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(a.inventory.frames, b.inventory.frames);
  EXPECT_EQ(a.protocol.variant, b.protocol.variant);
  EXPECT_EQ(a.timing.bms_frames, b.timing.bms_frames);
  EXPECT_EQ(a.timing.inverter_frames, b.timing.inverter_frames);
  EXPECT_EQ(a.ack.back_to_back, b.ack.back_to_back);
  EXPECT_EQ(a.bus.error_frames, b.bus.error_frames);
  EXPECT_EQ(a.uptime.complete_seconds, b.uptime.complete_seconds);
  EXPECT_EQ(a.uptime.dropout_count, b.uptime.dropout_count);
  EXPECT_EQ(a.uptime.longest_outage_ns, b.uptime.longest_outage_ns);
  ASSERT_EQ(a.signals.size(), b.signals.size());
  for (std::size_t i = 0; i < a.signals.size(); ++i) {
    EXPECT_EQ(a.signals[i].name, b.signals[i].name);
    EXPECT_EQ(a.signals[i].count, b.signals[i].count) << a.signals[i].name;
    EXPECT_DOUBLE_EQ(a.signals[i].min, b.signals[i].min) << a.signals[i].name;
    EXPECT_DOUBLE_EQ(a.signals[i].max, b.signals[i].max) << a.signals[i].name;
    EXPECT_DOUBLE_EQ(a.signals[i].last, b.signals[i].last) << a.signals[i].name;
  }
  EXPECT_EQ(a.minutes.size(), b.minutes.size());
  EXPECT_EQ(a.plausibility.size(), b.plausibility.size());
  EXPECT_EQ(a.state.active.size(), b.state.active.size());
}

class Pipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = simulated_log("intermittent_dropouts", 1800);
    // One file per test and process: ctest runs the cases of this fixture in parallel.
    path_ = ::testing::TempDir() + "/pipeline_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" +
            std::to_string(::getpid()) + ".log";
    std::ofstream(path_, std::ios::binary) << log_;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string log_, path_;
};

TEST_F(Pipeline, FileMemoryStreamAndFrameSourceGiveTheSameEvidence) {
  CollectingSink sink;
  auto file = analyze(CaptureInput::path(path_), sink);
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_GT(file->evidence.uptime.dropout_count, 0u);  // the fault is there to be compared

  auto memory = analyze(CaptureInput::memory(log_, "mem"), sink);
  ASSERT_TRUE(memory);
  expect_same(file->evidence, memory->evidence, "memory");

  const int fd = ::open(path_.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  auto stream = analyze(CaptureInput::stream(fd, "pipe"), sink);
  ::close(fd);
  ASSERT_TRUE(stream);
  expect_same(file->evidence, stream->evidence, "stream");

  const auto frames = test::read_memory(log_);
  can::SpanSource span(frames->frames);
  auto source = analyze(CaptureInput::source(span, "frames"), sink);
  ASSERT_TRUE(source);
  EXPECT_EQ(source->stats.frames, frames->frames.size());
  expect_same(file->evidence, source->evidence, "frame source");
}

// The simulator pulled as a live frame source (with its clock) gives the frames simulate() pushes,
// and the pipeline over it the Evidence of those frames.
TEST_F(Pipeline, SimulatedSiteAsAFrameSourceEqualsItsCapture) {
  sim::SiteOptions o;
  o.fault = "intermittent_dropouts";
  o.duration_s = 1800;
  std::vector<can::Frame> pushed;
  ASSERT_TRUE(sim::simulate(o, [&](const can::Frame& f) { pushed.push_back(f); }));
  auto site = sim::SiteSource::open(o);
  ASSERT_TRUE(site);
  std::vector<can::Frame> pulled;
  can::Frame f;
  while ((*site)->next(f)) pulled.push_back(f);
  ASSERT_EQ(pulled.size(), pushed.size());
  for (std::size_t i = 0; i < pulled.size(); ++i)
    ASSERT_TRUE(can::same_frame(pulled[i], pushed[i]));
  // 1800 s from the start: the clock stands at the end of the last simulated second.
  EXPECT_EQ((*site)->now_ns(), o.start_ns + 1800LL * 1'000'000'000);

  auto live = sim::SiteSource::open(o);
  ASSERT_TRUE(live);
  CollectingSink sink;
  auto from_source = analyze(CaptureInput::source(**live, "simulated site"), sink);
  ASSERT_TRUE(from_source);
  // Against the same frames held in memory (the log file keeps microseconds only, the simulator
  // nanoseconds, so outage lengths differ there by the rounding).
  can::SpanSource memory(pushed);
  auto from_memory = analyze(CaptureInput::source(memory, "frames"), sink);
  ASSERT_TRUE(from_memory);
  expect_same(from_memory->evidence, from_source->evidence, "simulated live source");
  EXPECT_GT(from_source->evidence.uptime.dropout_count, 0u);
  EXPECT_EQ(from_source->variant, "frame source");
  EXPECT_FALSE(sim::SiteSource::open(sim::SiteOptions{.fault = "no_such_fault"}));
}

TEST_F(Pipeline, ParallelPathThroughAnInMemoryEnvEqualsOnePass) {
  MemoryEnv env;
  RunOptions parallel;
  parallel.env = &env;
  parallel.parallel_min_bytes = 1;  // force the bulk path on this small file
  parallel.threads = 2;
  parallel.block_bytes = 64 * 1024;
  CollectingSink sink;
  // The sniffing reader opens the real path; the Env serves the ranges.
  env.add_file(path_, log_);
  auto bulk = analyze(CaptureInput::path(path_), sink, parallel);
  ASSERT_TRUE(bulk) << bulk.error().message;
  EXPECT_EQ(bulk->threads_used, 2u);
  auto one = analyze(CaptureInput::memory(log_, "mem"), sink);
  ASSERT_TRUE(one);
  expect_same(one->evidence, bulk->evidence, "parallel via MemoryEnv");
}

TEST_F(Pipeline, ByteOrderMarkAndBootNoiseTakeTheBulkPathWithoutLosingAFrame) {
  std::string noise;
  for (int i = 0; i < 2000; ++i) noise += fmt::format("[{:5}.000000] booting gateway\n", i);
  const std::string saved = "\xEF\xBB\xBF" + noise + log_;
  const std::string path = ::testing::TempDir() + "/bom_noise.log";
  {
    std::ofstream out(path, std::ios::binary);
    out << saved;
  }
  MemoryEnv env;
  env.add_file(path, saved);
  RunOptions parallel;
  parallel.env = &env;
  parallel.parallel_min_bytes = 1;
  parallel.threads = 2;
  parallel.block_bytes = 16 * 1024;
  CollectingSink bulk_sink;
  auto bulk = analyze(CaptureInput::path(path), bulk_sink, parallel);
  ASSERT_TRUE(bulk) << bulk.error().message;
  EXPECT_EQ(bulk->threads_used, 2u);
  CollectingSink one_sink;
  auto one = analyze(CaptureInput::memory(log_, "mem"), one_sink);
  ASSERT_TRUE(one);
  expect_same(one->evidence, bulk->evidence, "BOM and noise, bulk path");
  EXPECT_EQ(bulk->stats.junk, 2000u);
  EXPECT_EQ(bulk->stats.malformed, 0u);
  EXPECT_EQ(bulk_sink.total(), 1u);  // the junk, once
  auto sequential = analyze(CaptureInput::memory(saved, "mem"), one_sink);
  ASSERT_TRUE(sequential);
  expect_same(one->evidence, sequential->evidence, "BOM and noise, one pass");
  EXPECT_EQ(sequential->stats.lines, bulk->stats.lines);
}

TEST_F(Pipeline, CancelStopsTheRun) {
  std::atomic<bool> cancel{true};
  RunOptions o;
  o.cancel = &cancel;
  CollectingSink sink;
  auto r = analyze(CaptureInput::memory(log_, "mem"), sink, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCancelled);
}

TEST_F(Pipeline, UnknownBuiltinProtocolIsAnError) {
  RunOptions o;
  o.protocol.protocol = "no_such_protocol";
  CollectingSink sink;
  EXPECT_FALSE(analyze(CaptureInput::memory(log_, "mem"), sink, o));
}

// A live source: frames as they came, then its clock running on after the BMS stopped. The
// silence is seen from the clock alone, before any frame ends it.
class ClockedSource final : public can::FrameSource {
 public:
  ClockedSource(std::span<const can::Frame> frames, std::int64_t end_ns)
      : frames_(frames), end_ns_(end_ns) {}
  bool next(can::Frame& f) override { return frames_.next(f); }
  std::optional<std::int64_t> now_ns() const override { return end_ns_; }

 private:
  can::SpanSource frames_;
  std::int64_t end_ns_;
};

TEST(LiveSource, SilenceIsSeenFromTheClockWhileNothingArrives) {
  std::vector<can::Frame> frames;
  sim::SiteOptions o;
  o.duration_s = 60;
  ASSERT_TRUE(sim::simulate(o, [&](const can::Frame& f) { frames.push_back(f); }));
  const std::int64_t last = frames.back().timestamp_ns;
  auto run_until = [&](std::int64_t end) {
    ClockedSource source(frames, end);
    NullSink sink;
    auto r = analyze(CaptureInput::source(source, "live"), sink);
    EXPECT_TRUE(r);
    return r ? std::move(r->evidence) : Evidence{};
  };
  // 0x351 comes once a second: 2 s after the last frame it has been quiet 2-3 s, under the 3 s
  // timeout; 10 s after, 10-11 s, a dropout.
  const Evidence short_quiet = run_until(last + 2'000'000'000);
  EXPECT_EQ(short_quiet.uptime.dropout_count, 0u);
  const Evidence e = run_until(last + 10'000'000'000);
  ASSERT_TRUE(e.uptime.open_silence);
  EXPECT_GE(e.uptime.open_silence->length_ns, 10'000'000'000);
  EXPECT_LT(e.uptime.open_silence->length_ns, 11'100'000'000);
  EXPECT_EQ(e.uptime.dropout_count, 1u);

  // The same frames analysed as a capture (no clock): no dropout.
  can::SpanSource offline(frames);
  NullSink sink;
  const auto f = analyze(CaptureInput::source(offline, "capture"), sink);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->evidence.uptime.dropout_count, 0u);
  EXPECT_FALSE(f->evidence.uptime.open_silence);
}

}  // namespace
}  // namespace bmslink::analysis
