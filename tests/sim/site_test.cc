#include "bmslink/sim/site.h"

#include <gtest/gtest.h>

#include <map>

namespace bmslink::sim {
namespace {

std::vector<can::Frame> run(SiteOptions o) {
  std::vector<can::Frame> out;
  auto n = simulate(o, [&](const can::Frame& f) { out.push_back(f); });
  EXPECT_TRUE(n.has_value()) << (n ? "" : n.error().message);
  if (n) {
    EXPECT_EQ(*n, out.size());
  }
  return out;
}

const can::Frame* first_of(const std::vector<can::Frame>& frames, std::uint32_t id) {
  for (const auto& f : frames)
    if (!f.error && !f.extended && f.id == id) return &f;
  return nullptr;
}

// Payload of the first frame of `id`; empty when there is none.
std::vector<std::uint8_t> payload(const std::vector<can::Frame>& frames, std::uint32_t id) {
  const can::Frame* f = first_of(frames, id);
  if (f == nullptr) return {};
  return {f->data.begin(), f->data.begin() + f->len};
}

TEST(Site, SameSeedSameFramesOtherSeedOtherFrames) {
  SiteOptions o;
  o.duration_s = 60;
  o.seed = 5;
  const auto a = run(o), b = run(o);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_TRUE(can::same_frame(a[i], b[i]));
  o.seed = 6;
  const auto c = run(o);
  bool differ = c.size() != a.size();
  for (std::size_t i = 0; !differ && i < a.size(); ++i) differ = !can::same_frame(a[i], c[i]);
  EXPECT_TRUE(differ);
}

TEST(Site, HealthyPylonSendsItsSetOncePerSecondAndTheInverterAnswers) {
  SiteOptions o;
  o.duration_s = 120;
  const auto frames = run(o);
  std::map<std::uint32_t, int> count;
  std::int64_t last = 0;
  for (const auto& f : frames) {
    EXPECT_GE(f.timestamp_ns, last);
    last = f.timestamp_ns;
    EXPECT_FALSE(f.error);
    ++count[f.id];
  }
  for (std::uint32_t id : {0x359U, 0x351U, 0x355U, 0x356U, 0x35CU, 0x35EU, 0x305U})
    EXPECT_EQ(count[id], 120) << id;
  EXPECT_EQ(count.size(), 7u);
  // 55.2 V = 552 = 0x0228, 100.0 A = 1000 = 0x03E8, 48.0 V = 480 = 0x01E0, little-endian.
  EXPECT_EQ(payload(frames, 0x351),
            (std::vector<std::uint8_t>{0x28, 0x02, 0xE8, 0x03, 0xE8, 0x03, 0xE0, 0x01}));
  // 0x359 ends in "PN"; 0x35E is "PYLON" padded; 0x305 all zeros.
  EXPECT_EQ(payload(frames, 0x359), (std::vector<std::uint8_t>{0, 0, 0, 0, 4, 'P', 'N'}));
  EXPECT_EQ(payload(frames, 0x305), std::vector<std::uint8_t>(8, 0));
  // The simulated day starts at 2026-06-01 06:00:00 UTC = 1780293600 s.
  EXPECT_GE(frames.front().timestamp_ns, 1780293600LL * 1'000'000'000);
  EXPECT_LT(frames.front().timestamp_ns, 1780293601LL * 1'000'000'000);
}

TEST(Site, FaultsChangeTheWireTheWayTheRealFaultDoes) {
  SiteOptions o;
  o.duration_s = 30;
  o.fault = "endianness_mismatch";
  auto f = run(o);
  EXPECT_EQ(payload(f, 0x351),
            (std::vector<std::uint8_t>{0x02, 0x28, 0x03, 0xE8, 0x03, 0xE8, 0x01, 0xE0}));
  o.fault = "scaling_mismatch";  // 552.0 V at 0.1 V = 5520 = 0x1590
  f = run(o);
  EXPECT_EQ(payload(f, 0x351),
            (std::vector<std::uint8_t>{0x90, 0x15, 0xE8, 0x03, 0xE8, 0x03, 0xC0, 0x12}));
  o.fault = "invalid_values";  // -10.0 A = -100 = 0xFF9C
  f = run(o);
  EXPECT_EQ(payload(f, 0x351),
            (std::vector<std::uint8_t>{0x28, 0x02, 0xE8, 0x03, 0x9C, 0xFF, 0xE0, 0x01}));
  o.fault = "missing_required_frames";
  EXPECT_EQ(first_of(run(o), 0x355), nullptr);
  o.fault = "inverter_protocol_mismatch";
  EXPECT_EQ(first_of(run(o), 0x305), nullptr);
  o.fault = "bms_silent";
  f = run(o);
  EXPECT_EQ(first_of(f, 0x351), nullptr);
  EXPECT_NE(first_of(f, 0x305), nullptr);
  o.fault = "bitrate_mismatch";
  for (const auto& x : run(o)) EXPECT_TRUE(x.error);
}

TEST(Site, VictronVariantIdentifiesItsGx) {
  SiteOptions o;
  o.duration_s = 10;
  o.variant = Variant::kVictron;
  const auto f = run(o);
  EXPECT_EQ(payload(f, 0x307),
            (std::vector<std::uint8_t>{0x12, 0x34, 0x56, 0x78, 'V', 'I', 'C', 0}));
  EXPECT_NE(first_of(f, 0x35A), nullptr);
  EXPECT_EQ(first_of(f, 0x359), nullptr);
}

TEST(Site, RefusesUnknownFaultAndBadDuration) {
  SiteOptions o;
  o.fault = "gremlins";
  auto r = simulate(o, [](const can::Frame&) {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("gremlins"), std::string::npos);
  EXPECT_NE(r.error().message.find("no_ack"), std::string::npos);
  o.fault = "healthy";
  o.duration_s = 0;
  EXPECT_FALSE(simulate(o, [](const can::Frame&) {}));
  o.duration_s = 40 * 86400.0;
  EXPECT_FALSE(simulate(o, [](const can::Frame&) {}));
}

}  // namespace
}  // namespace bmslink::sim
