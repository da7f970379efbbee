// The live monitor's alarms by the clock, on frames built here: each is raised when its condition
// starts to hold (not when the next frame comes) and cleared when it ends.
#include "bmslink/live/monitor.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "bmslink/protocol/dbc.h"

namespace bmslink::live {
namespace {

constexpr std::int64_t kS = 1'000'000'000;

can::Frame frame(std::uint32_t id, std::int64_t t) {
  can::Frame f;
  f.id = id;
  f.len = 8;
  f.timestamp_ns = t;
  f.time_kind = TimeKind::kAbsolute;
  return f;
}

std::vector<std::string> names(const std::vector<MonitorEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.name());
  return out;
}

TEST(Monitor, BmsSilenceIsRaisedByTheClockAndClearedByTheNextFrame) {
  LinkMonitor m;  // timeout 3 s
  for (int s = 0; s < 5; ++s) m.add(frame(0x351, s * kS));
  // Last frame at 4 s: at 7.0 s the silence is exactly the timeout, not longer.
  EXPECT_TRUE(m.tick(7 * kS).empty());
  const auto raised = m.tick(7 * kS + 100'000'000);
  ASSERT_EQ(names(raised), std::vector<std::string>{"bms_silent"});
  EXPECT_EQ(raised[0].t_ns, 7 * kS + 100'000'000);
  EXPECT_TRUE(m.tick(8 * kS).empty()) << "raised once";
  EXPECT_EQ(names(m.add(frame(0x355, 9 * kS))), std::vector<std::string>{"bms_silent_cleared"});
  EXPECT_TRUE(m.active().empty());
}

TEST(Monitor, HeartbeatLostOnlyAfterAHeartbeatWasHeard) {
  LinkMonitor m;
  m.add(frame(0x351, 0));
  EXPECT_TRUE(names(m.tick(2 * kS)).empty());
  m.add(frame(0x351, 2 * kS));
  m.add(frame(0x305, 2 * kS));
  m.add(frame(0x351, 4 * kS));
  EXPECT_EQ(names(m.tick(5 * kS + 1)), std::vector<std::string>{"heartbeat_lost"});
  EXPECT_EQ(names(m.add(frame(0x305, 6 * kS))), std::vector<std::string>{"heartbeat_lost_cleared"});
}

TEST(Monitor, ErrorsRisingAtTheThresholdAndClearedBelowHalf) {
  MonitorOptions o;
  o.errors_per_minute_alarm = 3;
  LinkMonitor m(o);
  auto error = [](std::int64_t t) {
    can::Frame f = frame(0x088, t);  // bus error + protocol violation class bits
    f.error = true;
    return f;
  };
  EXPECT_TRUE(m.add(error(1 * kS)).empty());
  EXPECT_TRUE(m.add(error(2 * kS)).empty());
  EXPECT_EQ(names(m.add(error(3 * kS))), std::vector<std::string>{"errors_rising"});
  m.add(frame(0x351, 4 * kS));
  // 61 s: the errors of 2 s and 3 s are still within the minute (2 >= 1.5): still raised.
  const auto early = names(m.tick(61 * kS));
  EXPECT_EQ(std::count(early.begin(), early.end(), "errors_rising_cleared"), 0);
  // After 63 s all three have left the window: 0 < 1.5.
  const auto cleared = names(m.tick(63 * kS + 1));
  EXPECT_EQ(std::count(cleared.begin(), cleared.end(), "errors_rising_cleared"), 1);
}

TEST(Monitor, BusOffAndItsRecovery) {
  LinkMonitor m;
  can::Frame off = frame(0x040, kS);
  off.error = true;
  EXPECT_EQ(names(m.add(off)), std::vector<std::string>{"bus_off"});
  EXPECT_EQ(m.snapshot(kS)["health"]["bus_state"], "off");
  EXPECT_EQ(names(m.add(frame(0x351, 2 * kS))), std::vector<std::string>{"bus_off_cleared"});
}

// The wall clock set forward by three hours at 10.02 s (NTP on a gateway without a real-time
// clock): the BMS (0x351) and the inverter (0x305) go on every second. Ticked every 50 ms. The
// monitor told of the step raises nothing; one not told sees a 3-hour silence.
TEST(Monitor, AWallClockStepForwardRaisesNothingWhenShifted) {
  constexpr std::int64_t kStep = 3 * 3600 * kS;
  LinkMonitor told, untold;
  std::vector<std::string> told_events, untold_events;
  for (std::int64_t ms = 0; ms <= 20000; ms += 50) {
    const std::int64_t t = ms * 1'000'000 + (ms > 10020 ? kStep : 0);
    if (ms == 10050) {
      told.shift_clock(kStep);
      // Right after the step, before the next frame: the BMS ids' last times moved too, so the
      // set is still complete (unmoved, each id would look 3 hours late).
      const auto at_step = told.snapshot(t);
      EXPECT_TRUE(at_step["health"]["bms_set_complete"].get<bool>()) << at_step.dump();
      EXPECT_LT(at_step["health"]["bms_age_s"].get<double>(), 0.1);
    }
    for (auto* m : {&told, &untold}) {
      auto& out = m == &told ? told_events : untold_events;
      if (ms % 1000 == 0) {
        for (const auto& e : m->add(frame(0x351, t))) out.push_back(e.name());
        for (const auto& e : m->add(frame(0x305, t + 500'000))) out.push_back(e.name());
      }
      for (const auto& e : m->tick(t)) out.push_back(e.name());
    }
  }
  EXPECT_TRUE(told_events.empty()) << told_events.front();
  EXPECT_NE(std::find(untold_events.begin(), untold_events.end(), "bms_silent"),
            untold_events.end());
  const auto snap = told.snapshot(20 * kS + kStep);
  EXPECT_TRUE(snap["health"]["bms_set_complete"].get<bool>());
  EXPECT_NEAR(snap["health"]["bms_age_s"].get<double>(), 0.0, 1e-9);
}

// Set back by an hour at 10.02 s, after which the BMS falls silent (its last frame at 10 s,
// before the step): told of the step, the monitor raises bms_silent 3 s after that last frame,
// at the first tick past 13 s on the old clock (13.05 s, i.e. 13.05 s - 1 h on the new one).
TEST(Monitor, AWallClockStepBackDoesNotHideASilence) {
  constexpr std::int64_t kStep = -3600 * kS;
  LinkMonitor m;
  std::vector<MonitorEvent> events;
  for (std::int64_t ms = 0; ms <= 20000; ms += 50) {
    const std::int64_t t = ms * 1'000'000 + (ms > 10020 ? kStep : 0);
    if (ms == 10050) m.shift_clock(kStep);
    if (ms % 1000 == 0 && ms <= 10000) m.add(frame(0x351, t));
    for (auto& e : m.tick(t)) events.push_back(e);
  }
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].alarm, Alarm::kBmsSilent);
  EXPECT_TRUE(events[0].raised);
  EXPECT_EQ(events[0].t_ns, std::int64_t{13050} * 1'000'000 + kStep);
}

// A battery whose BMS talks at 0x4A0 and whose inverter sends its command at 0x350 (inside the
// range the Pylon protocols give the BMS): only the definition's sender nodes say which is which.
constexpr const char* kHighVoltageDbc = R"(VERSION ""

BU_: BMS Inverter

BO_ 1184 hv_status: 8 BMS
 SG_ pack_voltage : 0|16@1+ (0.1,0) [0|1000] "V" Inverter

BO_ 848 pcs_command: 8 Inverter
 SG_ run_request : 0|1@1+ (1,0) [0|1] "" BMS
)";

TEST(Monitor, SidesComeFromTheDefinitionsSenderNodes) {
  auto db = protocol::parse_dbc(kHighVoltageDbc, "hv.dbc");
  ASSERT_TRUE(db) << db.error().message;
  MonitorOptions o;
  o.identify_frames = 4;
  o.protocol.user_dbc = &*db;
  LinkMonitor m(o);
  std::vector<std::string> events;
  // Both send every second for 20 s; the inverter's 0x350 stops at 10 s.
  for (std::int64_t s = 0; s <= 20; ++s) {
    for (const auto& e : m.add(frame(0x4A0, s * kS))) events.push_back(e.name());
    if (s <= 10)
      for (const auto& e : m.add(frame(0x350, s * kS + kS / 2))) events.push_back(e.name());
    for (const auto& e : m.tick(s * kS + kS * 3 / 4)) events.push_back(e.name());
  }
  EXPECT_EQ(m.side(frame(0x4A0, 0)), Side::kBms);
  EXPECT_EQ(m.side(frame(0x350, 0)), Side::kInverter);
  // An id the definition does not know falls back to the usual ranges.
  EXPECT_EQ(m.side(frame(0x305, 0)), Side::kInverter);
  EXPECT_EQ(m.side(frame(0x123, 0)), Side::kOther);
  // The BMS at 0x4A0 never fell silent; the inverter's last command at 10.5 s is lost after 13.5 s.
  EXPECT_EQ(events, std::vector<std::string>{"heartbeat_lost"});
  const auto values = m.values();
  ASSERT_EQ(values.size(), 2U);
  EXPECT_EQ(values[0].name, "pack_voltage");
  EXPECT_FALSE(values[0].flag);
  EXPECT_EQ(values[1].name, "run_request");
  EXPECT_TRUE(values[1].flag);
}

TEST(Monitor, WithoutADefinitionTheRangesDecide) {
  LinkMonitor m;
  EXPECT_EQ(m.side(frame(0x351, 0)), Side::kBms);
  EXPECT_EQ(m.side(frame(0x382, 0)), Side::kBms);
  EXPECT_EQ(m.side(frame(0x383, 0)), Side::kOther);
  EXPECT_EQ(m.side(frame(0x30F, 0)), Side::kInverter);
  EXPECT_EQ(m.side(frame(0x310, 0)), Side::kOther);
  can::Frame ext = frame(0x351, 0);
  ext.extended = true;
  EXPECT_EQ(m.side(ext), Side::kOther);
}

TEST(Monitor, EventsCarryTheAlarmAndWhetherRaisedOrCleared) {
  const MonitorEvent raised{5 * kS, Alarm::kHeartbeatLost, true, "no inverter frame for 3.1 s"};
  const auto j = event_json(raised);
  EXPECT_EQ(j["event"], "heartbeat_lost");
  EXPECT_EQ(j["alarm"], "heartbeat_lost");
  EXPECT_EQ(j["state"], "raised");
  EXPECT_DOUBLE_EQ(j["t"].get<double>(), 5.0);
  const MonitorEvent cleared{6 * kS, Alarm::kBusOff, false, "valid frames again"};
  EXPECT_EQ(event_json(cleared)["event"], "bus_off_cleared");
  EXPECT_EQ(event_json(cleared)["state"], "cleared");
  for (const auto a :
       {Alarm::kBmsSilent, Alarm::kHeartbeatLost, Alarm::kErrorsRising, Alarm::kBusOff})
    EXPECT_EQ(parse_alarm(alarm_name(a)), a);
  EXPECT_FALSE(parse_alarm("bms_silent_cleared").has_value());
}

}  // namespace
}  // namespace bmslink::live
