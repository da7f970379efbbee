// The live sources without hardware: SocketCAN frames as the kernel gives them (hand-built
// can_frame ids with the kernel's flag bits), IFACE strings and their errors, and what a kernel
// without SocketCAN (this machine's) answers.
#include <linux/can.h>
#include <linux/can/error.h>

#include <gtest/gtest.h>

#include "bmslink/link/live.h"

namespace bmslink::link {
namespace {

TEST(SocketCan, KernelFlagsBecomeFrameFields) {
  const std::uint8_t data[8] = {0x28, 0x02, 0xE8, 0x03, 0xE8, 0x03, 0xE0, 0x01};
  const auto f = from_socketcan(0x351, 8, data);
  EXPECT_EQ(f.id, 0x351U);
  EXPECT_FALSE(f.extended);
  EXPECT_EQ(f.len, 8);
  EXPECT_EQ(f.data[7], 0x01);
  const auto x = from_socketcan(CAN_EFF_FLAG | 0x18FF50E5, 2, data);
  EXPECT_TRUE(x.extended);
  EXPECT_EQ(x.id, 0x18FF50E5U);
  const auto r = from_socketcan(CAN_RTR_FLAG | 0x123, 0, data);
  EXPECT_TRUE(r.rtr);
  const auto e = from_socketcan(CAN_ERR_FLAG | CAN_ERR_BUSOFF, 8, data);
  EXPECT_TRUE(e.error);
  EXPECT_EQ(e.id, CAN_ERR_BUSOFF);
}

TEST(Iface, StringsAreCheckedAndNamed) {
  for (const char* bad :
       {"can0", "tcp:1.2.3.4", "slcan:", "replay:x.log@fast", "slcan:/dev/x@abc"}) {
    auto s = open_interface(bad);
    ASSERT_FALSE(s) << bad;
    EXPECT_NE(s.error().message.find(bad), std::string::npos) << s.error().message;
  }
  auto missing = open_interface("slcan:/dev/no-such-adapter");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("cannot open"), std::string::npos);
}

TEST(Iface, AReplayKeepsTheCapturesFramesAndClock) {
  auto s = open_interface(std::string("replay:") + BMSLINK_SOURCE_DIR +
                          "/data/samples/pylontech_session.log@1000");
  ASSERT_TRUE(s) << s.error().message;
  can::Frame f;
  ASSERT_EQ((*s)->poll(f, 1000), Poll::kFrame);
  EXPECT_TRUE(f.has_timestamp());
  EXPECT_TRUE((*s)->listen_only());
  const auto now = (*s)->now_ns();
  ASSERT_TRUE(now);
  EXPECT_GE(*now, f.timestamp_ns);
}

TEST(Iface, SocketCanOnAKernelWithoutItSaysWhatToDo) {
  LinkOptions o;
  o.listen_only = false;
  o.bitrate_bps = 0;
  auto s = open_interface("socketcan:can0", o);
  if (s) GTEST_SKIP() << "this kernel has a can0";
  EXPECT_TRUE(s.error().message.find("socketcan") != std::string::npos ||
              s.error().message.find("can0") != std::string::npos)
      << s.error().message;
}

}  // namespace
}  // namespace bmslink::link
