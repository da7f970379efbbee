// Writers for the loggers' binary formats, so a capture can go on to asammdf, CANalyzer or
// CANedge's tools: Vector BLF and ASAM MDF 4.11 in the bus-logging layout CANedge uses.
//
// Both stream: frames are buffered and written as they come, and the counts a header holds are
// written back at the end when the output can seek (a file). To a pipe, a BLF keeps zero counts
// (readers go by the containers), and an MF4 stays "UnFinMF " exactly as a logger leaves it at
// power loss, which MDF readers (bmslink's too) finish on reading.

#include <zlib.h>

#include <array>
#include <cstring>
#include <map>
#include <set>
#include <string>

#include <fmt/format.h>

#include "bmslink/can/error_frame.h"
#include "capture/binary_writers.h"

namespace bmslink::capture::detail {
namespace {

// Little-endian; widths above 8 bytes are zero padding.
void put(std::string& s, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s += i < 8 ? static_cast<char>((v >> (8 * i)) & 0xFF) : '\0';
}
void put_at(std::string& s, std::size_t at, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i)
    s[at + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFF);
}
void put_f64(std::string& s, double d) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &d, 8);
  put(s, bits, 8);
}

// Bus numbers: a channel named by a number keeps it ("1", "2" from a logger); others ("can0")
// are numbered from 1 in order of appearance, skipping numbers already taken.
class ChannelNumbers {
 public:
  std::uint32_t number(const std::string& name) {
    const auto it = numbers_.find(name);
    if (it != numbers_.end()) return it->second;
    std::uint32_t n = 0;
    if (!name.empty() && name.size() <= 5 &&
        name.find_first_not_of("0123456789") == std::string::npos) {
      n = static_cast<std::uint32_t>(std::stoul(name));
    }
    if (n == 0 || n > 255 || used_.count(n) != 0) {
      n = 1;
      while (used_.count(n) != 0) ++n;
    }
    used_.insert(n);
    numbers_.emplace(name, n);
    return n;
  }

 private:
  std::map<std::string, std::uint32_t> numbers_;
  std::set<std::uint32_t> used_;
};

class FileOut {
 public:
  explicit FileOut(std::FILE* out) : out_(out) {}
  void write(const std::string& bytes) {
    if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), out_) != bytes.size() &&
        failed_ == 0) {
      failed_ = errno != 0 ? errno : EIO;
    }
    written_ += bytes.size();
  }
  // Rewrites bytes at an offset from where the writer started; false when the output cannot
  // seek (a pipe), which is not an error.
  bool patch(std::uint64_t offset, const std::string& bytes) {
    if (start_ < 0) return false;
    if (std::fflush(out_) != 0 ||
        std::fseek(out_, start_ + static_cast<long>(offset), SEEK_SET) != 0) {
      return false;
    }
    if (std::fwrite(bytes.data(), 1, bytes.size(), out_) != bytes.size() && failed_ == 0)
      failed_ = errno;
    std::fseek(out_, 0, SEEK_END);
    return true;
  }
  void begin() { start_ = std::ftell(out_); }
  Result<void> done() {
    if (std::fflush(out_) != 0 && failed_ == 0) failed_ = errno;
    if (failed_ != 0)
      return make_error(ErrorCode::kIo, fmt::format("write failed: {}", std::strerror(failed_)));
    return {};
  }
  std::uint64_t written() const { return written_; }

 private:
  std::FILE* out_;
  long start_ = -1;
  std::uint64_t written_ = 0;
  int failed_ = 0;
};

// ---- BLF ------------------------------------------------------------------------------------

constexpr std::size_t kBlfHeaderSize = 144;
constexpr std::size_t kBlfContainerBytes = 128 * 1024;  // uncompressed, as Vector's tools write

std::string systemtime(std::int64_t ns) {
  std::string s;
  if (ns <= 0) {
    put(s, 0, 16);
    return s;
  }
  const std::int64_t ms_total = ns / 1'000'000;
  std::int64_t days = ms_total / 86'400'000;
  const std::int64_t ms_day = ms_total % 86'400'000;
  // Civil date from days since 1970 (Howard Hinnant's algorithm).
  days += 719468;
  const std::int64_t era = days / 146097;
  const std::int64_t doe = days - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const std::int64_t weekday = (ms_total / 86'400'000 + 4) % 7;  // 1970-01-01 was a Thursday
  for (std::int64_t v : {year, month, weekday, day, ms_day / 3'600'000, ms_day / 60'000 % 60,
                         ms_day / 1000 % 60, ms_day % 1000}) {
    put(s, static_cast<std::uint64_t>(v), 2);
  }
  return s;
}

class BlfWriter final : public FrameWriter {
 public:
  explicit BlfWriter(std::FILE* out) : out_(out) {}

  void write(const can::Frame& f) override {
    if (!started_) start(f);
    if (!f.has_timestamp()) ++untimed_;
    const std::int64_t t = f.has_timestamp() ? f.timestamp_ns - start_ns_ : 0;
    last_ns_ = std::max(last_ns_, f.has_timestamp() ? f.timestamp_ns : start_ns_);
    const std::uint32_t channel = channels_.number(f.channel);
    std::string body;
    std::uint32_t type = 1;
    if (f.error) {
      type = 73;  // CAN_ERROR_EXT
      put(body, channel, 2);
      put(body, 0, 2);  // length
      put(body, 0, 4);  // flags
      put(body, 0, 4);  // ecc, position, dlc, reserved
      put(body, 0, 4);  // frame length
      put(body, 0, 4);  // id
      put(body, 0, 4);  // extended flags, reserved
      body.append(reinterpret_cast<const char*>(f.data.data()), 8);
    } else if (f.fd) {
      type = 101;  // CAN_FD_MESSAGE_64
      const std::uint32_t flags = 0x1000U | (f.brs ? 0x2000U : 0U) | (f.esi ? 0x4000U : 0U);
      put(body, channel, 1);
      put(body, f.dlc, 1);
      put(body, f.len, 1);
      put(body, 0, 1);  // tx count
      put(body, f.id | (f.extended ? 0x80000000U : 0U), 4);
      put(body, 0, 4);  // frame length
      put(body, flags, 4);
      put(body, 0, 4 * 4);  // bit rates, time offsets
      put(body, 0, 2);      // bit count
      put(body, f.direction == can::Direction::kTx ? 1 : 0, 1);
      put(body, 0, 1);  // extended data offset
      put(body, 0, 4);  // crc
      body.append(reinterpret_cast<const char*>(f.data.data()), f.len);
    } else {
      const std::uint8_t flags = static_cast<std::uint8_t>(
          (f.direction == can::Direction::kTx ? 0x01 : 0) | (f.rtr ? 0x80 : 0));
      put(body, channel, 2);
      put(body, flags, 1);
      put(body, f.dlc, 1);
      put(body, f.id | (f.extended ? 0x80000000U : 0U), 4);
      std::array<std::uint8_t, 8> data{};
      if (!f.rtr) std::memcpy(data.data(), f.data.data(), std::min<std::size_t>(f.len, 8));
      body.append(reinterpret_cast<const char*>(data.data()), 8);
    }
    // Object header version 1: flags 2 = timestamps in nanoseconds.
    const std::size_t size = 32 + body.size();
    buffer_ += "LOBJ";
    put(buffer_, 32, 2);
    put(buffer_, 1, 2);
    put(buffer_, size, 4);
    put(buffer_, type, 4);
    put(buffer_, 2, 4);
    put(buffer_, 0, 2);
    put(buffer_, 0, 2);
    put(buffer_, static_cast<std::uint64_t>(t), 8);
    buffer_ += body;
    // Vector's padding rule: as many zero bytes as the size's remainder modulo 4 (not up to the
    // next multiple of 4); readers that skip `size % 4` bytes depend on it.
    buffer_.append(size % 4, '\0');
    ++objects_;
    if (buffer_.size() >= kBlfContainerBytes) flush_container();
  }

  Result<void> finish() override {
    if (!started_) start(can::Frame{});
    flush_container();
    // The counts and the stop time, now known.
    const std::string header = make_header(out_.written(), uncompressed_);
    out_.patch(0, header);
    return out_.done();
  }

 private:
  void start(const can::Frame& first) {
    started_ = true;
    out_.begin();
    const std::int64_t abs_ns = first.time_kind == TimeKind::kAbsolute ? first.timestamp_ns : 0;
    start_ns_ = abs_ns - abs_ns % 1'000'000;  // SYSTEMTIME holds milliseconds
    absolute_ = abs_ns > 0;
    last_ns_ = start_ns_;
    out_.write(make_header(0, 0));
  }

  std::string make_header(std::uint64_t file_size, std::uint64_t uncompressed) const {
    std::string h = "LOGG";
    put(h, kBlfHeaderSize, 4);
    put(h, 0, 1);  // application id: none of Vector's
    put(h, 0, 1);
    put(h, 1, 1);  // bmslink 0.1.0
    put(h, 0, 1);
    put(h, 4, 1);  // binary log format 4.0, as current Vector tools
    put(h, 0, 1);
    put(h, 0, 1);
    put(h, 0, 1);
    put(h, file_size, 8);
    put(h, uncompressed, 8);
    put(h, objects_, 4);
    put(h, objects_, 4);
    h += systemtime(absolute_ ? start_ns_ : 0);
    h += systemtime(absolute_ ? last_ns_ : 0);
    h.resize(kBlfHeaderSize, '\0');
    return h;
  }

  void flush_container() {
    if (buffer_.empty()) return;
    uLongf packed_size = compressBound(buffer_.size());
    std::string packed(packed_size, '\0');
    compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size,
              reinterpret_cast<const Bytef*>(buffer_.data()), buffer_.size(), 6);
    packed.resize(packed_size);
    std::string c = "LOBJ";
    put(c, 16, 2);
    put(c, 1, 2);
    put(c, 32 + packed.size(), 4);
    put(c, 10, 4);  // LOG_CONTAINER
    put(c, 2, 2);   // zlib
    put(c, 0, 6);
    put(c, buffer_.size(), 4);
    put(c, 0, 4);
    c += packed;
    c.append(c.size() % 4, '\0');  // Vector's padding rule, as for objects
    out_.write(c);
    uncompressed_ += 32 + buffer_.size();
    buffer_.clear();
  }

  FileOut out_;
  bool started_ = false;
  bool absolute_ = false;
  std::int64_t start_ns_ = 0;
  std::int64_t last_ns_ = 0;
  std::string buffer_;
  std::uint64_t objects_ = 0;
  std::uint64_t uncompressed_ = 0;
  ChannelNumbers channels_;
};

// ---- MF4 ------------------------------------------------------------------------------------

constexpr std::uint8_t kRecData = 1, kRecVlsd = 2, kRecRemote = 3, kRecError = 4;
constexpr std::uint32_t kDataRecord = 24, kShortRecord = 16;

// Metadata blocks laid out in memory before any record is written, so every link is known.
class Blocks {
 public:
  explicit Blocks(std::uint64_t base) : base_(base) {}
  std::uint64_t add(const char* id, const std::vector<std::uint64_t>& links,
                    const std::string& data) {
    while (bytes_.size() % 8 != 0) bytes_ += '\0';
    const std::uint64_t at = base_ + bytes_.size();
    bytes_ += id;
    put(bytes_, 0, 4);
    put(bytes_, 24 + links.size() * 8 + data.size(), 8);
    put(bytes_, links.size(), 8);
    for (auto l : links) put(bytes_, l, 8);
    bytes_ += data;
    return at;
  }
  void set_link(std::uint64_t block, std::size_t index, std::uint64_t value) {
    put_at(bytes_, block - base_ + 24 + index * 8, value, 8);
  }
  void set(std::uint64_t at, std::uint64_t value, int bytes) {
    put_at(bytes_, at - base_, value, bytes);
  }
  std::uint64_t end() const { return base_ + bytes_.size(); }
  const std::string& bytes() const { return bytes_; }
  void align() {
    while (bytes_.size() % 8 != 0) bytes_ += '\0';
  }

 private:
  std::uint64_t base_;
  std::string bytes_;
};

std::uint64_t text_block(Blocks& b, const std::string& text) {
  std::string d = text;
  d += '\0';
  while (d.size() % 8 != 0) d += '\0';
  return b.add("##TX", {}, d);
}

std::uint64_t linear_cc(Blocks& b, double offset, double factor) {
  std::string d;
  put(d, 1, 1);  // linear
  put(d, 0, 1);
  put(d, 0, 2);
  put(d, 0, 2);  // references
  put(d, 2, 2);  // values
  put_f64(d, 0);
  put_f64(d, 0);
  put_f64(d, offset);
  put_f64(d, factor);
  return b.add("##CC", {0, 0, 0, 0}, d);
}

struct ChannelSpec {
  std::string name;
  std::uint8_t type = 0;  // 0 fixed, 1 VLSD, 2 master
  std::uint8_t sync = 0;
  std::uint8_t data_type = 0;
  std::uint32_t byte_offset = 0;
  std::uint8_t bit_offset = 0;
  std::uint32_t bit_count = 0;
  std::uint64_t conversion = 0;
  std::uint64_t data = 0;
  std::uint32_t flags = 0;
};

std::uint64_t channel_block(Blocks& b, const ChannelSpec& c, std::uint64_t next,
                            std::uint64_t composition, std::uint64_t source) {
  std::string d;
  put(d, c.type, 1);
  put(d, c.sync, 1);
  put(d, c.data_type, 1);
  put(d, c.bit_offset, 1);
  put(d, c.byte_offset, 4);
  put(d, c.bit_count, 4);
  put(d, c.flags, 4);
  put(d, 0, 4);  // invalidation bit
  put(d, 0, 1);  // precision
  put(d, 0, 1);
  put(d, 0, 2);  // attachments
  for (int i = 0; i < 6; ++i) put_f64(d, 0);
  const std::uint64_t name = text_block(b, c.name);
  return b.add("##CN", {next, composition, name, source, c.conversion, c.data, 0, 0}, d);
}

// A chain of channels, written last to first so each knows its successor.
std::uint64_t chain(Blocks& b, const std::vector<ChannelSpec>& specs, std::uint64_t source) {
  std::uint64_t next = 0;
  for (auto it = specs.rbegin(); it != specs.rend(); ++it)
    next = channel_block(b, *it, next, 0, source);
  return next;
}

class Mf4Writer final : public FrameWriter {
 public:
  explicit Mf4Writer(std::FILE* out) : out_(out) {}

  void write(const can::Frame& f) override {
    if (!started_) start(f);
    if (!f.has_timestamp()) ++untimed_;
    const std::int64_t t = f.has_timestamp() ? f.timestamp_ns - start_ns_ : 0;
    const std::uint32_t bus = channels_.number(f.channel);
    const bool tx = f.direction == can::Direction::kTx;
    if (f.error) {
      records_ += static_cast<char>(kRecError);
      put(records_, static_cast<std::uint64_t>(t), 8);
      put(records_, bus, 1);
      put(records_, error_type(f), 1);
      put(records_, tx ? 1 : 0, 1);
      put(records_, 0, 5);
      ++count_error_;
    } else if (f.rtr) {
      records_ += static_cast<char>(kRecRemote);
      put(records_, static_cast<std::uint64_t>(t), 8);
      put(records_, bus, 1);
      put(records_, f.id | (f.extended ? 1U << 29 : 0U), 4);
      put(records_, (f.dlc & 0x0F) | (tx ? 0x10 : 0), 1);
      put(records_, f.len, 1);
      put(records_, 0, 1);
      ++count_remote_;
    } else {
      records_ += static_cast<char>(kRecData);
      put(records_, static_cast<std::uint64_t>(t), 8);
      put(records_, bus, 1);
      put(records_, f.id | (f.extended ? 1U << 29 : 0U), 4);
      put(records_,
          static_cast<std::uint64_t>((f.dlc & 0x0F) | (tx ? 0x10 : 0) | (f.fd ? 0x20 : 0) |
                                     (f.brs ? 0x40 : 0) | (f.esi ? 0x80 : 0)),
          1);
      put(records_, f.len, 1);
      put(records_, 0, 1);
      put(records_, vlsd_bytes_, 8);
      ++count_data_;
      // Its payload follows as a record of the VLSD group, as CANedge writes it.
      records_ += static_cast<char>(kRecVlsd);
      put(records_, f.len, 4);
      records_.append(reinterpret_cast<const char*>(f.data.data()), f.len);
      vlsd_bytes_ += 4U + f.len;
    }
    if (records_.size() >= (1U << 18)) {
      out_.write(records_);
      data_bytes_ += records_.size();
      records_.clear();
    }
  }

  Result<void> finish() override {
    if (!started_) start(can::Frame{});
    out_.write(records_);
    data_bytes_ += records_.size();
    records_.clear();
    // Finalise: the DT's length, each group's record count, the VLSD group's byte count, and
    // the identification block.
    std::string v;
    put(v, 24 + data_bytes_, 8);
    if (out_.patch(dt_ + 8, v)) {
      auto patch64 = [&](std::uint64_t at, std::uint64_t value) {
        std::string s;
        put(s, value, 8);
        out_.patch(at, s);
      };
      patch64(cycle_data_, count_data_);
      patch64(cycle_vlsd_, count_data_);
      patch64(vlsd_size_, vlsd_bytes_);  // data_bytes + inval_bytes as one 64-bit count
      patch64(cycle_remote_, count_remote_);
      patch64(cycle_error_, count_error_);
      out_.patch(0, "MDF     ");
      std::string flags;
      put(flags, 0, 4);
      out_.patch(60, flags);
    }
    return out_.done();
  }

 private:
  // The bus-logging ErrorType (asammdf's names): 1 bit, 2 form, 3 stuffing, 4 CRC, 5 ack.
  static std::uint8_t error_type(const can::Frame& f) {
    if (f.id & can::err::kNoAck) return 5;
    const std::uint8_t kind = f.data[2];
    if (kind & (can::err::kProtBit | can::err::kProtBit0 | can::err::kProtBit1)) return 1;
    if (kind & can::err::kProtForm) return 2;
    if (kind & can::err::kProtStuff) return 3;
    if (f.data[3] == can::err::kLocCrcSequence) return 4;
    return 0;
  }

  void start(const can::Frame& first) {
    started_ = true;
    out_.begin();
    start_ns_ = first.time_kind == TimeKind::kAbsolute ? first.timestamp_ns : 0;
    // Identification block: unfinalised until finish() can write the counts back.
    std::string id = "UnFinMF 4.11    bmslink ";
    put(id, 0, 4);
    put(id, 411, 2);
    put(id, 0, 30);
    put(id, 0x25, 2);  // cycle counts, last DT length, VLSD byte counts not yet written
    put(id, 0, 2);
    Blocks b(64);
    // HD first, at 64, its links set below.
    std::string hd;
    put(hd, static_cast<std::uint64_t>(start_ns_), 8);
    put(hd, 0, 2);
    put(hd, 0, 2);
    put(hd, 0, 1);  // time flags: UTC
    put(hd, 0, 1);
    put(hd, 0, 1);
    put(hd, 0, 1);
    put_f64(hd, 0);
    put_f64(hd, 0);
    const std::uint64_t hd_at = b.add("##HD", {0, 0, 0, 0, 0, 0}, hd);
    std::string fh_md =
        "<FHcomment><TX>written by bmslink convert</TX><tool_id>bmslink</tool_id>"
        "<tool_vendor>bmslink</tool_vendor><tool_version>0.1.0</tool_version>"
        "</FHcomment>";
    fh_md += '\0';
    while (fh_md.size() % 8 != 0) fh_md += '\0';
    const std::uint64_t md = b.add("##MD", {}, fh_md);
    std::string fh;
    put(fh, static_cast<std::uint64_t>(start_ns_), 8);
    put(fh, 0, 8);
    const std::uint64_t fh_at = b.add("##FH", {0, md}, fh);
    b.set_link(hd_at, 1, fh_at);

    std::string si;
    put(si, 2, 1);  // source: bus
    put(si, 2, 1);  // bus: CAN
    put(si, 0, 6);
    const std::uint64_t si_at = b.add("##SI", {text_block(b, "CAN"), text_block(b, "CAN"), 0}, si);
    const std::uint64_t time_cc = linear_cc(b, 0, 1e-9);
    const ChannelSpec time{"Timestamp", 2, 1, 2, 0, 0, 64, time_cc, 0, 0};

    // Groups, last first (each links to the next).
    auto group = [&](std::uint64_t next, std::uint64_t record_id, std::uint16_t flags,
                     std::uint32_t record_bytes, std::uint64_t channels, const std::string& name,
                     std::uint64_t& cycle_at) {
      std::string d;
      put(d, record_id, 8);
      cycle_at = 0;  // set once the block's place is known
      put(d, 0, 8);
      put(d, flags, 2);
      put(d, '.', 2);
      put(d, 0, 4);
      put(d, record_bytes, 4);
      put(d, 0, 4);
      const std::uint64_t acq = name.empty() ? 0 : text_block(b, name);
      const std::uint64_t at =
          b.add("##CG", {next, channels, acq, name.empty() ? 0 : si_at, 0, 0}, d);
      cycle_at = at + 24 + 6 * 8 + 8;
      return at;
    };
    auto composed = [&](const std::string& event, std::uint32_t record_bytes,
                        const std::vector<ChannelSpec>& members) {
      std::vector<ChannelSpec> named = members;
      for (auto& m : named) {
        m.name = event + "." + m.name;
        m.flags = 0x400;  // bus event
      }
      const std::uint64_t first_member = chain(b, named, si_at);
      ChannelSpec parent{event, 0, 0, 10, 8, 0, (record_bytes - 8) * 8, 0, 0, 0x400};
      const std::uint64_t parent_at = channel_block(b, parent, 0, first_member, si_at);
      return channel_block(b, time, parent_at, 0, si_at);
    };
    std::uint64_t vlsd_cycle = 0;
    const std::uint64_t error_cg = group(0, kRecError, 0x6, kShortRecord,
                                         composed("CAN_ErrorFrame", kShortRecord,
                                                  {{"BusChannel", 0, 0, 0, 8, 0, 8, 0, 0, 0},
                                                   {"ErrorType", 0, 0, 0, 9, 0, 8, 0, 0, 0},
                                                   {"Dir", 0, 0, 0, 10, 0, 1, 0, 0, 0}}),
                                         "CAN_ErrorFrame", cycle_error_);
    const std::uint64_t remote_cg = group(error_cg, kRecRemote, 0x6, kShortRecord,
                                          composed("CAN_RemoteFrame", kShortRecord,
                                                   {{"BusChannel", 0, 0, 0, 8, 0, 8, 0, 0, 0},
                                                    {"ID", 0, 0, 0, 9, 0, 29, 0, 0, 0},
                                                    {"IDE", 0, 0, 0, 12, 5, 1, 0, 0, 0},
                                                    {"DLC", 0, 0, 0, 13, 0, 4, 0, 0, 0},
                                                    {"DataLength", 0, 0, 0, 14, 0, 8, 0, 0, 0},
                                                    {"Dir", 0, 0, 0, 13, 4, 1, 0, 0, 0}}),
                                          "CAN_RemoteFrame", cycle_remote_);
    const std::uint64_t vlsd_cg = group(remote_cg, kRecVlsd, 0x1, 0, 0, "", vlsd_cycle);
    cycle_vlsd_ = vlsd_cycle;
    vlsd_size_ = vlsd_cycle + 8 + 2 + 2 + 4;  // data_bytes, then inval_bytes: one u64
    const std::uint64_t data_cg = group(vlsd_cg, kRecData, 0x6, kDataRecord,
                                        composed("CAN_DataFrame", kDataRecord,
                                                 {{"BusChannel", 0, 0, 0, 8, 0, 8, 0, 0, 0},
                                                  {"ID", 0, 0, 0, 9, 0, 29, 0, 0, 0},
                                                  {"IDE", 0, 0, 0, 12, 5, 1, 0, 0, 0},
                                                  {"DLC", 0, 0, 0, 13, 0, 4, 0, 0, 0},
                                                  {"DataLength", 0, 0, 0, 14, 0, 8, 0, 0, 0},
                                                  {"DataBytes", 1, 0, 10, 16, 0, 64, 0, 0, 0},
                                                  {"Dir", 0, 0, 0, 13, 4, 1, 0, 0, 0},
                                                  {"EDL", 0, 0, 0, 13, 5, 1, 0, 0, 0},
                                                  {"BRS", 0, 0, 0, 13, 6, 1, 0, 0, 0},
                                                  {"ESI", 0, 0, 0, 13, 7, 1, 0, 0, 0}}),
                                        "CAN_DataFrame", cycle_data_);
    // DataBytes points at the VLSD group: find it in the chain and set its data link.
    link_data_bytes(b, data_cg, vlsd_cg);
    std::string dg;
    put(dg, 1, 1);  // record ids of one byte
    put(dg, 0, 7);
    const std::uint64_t dg_at = b.add("##DG", {0, data_cg, 0, 0}, dg);
    b.set_link(hd_at, 0, dg_at);
    b.align();
    dt_ = b.end();
    b.set_link(dg_at, 2, dt_);
    std::string dt = "##DT";
    put(dt, 0, 4);
    put(dt, 24, 8);  // the length is written at the end
    put(dt, 0, 8);
    out_.write(id);
    out_.write(b.bytes());
    out_.write(dt);
  }

  // Walks the data group's channel chain to the composed DataBytes member.
  void link_data_bytes(Blocks& b, std::uint64_t cg, std::uint64_t vlsd_cg) {
    const std::string& bytes = b.bytes();
    auto get = [&](std::uint64_t at) {
      std::uint64_t v = 0;
      for (int i = 7; i >= 0; --i)
        v = v << 8 | static_cast<unsigned char>(bytes[at - 64 + static_cast<std::size_t>(i)]);
      return v;
    };
    const std::uint64_t time = get(cg + 24 + 8);  // cn_first
    const std::uint64_t parent = get(time + 24);  // cn_next
    for (std::uint64_t m = get(parent + 24 + 8); m != 0; m = get(m + 24)) {
      const std::uint64_t name = get(m + 24 + 16);
      const std::string text = bytes.substr(name - 64 + 24, 25);
      if (text.rfind("CAN_DataFrame.DataBytes", 0) == 0) {
        b.set_link(m, 5, vlsd_cg);
        return;
      }
    }
  }

  FileOut out_;
  bool started_ = false;
  std::int64_t start_ns_ = 0;
  std::string records_;
  std::uint64_t data_bytes_ = 0;
  std::uint64_t vlsd_bytes_ = 0;
  std::uint64_t count_data_ = 0, count_remote_ = 0, count_error_ = 0;
  std::uint64_t dt_ = 0;
  std::uint64_t cycle_data_ = 0, cycle_vlsd_ = 0, cycle_remote_ = 0, cycle_error_ = 0;
  std::uint64_t vlsd_size_ = 0;
  ChannelNumbers channels_;
};

}  // namespace

std::unique_ptr<FrameWriter> make_blf_writer(std::FILE* out) {
  return std::make_unique<BlfWriter>(out);
}
std::unique_ptr<FrameWriter> make_mf4_writer(std::FILE* out) {
  return std::make_unique<Mf4Writer>(out);
}

}  // namespace bmslink::capture::detail
