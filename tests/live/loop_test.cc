// The one live loop, over captures replayed with their timing: what a recorder keeps, when alarms
// come, the duration on the source's clock, and a sink that fails.
#include "bmslink/live/loop.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "bmslink/capture/writer.h"
#include "bmslink/sim/site.h"

namespace bmslink::live {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
constexpr std::int64_t kS = 1'000'000'000;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("bmslink-loop-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A simulated healthy Pylon site as a candump log; returns its lines.
std::string write_site(const fs::path& path, double seconds) {
  sim::SiteOptions o;
  o.duration_s = seconds;
  std::string text;
  EXPECT_TRUE(sim::simulate(o, [&](const can::Frame& f) {
    can::Frame g = f;
    if (g.channel.empty()) g.channel = "can0";
    text += capture::candump_log_line(g) + "\n";
  }));
  std::ofstream(path) << text;
  return text;
}

can::Frame bms(std::uint32_t id, std::int64_t t) {
  can::Frame f;
  f.id = id;
  f.len = 8;
  f.timestamp_ns = t;
  f.time_kind = TimeKind::kAbsolute;
  f.channel = "can0";
  return f;
}

std::unique_ptr<link::LiveSource> replay(const fs::path& path, double speed) {
  auto s = link::open_interface("replay:" + path.string() + "@" + std::to_string(speed));
  EXPECT_TRUE(s) << (s ? "" : s.error().message);
  return s ? std::move(*s) : nullptr;
}

TEST(LiveLoop, ARecorderKeepsEveryFrameInOrder) {
  TempDir tmp;
  const auto in = tmp.path / "site.log";
  const std::string original = write_site(in, 60);
  auto src = replay(in, 2000);
  ASSERT_TRUE(src);
  LiveOptions o;
  LiveLoop loop(*src, o);
  Recorder rec((tmp.path / "out.log").string(), {});
  loop.add_sink(rec);
  std::atomic<bool> stop{false};
  const auto outcome = loop.run(stop);
  EXPECT_EQ(outcome.end, LoopEnd::kEnded);
  ASSERT_TRUE(rec.close());
  EXPECT_EQ(read(tmp.path / "out.log"), original);
  EXPECT_FALSE(fs::exists(tmp.path / "out.log.part"));
  EXPECT_EQ(rec.files(), 1);
}

TEST(LiveLoop, ARotatingRecorderSplitsIntoWholeNumberedFiles) {
  TempDir tmp;
  const auto in = tmp.path / "site.log";
  const std::string original = write_site(in, 120);
  auto src = replay(in, 5000);
  ASSERT_TRUE(src);
  LiveLoop loop(*src, LiveOptions{});
  Recorder rec((tmp.path / "rot.log").string(), Rotation{0, 16 * 1024});
  loop.add_sink(rec);
  std::atomic<bool> stop{false};
  EXPECT_EQ(loop.run(stop).end, LoopEnd::kEnded);
  ASSERT_TRUE(rec.close());
  ASSERT_GE(rec.files(), 3);
  std::string joined;
  for (int i = 1; i <= rec.files(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "rot-%04d.log", i);
    ASSERT_TRUE(fs::exists(tmp.path / name)) << name;
    const auto part = read(tmp.path / name);
    EXPECT_EQ(part.back(), '\n') << name << " ends on a whole line";
    joined += part;
  }
  EXPECT_EQ(joined, original);
}

TEST(LiveLoop, AlarmsComeWhenTheReplayedBusFallsSilent) {
  TempDir tmp;
  const auto in = tmp.path / "gap.log";
  // The BMS sends 0x351 every second from 0 to 5 s, is silent until 12 s, then goes on to 15 s.
  std::string text;
  const std::int64_t t0 = 1'780'000'000LL * kS;
  for (int s = 0; s <= 15; ++s)
    if (s <= 5 || s >= 12) text += capture::candump_log_line(bms(0x351, t0 + s * kS)) + "\n";
  std::ofstream(in) << text;
  auto src = replay(in, 10);
  ASSERT_TRUE(src);
  LiveLoop loop(*src, LiveOptions{});
  std::vector<json> lines;
  LineSink sink(true, [&](std::string_view line) { lines.push_back(json::parse(line)); });
  loop.add_sink(sink);
  std::atomic<bool> stop{false};
  EXPECT_EQ(loop.run(stop).end, LoopEnd::kEnded);
  std::vector<json> events;
  for (const auto& l : lines)
    if (l.contains("event")) events.push_back(l);
  ASSERT_EQ(events.size(), 2U) << json(lines).dump();
  EXPECT_EQ(events[0]["event"], "bms_silent");
  EXPECT_EQ(events[0]["state"], "raised");
  // Raised once the silence exceeds 3 s (after 8 s), within the replay clock's 0.5 s steps
  // (50 ms polls at 10x).
  const double raised = events[0]["t"].get<double>() - static_cast<double>(t0) / 1e9;
  EXPECT_GT(raised, 8.0);
  EXPECT_LT(raised, 9.0);
  EXPECT_EQ(events[1]["event"], "bms_silent_cleared");
  EXPECT_EQ(events[1]["alarm"], "bms_silent");
  EXPECT_NEAR(events[1]["t"].get<double>() - static_cast<double>(t0) / 1e9, 12.0, 1e-6);
}

TEST(LiveLoop, TheDurationRunsOnTheSourcesClock) {
  TempDir tmp;
  const auto in = tmp.path / "site.log";
  write_site(in, 60);
  auto src = replay(in, 20);
  ASSERT_TRUE(src);
  LiveOptions o;
  o.duration_s = 10;  // of bus time: half a second at 20x
  o.interval_s = 2;
  LiveLoop loop(*src, o);
  std::vector<json> snaps;
  LineSink sink(true, [&](std::string_view line) { snaps.push_back(json::parse(line)); });
  loop.add_sink(sink);
  std::atomic<bool> stop{false};
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(loop.run(stop).end, LoopEnd::kDuration);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  ASSERT_GE(snaps.size(), 5U);
  const double span = snaps.back()["t"].get<double>() - snaps.front()["t"].get<double>();
  EXPECT_GE(span, 8.0);  // snapshots every 2 s of bus time over 10 s
  EXPECT_LE(span, 11.0);
  EXPECT_EQ(snaps.back()["protocol"], "pylon_lv_1_2");  // the simulated site speaks V1.2
}

TEST(LiveLoop, ARecorderThatCannotWriteStopsTheLoopNamingTheFile) {
  TempDir tmp;
  const auto in = tmp.path / "site.log";
  write_site(in, 10);
  auto src = replay(in, 1000);
  ASSERT_TRUE(src);
  LiveLoop loop(*src, LiveOptions{});
  const std::string out = (tmp.path / "missing" / "out.log").string();
  Recorder rec(out, {});
  loop.add_sink(rec);
  std::atomic<bool> stop{false};
  const auto outcome = loop.run(stop);
  ASSERT_EQ(outcome.end, LoopEnd::kFailed);
  ASSERT_TRUE(outcome.failure);
  EXPECT_NE(outcome.failure->message.find(out + ".part"), std::string::npos)
      << outcome.failure->message;
}

TEST(Rotation, ParsesTimesAndSizes) {
  EXPECT_EQ(parse_rotation("30m")->seconds, 1800);
  EXPECT_EQ(parse_rotation("1h")->seconds, 3600);
  EXPECT_EQ(parse_rotation("90s")->seconds, 90);
  EXPECT_EQ(parse_rotation("8K")->bytes, 8192U);
  EXPECT_EQ(parse_rotation("100M")->bytes, 100U * 1024 * 1024);
  EXPECT_EQ(parse_rotation("2G")->bytes, 2ULL * 1024 * 1024 * 1024);
  const auto none = parse_rotation("");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->seconds, 0);
  EXPECT_EQ(none->bytes, 0U);
  for (const char* bad : {"10", "1x", "-5m", "m", "0.001s", "1e300G"})
    EXPECT_FALSE(parse_rotation(bad)) << bad;
}

}  // namespace
}  // namespace bmslink::live
