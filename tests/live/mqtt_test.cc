// Home Assistant discovery from the values a monitor decoded on simulated sites: flags are
// binary sensors without units, numbers carry the device class of their quantity and a state
// class, names are words. The broker end to end is tests/oracle/home_assistant_test.py.
#include "bmslink/live/mqtt.h"

#include <gtest/gtest.h>

#include "bmslink/sim/site.h"

namespace bmslink::live {
namespace {

using nlohmann::json;

std::vector<ValueInfo> decoded(sim::Variant variant) {
  sim::SiteOptions o;
  o.variant = variant;
  o.duration_s = 30;
  LinkMonitor m;
  EXPECT_TRUE(sim::simulate(o, [&](const can::Frame& f) { m.add(f); }));
  return m.values();
}

const ValueInfo* find(const std::vector<ValueInfo>& values, const std::string& name) {
  for (const auto& v : values)
    if (v.name == name) return &v;
  return nullptr;
}

json config_of(const ValueInfo& v) {
  return discovery_for(v, MqttOptions{}, "bmslink/bmslink/state", "bmslink/bmslink/availability");
}

TEST(HomeAssistant, NamesAreWords) {
  EXPECT_EQ(entity_name("pack_voltage"), "Pack voltage");
  EXPECT_EQ(entity_name("soc"), "State of charge");
  EXPECT_EQ(entity_name("bms_set_complete"), "BMS set complete");
  EXPECT_EQ(entity_name("charge_current_limit"), "Charge current limit");
  EXPECT_EQ(entity_name("alarm_cell_high_temperature"), "Alarm cell high temperature");
}

TEST(HomeAssistant, PylonProtectionFlagsAreProblemsWithoutUnits) {
  const auto values = decoded(sim::Variant::kPylon);
  const auto* flag = find(values, "alarm_cell_high_temperature");
  ASSERT_NE(flag, nullptr);
  const auto d = config_of(*flag);
  EXPECT_EQ(d["component"], "binary_sensor");
  EXPECT_EQ(d["config"]["device_class"], "problem");
  EXPECT_FALSE(d["config"].contains("unit_of_measurement"));
  EXPECT_FALSE(d["config"].contains("state_class"));
  EXPECT_EQ(d["config"]["name"], "Alarm cell high temperature");
  const auto* volts = find(values, "alarm_cell_high_voltage");
  ASSERT_NE(volts, nullptr);
  EXPECT_FALSE(config_of(*volts)["config"].contains("unit_of_measurement"));
  // A request flag is a yes/no state but no problem.
  const auto* charge = find(values, "charge_enable");
  ASSERT_NE(charge, nullptr);
  EXPECT_EQ(config_of(*charge)["component"], "binary_sensor");
  EXPECT_FALSE(config_of(*charge)["config"].contains("device_class"));
}

TEST(HomeAssistant, NumbersCarryTheirQuantity) {
  const auto values = decoded(sim::Variant::kPylon);
  const std::vector<std::tuple<std::string, std::string, std::string>> expect = {
      {"pack_voltage", "voltage", "V"},          {"pack_current", "current", "A"},
      {"pack_temperature", "temperature", "°C"}, {"soc", "battery", "%"},
      {"charge_voltage_limit", "voltage", "V"},  {"discharge_current_limit", "current", "A"},
  };
  for (const auto& [name, cls, unit] : expect) {
    const auto* v = find(values, name);
    ASSERT_NE(v, nullptr) << name;
    const auto d = config_of(*v);
    EXPECT_EQ(d["component"], "sensor") << name;
    EXPECT_EQ(d["config"]["device_class"], cls) << name;
    EXPECT_EQ(d["config"]["unit_of_measurement"], unit) << name;
    EXPECT_EQ(d["config"]["state_class"], "measurement") << name;
  }
  // Every number is a measurement; no flag anywhere has a unit.
  for (const auto& v : values) {
    if (v.text) continue;
    const auto d = config_of(v);
    if (d["component"] == "sensor")
      EXPECT_EQ(d["config"]["state_class"], "measurement") << v.name;
    else
      EXPECT_FALSE(d["config"].contains("unit_of_measurement")) << v.name;
  }
}

TEST(HomeAssistant, VictronAlarmLevelsAreOnOnlyWhenActive) {
  const auto values = decoded(sim::Variant::kVictron);
  int levels = 0;
  for (const auto& v : values) {
    if (!v.active_raw) continue;
    ++levels;
    EXPECT_TRUE(v.flag) << v.name;
    const auto d = config_of(v);
    EXPECT_EQ(d["component"], "binary_sensor") << v.name;
    // "active" is 1 in the two-bit levels (2 is "ok").
    EXPECT_NE(d["config"]["value_template"].get<std::string>().find("== 1 "), std::string::npos)
        << d["config"]["value_template"];
  }
  EXPECT_GT(levels, 4);
}

TEST(HomeAssistant, EnergyCountersArePowerAndEnergyStatistics) {
  ValueInfo kwh;
  kwh.name = "charged_energy";
  kwh.unit = "kWh";
  const auto e = config_of(kwh);
  EXPECT_EQ(e["config"]["device_class"], "energy");
  EXPECT_EQ(e["config"]["state_class"], "total_increasing");
  EXPECT_EQ(e["config"]["unit_of_measurement"], "kWh");
  ValueInfo ah;
  ah.name = "capacity";
  ah.unit = "Ah";
  const auto c = config_of(ah);
  // Home Assistant has no class for a charge in Ah: a measurement with its unit, no class.
  EXPECT_FALSE(c["config"].contains("device_class"));
  EXPECT_EQ(c["config"]["unit_of_measurement"], "Ah");
  EXPECT_EQ(c["config"]["state_class"], "measurement");
  ValueInfo soh;
  soh.name = "soh";
  soh.unit = "%";
  EXPECT_FALSE(config_of(soh)["config"].contains("device_class")) << "SOH is no battery level";
}

TEST(HomeAssistant, ObjectIdsAreStable) {
  ValueInfo v;
  v.name = "pack_voltage";
  v.unit = "V";
  MqttOptions o;
  o.id = "garage";
  const auto d = discovery_for(v, o, "s", "a");
  EXPECT_EQ(d["config"]["unique_id"], "garage_pack_voltage");
  EXPECT_EQ(d["config"]["object_id"], "garage_pack_voltage");
  EXPECT_EQ(d["config"]["default_entity_id"], "sensor.garage_pack_voltage");
}

TEST(Mqtt, UrlsAndTlsOptionsAreChecked) {
  MqttOptions o;
  o.url = "http://broker";
  auto r = MqttPublisher::connect(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("mqtts://"), std::string::npos);
  o.url = "mqtt://broker";
  o.ca_file = "/etc/ssl/ca.pem";
  r = MqttPublisher::connect(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("needs mqtts://"), std::string::npos);
  o.url = "mqtts://broker";
  o.ca_file.clear();
  o.cert_file = "client.pem";
  r = MqttPublisher::connect(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("--mqtt-key"), std::string::npos);
  o.cert_file.clear();
  o.url = "mqtts://broker:99999";
  r = MqttPublisher::connect(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("1-65535"), std::string::npos);
}

}  // namespace
}  // namespace bmslink::live
