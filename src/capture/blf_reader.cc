// Vector BLF (binary logging format, CANalyzer/CANoe, many USB-CAN tools).
//
// Layout: a "LOGG" file header (its own size in the header; the start time as a Windows
// SYSTEMTIME), then "LOBJ" objects. At the top level these are log containers (type 10), whose
// payload, stored plainly or zlib-compressed, is itself a stream of objects. Containers have a
// fixed uncompressed size, so an inner object may begin in one container and end in the next:
// the payloads are read as one continuous stream, never container by container. Objects are
// padded to four bytes except CAN_FD_MESSAGE_64; the next "LOBJ" is looked for within the
// padding rather than trusted to an alignment rule.
//
// Object headers: version 1 (flags, client index, object version, timestamp) and 2 (flags,
// timestamp status, object version, timestamp, original timestamp) put the flags at byte 16 and
// the 64-bit timestamp at byte 24; later versions (CANoe 15 writes 3) are read the same way,
// using the header size the object states. Timestamps are signed: a pre-trigger buffer gives
// times before the file's start. The start time is taken as UTC, because the file does not say
// which zone its writer's clock was in (docs/formats/blf.md).
//
// Frames: CAN_MESSAGE (1), CAN_MESSAGE2 (86), CAN_FD_MESSAGE (100), CAN_FD_MESSAGE_64 (101),
// CAN_ERROR (2) and CAN_ERROR_EXT (73). Every other object is skipped and counted by type.

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "bmslink/can/error_frame.h"
#include "bmslink/core/time.h"
#include "capture/binary_readers.h"
#include "capture/byte_order.h"
#include "capture/whole_inflate.h"

namespace bmslink::capture::detail {
namespace {

constexpr std::uint32_t kObjCanMessage = 1;
constexpr std::uint32_t kObjCanError = 2;
constexpr std::uint32_t kObjLogContainer = 10;
constexpr std::uint32_t kObjCanErrorExt = 73;
constexpr std::uint32_t kObjCanMessage2 = 86;
constexpr std::uint32_t kObjCanFdMessage = 100;
constexpr std::uint32_t kObjCanFdMessage64 = 101;

constexpr std::size_t kBaseHeader = 16;       // "LOBJ", header size, version, object size, type
constexpr std::size_t kContainerHeader = 32;  // base + method, reserved, uncompressed size
// Containers hold 128 KiB uncompressed in every writer seen; anything far larger is damage.
constexpr std::uint32_t kMaxContainerBytes = 64U << 20;
constexpr std::uint32_t kMaxObjectBytes = 16U << 20;
constexpr std::size_t kReadChunk = 256 * 1024;

// A forward-only buffer over the file, so headers can be looked at before they are taken.
class Input {
 public:
  explicit Input(std::unique_ptr<ByteSource> source) : source_(std::move(source)) {}

  // Makes at least n bytes available unless the file ends first; returns how many are.
  std::size_t ensure(std::size_t n) {
    while (buffer_.size() - pos_ < n && !eof_) {
      if (pos_ > 0 && pos_ >= buffer_.size() / 2) {
        buffer_.erase(0, pos_);
        pos_ = 0;
      }
      const std::size_t old = buffer_.size();
      const std::size_t want = std::max(kReadChunk, n - (old - pos_));
      buffer_.resize(old + want);
      const std::ptrdiff_t got = source_->read(buffer_.data() + old, want);
      if (got <= 0) {
        buffer_.resize(old);
        eof_ = true;
        if (got < 0) error_ = source_->error();
        break;
      }
      buffer_.resize(old + static_cast<std::size_t>(got));
    }
    return buffer_.size() - pos_;
  }
  const unsigned char* data() const {
    return reinterpret_cast<const unsigned char*>(buffer_.data()) + pos_;
  }
  void consume(std::size_t n) {
    n = std::min(n, buffer_.size() - pos_);
    pos_ += n;
    offset_ += n;
  }
  std::uint64_t offset() const { return offset_; }
  const std::string& error() const { return error_; }

 private:
  std::unique_ptr<ByteSource> source_;
  std::string buffer_;
  std::size_t pos_ = 0;
  std::uint64_t offset_ = 0;
  bool eof_ = false;
  std::string error_;
};

struct Header {
  std::uint32_t size = 0;
  std::uint8_t application = 0;
  std::array<std::uint8_t, 3> app_version{};
  std::optional<std::int64_t> start_ns;  // from the SYSTEMTIME, taken as UTC
  std::uint32_t objects = 0;
};

// SYSTEMTIME: year, month, day of week, day, hour, minute, second, milliseconds.
std::optional<std::int64_t> systemtime_ns(const unsigned char* p) {
  const int year = le16(p), month = le16(p + 2), day = le16(p + 6);
  const int hour = le16(p + 8), minute = le16(p + 10), second = le16(p + 12), ms = le16(p + 14);
  if (year < 1980 || year > 2100 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
      minute > 59 || second > 60 || ms > 999) {
    return std::nullopt;
  }
  const std::int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  return ((days * 24 + hour) * 60 + minute) * 60 * kNsPerSecond + second * kNsPerSecond +
         ms * 1'000'000LL;
}

class BlfReader final : public FrameReader {
 public:
  BlfReader(Input input, Header header, std::string name, DiagnosticSink& sink)
      : FrameReader(std::move(name)), in_(std::move(input)), header_(header), sink_(sink) {}

  bool next(can::Frame& frame) override {
    for (;;) {
      switch (next_object(frame)) {
        case Step::kFrame:
          ++stats_.frames;
          return true;
        case Step::kSkipped:
          continue;
        case Step::kNeedMore:
          if (!load_top_level()) {
            finish();
            return false;
          }
      }
    }
  }

  Format format() const override { return Format::kBlf; }
  std::string variant() const override {
    std::string v =
        fmt::format("BLF from application {} {}.{}.{}", header_.application, header_.app_version[0],
                    header_.app_version[1], header_.app_version[2]);
    v += header_.start_ns ? ", start time read as UTC" : ", no start time (times from 0)";
    if (!skipped_types_.empty()) {
      v += ", skipped objects of type";
      for (const auto& [type, count] : skipped_types_) v += fmt::format(" {} (x{})", type, count);
    }
    return v;
  }

 private:
  enum class Step { kFrame, kSkipped, kNeedMore };

  void report(std::string reason) {
    ++stats_.malformed;
    sink_.report(Diagnostic{name_, 0, std::move(reason), {}});
  }

  // Reads the next top-level object: a container's payload is appended to the object stream;
  // an object outside any container (some writers do that) is appended whole.
  bool load_top_level() {
    for (;;) {
      const std::size_t have = in_.ensure(kBaseHeader);
      if (have == 0) return false;
      if (have < kBaseHeader) {
        // Padding after the last container is no damage.
        const bool padding = have <= 7 && std::all_of(in_.data(), in_.data() + have,
                                                      [](unsigned char b) { return b == 0; });
        if (padding) {
          in_.consume(have);
          return false;
        }
        report(fmt::format("offset {}: the file ends inside an object header ({} bytes left)",
                           in_.offset(), have));
        in_.consume(have);
        return false;
      }
      if (std::memcmp(in_.data(), "LOBJ", 4) != 0) {
        if (!resync_file()) return false;
        continue;
      }
      const unsigned char* p = in_.data();
      const std::uint16_t header_size = le16(p + 4);
      const std::uint32_t size = le32(p + 8);
      const std::uint32_t type = le32(p + 12);
      const std::uint64_t at = in_.offset();
      if (size < kBaseHeader || header_size < kBaseHeader || header_size > size) {
        report(
            fmt::format("offset {}: object of {} bytes with a {}-byte header; expected a size "
                        "of at least its header",
                        at, size, header_size));
        in_.consume(4);
        continue;
      }
      if (type == kObjLogContainer) {
        if (load_container(at, size)) return true;
        continue;
      }
      if (size > kMaxObjectBytes || pending() != 0) {
        report(fmt::format(
            "offset {}: object of type {} ({} bytes) outside a container {}; "
            "skipped",
            at, type, size, size > kMaxObjectBytes ? "too large" : "in the middle of another"));
        skip_file_bytes(size);
        continue;
      }
      const std::size_t got = in_.ensure(size);
      stream_.append(reinterpret_cast<const char*>(in_.data()), std::min<std::size_t>(got, size));
      in_.consume(size);
      return true;
    }
  }

  bool load_container(std::uint64_t at, std::uint32_t size) {
    if (size < kContainerHeader) {
      report(fmt::format("offset {}: log container of {} bytes, smaller than its 32-byte header",
                         at, size));
      in_.consume(kBaseHeader);
      return false;
    }
    if (size > kMaxContainerBytes) {
      report(fmt::format("offset {}: log container of {} bytes; at most {} are accepted; skipped",
                         at, size, kMaxContainerBytes));
      skip_file_bytes(size);
      return false;
    }
    const std::size_t got = in_.ensure(size);
    if (got < kContainerHeader) {
      report(fmt::format("offset {}: the file ends inside a log container's header", at));
      in_.consume(got);
      return false;
    }
    const unsigned char* p = in_.data();
    const std::uint16_t method = le16(p + 16);
    const std::uint32_t unpacked = le32(p + 24);
    const std::size_t payload = std::min<std::size_t>(got, size) - kContainerHeader;
    if (got < size) {
      report(
          fmt::format("offset {}: the file ends inside a log container ({} of {} bytes); the "
                      "frames in what is there are read",
                      at, got, size));
    }
    compact();
    bool ok = true;
    if (method == 0) {
      stream_.append(reinterpret_cast<const char*>(p + kContainerHeader), payload);
    } else if (method == 2) {
      ok = inflate_into(p + kContainerHeader, payload, unpacked, at);
    } else {
      report(
          fmt::format("offset {}: log container compressed with method {}; expected 0 (none) "
                      "or 2 (zlib); skipped",
                      at, method));
      ok = false;
    }
    in_.consume(std::min<std::size_t>(got, size));
    // Padding to four bytes is found by looking for the next "LOBJ" (resync_file).
    return ok;
  }

  bool inflate_into(const unsigned char* src, std::size_t n, std::uint32_t unpacked,
                    std::uint64_t at) {
    if (unpacked > kMaxContainerBytes) {
      report(
          fmt::format("offset {}: log container declares {} bytes uncompressed; at most {} "
                      "are accepted; skipped",
                      at, unpacked, kMaxContainerBytes));
      return false;
    }
    const std::size_t old = stream_.size();
    stream_.resize(old + unpacked);
    std::size_t whole = 0;
    if (inflater_.inflate(src, n, reinterpret_cast<unsigned char*>(stream_.data() + old), unpacked,
                          whole) &&
        whole > 0) {
      stream_.resize(old + whole);
      return true;
    }
    // Damaged, or not the size it says: zlib's streaming inflate keeps what it can and says why.
    z_stream z{};
    if (inflateInit(&z) != Z_OK) {
      stream_.resize(old);
      report(fmt::format("offset {}: zlib could not start", at));
      return false;
    }
    z.next_in = const_cast<unsigned char*>(src);
    z.avail_in = static_cast<uInt>(n);
    z.next_out = reinterpret_cast<unsigned char*>(stream_.data() + old);
    z.avail_out = unpacked;
    const int rc = inflate(&z, Z_FINISH);
    const std::size_t produced = unpacked - z.avail_out;
    stream_.resize(old + produced);
    if (rc != Z_STREAM_END) {
      report(
          fmt::format("offset {}: log container does not inflate to its declared {} bytes "
                      "(zlib: {}; {} bytes recovered)",
                      at, unpacked, z.msg ? z.msg : zError(rc), produced));
    }
    inflateEnd(&z);
    return produced > 0;
  }

  // Looks for the next "LOBJ" in the file: padding (up to 7 bytes) silently, anything more is
  // reported once for the stretch skipped.
  bool resync_file() {
    const std::uint64_t from = in_.offset();
    std::uint64_t skipped = 0;
    for (;;) {
      const std::size_t have = in_.ensure(4);
      if (have < 4) {
        in_.consume(have);
        if (skipped + have > 7) {
          report(
              fmt::format("offset {}: {} bytes at the end of the file are not an object; "
                          "expected 'LOBJ'",
                          from, skipped + have));
        }
        return false;
      }
      if (std::memcmp(in_.data(), "LOBJ", 4) == 0) break;
      in_.consume(1);
      ++skipped;
    }
    if (skipped > 7) {
      report(fmt::format("offset {}: expected an object ('LOBJ'); skipped {} bytes to the next",
                         from, skipped));
    }
    return true;
  }

  void skip_file_bytes(std::uint64_t n) {
    while (n > 0) {
      const std::size_t have =
          in_.ensure(static_cast<std::size_t>(std::min<std::uint64_t>(n, kReadChunk)));
      if (have == 0) return;
      const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(n, have));
      in_.consume(take);
      n -= take;
    }
  }

  std::size_t pending() const { return stream_.size() - pos_; }
  void compact() {
    if (pos_ > 0) {
      stream_.erase(0, pos_);
      pos_ = 0;
    }
  }

  Step next_object(can::Frame& frame) {
    if (skip_ > 0) {
      const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(skip_, pending()));
      pos_ += take;
      skip_ -= take;
      if (skip_ > 0) return Step::kNeedMore;
    }
    if (pending() < kBaseHeader) return Step::kNeedMore;
    const auto* base = reinterpret_cast<const unsigned char*>(stream_.data());
    if (std::memcmp(base + pos_, "LOBJ", 4) != 0) {
      // Padding after the previous object, or damage: look ahead for the next header.
      const std::size_t limit = pending() - 3;
      std::size_t i = 1;
      while (i < limit && std::memcmp(base + pos_ + i, "LOBJ", 4) != 0) ++i;
      if (i >= limit) {
        if (pending() < 64) return Step::kNeedMore;
        report(fmt::format("object {}: expected 'LOBJ' inside a container; skipped {} bytes",
                           objects_ + 1, i));
        pos_ += i;
        return Step::kNeedMore;
      }
      if (i > 7) {
        report(
            fmt::format("object {}: expected 'LOBJ' after the previous object; skipped {} "
                        "bytes",
                        objects_ + 1, i));
      }
      pos_ += i;
      if (pending() < kBaseHeader) return Step::kNeedMore;
    }
    const unsigned char* p = base + pos_;
    const std::uint16_t header_size = le16(p + 4);
    const std::uint16_t header_version = le16(p + 6);
    const std::uint32_t size = le32(p + 8);
    const std::uint32_t type = le32(p + 12);
    if (header_size < 32 || size < header_size || header_version == 0) {
      report(
          fmt::format("object {}: header of {} bytes, version {}, object of {} bytes; expected "
                      "a header of at least 32 bytes within the object",
                      objects_ + 1, header_size, header_version, size));
      pos_ += 4;
      return Step::kSkipped;
    }
    if (size > kMaxObjectBytes) {
      ++objects_;
      report(fmt::format("object {}: {} bytes of type {}; at most {} are read; skipped", objects_,
                         size, type, kMaxObjectBytes));
      skip_ = size;
      return Step::kSkipped;
    }
    if (pending() < size) return Step::kNeedMore;
    ++objects_;
    ++stats_.lines;
    pos_ += size;
    const std::uint32_t flags = le32(p + 16);
    const auto raw = static_cast<std::int64_t>(le64(p + 24));
    const std::int64_t unit = flags == 1 ? 10'000 : 1;  // 10 us or 1 ns ticks
    if (raw > kMaxTimestampNs / unit || raw < -kMaxTimestampNs / unit) {
      report(fmt::format("object {}: timestamp {} out of range", objects_, raw));
      return Step::kSkipped;
    }
    frame = can::Frame{};
    frame.timestamp_ns = raw * unit + header_.start_ns.value_or(0);
    frame.time_kind = header_.start_ns ? TimeKind::kAbsolute : TimeKind::kRelative;
    const unsigned char* body = p + header_size;
    const std::size_t body_size = size - header_size;
    std::string_view why;
    bool ok = false;
    switch (type) {
      case kObjCanMessage:
      case kObjCanMessage2:
        ok = can_message(body, body_size, frame, why);
        break;
      case kObjCanFdMessage:
        ok = can_fd_message(body, body_size, frame, why);
        break;
      case kObjCanFdMessage64:
        ok = can_fd_message64(body, body_size, frame, why);
        break;
      case kObjCanError:
      case kObjCanErrorExt:
        ok = can_error(body, body_size, frame, why);
        break;
      default:
        ++skipped_types_[type];
        ++stats_.ignored;
        return Step::kSkipped;
    }
    if (ok) return Step::kFrame;
    report(fmt::format("object {} (type {}): {}", objects_, type, why));
    return Step::kSkipped;
  }

  void id_and_flags(std::uint32_t raw_id, can::Frame& f) {
    f.extended = (raw_id & 0x80000000U) != 0;
    f.id = raw_id & can::kExtendedIdMask;
    // Bits 29 and 30 carry nothing; python-can drops them too.
    if ((raw_id & 0x60000000U) != 0) ++stray_id_bits_;
    if (!f.extended && f.id > can::kStandardIdMask) {
      // No 11-bit frame has such an id; some writers leave the flag out (python-can's test
      // files do): the id is kept whole, as a 29-bit one, and the reader says how often.
      f.extended = true;
      ++unflagged_extended_;
    }
  }

  // A classic DLC field above 15 cannot come from a bus (python-can's test files hold 0x33):
  // the frame is kept with 8 bytes, and the reader says how often.
  std::uint8_t classic_dlc(std::uint8_t dlc) {
    if (dlc <= 15) return dlc;
    ++impossible_dlc_;
    return 8;
  }

  std::uint8_t fd_dlc(std::uint8_t dlc) {
    if (dlc <= 15) return dlc;
    ++impossible_dlc_;
    return 15;
  }

  bool can_message(const unsigned char* b, std::size_t n, can::Frame& f, std::string_view& why) {
    if (n < 16) {
      why = "CAN message shorter than its 16 bytes";
      return false;
    }
    f.channel = std::to_string(le16(b));
    const std::uint8_t flags = b[2];
    const std::uint8_t dlc = b[3];
    id_and_flags(le32(b + 4), f);
    f.direction = (flags & 0x01) ? can::Direction::kTx : can::Direction::kRx;
    f.rtr = (flags & 0x80) != 0;
    f.dlc = classic_dlc(dlc);
    f.len = std::min<std::uint8_t>(f.dlc, 8);
    if (!f.rtr) std::memcpy(f.data.data(), b + 8, f.len);
    return true;
  }

  bool can_fd_message(const unsigned char* b, std::size_t n, can::Frame& f, std::string_view& why) {
    if (n < 84) {
      why = "CAN FD message shorter than its 84 bytes";
      return false;
    }
    f.channel = std::to_string(le16(b));
    const std::uint8_t flags = b[2];
    const std::uint8_t dlc = b[3];
    const std::uint8_t fd_flags = b[13];
    const std::uint8_t valid = b[14];
    id_and_flags(le32(b + 4), f);
    f.direction = (flags & 0x01) ? can::Direction::kTx : can::Direction::kRx;
    if (fd_flags & 0x01) {
      f.dlc = fd_dlc(dlc);
      f.fd = true;
      f.brs = (fd_flags & 0x02) != 0;
      f.esi = (fd_flags & 0x04) != 0;
      f.len = can::fd_dlc_to_len(f.dlc);
    } else {
      f.rtr = (flags & 0x80) != 0;
      f.dlc = classic_dlc(dlc);
      f.len = std::min<std::uint8_t>(f.dlc, 8);
    }
    if (f.rtr) return true;
    // Fewer valid bytes than the DLC says: the rest read as zeros, as for CAN_FD_MESSAGE_64.
    const std::size_t present = std::min<std::size_t>(valid, f.len);
    std::memcpy(f.data.data(), b + 20, present);
    if (present < f.len) ++short_fd_;
    return true;
  }

  bool can_fd_message64(const unsigned char* b, std::size_t n, can::Frame& f,
                        std::string_view& why) {
    if (n < 40) {
      why = "CAN FD message (64) shorter than its 40-byte fixed part";
      return false;
    }
    f.channel = std::to_string(b[0]);
    const std::uint8_t dlc = b[1];
    const std::uint8_t valid = b[2];
    const std::uint32_t flags = le32(b + 12);
    const std::uint8_t dir = b[34];
    id_and_flags(le32(b + 4), f);
    f.direction = dir ? can::Direction::kTx : can::Direction::kRx;
    if (flags & 0x1000) {
      f.fd = true;
      f.brs = (flags & 0x2000) != 0;
      f.esi = (flags & 0x4000) != 0;
      f.dlc = fd_dlc(dlc);
      f.len = can::fd_dlc_to_len(f.dlc);
    } else {
      f.rtr = (flags & 0x0010) != 0;
      f.dlc = classic_dlc(dlc);
      f.len = std::min<std::uint8_t>(f.dlc, 8);
    }
    if (f.rtr) return true;
    // Writers store fewer bytes than the DLC says (python-can issue 1905); Vector's tools pad
    // the rest with zeros, and so does this reader, saying how often.
    const std::size_t present = std::min<std::size_t>({n - 40, valid, f.len});
    std::memcpy(f.data.data(), b + 40, present);
    if (present < f.len) ++short_fd_;
    return true;
  }

  static bool can_error(const unsigned char* b, std::size_t n, can::Frame& f,
                        std::string_view& why) {
    if (n < 4) {
      why = "CAN error frame shorter than its 4 bytes";
      return false;
    }
    // BLF names the error but its cause fields are controller specific: an error frame without
    // class bits, as from an ASC log.
    can::Frame e = can::make_error_frame(0, {});
    e.timestamp_ns = f.timestamp_ns;
    e.time_kind = f.time_kind;
    e.channel = std::to_string(le16(b));
    f = e;
    return true;
  }

  void finish() {
    if (!in_.error().empty() && !failure_) {
      failure_ = Error{ErrorCode::kIo, fmt::format("{}: reading stopped at offset {}: {}", name_,
                                                   in_.offset(), in_.error())};
    }
    if (pending() >= kBaseHeader || skip_ > 0) {
      report(fmt::format("the file ends inside object {} ({} bytes of it present)", objects_ + 1,
                         pending()));
    }
    if (stray_id_bits_ > 0) {
      ++stats_.notes;
      sink_.report(Diagnostic{
          name_,
          0,
          fmt::format("{} frame(s) had bits 29-30 of the identifier set; ignored", stray_id_bits_),
          {}});
      stray_id_bits_ = 0;
    }
    if (impossible_dlc_ > 0) {
      ++stats_.notes;
      sink_.report(Diagnostic{
          name_,
          0,
          fmt::format("{} frame(s) had a DLC above 15; read as 8 bytes (classic) or 64 (CAN FD)",
                      impossible_dlc_),
          {}});
      impossible_dlc_ = 0;
    }
    if (unflagged_extended_ > 0) {
      ++stats_.notes;
      sink_.report(Diagnostic{
          name_,
          0,
          fmt::format("{} frame(s) had an identifier above 0x7FF without the extended flag; read "
                      "as 29-bit identifiers",
                      unflagged_extended_),
          {}});
      unflagged_extended_ = 0;
    }
    if (short_fd_ > 0) {
      ++stats_.notes;
      sink_.report(Diagnostic{
          name_,
          0,
          fmt::format("{} CAN FD frame(s) stored fewer data bytes than their DLC; the rest read "
                      "as zeros, as Vector's tools do",
                      short_fd_),
          {}});
      short_fd_ = 0;
    }
    pos_ = stream_.size();
    skip_ = 0;
  }

  Input in_;
  Header header_;
  DiagnosticSink& sink_;
  std::string stream_;  // container payloads not yet parsed
  WholeInflater inflater_;
  std::size_t pos_ = 0;
  std::uint64_t skip_ = 0;  // bytes of an over-long object still to pass
  std::uint64_t objects_ = 0;
  std::uint64_t short_fd_ = 0;
  std::uint64_t unflagged_extended_ = 0;
  std::uint64_t stray_id_bits_ = 0;
  std::uint64_t impossible_dlc_ = 0;
  std::map<std::uint32_t, std::uint64_t> skipped_types_;
};

}  // namespace

bool looks_like_blf(std::string_view head) { return head.substr(0, 4) == "LOGG"; }

Result<std::unique_ptr<FrameReader>> open_blf(std::unique_ptr<ByteSource> bytes, std::string name,
                                              DiagnosticSink& sink) {
  Input in(std::move(bytes));
  constexpr std::size_t kFixed = 72;  // signature .. stop time
  const std::size_t have = in.ensure(kFixed);
  if (have < kFixed || std::memcmp(in.data(), "LOGG", 4) != 0) {
    return make_error(
        ErrorCode::kMalformed,
        fmt::format("{}: BLF file header cut short: {} of its 72 fixed bytes", name, have));
  }
  const unsigned char* p = in.data();
  Header h;
  h.size = le32(p + 4);
  if (h.size < kFixed || h.size > (1U << 20)) {
    return make_error(ErrorCode::kMalformed,
                      fmt::format("{}: BLF header size {} at offset 4; expected 72 to 1 MiB (144 "
                                  "in every writer seen)",
                                  name, h.size));
  }
  h.application = p[8];
  h.app_version = {p[9], p[10], p[11]};
  h.objects = le32(p + 36);
  h.start_ns = systemtime_ns(p + 40);
  if (in.ensure(h.size) < h.size) {
    return make_error(ErrorCode::kMalformed,
                      fmt::format("{}: the file ends inside its {}-byte BLF header", name, h.size));
  }
  in.consume(h.size);
  return std::unique_ptr<FrameReader>(new BlfReader(std::move(in), h, std::move(name), sink));
}

std::ptrdiff_t PrefixSource::read(char* out, std::size_t n) {
  if (pos_ < prefix_.size()) {
    const std::size_t take = std::min(n, prefix_.size() - pos_);
    std::memcpy(out, prefix_.data() + pos_, take);
    pos_ += take;
    return static_cast<std::ptrdiff_t>(take);
  }
  return inner_->read(out, n);
}

std::string read_head(ByteSource& source, std::size_t n) {
  std::string head(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    const std::ptrdiff_t r = source.read(head.data() + got, n - got);
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  head.resize(got);
  return head;
}

}  // namespace bmslink::capture::detail
