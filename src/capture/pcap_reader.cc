// pcap and pcapng through libpcap. Link types:
//   227 LINKTYPE_CAN_SOCKETCAN: struct can_frame / canfd_frame, CAN id in network byte order;
//   113 LINKTYPE_LINUX_SLL and 276 LINKTYPE_LINUX_SLL2 ("any" device captures), protocol 0x000C
//       (CAN) or 0x000D (CAN FD), where the CAN id is in the capturing host's (little-endian)
//       order - the classic trap of "-i any" captures.
// A record too short for its header, or with a length the frame type cannot carry, is reported
// and skipped. A file cut off mid-record ends the stream with the frames read so far.

#include "capture/pcap_reader.h"

#include <cstdio>
#include <cstring>

#include <fmt/format.h>
#include <pcap/pcap.h>

#include "bmslink/can/error_frame.h"

namespace bmslink::capture::detail {
namespace {

constexpr int kLinkCanSocketcan = 227;
constexpr int kLinkLinuxSll = 113;
constexpr int kLinkLinuxSll2 = 276;
constexpr std::uint8_t kCanFdFdf = 0x04;  // canfd_frame.flags: this is an FD frame
constexpr std::uint8_t kCanFdBrs = 0x01;
constexpr std::uint8_t kCanFdEsi = 0x02;

std::uint32_t be32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
         static_cast<std::uint32_t>(p[2]) << 8 | p[3];
}
std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[3]) << 24 | static_cast<std::uint32_t>(p[2]) << 16 |
         static_cast<std::uint32_t>(p[1]) << 8 | p[0];
}
std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

class PcapReader final : public FrameReader {
 public:
  // Owns `handle`; for memory input pcap_close() also closes the fmemopen FILE behind it.
  PcapReader(pcap_t* handle, std::string name, DiagnosticSink& sink)
      : FrameReader(std::move(name)), handle_(handle), sink_(sink), link_(pcap_datalink(handle)) {}
  ~PcapReader() override { pcap_close(handle_); }

  bool next(can::Frame& frame) override {
    for (;;) {
      pcap_pkthdr* header = nullptr;
      const u_char* data = nullptr;
      const int rc = pcap_next_ex(handle_, &header, &data);
      if (rc == PCAP_ERROR_BREAK) return false;
      if (rc != 1) {
        failure_ = Error{ErrorCode::kIo, fmt::format("{}: reading stopped after record {}: {}",
                                                     name_, stats_.lines, pcap_geterr(handle_))};
        return false;
      }
      ++stats_.lines;
      std::string_view why;
      if (decode(header, data, frame, why)) {
        ++stats_.frames;
        return true;
      }
      if (why.empty()) {
        ++stats_.ignored;
        continue;
      }
      ++stats_.malformed;
      sink_.report(Diagnostic{name_, 0, fmt::format("record {}: {}", stats_.lines, why), {}});
    }
  }

  Format format() const override { return Format::kPcap; }
  std::string variant() const override {
    const char* n = pcap_datalink_val_to_name(link_);
    return fmt::format("pcap, link type {} ({})", link_, n ? n : "?");
  }

 private:
  bool decode(const pcap_pkthdr* h, const u_char* p, can::Frame& f, std::string_view& why) {
    std::size_t caplen = h->caplen;
    bool host_order = false;
    if (link_ == kLinkLinuxSll || link_ == kLinkLinuxSll2) {
      const std::size_t hdr = link_ == kLinkLinuxSll ? 16 : 20;
      if (caplen < hdr) {
        why = "record shorter than its Linux cooked-capture header";
        return false;
      }
      const std::uint16_t proto = link_ == kLinkLinuxSll ? be16(p + 14) : be16(p);
      if (proto != 0x000C && proto != 0x000D) return false;  // not CAN: ignored
      p += hdr;
      caplen -= hdr;
      host_order = true;
    }
    if (caplen < 8) {
      why = "record shorter than the 8-byte SocketCAN frame header";
      return false;
    }
    const std::uint32_t raw_id = host_order ? le32(p) : be32(p);
    const std::uint8_t len = p[4];
    const std::uint8_t flags = p[5];
    const bool fd = caplen > 16 || (flags & kCanFdFdf) != 0;
    f = can::Frame{};
    if ((raw_id & can::kErrFlag) && (fd || len > 8)) {
      why = "error frame in a CAN FD sized record (SocketCAN error frames are 8 bytes)";
      return false;
    }
    if (fd && (raw_id & can::kRtrFlag) && !(raw_id & can::kErrFlag)) {
      why = "CAN FD record with the remote-request flag (FD has no remote frames)";
      return false;
    }
    if (fd ? !can::is_valid_fd_len(len) : len > 8) {
      why = fd ? "CAN FD record with a length no FD frame can have"
               : "classic CAN record with a length above 8";
      return false;
    }
    if (caplen < 8U + len) {
      why = "record cut short: fewer data bytes captured than its length";
      return false;
    }
    // Nanosecond precision was requested, so tv_usec holds nanoseconds.
    if (h->ts.tv_sec < 0 || h->ts.tv_sec > kMaxTimestampNs / kNsPerSecond - 1) {
      why = "record timestamp out of range";
      return false;
    }
    f.timestamp_ns = static_cast<std::int64_t>(h->ts.tv_sec) * kNsPerSecond +
                     static_cast<std::int64_t>(h->ts.tv_usec);
    f.time_kind = TimeKind::kAbsolute;
    f.len = len;
    std::memcpy(f.data.data(), p + 8, len);
    if (raw_id & can::kErrFlag) {
      f.error = true;
      f.id = raw_id & can::kExtendedIdMask;
      f.dlc = len;
      return true;
    }
    f.extended = (raw_id & can::kEffFlag) != 0;
    f.rtr = (raw_id & can::kRtrFlag) != 0;
    f.id = raw_id & (f.extended ? can::kExtendedIdMask : can::kStandardIdMask);
    if (fd) {
      f.fd = true;
      f.brs = (flags & kCanFdBrs) != 0;
      f.esi = (flags & kCanFdEsi) != 0;
      f.dlc = can::len_to_fd_dlc(len);
    } else {
      // byte 7 is len8_dlc: a raw DLC 9..15 on an 8-byte classic frame.
      f.dlc = (len == 8 && p[7] > 8 && p[7] <= 15) ? p[7] : len;
    }
    return true;
  }

  pcap_t* handle_;
  DiagnosticSink& sink_;
  int link_;
};

}  // namespace

bool looks_like_pcap(std::string_view head) {
  if (head.size() < 4) return false;
  const auto* p = reinterpret_cast<const std::uint8_t*>(head.data());
  const std::uint32_t be = be32(p);
  return be == 0xA1B2C3D4 || be == 0xD4C3B2A1 || be == 0xA1B23C4D || be == 0x4D3CB2A1 ||
         be == 0x0A0D0D0A;
}

Result<std::unique_ptr<FrameReader>> open_pcap(const std::string& path, std::string_view memory,
                                               std::string name, DiagnosticSink& sink) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* handle = nullptr;
  std::FILE* file = nullptr;
  if (path.empty()) {
    // fmemopen refuses size 0; callers only get here with a recognised magic number.
    file = fmemopen(const_cast<char*>(memory.data()), memory.size(), "rb");
    if (file == nullptr) return make_error(ErrorCode::kIo, name + ": cannot open memory buffer");
    handle = pcap_fopen_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (handle == nullptr) std::fclose(file);
  } else {
    handle =
        pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
  }
  if (handle == nullptr) {
    return make_error(ErrorCode::kMalformed,
                      fmt::format("{}: not a readable pcap/pcapng file: {}", name, errbuf));
  }
  const int link = pcap_datalink(handle);
  if (link != kLinkCanSocketcan && link != kLinkLinuxSll && link != kLinkLinuxSll2) {
    const char* link_name = pcap_datalink_val_to_name(link);
    pcap_close(handle);
    return make_error(ErrorCode::kUnsupported,
                      fmt::format("{}: pcap link type {} ({}) carries no CAN frames; expected "
                                  "CAN_SOCKETCAN (227) or Linux cooked capture (113, 276)",
                                  name, link, link_name ? link_name : "unknown"));
  }
  return std::unique_ptr<FrameReader>(new PcapReader(handle, std::move(name), sink));
}

}  // namespace bmslink::capture::detail
