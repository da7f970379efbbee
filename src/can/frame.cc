#include "bmslink/can/frame.h"

#include <algorithm>

#include <fmt/format.h>

namespace bmslink::can {
namespace {
constexpr std::array<std::uint8_t, 16> kFdDlcToLen = {0, 1,  2,  3,  4,  5,  6,  7,
                                                      8, 12, 16, 20, 24, 32, 48, 64};
}  // namespace

std::uint8_t fd_dlc_to_len(std::uint8_t dlc) { return kFdDlcToLen[dlc & 0x0F]; }

std::uint8_t len_to_fd_dlc(std::size_t len) {
  for (std::uint8_t dlc = 0; dlc < 16; ++dlc) {
    if (kFdDlcToLen[dlc] >= len) return dlc;
  }
  return 0xFF;
}

bool is_valid_fd_len(std::size_t len) {
  return std::find(kFdDlcToLen.begin(), kFdDlcToLen.end(), len) != kFdDlcToLen.end();
}

std::uint32_t socketcan_id(const Frame& frame) {
  if (frame.error) return kErrFlag | (frame.id & kExtendedIdMask);
  std::uint32_t id = frame.id;
  if (frame.extended) id |= kEffFlag;
  if (frame.rtr) id |= kRtrFlag;
  return id;
}

bool same_frame(const Frame& a, const Frame& b) {
  return a.timestamp_ns == b.timestamp_ns && a.time_kind == b.time_kind && a.id == b.id &&
         a.len == b.len && a.dlc == b.dlc && a.extended == b.extended && a.rtr == b.rtr &&
         a.error == b.error && a.fd == b.fd && a.brs == b.brs && a.esi == b.esi &&
         a.direction == b.direction && a.channel == b.channel &&
         std::equal(a.data.begin(), a.data.begin() + a.len, b.data.begin());
}

std::string id_hex(const Frame& frame) {
  if (frame.extended || frame.error) return fmt::format("0x{:08X}", frame.id);
  return fmt::format("0x{:03X}", frame.id);
}

}  // namespace bmslink::can
