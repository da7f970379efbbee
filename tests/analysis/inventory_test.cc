#include "bmslink/analysis/inventory.h"

#include <gtest/gtest.h>

#include "support/frames.h"

namespace bmslink::analysis {
namespace {

// A BMS sending 0x351/0x355/0x356 back to back every second, an inverter 0x305 half a second
// later, one ACK error frame; 10 seconds.
std::string session() {
  std::string s;
  for (int sec = 0; sec < 10; ++sec) {
    const std::string t = "(17000000" + std::to_string(10 + sec);
    s += t + ".100000) can0 351#1402E803E803E001\n";
    s += t + ".100300) can0 355#4100" + (sec < 5 ? std::string("63") : std::string("62")) + "00\n";
    s += t + ".100600) can0 356#" + std::string(sec % 2 ? "1014" : "1114") + "00000000\n";
    s += t + ".600000) can0 305#0000000000000000\n";
  }
  s += "(1700000015.000000) can0 200000A0#0000000000000000\n";
  return s;
}

TEST(Inventory, CountsFramesPerIdWithPeriodAndPayloadChanges) {
  const auto r = test::read_memory(session());
  InventoryBuilder b;
  for (const auto& f : r->frames) b.add(f);
  const Inventory inv = b.finish();
  EXPECT_EQ(inv.frames, 41u);
  EXPECT_EQ(inv.error_frames, 1u);
  EXPECT_EQ(inv.errors.at("no-ack"), 1u);
  ASSERT_EQ(inv.ids.size(), 4u);
  EXPECT_EQ(inv.ids[0].id, 0x305u);
  const IdStats& s351 = inv.ids[1];
  EXPECT_EQ(s351.count, 10u);
  ASSERT_TRUE(s351.period_ms);
  EXPECT_DOUBLE_EQ(*s351.period_ms, 1000.0);
  EXPECT_DOUBLE_EQ(*s351.jitter_ms, 0.0);
  EXPECT_EQ(s351.payload_changes, 0u);
  EXPECT_EQ(inv.ids[2].payload_changes, 1u);  // SOC byte 0x63 -> 0x62 once
  EXPECT_EQ(inv.ids[3].payload_changes, 9u);  // alternates every frame
  // 1700000010.1 (first 0x351) to 1700000019.6 (last 0x305)
  EXPECT_NEAR(*inv.duration_s(), 9.5, 1e-9);
}

TEST(Inventory, GroupsBurstsIntoTalkers) {
  const auto r = test::read_memory(session());
  InventoryBuilder b;
  for (const auto& f : r->frames) b.add(f);
  const Inventory inv = b.finish();
  ASSERT_EQ(inv.talkers.size(), 2u);
  EXPECT_EQ(inv.talkers[0].ids, (std::vector<std::uint32_t>{0x351, 0x355, 0x356}));
  ASSERT_TRUE(inv.talkers[0].burst_span_ms);
  EXPECT_NEAR(*inv.talkers[0].burst_span_ms, 0.6, 1e-9);
  EXPECT_EQ(inv.talkers[1].ids, (std::vector<std::uint32_t>{0x305}));
}

TEST(Inventory, UntimedCaptureHasNoPeriods) {
  const auto r = test::read_memory("0x351 14 02\n0x355 01 00\n0x351 14 02\n",
                                   {.format = capture::Format::kPasted});
  InventoryBuilder b;
  for (const auto& f : r->frames) b.add(f);
  const Inventory inv = b.finish();
  EXPECT_EQ(inv.untimed_frames, 3u);
  EXPECT_FALSE(inv.ids[0].period_ms);
  EXPECT_FALSE(inv.duration_s());
}

can::Frame at(std::uint32_t id, std::int64_t ns, std::uint8_t b0 = 0) {
  can::Frame f;
  f.id = id;
  f.len = 1;
  f.data[0] = b0;
  f.timestamp_ns = ns;
  f.time_kind = TimeKind::kAbsolute;
  return f;
}

constexpr std::int64_t kMs = 1'000'000;

TEST(Inventory, AnIdTwicePerCycleReportsTheCycleAndTheCopies) {
  // 0x351 at 0, 1000, 2000 ... ms and a second copy 3 ms after each: intervals 3, 997, 3, 997...
  // Cycle = median long 997 + (copies - 1) x median short 3 with copies = 20 / 10 = 2: 1000 ms.
  InventoryBuilder b;
  for (int i = 0; i < 11; ++i) {
    b.add(at(0x351, i * 1000 * kMs, 1));
    if (i < 10) b.add(at(0x351, i * 1000 * kMs + 3 * kMs, 2));
  }
  const Inventory inv = b.finish();
  ASSERT_EQ(inv.ids.size(), 1u);
  EXPECT_EQ(inv.ids[0].per_cycle, 2u);
  EXPECT_NEAR(*inv.ids[0].period_ms, 1000.0, 1e-9);
}

TEST(Inventory, AJitteryFastIdIsNotClustered) {
  // Every 20 ms with +-3 ms jitter: some intervals over 25 ms, but short and long are alike (17
  // to 26 ms), so no "copies": the period is the median interval, 20 ms.
  InventoryBuilder b;
  std::int64_t t = 0;
  for (int i = 0; i < 200; ++i) {
    b.add(at(0x356, t));
    t += (20 + (i % 3 == 0 ? 6 : i % 3 == 1 ? -3 : -3)) * kMs;  // 26, 17, 17, ...
  }
  const Inventory inv = b.finish();
  EXPECT_EQ(inv.ids[0].per_cycle, 1u);
  EXPECT_NEAR(*inv.ids[0].period_ms, 17.0, 1e-9);  // median of 26, 17, 17 repeating
}

TEST(Inventory, TimeSteppingBackIsCountedAndNotAnInterval) {
  // Two pieces joined: 0..9 s, then the clock restarts at 0.5 s. One backward step of 8.5 s; the
  // period stays 1000 ms and no negative interval appears; the same when cut at any frame.
  std::vector<can::Frame> frames;
  for (int i = 0; i < 10; ++i) frames.push_back(at(0x351, i * 1000 * kMs));
  for (int i = 0; i < 10; ++i) frames.push_back(at(0x351, 500 * kMs + i * 1000 * kMs));
  for (std::size_t cut = 0; cut <= frames.size(); ++cut) {
    InventoryBuilder a, b;
    for (std::size_t i = 0; i < frames.size(); ++i) (i < cut ? a : b).add(frames[i]);
    a.merge(std::move(b));
    const Inventory inv = a.finish();
    EXPECT_EQ(inv.backward_steps, 1u) << "cut " << cut;
    EXPECT_EQ(inv.largest_backward_ns, 8500 * kMs) << "cut " << cut;
    ASSERT_TRUE(inv.first_backward_ns) << "cut " << cut;
    EXPECT_EQ(*inv.first_backward_ns, 500 * kMs) << "cut " << cut;
    EXPECT_NEAR(*inv.ids[0].period_ms, 1000.0, 1e-9) << "cut " << cut;
    EXPECT_GE(*inv.ids[0].max_gap_ms, 0.0);
  }
}

TEST(Inventory, CapsDistinctIdsToBoundMemory) {
  InventoryBuilder b;
  can::Frame f;
  f.extended = true;
  for (std::uint32_t id = 0; id < InventoryBuilder::kMaxIds + 10; ++id) {
    f.id = id;
    b.add(f);
  }
  const Inventory inv = b.finish();
  EXPECT_EQ(inv.ids.size(), InventoryBuilder::kMaxIds);
  EXPECT_EQ(inv.ids_beyond_cap, 10u);
}

}  // namespace
}  // namespace bmslink::analysis
