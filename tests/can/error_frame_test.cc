#include "bmslink/can/error_frame.h"

#include <linux/can/error.h>

#include <gtest/gtest.h>

namespace bmslink::can {
namespace {

static_assert(err::kNoAck == CAN_ERR_ACK);
static_assert(err::kBusOff == CAN_ERR_BUSOFF);
static_assert(err::kController == CAN_ERR_CRTL);
static_assert(err::kProtocol == CAN_ERR_PROT);
static_assert(err::kBusError == CAN_ERR_BUSERROR);
static_assert(err::kCtrlRxPassive == CAN_ERR_CRTL_RX_PASSIVE);
static_assert(err::kCtrlTxWarning == CAN_ERR_CRTL_TX_WARNING);
static_assert(err::kProtStuff == CAN_ERR_PROT_STUFF);
static_assert(err::kLocAckSlot == CAN_ERR_PROT_LOC_ACK);
static_assert(err::kLocData == CAN_ERR_PROT_LOC_DATA);

TEST(DecodeErrorFrame, StuffErrorInDataField) {
  // candump: 20000088#0000040A00000000 = bus error + protocol violation, stuff, data field.
  Frame f = make_error_frame(0x088, {0, 0, 0x04, 0x0A, 0, 0, 0, 0});
  const auto info = decode_error_frame(f);
  EXPECT_TRUE(info.bus_error);
  EXPECT_TRUE(info.protocol_violation);
  EXPECT_EQ(info.violation_kinds, std::vector<std::string>{"stuff"});
  EXPECT_EQ(info.violation_location, "data field");
  EXPECT_FALSE(info.no_ack);
  EXPECT_EQ(info.summary(),
            (std::vector<std::string>{"protocol-violation:stuff@data field", "bus-error"}));
}

TEST(DecodeErrorFrame, NoAckAndBusOff) {
  const auto info = decode_error_frame(make_error_frame(0x0A0 | 0x040, {}));
  EXPECT_TRUE(info.no_ack);
  EXPECT_TRUE(info.bus_off);
  EXPECT_EQ(info.summary().front(), "no-ack");
}

TEST(DecodeErrorFrame, ControllerStateCarriesCounters) {
  // 20000004#0010000000000080: controller, RX passive, rxerr 128.
  const auto info = decode_error_frame(make_error_frame(0x004, {0, 0x10, 0, 0, 0, 0, 0, 0x80}));
  EXPECT_TRUE(info.rx_passive);
  EXPECT_FALSE(info.rx_warning);
  ASSERT_TRUE(info.rx_error_counter);
  EXPECT_EQ(*info.rx_error_counter, 128);
  EXPECT_EQ(*info.tx_error_counter, 0);
}

TEST(DecodeErrorFrame, TransceiverFault) {
  const auto info = decode_error_frame(make_error_frame(CAN_ERR_TRX, {0, 0, 0, 0, 0x04, 0, 0, 0}));
  EXPECT_EQ(info.transceiver, "CANH no wire");
}

TEST(DecodeErrorFrame, DataFrameHasNoErrorFacts) {
  Frame f;
  f.id = 0x20;
  EXPECT_TRUE(decode_error_frame(f).summary().empty());
}

}  // namespace
}  // namespace bmslink::can
