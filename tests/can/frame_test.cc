#include "bmslink/can/frame.h"

#include <linux/can.h>

#include <gtest/gtest.h>

namespace bmslink::can {
namespace {

// Our flag constants must be the kernel's: candump logs and pcaps carry them.
static_assert(kEffFlag == CAN_EFF_FLAG);
static_assert(kRtrFlag == CAN_RTR_FLAG);
static_assert(kErrFlag == CAN_ERR_FLAG);
static_assert(kExtendedIdMask == CAN_EFF_MASK);
static_assert(kStandardIdMask == CAN_SFF_MASK);

TEST(FdLength, MapsDlcCodesBothWays) {
  EXPECT_EQ(fd_dlc_to_len(8), 8);
  EXPECT_EQ(fd_dlc_to_len(9), 12);
  EXPECT_EQ(fd_dlc_to_len(13), 32);
  EXPECT_EQ(fd_dlc_to_len(15), 64);
  EXPECT_EQ(len_to_fd_dlc(12), 9);
  EXPECT_EQ(len_to_fd_dlc(64), 15);
  EXPECT_EQ(len_to_fd_dlc(65), 0xFF);
  EXPECT_TRUE(is_valid_fd_len(48));
  EXPECT_FALSE(is_valid_fd_len(9));
}

TEST(SocketcanId, AddsFlagsTheKernelWay) {
  Frame f;
  f.id = 0x18FF50E5;
  f.extended = true;
  EXPECT_EQ(socketcan_id(f), 0x98FF50E5u);
  Frame r;
  r.id = 0x351;
  r.rtr = true;
  EXPECT_EQ(socketcan_id(r), 0x40000351u);
  Frame e;
  e.error = true;
  e.id = 0x20;
  EXPECT_EQ(socketcan_id(e), 0x20000020u);
}

TEST(IdHex, UsesThreeDigitsForStandardAndEightForExtended) {
  Frame f;
  f.id = 0x35;
  EXPECT_EQ(id_hex(f), "0x035");
  f.extended = true;
  EXPECT_EQ(id_hex(f), "0x00000035");
}

TEST(SameFrame, IgnoresBytesBeyondLength) {
  Frame a, b;
  a.len = b.len = 2;
  a.data[0] = b.data[0] = 1;
  a.data[5] = 9;
  EXPECT_TRUE(same_frame(a, b));
  b.data[1] = 7;
  EXPECT_FALSE(same_frame(a, b));
}

}  // namespace
}  // namespace bmslink::can
