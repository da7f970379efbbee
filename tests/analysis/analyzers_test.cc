// One analyzer unit at a time, on hand-built frames, with every expected number derived by hand in
// a comment. Each unit also gets a merge test: the same frames split in two halves, analysed
// separately and merged, give what one pass gives.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "analysis/ack_analyzer.h"
#include "analysis/bus_error_analyzer.h"
#include "analysis/conflict_analyzer.h"
#include "analysis/frame_facts.h"
#include "analysis/plausibility.h"
#include "analysis/signal_analyzer.h"
#include "analysis/time_bins.h"
#include "analysis/timing_analyzer.h"
#include "analysis/uptime_analyzer.h"
#include "bmslink/analysis/evidence.h"
#include "bmslink/analysis/inventory.h"
#include "bmslink/can/error_frame.h"
#include "bmslink/can/frame.h"
#include "bmslink/protocol/builtin.h"
#include "bmslink/protocol/decoder.h"

namespace bmslink::analysis::detail {
namespace {

constexpr std::int64_t kUs = 1'000;
constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kS = 1'000'000'000;

can::Frame data_frame(std::uint32_t id, std::int64_t t_ns,
                      std::initializer_list<std::uint8_t> bytes) {
  can::Frame f;
  f.id = id;
  f.timestamp_ns = t_ns;
  f.time_kind = TimeKind::kAbsolute;
  f.len = static_cast<std::uint8_t>(bytes.size());
  f.dlc = f.len;
  std::copy(bytes.begin(), bytes.end(), f.data.begin());
  return f;
}

can::Frame untimed(can::Frame f) {
  f.time_kind = TimeKind::kNone;
  f.timestamp_ns = 0;
  return f;
}

can::Frame error_frame(std::uint32_t class_bits, std::array<std::uint8_t, 8> details,
                       std::int64_t t_ns) {
  can::Frame f = can::make_error_frame(class_bits, details);
  f.timestamp_ns = t_ns;
  f.time_kind = TimeKind::kAbsolute;
  return f;
}

// The bin of a frame at `ns`; the tests stay far below the cap, so there always is one.
SecondBin& bin_at(TimeBins& bins, std::int64_t ns, std::uint32_t wire_bits) {
  SecondBin* b = bins.add(ns, wire_bits);
  if (b == nullptr) std::abort();
  return *b;
}

const SideMap& range_sides() {
  static const SideMap sides;
  return sides;
}

// What CaptureAnalyzer works out once per data frame.
DataFacts facts(const can::Frame& f, const SideMap& sides = range_sides()) {
  DataFacts d;
  d.key = key_of(f);
  d.hash = payload_hash(f);
  d.bit = f.extended || f.id >= 2048 ? -1 : tracked_id_bit(f.id, false);
  d.side = sides.of(f.id, f.extended);
  d.timed = f.has_timestamp();
  d.t_ns = f.timestamp_ns;
  return d;
}

template <typename T>
std::vector<T> first_half(const std::vector<T>& v) {
  return {v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2)};
}
template <typename T>
std::vector<T> second_half(const std::vector<T>& v) {
  return {v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end()};
}

Inventory inventory_with(std::initializer_list<std::uint32_t> ids) {
  Inventory inv;
  for (std::uint32_t id : ids) {
    IdStats s;
    s.id = id;
    s.count = 1;
    inv.ids.push_back(s);
  }
  return inv;
}

const protocol::Database& pylon_db() {
  static const protocol::Database* db = [] {
    auto r = protocol::builtin_database("pylon_lv_1_2");
    EXPECT_TRUE(r.has_value());
    return r.has_value() ? *r : nullptr;
  }();
  return *db;
}

// ---------------------------------------------------------------------------------------------
// Timing and sides

TEST(TransmitterSide, NamesBmsAndInverterTransmittersCaseInsensitively) {
  EXPECT_EQ(transmitter_side("BMS"), Side::kBms);
  EXPECT_EQ(transmitter_side("Battery"), Side::kBms);
  EXPECT_EQ(transmitter_side("battery"), Side::kBms);
  EXPECT_EQ(transmitter_side("Inverter"), Side::kInverter);
  EXPECT_EQ(transmitter_side("GX"), Side::kInverter);
  EXPECT_EQ(transmitter_side("CHARGER"), Side::kInverter);
  // Whole words only: "BMS2" or the DBC's placeholder node are neither side.
  EXPECT_EQ(transmitter_side("BMS2"), Side::kOther);
  EXPECT_EQ(transmitter_side("Vector__XXX"), Side::kOther);
  EXPECT_EQ(transmitter_side(""), Side::kOther);
}

TEST(SideMap, StartsFromTheFactSheetRangesAndTakesTheDefinitionsTransmitters) {
  SideMap sides;
  // Ranges: BMS 0x350-0x382, inverter 0x300-0x30F, anything else other.
  EXPECT_EQ(sides.of(0x350, false), Side::kBms);
  EXPECT_EQ(sides.of(0x382, false), Side::kBms);
  EXPECT_EQ(sides.of(0x383, false), Side::kOther);
  EXPECT_EQ(sides.of(0x305, false), Side::kInverter);
  EXPECT_EQ(sides.of(0x310, false), Side::kOther);
  EXPECT_EQ(sides.of(0x123, false), Side::kOther);
  // 29-bit ids and ids beyond 11 bits are never on a side.
  EXPECT_EQ(sides.of(0x351, true), Side::kOther);
  EXPECT_EQ(sides.of(0x800, false), Side::kOther);

  sides.set(0x123, transmitter_side("Battery"));
  sides.set(0x351, transmitter_side("Inverter"));
  sides.set(0x900, Side::kBms);  // beyond the table: ignored
  EXPECT_EQ(sides.of(0x123, false), Side::kBms);
  EXPECT_EQ(sides.of(0x351, false), Side::kInverter);
  EXPECT_EQ(sides.of(0x900, false), Side::kOther);
}

// Ten 1 s cycles: 0x351 at i s, 0x355 1 ms later, the inverter's 0x305 at i s + 500 ms; an
// unknown 0x123 at 0, 2, 4 s.
std::vector<can::Frame> timing_frames() {
  std::vector<can::Frame> v;
  for (std::int64_t i = 0; i < 10; ++i) {
    if (i % 2 == 0 && i <= 4) v.push_back(data_frame(0x123, i * kS, {1}));
    v.push_back(data_frame(0x351, i * kS + 100 * kUs, {0x14, 0x02}));
    v.push_back(data_frame(0x355, i * kS + 1 * kMs, {0x41, 0x00}));
    v.push_back(data_frame(0x305, i * kS + 500 * kMs, {0, 0, 0, 0, 0, 0, 0, 0}));
  }
  return v;
}

TEST(TimingAnalyzer, SplitsIdsBySideAndTakesTheMedianBmsPeriod) {
  TimingAnalyzer t;
  for (const auto& f : timing_frames()) t.add(f);
  const auto r = t.finish(range_sides());
  // 0x351 and 0x355 are BMS (2 x 10 frames), 0x305 inverter (10), 0x123 other (3).
  EXPECT_EQ(r.timing.bms_ids, (std::vector<std::uint32_t>{0x351, 0x355}));
  EXPECT_EQ(r.timing.inverter_ids, (std::vector<std::uint32_t>{0x305}));
  EXPECT_EQ(r.timing.other_ids, (std::vector<std::uint32_t>{0x123}));
  EXPECT_EQ(r.timing.bms_frames, 20u);
  EXPECT_EQ(r.timing.inverter_frames, 10u);
  EXPECT_EQ(r.timing.other_frames, 3u);
  // Both BMS ids repeat every 1000 ms.
  ASSERT_TRUE(r.timing.bms_period_ms);
  EXPECT_DOUBLE_EQ(*r.timing.bms_period_ms, 1000.0);
  // Cycles seen: the count of the most frequent BMS id.
  EXPECT_EQ(r.bursts_seen, 10u);
  EXPECT_EQ(r.inventory.frames, 33u);
}

TEST(TimingAnalyzer, FollowsTheDefinitionsTransmittersOverTheRanges) {
  SideMap sides;
  sides.set(0x123, transmitter_side("BMS"));
  sides.set(0x355, transmitter_side("Vector__XXX"));
  TimingAnalyzer t;
  for (const auto& f : timing_frames()) t.add(f);
  const auto r = t.finish(sides);
  // 0x123 (3 frames, 2000 ms) joins the BMS; 0x355 (10 frames) becomes other.
  EXPECT_EQ(r.timing.bms_ids, (std::vector<std::uint32_t>{0x123, 0x351}));
  EXPECT_EQ(r.timing.other_ids, (std::vector<std::uint32_t>{0x355}));
  EXPECT_EQ(r.timing.bms_frames, 13u);
  EXPECT_EQ(r.timing.other_frames, 10u);
  // BMS periods {2000, 1000}: the median taken is the upper one of two, 2000.
  ASSERT_TRUE(r.timing.bms_period_ms);
  EXPECT_DOUBLE_EQ(*r.timing.bms_period_ms, 2000.0);
  EXPECT_EQ(r.bursts_seen, 10u);  // 0x351's 10 frames
}

TEST(TimingAnalyzer, HasNoPeriodWithoutTimestampsAndPutsExtendedIdsWithOthers) {
  TimingAnalyzer t;
  for (int i = 0; i < 3; ++i) t.add(untimed(data_frame(0x351, 0, {1})));
  can::Frame ext = data_frame(0x351, 0, {1});
  ext.extended = true;
  t.add(untimed(ext));
  const auto r = t.finish(range_sides());
  EXPECT_EQ(r.timing.bms_frames, 3u);
  EXPECT_FALSE(r.timing.bms_period_ms);
  EXPECT_EQ(r.timing.other_ids, (std::vector<std::uint32_t>{0x351 | can::kEffFlag}));
  EXPECT_EQ(r.timing.other_frames, 1u);
}

TEST(TimingAnalyzer, MergedHalvesGiveWhatOnePassGives) {
  const auto frames = timing_frames();
  TimingAnalyzer one;
  for (const auto& f : frames) one.add(f);
  TimingAnalyzer a, b;
  for (const auto& f : first_half(frames)) a.add(f);
  for (const auto& f : second_half(frames)) b.add(f);
  a.merge(std::move(b));
  const auto x = one.finish(range_sides());
  const auto y = a.finish(range_sides());
  EXPECT_EQ(y.timing.bms_ids, x.timing.bms_ids);
  EXPECT_EQ(y.timing.inverter_ids, x.timing.inverter_ids);
  EXPECT_EQ(y.timing.other_ids, x.timing.other_ids);
  EXPECT_EQ(y.timing.bms_frames, x.timing.bms_frames);
  EXPECT_EQ(y.timing.inverter_frames, x.timing.inverter_frames);
  EXPECT_EQ(y.timing.other_frames, x.timing.other_frames);
  EXPECT_EQ(y.timing.bms_period_ms, x.timing.bms_period_ms);
  EXPECT_EQ(y.bursts_seen, x.bursts_seen);
  EXPECT_EQ(y.inventory.frames, x.inventory.frames);
}

// ---------------------------------------------------------------------------------------------
// ACK

TEST(AckAnalyzer, CountsBackToBackRepeatsWithinTwoMilliseconds) {
  AckAnalyzer a;
  const std::int64_t t0 = 10 * kS;
  // 30 copies 60 us apart (1.74 ms in all) -> 29 back-to-back, one run of 29, first at t0+60 us.
  for (std::int64_t i = 0; i < 30; ++i)
    a.add(facts(data_frame(0x351, t0 + i * 60 * kUs, {0x14, 0x02, 0x74, 0x00})));
  const AckEvidence e = a.finish(0, 0);
  EXPECT_EQ(e.back_to_back, 29u);
  EXPECT_EQ(e.longest_repeat_run, 29u);
  EXPECT_EQ(e.repeated_id, 0x351u);
  EXPECT_EQ(e.first_repeat_ns, t0 + 60 * kUs);
  EXPECT_TRUE(e.ack_visible);  // repeats show though nobody else talks
}

TEST(AckAnalyzer, NeedsSameIdSamePayloadAndBothTimedWithinTheWindow) {
  AckAnalyzer a;
  a.add(facts(data_frame(0x351, 0, {1, 2})));
  a.add(facts(data_frame(0x351, 2 * kMs, {1, 2})));            // exactly 2 ms: repeat 1
  a.add(facts(data_frame(0x351, 4 * kMs + 1 * kUs, {1, 2})));  // 2.001 ms later: no
  a.add(facts(data_frame(0x351, 4500 * kUs, {1, 3})));         // other payload: no
  a.add(facts(data_frame(0x355, 5 * kMs, {1, 3})));            // other id: no
  a.add(facts(untimed(data_frame(0x355, 0, {1, 3}))));         // untimed: no
  a.add(facts(data_frame(0x355, 6 * kMs, {1, 3})));            // previous untimed: no
  a.add(facts(data_frame(0x355, 6500 * kUs, {1, 3})));         // repeat 2
  const AckEvidence e = a.finish(0, 5);
  EXPECT_EQ(e.back_to_back, 2u);
  EXPECT_EQ(e.longest_repeat_run, 1u);
  EXPECT_EQ(e.repeated_id, 0x351u);  // the first run of length 1; 0x355's equal run does not win
  EXPECT_EQ(e.first_repeat_ns, 2 * kMs);
}

TEST(AckAnalyzer, NamesTheIdOfTheLongestRun) {
  AckAnalyzer a;
  // 0x351 four times (3 repeats), then 0x355 six times (5 repeats), 100 us apart.
  std::int64_t t = 0;
  for (int i = 0; i < 4; ++i, t += 100 * kUs) a.add(facts(data_frame(0x351, t, {7})));
  for (int i = 0; i < 6; ++i, t += 100 * kUs) a.add(facts(data_frame(0x355, t, {7})));
  const AckEvidence e = a.finish(0, 1);
  EXPECT_EQ(e.back_to_back, 8u);  // 3 + 5
  EXPECT_EQ(e.longest_repeat_run, 5u);
  EXPECT_EQ(e.repeated_id, 0x355u);
  EXPECT_EQ(e.first_repeat_ns, 100 * kUs);  // 0x351's second copy
}

TEST(AckAnalyzer, AckIsInvisibleOnlyWhenOneNodeTalksWithoutRepeatsOrNoAckErrors) {
  AckAnalyzer a;
  a.add(facts(data_frame(0x351, 0, {1})));
  a.add(facts(data_frame(0x355, 1 * kMs, {1})));
  EXPECT_FALSE(a.finish(0, 0).ack_visible);  // BMS only, no repeat, no no-ACK error
  EXPECT_TRUE(a.finish(0, 3).ack_visible);   // the inverter talks
  const AckEvidence e = a.finish(4, 0);      // no-ACK errors seen
  EXPECT_TRUE(e.ack_visible);
  EXPECT_EQ(e.no_ack_errors, 4u);
  EXPECT_EQ(e.back_to_back, 0u);
  EXPECT_FALSE(e.first_repeat_ns);
}

TEST(AckAnalyzer, MergedHalvesCountTheRepeatAcrossTheCut) {
  // 0x356 once, then 0x351 ten times 100 us apart: 9 repeats, the cut (after 5 of 11 frames) falls
  // between two repeated copies, so the pair across it must be counted by merge.
  std::vector<DataFacts> frames;
  frames.push_back(facts(data_frame(0x356, 0, {9})));
  for (std::int64_t i = 1; i <= 10; ++i)
    frames.push_back(facts(data_frame(0x351, i * 100 * kUs, {1})));
  AckAnalyzer one, a, b;
  for (const auto& d : frames) one.add(d);
  for (const auto& d : first_half(frames)) a.add(d);
  for (const auto& d : second_half(frames)) b.add(d);
  a.merge(std::move(b));
  const AckEvidence x = one.finish(0, 0);
  const AckEvidence y = a.finish(0, 0);
  EXPECT_EQ(x.back_to_back, 9u);
  EXPECT_EQ(y.back_to_back, x.back_to_back);
  EXPECT_EQ(y.first_repeat_ns, x.first_repeat_ns);
  EXPECT_EQ(y.first_repeat_ns, 200 * kUs);
  EXPECT_EQ(y.ack_visible, x.ack_visible);
  EXPECT_EQ(y.repeated_id, x.repeated_id);
}

// A run of 29 repeats of 0x351 followed by a run of 4 of 0x355, cut anywhere (also in three
// chunks): the longest run stays 29 of 0x351, as in one pass; the count stays 29 + 4 = 33.
TEST(AckAnalyzer, Issue8RunCutByChunkBoundariesIsJoined) {
  std::vector<DataFacts> frames;
  for (std::int64_t i = 0; i < 30; ++i)
    frames.push_back(facts(data_frame(0x351, i * 100 * kUs, {1})));
  for (std::int64_t i = 0; i < 5; ++i)
    frames.push_back(facts(data_frame(0x355, 10 * kMs + i * 100 * kUs, {2})));
  AckAnalyzer one;
  for (const auto& d : frames) one.add(d);
  const AckEvidence x = one.finish(0, 0);
  ASSERT_EQ(x.longest_repeat_run, 29u);
  ASSERT_EQ(x.back_to_back, 33u);
  for (std::size_t c1 = 1; c1 < frames.size(); ++c1) {
    for (std::size_t c2 : {c1, std::min(frames.size(), c1 + 7)}) {
      AckAnalyzer a, b, c;
      for (std::size_t i = 0; i < frames.size(); ++i) (i < c1 ? a : i < c2 ? b : c).add(frames[i]);
      a.merge(std::move(b));
      a.merge(std::move(c));
      const AckEvidence y = a.finish(0, 0);
      EXPECT_EQ(y.back_to_back, 33u) << c1 << "," << c2;
      EXPECT_EQ(y.longest_repeat_run, 29u) << c1 << "," << c2;
      EXPECT_EQ(y.repeated_id, 0x351u) << c1 << "," << c2;
      EXPECT_EQ(y.first_repeat_ns, x.first_repeat_ns) << c1 << "," << c2;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Bus errors

std::vector<can::Frame> classified_errors() {
  using namespace can::err;
  return {
      untimed(error_frame(kNoAck, {}, 0)),                                        // no-ACK, untimed
      error_frame(kBusOff, {}, 2 * kS),                                           // bus-off
      error_frame(kController, {0, kCtrlTxPassive, 0, 0, 0, 0, 130, 5}, 3 * kS),  // passive
      error_frame(kController, {0, kCtrlRxWarning, 0, 0, 0, 0, 90, 100}, 4 * kS),  // warning
      error_frame(kProtocol | kBusError, {0, 0, kProtStuff, kLocData, 0, 0, 0, 0}, 5 * kS),
      error_frame(kProtocol, {0, 0, kProtOverload, 0, 0, 0, 0, 0}, 6 * kS),  // not bit-level
      error_frame(kCounters, {0, 0, 0, 0, 0, 0, 10, 120}, 7 * kS),           // REC 120
      error_frame(kProtocol, {0, 0, kProtForm | kProtBit0, 0, 0, 0, 0, 0}, 8 * kS),
  };
}

TEST(BusErrorAnalyzer, ClassifiesErrorFramesByWhatTheySay) {
  BusErrorAnalyzer bus;
  for (const auto& f : classified_errors()) bus.add_error(f, f.has_timestamp());
  EXPECT_EQ(bus.no_ack_errors(), 1u);
  const std::map<std::string, std::uint64_t> by_kind = {{"no-ack", 1}, {"bus-off", 1}};
  const BusErrorEvidence e = bus.finish(TimeBins{}, by_kind, false, 0.0, 250000);
  EXPECT_EQ(e.error_frames, 8u);
  EXPECT_EQ(e.bus_off, 1u);
  EXPECT_EQ(e.error_passive, 1u);
  EXPECT_EQ(e.error_warning, 1u);
  // Stuff (frame 5) and form+bit0 (frame 8); the overload-only violation is not bit-level.
  EXPECT_EQ(e.protocol_violations, 2u);
  EXPECT_EQ(e.max_tec, std::optional<std::uint8_t>(130));  // max of 130, 90, 10
  EXPECT_EQ(e.max_rec, std::optional<std::uint8_t>(120));  // max of 5, 100, 120
  EXPECT_EQ(e.first_error_ns, 2 * kS);                     // the untimed no-ACK has no time
  EXPECT_EQ(e.by_kind, by_kind);
  EXPECT_EQ(e.bitrate_bps, 250000u);
  // Untimed: no rate, no load.
  EXPECT_DOUBLE_EQ(e.errors_per_minute, 0.0);
  EXPECT_FALSE(e.peak_errors_per_minute);
  EXPECT_FALSE(e.bus_load);
}

// Two minutes with a data frame every second; 6 errors in the first minute, 2 in the second.
struct TwoMinutes {
  TimeBins bins;
  BusErrorAnalyzer bus;
  TwoMinutes() {
    for (std::int64_t s = 0; s < 120; ++s) bins.add(s * kS + 100 * kMs, 120);
    for (std::int64_t s : {10, 11, 12, 13, 14, 15, 70, 71}) {
      const can::Frame f = error_frame(can::err::kBusError, {}, s * kS + 200 * kMs);
      bus.add_error(f, true);
      TimeBins::add_error(bins.add(f.timestamp_ns, can::wire_bits(f)));
    }
  }
};

TEST(BusErrorAnalyzer, RatesErrorsPerMinuteOverTheTimedSpanWithThePeakMinute) {
  TwoMinutes m;
  // 8 errors over 120 s = 4 per minute; busiest minute (seconds 0-59) holds 6.
  const BusErrorEvidence e = m.bus.finish(m.bins, {}, true, 120.0, 500000);
  EXPECT_DOUBLE_EQ(e.errors_per_minute, 4.0);
  EXPECT_EQ(e.peak_errors_per_minute, std::optional<double>(6.0));
  // Under a minute of capture there is no peak minute; 8 errors in 30 s = 16 per minute.
  const BusErrorEvidence shorter = m.bus.finish(m.bins, {}, true, 30.0, 500000);
  EXPECT_DOUBLE_EQ(shorter.errors_per_minute, 16.0);
  EXPECT_FALSE(shorter.peak_errors_per_minute);
}

TEST(BusErrorAnalyzer, BusLoadUsesTheGivenBitRate) {
  // An 8-byte frame with an 11-bit id: 34 + 64 = 98 stuffed bits, + 98/10 = 9 stuff bits, + 13
  // (CRC delimiter, ACK, EOF, IFS) = 120 bits on the wire.
  const can::Frame f = data_frame(0x351, 500 * kMs, {1, 2, 3, 4, 5, 6, 7, 8});
  ASSERT_EQ(can::wire_bits(f), 120u);
  TimeBins bins;
  bins.add(f.timestamp_ns, can::wire_bits(f));
  const BusErrorAnalyzer bus;
  // One frame in one second: 120 / 250000 = 0.00048 at 250 kbit/s, 120 / 500000 = 0.00024.
  const BusErrorEvidence slow = bus.finish(bins, {}, true, 1.0, 250000);
  const BusErrorEvidence fast = bus.finish(bins, {}, true, 1.0, 500000);
  ASSERT_TRUE(slow.bus_load && fast.bus_load && slow.mean_bus_load && fast.mean_bus_load);
  EXPECT_DOUBLE_EQ(*slow.bus_load, 0.00048);
  EXPECT_DOUBLE_EQ(*fast.bus_load, 0.00024);
  EXPECT_DOUBLE_EQ(*slow.mean_bus_load, 0.00048);
  EXPECT_DOUBLE_EQ(*fast.mean_bus_load, 0.00024);
  EXPECT_EQ(slow.bitrate_bps, 250000u);
  EXPECT_EQ(fast.bitrate_bps, 500000u);
}

TEST(BusErrorAnalyzer, BusLoadIsTheBusiestSecondAndTheMeanOverEverySecond) {
  // An extended 8-byte frame: 54 + 64 = 118, + 11 + 13 = 142 bits; an error frame 6 + 8 + 3 = 17.
  can::Frame ext = data_frame(0x18FF50E5, 0, {1, 2, 3, 4, 5, 6, 7, 8});
  ext.extended = true;
  ASSERT_EQ(can::wire_bits(ext), 142u);
  ASSERT_EQ(can::wire_bits(can::make_error_frame(can::err::kNoAck, {})), 17u);
  TimeBins bins;
  // Second 0: three 120-bit frames (360 bits); second 1 empty; second 2: 142 + 17 = 159 bits.
  for (int i = 0; i < 3; ++i) bins.add(i * 100 * kMs, 120);
  bins.add(2 * kS, 142);
  bins.add(2 * kS + 1 * kMs, 17);
  const BusErrorEvidence e = BusErrorAnalyzer{}.finish(bins, {}, true, 2.0, 500000);
  ASSERT_TRUE(e.bus_load && e.mean_bus_load);
  EXPECT_DOUBLE_EQ(*e.bus_load, 360.0 / 500000.0);
  // (360 + 159) bits over 3 seconds of bins: 173 bits/s.
  EXPECT_DOUBLE_EQ(*e.mean_bus_load, 519.0 / 3.0 / 500000.0);
}

TEST(BusErrorAnalyzer, MergedHalvesGiveWhatOnePassGives) {
  const auto frames = classified_errors();
  BusErrorAnalyzer one, a, b;
  for (const auto& f : frames) one.add_error(f, f.has_timestamp());
  for (const auto& f : first_half(frames)) a.add_error(f, f.has_timestamp());
  for (const auto& f : second_half(frames)) b.add_error(f, f.has_timestamp());
  a.merge(std::move(b));
  EXPECT_EQ(a.no_ack_errors(), one.no_ack_errors());
  TwoMinutes m;
  const BusErrorEvidence x = one.finish(m.bins, {}, true, 120.0, 500000);
  const BusErrorEvidence y = a.finish(m.bins, {}, true, 120.0, 500000);
  EXPECT_EQ(y.error_frames, x.error_frames);
  EXPECT_EQ(y.bus_off, x.bus_off);
  EXPECT_EQ(y.error_passive, x.error_passive);
  EXPECT_EQ(y.error_warning, x.error_warning);
  EXPECT_EQ(y.protocol_violations, x.protocol_violations);
  EXPECT_EQ(y.max_tec, x.max_tec);
  EXPECT_EQ(y.max_rec, x.max_rec);
  EXPECT_EQ(y.first_error_ns, x.first_error_ns);
  EXPECT_DOUBLE_EQ(y.errors_per_minute, x.errors_per_minute);
  EXPECT_EQ(y.bus_load, x.bus_load);
}

// ---------------------------------------------------------------------------------------------
// Id conflicts

// 0x351 at a ~1 s cycle (0-2 ms jitter) from one BMS, and 3 ms after each a second copy with
// another payload from a second BMS; 0x355 once per cycle from one sender; error frames 1 ms after
// the first copy in cycle 2 and 1 ms after the second copy in cycles 5 and 7.
std::vector<can::Frame> conflict_frames(std::int64_t cycles) {
  std::vector<can::Frame> v;
  for (std::int64_t i = 0; i < cycles; ++i) {
    const std::int64_t t = i * kS + (i % 3) * kMs;
    v.push_back(data_frame(0x351, t, {0x14, 0x02, 0x74, 0x00, 0x74, 0x0E, 0xCC, 0x01}));
    if (i == 2) v.push_back(error_frame(can::err::kBusError, {}, t + 1 * kMs));
    v.push_back(data_frame(0x351, t + 3 * kMs, {0x10, 0x02, 0x64, 0x00, 0x64, 0x0E, 0xCC, 0x01}));
    if (i == 5 || i == 7) v.push_back(error_frame(can::err::kBusError, {}, t + 4 * kMs));
    v.push_back(data_frame(0x355, t + 10 * kMs, {0x41, 0x00, 0x63, 0x00}));
  }
  return v;
}

void feed(ConflictAnalyzer& c, const std::vector<can::Frame>& frames) {
  for (const auto& f : frames) {
    if (f.error)
      c.add_error(f.has_timestamp(), f.timestamp_ns);
    else
      c.add(facts(f));
  }
}

TEST(ConflictAnalyzer, FindsAnIdSentTwicePerCycleWithAlternatingPayloads) {
  ConflictAnalyzer c;
  feed(c, conflict_frames(10));
  const auto out = c.finish();
  ASSERT_EQ(out.size(), 1u);  // 0x355 has one frame per cycle: ratio 1, not a conflict
  EXPECT_EQ(out[0].key, 0x351u);
  // 20 frames of 0x351, 10 of them 3 ms after a different payload: 20 / (20 - 10) = 2.0.
  EXPECT_DOUBLE_EQ(out[0].rate_ratio, 2.0);
  // From the third frame on, every payload equals the one two back and not the one before:
  // 18 alternations over 20 - 2 = 18 frames.
  EXPECT_DOUBLE_EQ(out[0].alternation, 1.0);
  EXPECT_EQ(out[0].errors_after, 3u);  // the three placed error frames
}

TEST(ConflictAnalyzer, IgnoresAckRepeatsSingleSendersAndInverterIds) {
  ConflictAnalyzer c;
  for (std::int64_t i = 0; i < 10; ++i) {
    const std::int64_t t = i * kS;
    // Identical retransmissions 200 us apart: the ACK signature, not a second sender.
    for (std::int64_t k = 0; k < 3; ++k) c.add(facts(data_frame(0x351, t + k * 200 * kUs, {1, 2})));
    // One sender with a counter: a new payload every cycle, never twice per cycle.
    c.add(facts(data_frame(0x356, t + 5 * kMs, {static_cast<std::uint8_t>(i), 0})));
    // The conflict pattern on an inverter id (tracked bit >= 40): not reported.
    c.add(facts(data_frame(0x305, t + 500 * kMs, {1})));
    c.add(facts(data_frame(0x305, t + 503 * kMs, {2})));
  }
  // Three frames of the pattern are too few (four needed).
  c.add(facts(data_frame(0x35E, 20 * kS, {1})));
  c.add(facts(data_frame(0x35E, 20 * kS + 3 * kMs, {2})));
  c.add(facts(data_frame(0x35E, 21 * kS, {1})));
  EXPECT_TRUE(c.finish().empty());
}

TEST(ConflictAnalyzer, CountsErrorsOnlyWithinTwoMillisecondsOfTheIdSentJustBefore) {
  ConflictAnalyzer c;
  for (std::int64_t i = 0; i < 4; ++i) {
    const std::int64_t t = i * kS;
    c.add(facts(data_frame(0x351, t, {1})));
    c.add(facts(data_frame(0x351, t + 3 * kMs, {2})));
    if (i == 0) c.add_error(true, t + 4 * kMs);              // 1 ms after: counted
    if (i == 1) c.add_error(true, t + 5 * kMs);              // exactly 2 ms: counted
    if (i == 2) c.add_error(true, t + 5 * kMs + 500 * kUs);  // 2.5 ms: not
    if (i == 3) {
      c.add(facts(data_frame(0x123, t + 3 * kMs + 500 * kUs, {0})));  // untracked id between
      c.add_error(true, t + 4 * kMs + 500 * kUs);                     // follows 0x123: not
      c.add_error(false, 0);                                          // untimed: not
    }
  }
  const auto out = c.finish();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].key, 0x351u);
  EXPECT_DOUBLE_EQ(out[0].rate_ratio, 2.0);  // 8 frames, 4 short intervals
  EXPECT_EQ(out[0].errors_after, 2u);
}

TEST(ConflictAnalyzer, MergedHalvesGiveWhatOnePassGives) {
  const auto frames = conflict_frames(10);
  // Cut at a cycle boundary, after cycle 4: 15 data frames and 1 error frame before it (cycles
  // 0-4), 15 data frames and 2 error frames after it.
  constexpr std::ptrdiff_t cut = 16;
  ASSERT_EQ(frames[static_cast<std::size_t>(cut)].timestamp_ns, 5 * kS + 2 * kMs);
  ConflictAnalyzer one, a, b;
  feed(one, frames);
  feed(a, {frames.begin(), frames.begin() + cut});
  feed(b, {frames.begin() + cut, frames.end()});
  a.merge(std::move(b));
  const auto x = one.finish();
  const auto y = a.finish();
  ASSERT_EQ(x.size(), 1u);
  ASSERT_EQ(y.size(), x.size());
  EXPECT_EQ(y[0].key, x[0].key);
  EXPECT_DOUBLE_EQ(y[0].rate_ratio, x[0].rate_ratio);
  EXPECT_EQ(y[0].errors_after, x[0].errors_after);
  EXPECT_DOUBLE_EQ(y[0].alternation, x[0].alternation);
}

// Every cut, including between the two copies of one cycle and right before an error frame: the
// merge carries the payload history, the interval and the id an error follows across the cut.
// One pass: 20 frames of 0x351, 10 short intervals -> rate 2.0; 18 of the 18 judged frames
// alternate -> 1.0; 3 error frames within 1 ms of 0x351.
TEST(ConflictAnalyzer, Issue8MergeAtEveryCutEqualsOnePass) {
  const auto frames = conflict_frames(10);
  ConflictAnalyzer one;
  feed(one, frames);
  const auto x = one.finish();
  ASSERT_EQ(x.size(), 1u);
  EXPECT_DOUBLE_EQ(x[0].rate_ratio, 2.0);
  EXPECT_DOUBLE_EQ(x[0].alternation, 1.0);
  EXPECT_EQ(x[0].errors_after, 3u);
  for (std::size_t cut = 1; cut < frames.size(); ++cut) {
    ConflictAnalyzer a, b;
    feed(a, {frames.begin(), frames.begin() + static_cast<std::ptrdiff_t>(cut)});
    feed(b, {frames.begin() + static_cast<std::ptrdiff_t>(cut), frames.end()});
    a.merge(std::move(b));
    const auto y = a.finish();
    ASSERT_EQ(y.size(), 1u) << "cut " << cut;
    EXPECT_DOUBLE_EQ(y[0].rate_ratio, 2.0) << "cut " << cut;
    EXPECT_DOUBLE_EQ(y[0].alternation, 1.0) << "cut " << cut;
    EXPECT_EQ(y[0].errors_after, 3u) << "cut " << cut;
  }
}

// The second sender repeats its whole set: 0x351 with other limits (alternating), 0x359 with the
// same payload 3 ms behind the first copy, and an error frame 1 ms behind that copy in cycles 1
// and 4; 0x35E is repeated back to back (200 us, the ACK signature), not by a second sender.
// Doubled: 0x351 (20 frames, 10 second copies: 2.0) and 0x359 (the same); 0x35E's repeats are
// under 1 ms apart, so it is not. Errors behind the doubled ids: the 2 placed ones.
TEST(ConflictAnalyzer, CountsEveryIdOfTheSecondSetAndTheErrorsBehindThem) {
  std::vector<can::Frame> frames;
  for (std::int64_t i = 0; i < 10; ++i) {
    const std::int64_t t = i * kS;
    frames.push_back(data_frame(0x351, t, {0x14, 0x02}));
    frames.push_back(data_frame(0x351, t + 3 * kMs, {0x10, 0x02}));
    frames.push_back(data_frame(0x359, t + 10 * kMs, {0, 0, 0, 0, 4, 0x50, 0x4E}));
    frames.push_back(data_frame(0x359, t + 13 * kMs, {0, 0, 0, 0, 4, 0x50, 0x4E}));
    if (i == 1 || i == 4) frames.push_back(error_frame(can::err::kBusError, {}, t + 14 * kMs));
    frames.push_back(data_frame(0x35E, t + 20 * kMs, {0x50}));
    frames.push_back(data_frame(0x35E, t + 20 * kMs + 200 * kUs, {0x50}));
  }
  ConflictAnalyzer one;
  feed(one, frames);
  const auto x = one.finish();
  ASSERT_EQ(x.size(), 1u);
  EXPECT_EQ(x[0].key, 0x351u);
  EXPECT_EQ(x[0].doubled_ids, (std::vector<std::uint32_t>{0x351, 0x359}));
  EXPECT_EQ(x[0].doubled_errors_after, 2u);
  for (std::size_t cut = 1; cut < frames.size(); ++cut) {
    ConflictAnalyzer a, b;
    feed(a, {frames.begin(), frames.begin() + static_cast<std::ptrdiff_t>(cut)});
    feed(b, {frames.begin() + static_cast<std::ptrdiff_t>(cut), frames.end()});
    a.merge(std::move(b));
    const auto y = a.finish();
    ASSERT_EQ(y.size(), 1u) << "cut " << cut;
    EXPECT_EQ(y[0].doubled_ids, x[0].doubled_ids) << "cut " << cut;
    EXPECT_EQ(y[0].doubled_errors_after, 2u) << "cut " << cut;
  }
}

// ---------------------------------------------------------------------------------------------
// Signals and state

// 0x356 (pack voltage 0.01 V, current 0.1 A, temperature 0.1 degC, all signed little-endian):
//   1 s: 53.20 V (5320 = 0x14C8), -1.0 A (-10 = 0xFFF6), 25.0 degC (250 = 0x00FA)
//   2 s: the same payload again
//   3 s: 52.00 V (5200 = 0x1450), 12.5 A (125 = 0x007D), 24.0 degC (240 = 0x00F0)
//   4 s: 52.50 V (5250 = 0x1482), -3.2 A (-32 = 0xFFE0), 26.5 degC (265 = 0x0109)
// 0x35C (requests): discharge_enable (bit 6) set, charge_enable (bit 7) clear at 1, 2, 3 s, both
//   set at 4 s.
// 0x359: protection_cell_over_voltage (bit 1) at 1.5 and 2.5 s, 4 modules, marker "PN".
std::vector<can::Frame> signal_frames() {
  return {
      data_frame(0x356, 1 * kS, {0xC8, 0x14, 0xF6, 0xFF, 0xFA, 0x00}),
      data_frame(0x35C, 1 * kS + 1 * kMs, {0x40, 0x00}),
      data_frame(0x359, 1500 * kMs, {0x02, 0, 0, 0, 0x04, 'P', 'N'}),
      data_frame(0x356, 2 * kS, {0xC8, 0x14, 0xF6, 0xFF, 0xFA, 0x00}),
      data_frame(0x35C, 2 * kS + 1 * kMs, {0x40, 0x00}),
      data_frame(0x359, 2500 * kMs, {0x02, 0, 0, 0, 0x04, 'P', 'N'}),
      data_frame(0x356, 3 * kS, {0x50, 0x14, 0x7D, 0x00, 0xF0, 0x00}),
      data_frame(0x35C, 3 * kS + 1 * kMs, {0x40, 0x00}),
      data_frame(0x356, 4 * kS, {0x82, 0x14, 0xE0, 0xFF, 0x09, 0x01}),
      data_frame(0x35C, 4 * kS + 1 * kMs, {0xC0, 0x00}),
  };
}

const SignalStats* find_signal(const std::vector<SignalStats>& v, const std::string& name) {
  for (const auto& s : v)
    if (s.name == name) return &s;
  return nullptr;
}

TEST(SignalAnalyzer, KeepsCountMinLastMaxPerSignal) {
  const protocol::Decoder decoder(pylon_db());
  SignalAnalyzer a(&decoder);
  for (const auto& f : signal_frames()) a.add(f, facts(f), nullptr);
  const auto r = a.finish();
  const auto* v = find_signal(r.signals, "pack_voltage");
  const auto* i = find_signal(r.signals, "pack_current");
  const auto* t = find_signal(r.signals, "pack_temperature");
  ASSERT_TRUE(v && i && t);
  EXPECT_EQ(v->count, 4u);  // the repeated payload counts though it is not decoded again
  EXPECT_EQ(v->key, 0x356u);
  EXPECT_EQ(v->unit, "V");
  EXPECT_DOUBLE_EQ(v->min, 52.0);
  EXPECT_DOUBLE_EQ(v->max, 53.2);
  EXPECT_DOUBLE_EQ(v->last, 52.5);
  EXPECT_DOUBLE_EQ(i->min, -3.2);
  EXPECT_DOUBLE_EQ(i->max, 12.5);
  EXPECT_DOUBLE_EQ(i->last, -3.2);
  EXPECT_DOUBLE_EQ(t->min, 24.0);
  EXPECT_DOUBLE_EQ(t->max, 26.5);
  EXPECT_DOUBLE_EQ(t->last, 26.5);
  const auto* marker = find_signal(r.signals, "protocol_marker");
  const auto* modules = find_signal(r.signals, "module_count");
  ASSERT_TRUE(marker && modules);
  EXPECT_EQ(marker->text, "PN");
  EXPECT_EQ(modules->count, 2u);
  EXPECT_DOUBLE_EQ(modules->last, 4.0);
  // Never sent: no entry.
  EXPECT_EQ(find_signal(r.signals, "charge_voltage_limit"), nullptr);
}

TEST(SignalAnalyzer, PutsTheLatestPackReadingsIntoTheSecondBin) {
  const protocol::Decoder decoder(pylon_db());
  SignalAnalyzer a(&decoder);
  SecondBin bin;
  const can::Frame m = data_frame(0x356, 1 * kS, {0xC8, 0x14, 0xF6, 0xFF, 0xFA, 0x00});
  a.add(m, facts(m), &bin);
  EXPECT_FLOAT_EQ(bin.voltage_v, 53.2f);
  EXPECT_FLOAT_EQ(bin.current_a, -1.0f);
  EXPECT_FLOAT_EQ(bin.temperature_c, 25.0f);
  EXPECT_EQ(bin.soc, 0xFF);  // no 0x355 yet
  // 0x355: SOC 0x41 = 65 %, SOH 0x63 = 99 %.
  const can::Frame s = data_frame(0x355, 1 * kS + 1 * kMs, {0x41, 0x00, 0x63, 0x00});
  a.add(s, facts(s), &bin);
  EXPECT_EQ(bin.soc, 65);
}

TEST(SignalAnalyzer, TracksActiveStateFlagsWithFramesAndTimes) {
  const protocol::Decoder decoder(pylon_db());
  SignalAnalyzer a(&decoder);
  for (const auto& f : signal_frames()) a.add(f, facts(f), nullptr);
  const auto r = a.finish();
  ASSERT_EQ(r.state.active.size(), 2u);
  // charge_enable clear (disabled) in the 0x35C frames at 1, 2 and 3 s: 3 frames, most first.
  const auto& ce = r.state.active[0];
  EXPECT_EQ(ce.key, 0x35Cu);
  EXPECT_EQ(ce.signal, "charge_enable");
  EXPECT_EQ(ce.level, StateLevel::kDisabled);
  EXPECT_EQ(ce.frames, 3u);
  EXPECT_EQ(ce.first_ns, 1 * kS + 1 * kMs);
  EXPECT_EQ(ce.last_ns, 3 * kS + 1 * kMs);
  // protection_cell_over_voltage in both 0x359 frames.
  const auto& ov = r.state.active[1];
  EXPECT_EQ(ov.key, 0x359u);
  EXPECT_EQ(ov.signal, "protection_cell_over_voltage");
  EXPECT_EQ(ov.level, StateLevel::kProtection);
  EXPECT_EQ(ov.frames, 2u);
  EXPECT_EQ(ov.first_ns, 1500 * kMs);
  EXPECT_EQ(ov.last_ns, 2500 * kMs);
  // Frames of the messages carrying state: 4 of 0x35C + 2 of 0x359.
  EXPECT_EQ(r.state.state_frames, 6u);
}

TEST(SignalAnalyzer, WithoutADecoderOrForUnknownIdsHasNothing) {
  SignalAnalyzer none(nullptr);
  for (const auto& f : signal_frames()) none.add(f, facts(f), nullptr);
  EXPECT_TRUE(none.finish().signals.empty());
  const protocol::Decoder decoder(pylon_db());
  SignalAnalyzer a(&decoder);
  can::Frame ext = data_frame(0x356, 0, {0xC8, 0x14, 0, 0, 0, 0});
  ext.extended = true;
  a.add(ext, facts(ext), nullptr);
  const can::Frame other = data_frame(0x123, 0, {1});
  a.add(other, facts(other), nullptr);
  const auto r = a.finish();
  EXPECT_TRUE(r.signals.empty());
  EXPECT_TRUE(r.state.active.empty());
}

TEST(SignalAnalyzer, MergedHalvesGiveWhatOnePassGives) {
  const protocol::Decoder decoder(pylon_db());
  const auto frames = signal_frames();
  SignalAnalyzer one(&decoder), a(&decoder), b(&decoder);
  for (const auto& f : frames) one.add(f, facts(f), nullptr);
  for (const auto& f : first_half(frames)) a.add(f, facts(f), nullptr);
  for (const auto& f : second_half(frames)) b.add(f, facts(f), nullptr);
  a.merge(std::move(b));
  const auto x = one.finish();
  const auto y = a.finish();
  ASSERT_EQ(y.signals.size(), x.signals.size());
  for (std::size_t i = 0; i < x.signals.size(); ++i) {
    SCOPED_TRACE(x.signals[i].name);
    EXPECT_EQ(y.signals[i].name, x.signals[i].name);
    EXPECT_EQ(y.signals[i].count, x.signals[i].count);
    EXPECT_DOUBLE_EQ(y.signals[i].min, x.signals[i].min);
    EXPECT_DOUBLE_EQ(y.signals[i].max, x.signals[i].max);
    EXPECT_DOUBLE_EQ(y.signals[i].last, x.signals[i].last);
    EXPECT_EQ(y.signals[i].text, x.signals[i].text);
  }
  ASSERT_EQ(y.state.active.size(), x.state.active.size());
  for (std::size_t i = 0; i < x.state.active.size(); ++i) {
    EXPECT_EQ(y.state.active[i].signal, x.state.active[i].signal);
    EXPECT_EQ(y.state.active[i].frames, x.state.active[i].frames);
    EXPECT_EQ(y.state.active[i].first_ns, x.state.active[i].first_ns);
    EXPECT_EQ(y.state.active[i].last_ns, x.state.active[i].last_ns);
  }
  EXPECT_EQ(y.state.state_frames, x.state.state_frames);
}

// ---------------------------------------------------------------------------------------------
// Gaps and uptime

constexpr std::int64_t kTimeout = 3 * kS;

// 0x351 at 1..5 s, 10, 11, 12, 15 and 16 s.
std::vector<can::Frame> limits_with_gaps() {
  std::vector<can::Frame> v;
  for (std::int64_t s : {1, 2, 3, 4, 5, 10, 11, 12, 15, 16})
    v.push_back(data_frame(0x351, s * kS, {0x14, 0x02}));
  return v;
}

void feed(UptimeAnalyzer& u, const std::vector<can::Frame>& frames) {
  for (const auto& f : frames) u.add(facts(f), f.id == PlausibilityAnalyzer::kLimitsId);
}

TEST(UptimeAnalyzer, CountsSilencesLongerThanTheTimeoutAsDropouts) {
  UptimeAnalyzer u(kTimeout);
  feed(u, limits_with_gaps());
  const UptimeEvidence e = u.finish(Inventory{}, TimeBins{}, {}, true);
  // 5 s -> 10 s is 5 s > 3 s: a dropout; 12 s -> 15 s is exactly 3 s: not.
  EXPECT_EQ(e.dropout_stream, "0x351");
  EXPECT_EQ(e.dropout_count, 1u);
  ASSERT_EQ(e.dropouts.size(), 1u);
  EXPECT_EQ(e.dropouts[0].start_ns, 5 * kS);
  EXPECT_EQ(e.dropouts[0].length_ns, 5 * kS);
  EXPECT_EQ(e.longest_outage_ns, 5 * kS);
  EXPECT_EQ(e.timeout_ns, kTimeout);
  EXPECT_FALSE(e.open_silence);
}

TEST(UptimeAnalyzer, MeasuresTheLimitsFrameThoughOtherBmsFramesContinue) {
  UptimeAnalyzer u(kTimeout);
  std::vector<can::Frame> v;
  for (std::int64_t s = 0; s <= 10; ++s) {
    v.push_back(data_frame(0x355, s * kS, {0x41, 0}));
    if (s <= 3 || s >= 8) v.push_back(data_frame(0x351, s * kS + 1 * kMs, {0x14, 0x02}));
  }
  feed(u, v);
  const UptimeEvidence e = u.finish(Inventory{}, TimeBins{}, {}, true);
  // 0x351 silent from 3.001 s to 8.001 s: 5 s.
  EXPECT_EQ(e.dropout_stream, "0x351");
  EXPECT_EQ(e.dropout_count, 1u);
  ASSERT_EQ(e.dropouts.size(), 1u);
  EXPECT_EQ(e.dropouts[0].start_ns, 3 * kS + 1 * kMs);
  EXPECT_EQ(e.dropouts[0].length_ns, 5 * kS);
}

TEST(UptimeAnalyzer, FallsBackToAllBmsFramesWithoutTheLimitsFrame) {
  UptimeAnalyzer u(kTimeout);
  // BMS frames at 0, 1, 2 s and 6 s; the inverter's 0x305 at 4 s does not end the BMS's silence.
  feed(u,
       {data_frame(0x355, 0, {1}), data_frame(0x356, 1 * kS, {1}), data_frame(0x355, 2 * kS, {1}),
        data_frame(0x305, 4 * kS, {0}), data_frame(0x356, 6 * kS, {1})});
  const UptimeEvidence e = u.finish(Inventory{}, TimeBins{}, {}, true);
  EXPECT_EQ(e.dropout_stream, "BMS frames");
  EXPECT_EQ(e.dropout_count, 1u);
  ASSERT_EQ(e.dropouts.size(), 1u);
  EXPECT_EQ(e.dropouts[0].start_ns, 2 * kS);
  EXPECT_EQ(e.dropouts[0].length_ns, 4 * kS);
}

TEST(UptimeAnalyzer, TickReportsTheOpenSilenceAndCountsItOverTheTimeout) {
  UptimeAnalyzer u(kTimeout);
  EXPECT_EQ(u.tick(1 * kS), 0);  // nothing heard yet
  feed(u,
       {data_frame(0x351, 0, {1}), data_frame(0x351, 1 * kS, {1}), data_frame(0x351, 2 * kS, {1})});
  EXPECT_EQ(u.tick(4500 * kMs), 2500 * kMs);  // silent since 2 s
  EXPECT_EQ(u.tick(6 * kS), 4 * kS);
  EXPECT_EQ(u.tick(5 * kS), 4 * kS);  // the clock never runs back
  const UptimeEvidence e = u.finish(Inventory{}, TimeBins{}, {}, true);
  // The silence from 2 s to the 6 s tick is 4 s > 3 s: a dropout no frame has ended.
  ASSERT_TRUE(e.open_silence);
  EXPECT_EQ(e.open_silence->start_ns, 2 * kS);
  EXPECT_EQ(e.open_silence->length_ns, 4 * kS);
  EXPECT_EQ(e.dropout_count, 1u);
  ASSERT_EQ(e.dropouts.size(), 1u);
  EXPECT_EQ(e.dropouts[0].length_ns, 4 * kS);
  EXPECT_EQ(e.longest_outage_ns, 4 * kS);
}

TEST(UptimeAnalyzer, AnOpenSilenceWithinTheTimeoutIsNoDropout) {
  UptimeAnalyzer u(kTimeout);
  feed(u,
       {data_frame(0x351, 0, {1}), data_frame(0x351, 1 * kS, {1}), data_frame(0x351, 2 * kS, {1})});
  EXPECT_EQ(u.tick(4500 * kMs), 2500 * kMs);
  const UptimeEvidence e = u.finish(Inventory{}, TimeBins{}, {}, true);
  ASSERT_TRUE(e.open_silence);
  EXPECT_EQ(e.open_silence->length_ns, 2500 * kMs);
  EXPECT_EQ(e.dropout_count, 0u);
  EXPECT_TRUE(e.dropouts.empty());
  EXPECT_EQ(e.longest_outage_ns, 2500 * kMs);  // longer than the 1 s gaps between frames
}

// Ten seconds: 0x351 in every one, 0x355 in seconds 0-4 only.
TimeBins presence_bins() {
  TimeBins bins;
  for (std::int64_t s = 0; s < 10; ++s) {
    SecondBin& b = bin_at(bins, s * kS + 100 * kMs, 120);
    b.id_mask |= std::uint64_t{1} << tracked_id_bit(0x351, false);
    if (s < 5) b.id_mask |= std::uint64_t{1} << tracked_id_bit(0x355, false);
  }
  return bins;
}

TEST(UptimeAnalyzer, SharesSecondsWithTheCompleteSetLookingBackOneSecond) {
  const UptimeAnalyzer u(kTimeout);
  const UptimeEvidence e = u.finish(Inventory{}, presence_bins(), {0x355, 0x351}, true);
  EXPECT_EQ(e.set, (std::vector<std::uint32_t>{0x351, 0x355}));
  // Seconds 0-4 hold both; second 5 sees 0x355 in second 4; seconds 6-9 miss it: 6 of 10.
  EXPECT_EQ(e.seconds, 10u);
  EXPECT_EQ(e.complete_seconds, 6u);
  ASSERT_TRUE(e.share);
  EXPECT_DOUBLE_EQ(*e.share, 0.6);
  // Untimed: no share.
  EXPECT_FALSE(u.finish(Inventory{}, presence_bins(), {0x351}, false).share);
}

TEST(UptimeAnalyzer, WithoutRequiredIdsTakesBmsIdsRepeatingAtLeastEvery1500Ms) {
  InventoryBuilder ib;
  for (std::int64_t s = 0; s < 10; ++s) {
    ib.add(data_frame(0x351, s * kS, {1}));
    if (s < 5) ib.add(data_frame(0x355, s * kS + 1 * kMs, {1}));
    if (s % 2 == 0) ib.add(data_frame(0x356, s * kS + 2 * kMs, {1}));  // every 2 s: too slow
    if (s < 2) ib.add(data_frame(0x370, s * kS + 3 * kMs, {1}));       // 2 frames: too few
  }
  const UptimeEvidence e = UptimeAnalyzer(kTimeout).finish(ib.finish(), presence_bins(), {}, true);
  EXPECT_EQ(e.set, (std::vector<std::uint32_t>{0x351, 0x355}));
  EXPECT_EQ(e.complete_seconds, 6u);
}

TEST(UptimeAnalyzer, MergedHalvesGiveWhatOnePassGives) {
  // The halves are 1..5 s and 10..16 s: the 5 s dropout starts in the first and ends in the second;
  // a tick at 20 s leaves the 4 s silence since 16 s open.
  const auto frames = limits_with_gaps();
  UptimeAnalyzer one(kTimeout), a(kTimeout), b(kTimeout);
  feed(one, frames);
  feed(a, first_half(frames));
  feed(b, second_half(frames));
  EXPECT_EQ(one.tick(20 * kS), 4 * kS);
  EXPECT_EQ(b.tick(20 * kS), 4 * kS);
  a.merge(std::move(b));
  const UptimeEvidence x = one.finish(Inventory{}, TimeBins{}, {}, true);
  const UptimeEvidence y = a.finish(Inventory{}, TimeBins{}, {}, true);
  // 5 -> 10 s (5 s) and the open 16 -> 20 s silence (4 s): 2 dropouts, the longest 5 s.
  EXPECT_EQ(x.dropout_count, 2u);
  EXPECT_EQ(x.longest_outage_ns, 5 * kS);
  EXPECT_EQ(y.dropout_count, x.dropout_count);
  ASSERT_EQ(y.dropouts.size(), x.dropouts.size());
  for (std::size_t i = 0; i < x.dropouts.size(); ++i) {
    EXPECT_EQ(y.dropouts[i].start_ns, x.dropouts[i].start_ns);
    EXPECT_EQ(y.dropouts[i].length_ns, x.dropouts[i].length_ns);
  }
  EXPECT_EQ(y.longest_outage_ns, x.longest_outage_ns);
  EXPECT_EQ(y.dropout_stream, x.dropout_stream);
  ASSERT_TRUE(x.open_silence && y.open_silence);
  EXPECT_EQ(y.open_silence->start_ns, x.open_silence->start_ns);
  EXPECT_EQ(y.open_silence->length_ns, x.open_silence->length_ns);
}

// ---------------------------------------------------------------------------------------------
// Time bins and correlation

TEST(TimeBins, CountsFramesAndWireBitsPerSecond) {
  TimeBins bins;
  bins.add(200 * kMs, 120);
  bins.add(900 * kMs, 120);
  bins.add(1000 * kMs, 17);
  bins.add(3500 * kMs, 142);
  // Seconds 0..3: 2, 1, 0, 1 frames; 240, 17, 0, 142 bits.
  ASSERT_EQ(bins.bins().size(), 4u);
  EXPECT_EQ(bins.base_second(), std::optional<std::int64_t>(0));
  EXPECT_EQ(bins.bins()[0].frames, 2u);
  EXPECT_EQ(bins.bins()[0].bits, 240u);
  EXPECT_EQ(bins.bins()[1].frames, 1u);
  EXPECT_EQ(bins.bins()[1].bits, 17u);
  EXPECT_EQ(bins.bins()[2].frames, 0u);
  EXPECT_EQ(bins.bins()[3].bits, 142u);
  // An earlier frame at -1.5 s lands in second -2: two bins grow at the front.
  bins.add(-1500 * kMs, 120);
  ASSERT_EQ(bins.bins().size(), 6u);
  EXPECT_EQ(bins.base_second(), std::optional<std::int64_t>(-2));
  EXPECT_EQ(bins.bins()[0].frames, 1u);
  EXPECT_EQ(bins.bins()[2].frames, 2u);  // second 0
  EXPECT_EQ(bins.unbinned(), 0u);
}

TEST(TimeBins, DropsFramesBeyondTheCapAndCountsThem) {
  TimeBins bins;
  bins.add(0, 120);
  const auto cap = static_cast<std::int64_t>(TimeBins::kMaxSeconds);
  EXPECT_EQ(bins.add(cap * kS, 120), nullptr);  // index kMaxSeconds: one past the last
  EXPECT_EQ(bins.unbinned(), 1u);
  EXPECT_EQ(bins.bins().size(), 1u);
  TimeBins::add_error(nullptr);  // harmless
}

// Ten minutes, a frame every second; pack temperature 10 + minute degC, current 5 A throughout;
// 5 errors in second 30 and 5 in second 90 (minutes 0 and 1, at 10 and 11 degC).
TimeBins cold_start_bins() {
  TimeBins bins;
  for (std::int64_t s = 0; s < 600; ++s) {
    SecondBin& b = bin_at(bins, s * kS, 120);
    b.temperature_c = static_cast<float>(10 + s / 60);
    b.current_a = 5.0f;
    if (s == 30 || s == 90)
      for (int k = 0; k < 5; ++k) TimeBins::add_error(&b);
  }
  return bins;
}

TEST(TimeBins, FinishBuildsMinutesAndTheColdBand) {
  const auto series = cold_start_bins().finish(false, 10);
  ASSERT_EQ(series.minutes.size(), 10u);
  EXPECT_EQ(series.minute_width_s, 60u);
  EXPECT_EQ(series.minutes[0].frames, 60u);
  EXPECT_EQ(series.minutes[0].errors, 5u);
  EXPECT_EQ(series.minutes[2].errors, 0u);
  EXPECT_EQ(series.minutes[9].start_ns, 540 * kS);
  EXPECT_EQ(series.minutes[9].temperature_c, std::optional<double>(19.0));
  const auto& c = series.correlation;
  EXPECT_EQ(c.binned_minutes, 10u);
  EXPECT_DOUBLE_EQ(c.hours_covered, 600.0 / 3600.0);
  // All 10 errors in the 2 coldest minutes (10 and 11 degC) of 10.
  ASSERT_TRUE(c.temperature_band);
  EXPECT_TRUE(c.temperature_band->open_low);
  EXPECT_FALSE(c.temperature_band->open_high);
  EXPECT_DOUBLE_EQ(c.temperature_band->lo, 10.0);
  EXPECT_DOUBLE_EQ(c.temperature_band->hi, 11.0);
  EXPECT_DOUBLE_EQ(c.temperature_band->error_share, 1.0);
  EXPECT_DOUBLE_EQ(c.temperature_band->time_share, 0.2);
  EXPECT_EQ(c.temperature_band->errors, 10u);
  EXPECT_EQ(c.temperature_band->minutes, 2u);
  // Spearman: temperature ranks 1..10; error ranks 9.5, 9.5 and 4.5 for the eight zeros.
  // Sxy = -4.5*4 - 3.5*4 - 8*1 = -40, Sxx = 82.5, Syy = 2*16 + 8*1 = 40: rho = -40/sqrt(3300).
  ASSERT_TRUE(c.rho_temperature);
  EXPECT_NEAR(*c.rho_temperature, -40.0 / std::sqrt(3300.0), 1e-12);
  // Quarters of 10 minutes are 2 minutes: top (18, 19 degC) 0 errors, bottom 10: 1 / 11.
  ASSERT_TRUE(c.temperature_rate_ratio);
  EXPECT_DOUBLE_EQ(*c.temperature_rate_ratio, 1.0 / 11.0);
  // A constant current explains nothing: no rank correlation, no band.
  EXPECT_FALSE(c.rho_current);
  EXPECT_FALSE(c.current_band);
  // |current| 5 A in band 5 of width max(1, 5/8) = 1 A: centre 5.5 A, 10 errors / 10 minutes.
  ASSERT_EQ(c.rate_by_current.size(), 1u);
  EXPECT_DOUBLE_EQ(c.rate_by_current[0].first, 5.5);
  EXPECT_DOUBLE_EQ(c.rate_by_current[0].second, 1.0);
  // Relative time: hours of day mean nothing.
  EXPECT_FALSE(c.hour_band);
  EXPECT_TRUE(c.errors_by_hour.empty());
}

TEST(TimeBins, FindsTheBusiestThreeHoursOnAbsoluteTime) {
  // One UTC day from midnight, a frame at the start of every minute; one error in each minute from
  // 06:00 to 08:59 (180) and one in each of 12:00-12:19 (20).
  const std::int64_t midnight = 19675LL * 86400;  // 2023-11-14 00:00 UTC
  TimeBins bins;
  for (std::int64_t m = 0; m < 1440; ++m) {
    SecondBin* b = bins.add((midnight + m * 60) * kS, 120);
    if ((m >= 360 && m < 540) || (m >= 720 && m < 740)) TimeBins::add_error(b);
  }
  const auto c = bins.finish(true, 200).correlation;
  ASSERT_TRUE(c.busiest_hour && c.hour_concentration && c.hour_band);
  EXPECT_EQ(*c.busiest_hour, 6);
  EXPECT_DOUBLE_EQ(*c.hour_concentration, 0.9);  // 180 of 200
  EXPECT_DOUBLE_EQ(c.hour_band->lo, 6.0);
  EXPECT_DOUBLE_EQ(c.hour_band->hi, 9.0);
  EXPECT_EQ(c.hour_band->errors, 180u);
  EXPECT_EQ(c.hour_band->minutes, 180u);
  EXPECT_DOUBLE_EQ(c.hour_band->time_share, 0.125);  // 180 of 1440 minutes
  ASSERT_EQ(c.errors_by_hour.size(), 24u);
  EXPECT_DOUBLE_EQ(c.errors_by_hour[7], 60.0);
  EXPECT_DOUBLE_EQ(c.errors_by_hour[12], 20.0);
}

TEST(BestErrorBand, ErrorsBelowAThresholdGiveAnOpenLowBand) {
  // 20 minutes: five cold ones (2..6 degC) with 4 errors each, fifteen at 10..24 degC without.
  // Given out of order: the band is found in key order.
  std::vector<double> key, err;
  for (int i = 0; i < 15; ++i) key.push_back(24.0 - i), err.push_back(0.0);
  for (double t : {4.0, 2.0, 6.0, 3.0, 5.0}) key.push_back(t), err.push_back(4.0);
  const auto band = best_error_band(key, err);
  ASSERT_TRUE(band);
  // 20 of 20 errors in 5 of 20 minutes: error_share 1.0, time_share 0.25, excess 0.75.
  EXPECT_TRUE(band->open_low);
  EXPECT_FALSE(band->open_high);
  EXPECT_DOUBLE_EQ(band->lo, 2.0);
  EXPECT_DOUBLE_EQ(band->hi, 6.0);
  EXPECT_DOUBLE_EQ(band->error_share, 1.0);
  EXPECT_DOUBLE_EQ(band->time_share, 0.25);
  EXPECT_DOUBLE_EQ(band->excess(), 0.75);
  EXPECT_EQ(band->errors, 20u);
  EXPECT_EQ(band->minutes, 5u);
}

TEST(BestErrorBand, FindsAMiddleBandOpenOnNeitherSide) {
  // Keys 0..19; 3 errors at each of keys 8..11: 12 of 12 errors in 4 of 20 minutes.
  std::vector<double> key, err;
  for (int i = 0; i < 20; ++i) key.push_back(i), err.push_back(i >= 8 && i <= 11 ? 3.0 : 0.0);
  const auto band = best_error_band(key, err);
  ASSERT_TRUE(band);
  EXPECT_FALSE(band->open_low);
  EXPECT_FALSE(band->open_high);
  EXPECT_DOUBLE_EQ(band->lo, 8.0);
  EXPECT_DOUBLE_EQ(band->hi, 11.0);
  EXPECT_DOUBLE_EQ(band->error_share, 1.0);
  EXPECT_DOUBLE_EQ(band->time_share, 0.2);
}

TEST(BestErrorBand, NeverSplitsMinutesWithTheSameReading) {
  // Four minutes at 1 degC (errors 3, 3, 0, 0) and four at 2 degC (none): the band is all four
  // 1 degC minutes, 6 of 6 errors in 4 of 8 minutes, not the two with errors.
  const auto band = best_error_band({1, 1, 1, 1, 2, 2, 2, 2}, {3, 3, 0, 0, 0, 0, 0, 0});
  ASSERT_TRUE(band);
  EXPECT_DOUBLE_EQ(band->lo, 1.0);
  EXPECT_DOUBLE_EQ(band->hi, 1.0);
  EXPECT_EQ(band->minutes, 4u);
  EXPECT_DOUBLE_EQ(band->error_share, 1.0);
  EXPECT_DOUBLE_EQ(band->time_share, 0.5);
}

TEST(BestErrorBand, NeedsEightMinutesAndSomeErrors) {
  EXPECT_FALSE(best_error_band({1, 2, 3, 4, 5, 6, 7}, {1, 0, 0, 0, 0, 0, 0}));
  EXPECT_FALSE(best_error_band({1, 2, 3, 4, 5, 6, 7, 8}, {0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_TRUE(best_error_band({1, 2, 3, 4, 5, 6, 7, 8}, {1, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(QuartileRatio, ComparesTheTopAndBottomQuartersWithOneAdded) {
  // Keys 1..8 (given backwards), quarters of 2: bottom (1, 2) has 0 + 1 errors, top (7, 8) has
  // 3 + 4: (7 + 1) / (1 + 1) = 4.
  const auto r = quartile_ratio({8, 7, 6, 5, 4, 3, 2, 1}, {4, 3, 9, 9, 9, 9, 1, 0});
  ASSERT_TRUE(r);
  EXPECT_DOUBLE_EQ(*r, 4.0);
  EXPECT_FALSE(quartile_ratio({1, 2, 3, 4, 5, 6, 7}, {0, 0, 0, 0, 0, 0, 1}));
}

void expect_same_bins(const TimeBins& x, const TimeBins& y) {
  ASSERT_EQ(x.base_second(), y.base_second());
  ASSERT_EQ(x.bins().size(), y.bins().size());
  for (std::size_t i = 0; i < x.bins().size(); ++i) {
    SCOPED_TRACE(i);
    const auto& a = x.bins()[i];
    const auto& b = y.bins()[i];
    EXPECT_EQ(a.frames, b.frames);
    EXPECT_EQ(a.bits, b.bits);
    EXPECT_EQ(a.errors, b.errors);
    EXPECT_EQ(a.id_mask, b.id_mask);
    EXPECT_FLOAT_EQ(a.temperature_c, b.temperature_c);
    EXPECT_FLOAT_EQ(a.current_a, b.current_a);
  }
}

TEST(TimeBins, MergedHalvesGiveWhatOnePassGivesInEitherOrder) {
  // The cold-start day as frames: seconds 0..299 in one half, 300..599 in the other.
  auto fill = [](TimeBins& bins, std::int64_t from, std::int64_t to) {
    for (std::int64_t s = from; s < to; ++s) {
      SecondBin& b = bin_at(bins, s * kS, 120);
      b.temperature_c = static_cast<float>(10 + s / 60);
      b.current_a = 5.0f;
      b.id_mask |= std::uint64_t{1} << (s % 7);
      if (s == 30 || s == 90 || s == 400)
        for (int k = 0; k < 5; ++k) TimeBins::add_error(&b);
    }
  };
  TimeBins one, a, b;
  fill(one, 0, 600);
  fill(a, 0, 300);
  fill(b, 300, 600);
  TimeBins a2 = a, b2 = b;
  a.merge(std::move(b));
  expect_same_bins(one, a);
  // The later chunk merged first: it grows at the front.
  b2.merge(std::move(a2));
  expect_same_bins(one, b2);
  const auto x = one.finish(false, 15).correlation;
  const auto y = b2.finish(false, 15).correlation;
  EXPECT_EQ(y.binned_minutes, x.binned_minutes);
  ASSERT_TRUE(x.temperature_band && y.temperature_band);
  EXPECT_DOUBLE_EQ(y.temperature_band->excess(), x.temperature_band->excess());
}

// ---------------------------------------------------------------------------------------------
// Plausibility

const protocol::DeviceLimits& pylon_limits() {
  static const protocol::DeviceLimits limits = protocol::device_limits(pylon_db());
  return limits;
}

const Inventory& full_set() {
  static const Inventory inv = inventory_with({0x351, 0x355, 0x356, 0x359, 0x35C});
  return inv;
}

TEST(PlausibilityAnalyzer, PylonDefinitionGivesItsVoltageRangeAndRequiredFrames) {
  const auto& l = pylon_limits();
  EXPECT_EQ(l.pack_voltage_min_v, std::optional<double>(8.0));
  EXPECT_EQ(l.pack_voltage_max_v, std::optional<double>(70.0));
  EXPECT_EQ(l.required_ids, (std::vector<std::uint32_t>{0x351, 0x355, 0x356, 0x359, 0x35C}));
}

TEST(PlausibilityAnalyzer, ValuesPlausibleOnlyBigEndianAreAByteOrderIssue) {
  PlausibilityAnalyzer p;
  // Big-endian: charge limit 532 (0x0214) = 53.2 V, 37.0 A twice (0x0172), discharge limit 460
  // (0x01CC) = 46.0 V; pack 5320 (0x14C8) = 53.20 V. Read little-endian: 0x1402 = 512.2 V and
  // 0xC814 = -143.16 V, outside 8..70 V; read big-endian all in range and 53.2 / 53.2 = 1.
  p.add(data_frame(0x351, 0, {0x02, 0x14, 0x01, 0x72, 0x01, 0x72, 0x01, 0xCC}));
  p.add(data_frame(0x356, 1 * kMs, {0x14, 0xC8, 0x00, 0x00, 0x00, 0xFA}));
  const auto out = p.finish(&pylon_limits(), {}, full_set(), 5);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, PlausibilityKind::kEndianness);
  EXPECT_EQ(out[0].subject, "0x351");
  EXPECT_TRUE(out[0].severe);
  EXPECT_NE(out[0].detail.find("512.2 V"), std::string::npos) << out[0].detail;
  EXPECT_NE(out[0].detail.find("53.2 V"), std::string::npos) << out[0].detail;
}

TEST(PlausibilityAnalyzer, PackVoltageAtTheWrongScaleIsAScalingIssue) {
  PlausibilityAnalyzer p;
  // Limits right (53.2 V, 37.0 A, 37.0 A, 46.0 V little-endian), pack voltage sent in 0.1 V:
  // 532 reads 5.32 V at 0.01 V, below 8 V; x10 gives 53.2 V, consistent with the limit.
  p.add(data_frame(0x351, 0, {0x14, 0x02, 0x72, 0x01, 0x72, 0x01, 0xCC, 0x01}));
  p.add(data_frame(0x356, 1 * kMs, {0x14, 0x02, 0x00, 0x00, 0xFA, 0x00}));
  // A negative discharge limit would be invalid, but a byte order or scale issue comes first.
  SignalStats dcl;
  dcl.name = "discharge_current_limit";
  dcl.count = 1;
  dcl.min = -10;
  const auto out = p.finish(&pylon_limits(), {dcl}, full_set(), 5);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, PlausibilityKind::kScaling);
  EXPECT_EQ(out[0].subject, "0x351/0x356");
  EXPECT_NE(out[0].detail.find("pack_voltage reads 5.32 V"), std::string::npos) << out[0].detail;
}

TEST(PlausibilityAnalyzer, FlagsInvalidDecodedValues) {
  const PlausibilityAnalyzer p;
  auto stat = [](const char* name, double min, double max, double last) {
    SignalStats s;
    s.name = name;
    s.count = 3;
    s.min = min;
    s.max = max;
    s.last = last;
    return s;
  };
  const std::vector<SignalStats> signals = {
      stat("charge_voltage_limit", 46.0, 46.0, 46.0),      // not above the 48 V discharge limit
      stat("discharge_current_limit", -10.0, 37.0, 37.0),  // negative
      stat("discharge_voltage_limit", 48.0, 48.0, 48.0),
      stat("soc", 50.0, 101.0, 99.0),              // above 100 %
      stat("pack_temperature", 20.0, 95.0, 30.0),  // above 90 degC: mild
  };
  const auto out = p.finish(&pylon_limits(), signals, full_set(), 5);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].subject, "discharge_current_limit");
  EXPECT_EQ(out[1].subject, "charge_voltage_limit");
  EXPECT_EQ(out[2].subject, "soc");
  EXPECT_EQ(out[3].subject, "pack_temperature");
  for (const auto& i : out) EXPECT_EQ(i.kind, PlausibilityKind::kInvalid);
  EXPECT_TRUE(out[0].severe && out[1].severe && out[2].severe);
  EXPECT_FALSE(out[3].severe);
  // Without a protocol definition nothing is judged.
  EXPECT_TRUE(p.finish(nullptr, signals, full_set(), 5).empty());
}

TEST(PlausibilityAnalyzer, NamesRequiredFramesNeverSeenSevereFromTwoCycles) {
  const PlausibilityAnalyzer p;
  const Inventory inv = inventory_with({0x351, 0x355, 0x356});
  const auto out = p.finish(&pylon_limits(), {}, inv, 5);
  // Required 0x351, 0x355, 0x356, 0x359, 0x35C: the last two missing.
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].kind, PlausibilityKind::kMissing);
  EXPECT_EQ(out[0].subject, "0x359");
  EXPECT_EQ(out[0].detail, "0x359 never seen in 5 BMS cycles");
  EXPECT_TRUE(out[0].severe);
  EXPECT_EQ(out[1].subject, "0x35C");
  // One cycle could be a partial excerpt: not severe.
  const auto once = p.finish(&pylon_limits(), {}, inv, 1);
  ASSERT_EQ(once.size(), 2u);
  EXPECT_FALSE(once[0].severe);
}

TEST(PlausibilityAnalyzer, MergedHalvesJudgeTheLastPayloadOfEachFrame) {
  // First half: 0x351 little-endian (plausible) and 0x356 big-endian; second half: 0x351
  // big-endian. One pass judges the last of each, both big-endian: a byte order issue.
  const std::vector<can::Frame> frames = {
      data_frame(0x351, 0, {0x14, 0x02, 0x72, 0x01, 0x72, 0x01, 0xCC, 0x01}),
      data_frame(0x356, 1 * kMs, {0x14, 0xC8, 0x00, 0x00, 0x00, 0xFA}),
      data_frame(0x351, 1 * kS, {0x02, 0x14, 0x01, 0x72, 0x01, 0x72, 0x01, 0xCC}),
      data_frame(0x355, 1 * kS + 1 * kMs, {0x41, 0x00, 0x63, 0x00}),
  };
  PlausibilityAnalyzer one, a, b;
  for (const auto& f : frames) one.add(f);
  for (const auto& f : first_half(frames)) a.add(f);
  for (const auto& f : second_half(frames)) b.add(f);
  a.merge(std::move(b));
  const auto x = one.finish(&pylon_limits(), {}, full_set(), 5);
  const auto y = a.finish(&pylon_limits(), {}, full_set(), 5);
  ASSERT_EQ(x.size(), 1u);
  EXPECT_EQ(x[0].kind, PlausibilityKind::kEndianness);
  ASSERT_EQ(y.size(), x.size());
  EXPECT_EQ(y[0].kind, x[0].kind);
  EXPECT_EQ(y[0].subject, x[0].subject);
  EXPECT_EQ(y[0].detail, x[0].detail);
}

}  // namespace
}  // namespace bmslink::analysis::detail
