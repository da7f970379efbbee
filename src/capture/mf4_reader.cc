// ASAM MDF 4 (MF4) bus logs: CSS Electronics CANedge and other loggers that follow ASAM's bus
// logging convention.
//
// The file is a tree of blocks linked by absolute offsets: ID (the first 64 bytes), HD (start
// time), data groups (DG) holding channel groups (CG) of channels (CN) with conversions (CC).
// CAN frames are channel groups whose channel "CAN_DataFrame", "CAN_RemoteFrame" or
// "CAN_ErrorFrame" is composed of members (ID, IDE, DLC, DataLength, DataBytes, BusChannel, Dir,
// EDL, BRS, ESI, ErrorType). Where those members sit differs between loggers and between
// CANedge firmware versions (one 22-byte record in 01.03/01.04; a group per frame type with
// constant members as virtual channels in 01.07+), so every position is read from the CN
// blocks, never assumed. LIN and other bus groups are skipped and counted.
//
// Records live in DT blocks, or deflated (DZ, also transposed), listed by DL blocks (chained)
// under an optional HL. Unsorted groups prefix each record with a record id; payloads longer
// than the fixed record (DataBytes as variable-length signal data) follow as records of a VLSD
// group, or sit in an SD block for sorted groups. Data is streamed through a fixed buffer, so a
// week-long log is read in constant memory; sorted groups are merged by time.
//
// A logger that loses power leaves the file "UnFinMF ": the last DT block's length was never
// written and record counts are zero. Such a DT runs to the end of the file and is read up to
// its last whole record, and the reader says so.

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <future>
#include <limits>
#include <map>
#include <queue>
#include <set>
#include <system_error>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "bmslink/can/error_frame.h"
#include "capture/binary_readers.h"
#include "capture/byte_order.h"
#include "capture/whole_inflate.h"

namespace bmslink::capture::detail {
namespace {

constexpr std::size_t kChunk = 256 * 1024;
constexpr std::uint64_t kMaxTransposedBytes = 64ULL << 20;  // one transposed DZ block inflated
constexpr std::uint64_t kMaxWholeBlock = 16ULL << 20;       // larger DZ blocks stream through zlib
constexpr std::size_t kMaxFragments = 1'000'000;
constexpr std::size_t kMaxChannels = 100'000;
constexpr std::size_t kMaxPending = 4096;      // frames waiting for their VLSD payload
constexpr std::uint32_t kMaxCanRecord = 1024;  // CANedge's are 7-24 bytes; 64 bytes inline fit
constexpr std::size_t kMaxCanGroups = 256;     // sorted files: one per frame type and bus
constexpr std::uint64_t kMaxRewinds = 1000;    // signal data read backwards, per data group

double f64(const unsigned char* p) {
  const std::uint64_t bits = le64(p);
  double d = 0;
  std::memcpy(&d, &bits, 8);
  return d;
}

// The whole file, read at offsets: pread on a descriptor, or bytes in memory.
class File {
 public:
  File(int fd, std::string_view memory) : fd_(fd), memory_(memory) {
    if (fd_ >= 0) {
      const off_t end = ::lseek(fd_, 0, SEEK_END);
      size_ = end > 0 ? static_cast<std::uint64_t>(end) : 0;
    } else {
      size_ = memory_.size();
    }
  }
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  std::uint64_t size() const { return size_; }
  // Reads exactly n bytes at `offset`; false past the end or on a read error.
  bool read(std::uint64_t offset, void* out, std::size_t n) const {
    if (offset > size_ || n > size_ - offset) return false;
    if (fd_ < 0) {
      std::memcpy(out, memory_.data() + offset, n);
      return true;
    }
    auto* dst = static_cast<char*>(out);
    while (n > 0) {
      const ssize_t got = ::pread(fd_, dst, n, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      dst += got;
      n -= static_cast<std::size_t>(got);
      offset += static_cast<std::uint64_t>(got);
    }
    return true;
  }

 private:
  int fd_;
  std::string_view memory_;
  std::uint64_t size_ = 0;
};

// Bytes that are about to be overwritten (a read, an inflation): resized without zeroing them
// first, which cost 2 % of the reader's instructions.
template <typename T>
struct Uninitialised : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = Uninitialised<U>;
  };
  Uninitialised() = default;
  template <typename U>
  explicit Uninitialised(const Uninitialised<U>&) noexcept {}
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
using Bytes = std::vector<unsigned char, Uninitialised<unsigned char>>;

// A first-in first-out queue that keeps its slots: frames wait here for their payload. A deque
// allocated and freed a node every three frames, a tenth of the reader's time.
template <typename T>
class Ring {
 public:
  std::size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  T& front() { return slots_[head_]; }
  T& operator[](std::size_t i) { return slots_[(head_ + i) & mask_]; }
  // A slot at the back, holding whatever it held before: the caller sets every field.
  T& push_back() {
    if (count_ == slots_.size()) grow();
    T& slot = slots_[(head_ + count_) & mask_];
    ++count_;
    return slot;
  }
  void pop_back() { --count_; }
  void pop_front() {
    head_ = (head_ + 1) & mask_;
    --count_;
  }
  void clear() { head_ = count_ = 0; }

 private:
  void grow() {
    std::vector<T> bigger(std::max<std::size_t>(16, slots_.size() * 2));
    for (std::size_t i = 0; i < count_; ++i) bigger[i] = std::move((*this)[i]);
    slots_ = std::move(bigger);
    head_ = 0;
    mask_ = slots_.size() - 1;
  }
  std::vector<T> slots_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::size_t mask_ = 0;
};

struct Block {
  std::uint64_t at = 0;
  std::string id;  // "##DG" ...
  std::uint64_t length = 0;
  std::vector<std::uint64_t> links;
  std::uint64_t data_at = 0;  // offset of the data section
  std::uint64_t data_size = 0;
  std::uint64_t link(std::size_t i) const { return i < links.size() ? links[i] : 0; }
};

struct Conversion {
  std::uint8_t type = 0;  // 0 identity, 1 linear, 2 rational, 4/5 table, 6 range table
  std::vector<double> values;
};

struct Channel {
  std::string name;
  std::uint8_t type = 0;  // 0 fixed, 1 VLSD, 2 master, 3 virtual master, 6 virtual data
  std::uint8_t sync = 0;
  std::uint8_t data_type = 0;
  std::uint8_t bit_offset = 0;
  std::uint32_t byte_offset = 0;
  std::uint32_t bit_count = 0;
  std::uint64_t data_link = 0;  // VLSD: a CG (unsorted) or signal data blocks
  Conversion cc;
  bool present = false;
  // Fast paths, set once when the channel is read: an unsigned little-endian integer without
  // conversion (most CAN members), or a constant (a virtual channel whose linear conversion
  // has factor 0, as CANedge 01.07+ writes BusChannel, IDE, Dir and EDL).
  bool plain_uint = false;
  std::optional<double> constant;
  // Set by prepare() once the record size is known: a little-endian integer whose eight bytes
  // from `first_byte` lie inside every record, read as one load, shift and mask.
  bool fast = false;
  std::uint32_t first_byte = 0;
  std::uint8_t shift = 0;
  std::uint64_t mask = 0;
  // A little-endian integer with an identity or linear conversion (the time master of every
  // bus logger seen): offset + factor * raw, without the general conversion path.
  bool affine_int = false;
  bool affine_signed = false;
  double offset = 0;
  double factor = 1;
};

enum class Event { kData, kRemote, kError };

struct Group {
  std::uint64_t record_id = 0;
  std::uint32_t record_bytes = 0;  // data + invalidation bytes
  bool vlsd = false;               // a VLSD group: records are u32 length + bytes
  bool can = false;
  Event event = Event::kData;
  std::string name;
  Channel time, id, ide, dlc, length, bytes, bus, dir, edl, brs, esi, error_type;
  std::uint64_t records = 0;      // seen so far (the virtual channels' raw value)
  std::uint64_t vlsd_offset = 0;  // for a VLSD group: where its next record starts
  std::uint64_t cycle_count = 0;
  // Where DataBytes' VLSD link leads, worked out on the first frame that needs it.
  bool payload_group_known = false;
  bool payload_group_here = false;  // a VLSD channel group of this data group
  std::uint64_t payload_group = 0;  // its record id
};

std::string block_name(std::string_view id) {
  std::string s(id);
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) c = '?';
  }
  return s;
}

// Data of one block list (DT/SD directly, DZ, DL chains, HL) as one sequential byte stream.
class DataStream {
 public:
  struct Fragment {
    std::uint64_t at = 0;  // of the bytes (DT/SD) or of the compressed bytes (DZ)
    std::uint64_t size = 0;
    bool zipped = false;
    std::uint8_t zip_type = 0;
    std::uint32_t zip_parameter = 0;
    std::uint64_t original_size = 0;
  };

  // `ahead`: inflate the next DZ block on a second core while this one is decoded (the frames'
  // own data; signal data is read in jumps and gains nothing).
  DataStream(const File& file, std::vector<Fragment> fragments, bool ahead = false)
      : file_(file), fragments_(std::move(fragments)), ahead_enabled_(ahead) {}
  ~DataStream() {
    if (ahead_.valid()) ahead_.wait();  // the task reads file_ and owns nothing of ours
    if (z_open_) inflateEnd(&z_);
  }
  DataStream(const DataStream&) = delete;
  DataStream& operator=(const DataStream&) = delete;

  // Copies up to n bytes; fewer only at the end (or on an error, then error() says why).
  std::size_t read(unsigned char* out, std::size_t n) {
    if (out_.size() - out_pos_ >= n) {  // the common case: all in the window
      std::memcpy(out, out_.data() + out_pos_, n);
      out_pos_ += n;
      position_ += n;
      return n;
    }
    return read_across(out, n);
  }
  std::size_t read_across(unsigned char* out, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
      if (out_pos_ < out_.size()) {
        const std::size_t take = std::min(n - done, out_.size() - out_pos_);
        std::memcpy(out + done, out_.data() + out_pos_, take);
        out_pos_ += take;
        done += take;
        position_ += take;
        continue;
      }
      if (!refill()) break;
    }
    return done;
  }
  // The next n bytes in place when the window holds them all (then passed), else nullptr and
  // nothing passed: records are decoded where they lie, without a copy.
  const unsigned char* view(std::size_t n) {
    if (out_.size() - out_pos_ < n) return nullptr;
    const unsigned char* p = out_.data() + out_pos_;
    out_pos_ += n;
    position_ += n;
    return p;
  }
  // Passes n bytes; false when the stream ends first.
  bool skip(std::uint64_t n) {
    if (out_.size() - out_pos_ >= n) {
      out_pos_ += n;
      position_ += n;
      return true;
    }
    return skip_across(n);
  }
  bool skip_across(std::uint64_t n) {
    while (n > 0) {
      if (out_pos_ < out_.size()) {
        const std::size_t take =
            static_cast<std::size_t>(std::min<std::uint64_t>(n, out_.size() - out_pos_));
        out_pos_ += take;
        position_ += take;
        n -= take;
        continue;
      }
      if (!refill()) return false;
    }
    return true;
  }
  std::uint64_t position() const { return position_; }
  // Look-ahead for one stream only: a sorted file's many data groups would each start a thread.
  void set_ahead(bool ahead) { ahead_enabled_ = ahead; }
  const std::string& error() const { return error_; }

 private:
  bool refill() {
    out_.clear();
    out_pos_ = 0;
    while (index_ < fragments_.size()) {
      Fragment& f = fragments_[index_];
      if (!f.zipped) {
        if (done_in_fragment_ >= f.size) {
          next_fragment();
          continue;
        }
        const std::size_t take =
            static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, f.size - done_in_fragment_));
        out_.resize(take);
        if (!file_.read(f.at + done_in_fragment_, out_.data(), take)) {
          error_ = fmt::format("offset {}: data block cut short", f.at + done_in_fragment_);
          out_.clear();
          return false;
        }
        done_in_fragment_ += take;
        return true;
      }
      if (f.zip_type == 1) {
        if (done_in_fragment_ > 0) {
          next_fragment();
          continue;
        }
        done_in_fragment_ = 1;
        if (!inflate_transposed(f)) return false;
        if (!out_.empty()) return true;
        continue;
      }
      if (!inflate_some(f)) return false;
      if (!out_.empty()) return true;
    }
    return false;
  }

  void next_fragment() {
    if (z_open_) {
      inflateEnd(&z_);
      z_open_ = false;
    }
    ++index_;
    done_in_fragment_ = 0;
    produced_in_fragment_ = 0;
  }

  // A DZ block of a bounded size inflated in one call (libdeflate); false, with nothing passed,
  // when it is too big or refused: the streaming path then reads it and says what is wrong.
  static bool whole_size(const Fragment& f) {
    return f.zipped && f.zip_type == 0 && f.original_size > 0 &&
           f.original_size <= kMaxWholeBlock && f.size <= kMaxWholeBlock;
  }

  struct Inflated {
    Bytes bytes;
    bool ok = false;
  };

  // One block inflated whole into `into` (its old capacity reused).
  static Inflated inflate_block(const File& file, const Fragment& f, WholeInflater& inflater,
                                Bytes& packed, Bytes into) {
    Inflated r{std::move(into), false};
    packed.resize(f.size);
    if (!file.read(f.at, packed.data(), packed.size())) return r;
    r.bytes.resize(f.original_size);
    std::size_t produced = 0;
    r.ok =
        inflater.inflate(packed.data(), packed.size(), r.bytes.data(), r.bytes.size(), produced) &&
        produced > 0;
    r.bytes.resize(r.ok ? produced : 0);
    return r;
  }

  // Starts inflating fragment i on another thread, when it is a DZ block inflated whole.
  void start_ahead(std::size_t i) {
    if (!ahead_enabled_ || i >= fragments_.size() || !whole_size(fragments_[i])) return;
    ahead_index_ = i;
    // The task has the ahead inflater and its input buffer to itself: one task at a time, and
    // this side touches neither until it has the result.
    try {
      ahead_ = std::async(std::launch::async,
                          [&file = file_, f = fragments_[i], &inflater = ahead_inflater_,
                           &packed = ahead_packed_, spare = std::move(spare_)]() mutable {
                            try {
                              return inflate_block(file, f, inflater, packed, std::move(spare));
                            } catch (const std::bad_alloc&) {
                              return Inflated{};  // the streaming path reads it instead
                            }
                          });
    } catch (const std::system_error&) {
      ahead_index_ = kNone;  // no thread to be had: this block is inflated when it is reached
    }
  }

  bool inflate_whole(Fragment& f) {
    if (!whole_size(f)) return false;
    Inflated r;
    if (ahead_index_ == index_ && ahead_.valid()) {
      r = ahead_.get();
      ahead_index_ = kNone;
    } else {
      r = inflate_block(file_, f, inflater_, in_, std::move(spare_));
    }
    if (!r.ok) {
      spare_ = std::move(r.bytes);
      return false;
    }
    spare_ = std::move(out_);
    out_ = std::move(r.bytes);
    produced_in_fragment_ += out_.size();
    next_fragment();
    start_ahead(index_);
    return true;
  }

  bool inflate_some(Fragment& f) {
    if (!z_open_ && done_in_fragment_ == 0 && inflate_whole(f)) return true;
    if (!z_open_) {
      z_ = z_stream{};
      if (inflateInit(&z_) != Z_OK) {
        error_ = "zlib could not start";
        return false;
      }
      z_open_ = true;
    }
    out_.resize(kChunk);
    z_.next_out = out_.data();
    z_.avail_out = static_cast<uInt>(out_.size());
    while (z_.avail_out > 0) {
      if (z_.avail_in == 0) {
        if (done_in_fragment_ >= f.size) break;
        const std::size_t take =
            static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, f.size - done_in_fragment_));
        in_.resize(take);
        if (!file_.read(f.at + done_in_fragment_, in_.data(), take)) {
          error_ = fmt::format("offset {}: DZ block cut short", f.at + done_in_fragment_);
          out_.clear();  // nothing of the window is data
          return false;
        }
        done_in_fragment_ += take;
        z_.next_in = in_.data();
        z_.avail_in = static_cast<uInt>(take);
      }
      const int rc = inflate(&z_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        out_.resize(out_.size() - z_.avail_out);
        produced_in_fragment_ += out_.size();
        next_fragment();
        return true;
      }
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        error_ = fmt::format("offset {}: DZ block does not inflate (zlib: {})", f.at,
                             z_.msg ? z_.msg : zError(rc));
        out_.resize(out_.size() - z_.avail_out);
        return false;
      }
      if (rc == Z_BUF_ERROR && z_.avail_in == 0 && done_in_fragment_ >= f.size) break;
    }
    out_.resize(out_.size() - z_.avail_out);
    produced_in_fragment_ += out_.size();
    if (out_.empty()) {
      error_ = fmt::format("offset {}: DZ block ends before its {} bytes", f.at, f.original_size);
      next_fragment();
      return false;
    }
    return true;
  }

  bool inflate_transposed(const Fragment& f) {
    if (f.original_size > kMaxTransposedBytes) {
      error_ = fmt::format("offset {}: transposed DZ block of {} bytes; at most {} are read", f.at,
                           f.original_size, kMaxTransposedBytes);
      return false;
    }
    std::vector<unsigned char> packed(static_cast<std::size_t>(f.size));
    if (!file_.read(f.at, packed.data(), packed.size())) {
      error_ = fmt::format("offset {}: DZ block cut short", f.at);
      return false;
    }
    std::vector<unsigned char> plain(static_cast<std::size_t>(f.original_size));
    uLongf got = plain.size();
    const int rc = uncompress(plain.data(), &got, packed.data(), packed.size());
    if (rc != Z_OK || got != plain.size()) {
      error_ = fmt::format("offset {}: DZ block does not inflate to its {} bytes (zlib: {})", f.at,
                           f.original_size, zError(rc));
      return false;
    }
    // Column-major records back into rows; bytes beyond whole rows were stored as they are.
    const std::size_t cols = f.zip_parameter;
    const std::size_t rows = cols ? plain.size() / cols : 0;
    out_.resize(plain.size());
    for (std::size_t c = 0; c < cols; ++c) {
      for (std::size_t r = 0; r < rows; ++r) out_[r * cols + c] = plain[c * rows + r];
    }
    std::copy(plain.begin() + static_cast<std::ptrdiff_t>(rows * cols), plain.end(),
              out_.begin() + static_cast<std::ptrdiff_t>(rows * cols));
    return true;
  }

  const File& file_;
  std::vector<Fragment> fragments_;
  std::size_t index_ = 0;
  std::uint64_t done_in_fragment_ = 0;
  std::uint64_t produced_in_fragment_ = 0;
  Bytes out_;
  std::size_t out_pos_ = 0;
  Bytes in_;
  WholeInflater inflater_;
  static constexpr std::size_t kNone = ~std::size_t{0};
  bool ahead_enabled_ = false;
  WholeInflater ahead_inflater_;     // used by the task inflating ahead only
  Bytes ahead_packed_;               // its compressed input
  std::future<Inflated> ahead_;      // the next DZ block, being inflated
  std::size_t ahead_index_ = kNone;  // which fragment that is
  Bytes spare_;                      // a window's buffer, handed to the next inflation
  z_stream z_{};
  bool z_open_ = false;
  std::uint64_t position_ = 0;
  std::string error_;
};

double convert(const Conversion& cc, double x) {
  const auto& v = cc.values;
  switch (cc.type) {
    case 1:
      return v.size() >= 2 ? v[0] + v[1] * x : x;
    case 2:
      if (v.size() >= 6) {
        const double den = v[3] * x * x + v[4] * x + v[5];
        return den != 0 ? (v[0] * x * x + v[1] * x + v[2]) / den : 0;
      }
      return x;
    case 4:
    case 5: {
      // key/value pairs, keys ascending: 4 interpolates, 5 takes the nearest key.
      const std::size_t n = v.size() / 2;
      if (n == 0) return x;
      if (x <= v[0]) return v[1];
      if (x >= v[2 * (n - 1)]) return v[2 * (n - 1) + 1];
      for (std::size_t i = 1; i < n; ++i) {
        const double k0 = v[2 * (i - 1)], k1 = v[2 * i];
        if (x > k1) continue;
        if (x == k1) return v[2 * i + 1];
        if (cc.type == 4 && k1 != k0) {
          return v[2 * (i - 1) + 1] + (v[2 * i + 1] - v[2 * (i - 1) + 1]) * (x - k0) / (k1 - k0);
        }
        return (x - k0) <= (k1 - x) ? v[2 * (i - 1) + 1] : v[2 * i + 1];
      }
      return x;
    }
    case 6: {
      // min, max, value triples, then the default.
      const std::size_t n = v.size() / 3;
      for (std::size_t i = 0; i < n; ++i) {
        if (x >= v[3 * i] && x <= v[3 * i + 1]) return v[3 * i + 2];
      }
      return v.empty() ? x : v.back();
    }
    default:
      return x;
  }
}

// True when convert() gives back its input for every value: no conversion, a 1:1 linear one,
// or one that gives text (value to text, as loggers attach to Dir and the flags), whose raw
// number is what the frame needs.
bool is_identity(const Conversion& cc) {
  const auto& v = cc.values;
  switch (cc.type) {
    case 1:
      return v.size() < 2 || (v[0] == 0.0 && v[1] == 1.0);
    case 2:
      return v.size() < 6;
    case 4:
    case 5:
      return v.size() < 2;
    case 6:
      return v.empty();
    default:
      return true;
  }
}

// A reused frame made as new, field by field: assigning can::Frame{} zeroed all of it with
// `rep stos`, 8 % of the reader's time. The channel's name is kept: decode() compares before it
// assigns, as consecutive frames come from the same bus. A new field of Frame must be added here
// and in hand_over().
constexpr std::array<std::uint8_t, can::kMaxFdLen> kZeroData{};
void make_fresh(can::Frame& f) {
  static_assert(sizeof(can::Frame) == 128, "reset every field of can::Frame here");
  f.timestamp_ns = 0;
  f.time_kind = TimeKind::kNone;
  f.id = 0;
  f.len = 0;
  f.dlc = 0;
  f.extended = f.rtr = f.error = f.fd = f.brs = f.esi = false;
  f.direction = can::Direction::kUnknown;
  std::memcpy(f.data.data(), kZeroData.data(), kZeroData.size());
}

// `from` into `to`, trading their channel names (so both keep a name's buffer): a move would
// leave `from` empty and cost an assignment on its next frame.
void hand_over(can::Frame& from, can::Frame& to) {
  to.timestamp_ns = from.timestamp_ns;
  to.time_kind = from.time_kind;
  to.id = from.id;
  to.len = from.len;
  to.dlc = from.dlc;
  to.extended = from.extended;
  to.rtr = from.rtr;
  to.error = from.error;
  to.fd = from.fd;
  to.brs = from.brs;
  to.esi = from.esi;
  to.direction = from.direction;
  if (to.channel != from.channel) to.channel.swap(from.channel);  // equal: mostly, and cheaper
  std::memcpy(to.data.data(), from.data.data(), to.data.size());
}

class Mf4Reader final : public FrameReader {
 public:
  Mf4Reader(std::unique_ptr<File> file, std::string name, DiagnosticSink& sink)
      : FrameReader(std::move(name)), file_(std::move(file)), sink_(sink) {}

  Result<void> open() {
    unsigned char id[64];
    if (!file_->read(0, id, 64)) {
      return make_error(
          ErrorCode::kMalformed,
          fmt::format("{}: the 64-byte MDF identification block is cut short", name_));
    }
    unfinalised_ = std::memcmp(id, "UnFinMF ", 8) == 0;
    version_ = le16(id + 28);
    version_text_.assign(reinterpret_cast<const char*>(id + 8), 8);
    while (!version_text_.empty() && (version_text_.back() == ' ' || version_text_.back() == 0))
      version_text_.pop_back();
    program_.assign(reinterpret_cast<const char*>(id + 16), 8);
    while (!program_.empty() && (program_.back() == ' ' || program_.back() == 0))
      program_.pop_back();
    if (version_ < 400) {
      return make_error(ErrorCode::kUnsupported,
                        fmt::format("{}: MDF version {} ({}); only MDF 4 (MF4) is read. Convert "
                                    "MDF 3 files with the logger's or asammdf's tools",
                                    name_, version_, block_name(version_text_)));
    }
    auto hd = block(64, "##HD");
    if (!hd) return tl::unexpected(hd.error());
    if (hd->data_size >= 13) {
      // start time (ns, u64), time zone offset (min, i16), DST offset (min, i16), time flags
      unsigned char d[13];
      if (file_->read(hd->data_at, d, 13)) {
        start_ns_ = static_cast<std::int64_t>(le64(d));
        time_flags_ = d[12];
      }
      if (start_ns_ < 0 || start_ns_ > kMaxTimestampNs) {
        report(fmt::format("offset {}: header start time {} ns out of range; times counted from 0",
                           hd->at, le64(d)));
        start_ns_ = 0;
      }
    }
    // Data groups, each with its channel groups.
    std::set<std::uint64_t> seen;
    for (std::uint64_t dg_at = hd->link(0); dg_at != 0;) {
      if (!seen.insert(dg_at).second) break;
      auto dg = block(dg_at, "##DG");
      if (!dg) return tl::unexpected(dg.error());
      unsigned char rid = 0;
      if (dg->data_size >= 1) file_->read(dg->data_at, &rid, 1);
      auto err = add_data_group(*dg, rid);
      if (!err) return err;
      dg_at = dg->link(0);
    }
    if (cursors_.empty()) {
      return make_error(
          ErrorCode::kMalformed,
          fmt::format("{}: MF4 file without any CAN bus channel group (CAN_DataFrame, "
                      "CAN_RemoteFrame, CAN_ErrorFrame){}",
                      name_, skipped_groups_.empty() ? "" : "; only other buses"));
    }
    // One data group (every logger's unsorted file) inflates its next DZ block on a second core.
    if (cursors_.size() == 1 && std::thread::hardware_concurrency() >= 2)
      cursors_[0]->data->set_ahead(true);
    for (std::size_t i = 0; i < cursors_.size(); ++i) advance(i);
    return {};
  }

  bool next(can::Frame& frame) override {
    // The cursor whose next frame is earliest; ties keep the groups' file order.
    std::size_t best = cursors_.size();
    for (std::size_t i = 0; i < cursors_.size(); ++i) {
      if (!cursors_[i]->has_next) continue;
      if (best == cursors_.size() || cursors_[i]->waiting.front().frame.timestamp_ns <
                                         cursors_[best]->waiting.front().frame.timestamp_ns) {
        best = i;
      }
    }
    if (best == cursors_.size()) {
      return false;
    }
    Cursor& c = *cursors_[best];
    hand_over(c.waiting.front().frame, frame);
    c.waiting.pop_front();
    ++stats_.frames;
    advance(best);
    return true;
  }

  Format format() const override { return Format::kMf4; }
  std::string variant() const override {
    std::string v = fmt::format("MDF {}{} from {}", block_name(version_text_),
                                unfinalised_ ? " unfinalised (UnFinMF)" : "",
                                program_.empty() ? "?" : block_name(program_));
    v += sorted_ ? ", sorted" : ", unsorted";
    // Bit 0 of the header's time flags: the start time is local, in a zone the file does not
    // give.
    if (time_flags_ & 1) v += ", start time in local time (read as UTC)";
    if (!skipped_groups_.empty()) {
      v += ", skipped";
      for (const auto& [what, count] : skipped_groups_) v += fmt::format(" {} x{}", what, count);
    }
    return v;
  }

 private:
  struct Cursor {
    std::unique_ptr<DataStream> data;
    std::uint8_t record_id_size = 0;
    std::map<std::uint64_t, Group> groups;  // by record id
    std::array<Group*, 256> small_ids{};    // the same, for record ids below 256 (every logger's)
    std::map<std::uint64_t, std::unique_ptr<DataStream>> signal_data;  // sorted VLSD, by link
    std::map<std::uint64_t, std::uint64_t> signal_position;
    std::uint64_t rewinds = 0;
    std::vector<unsigned char> record;
    bool has_next = false;  // waiting.front() is a whole frame
    bool done = false;
    // Unsorted: frames waiting for their payload in a VLSD record, in file order.
    struct Waiting {
      can::Frame frame;
      std::uint64_t vlsd_group = 0;
      std::uint64_t offset = 0;
      bool filled = false;
      bool dropped = false;  // its payload was too short: passed over when it comes first
    };
    Ring<Waiting> waiting;
    std::size_t dropped = 0;  // entries of `waiting` marked dropped: not counted as pending
    Group* group(std::uint64_t rid) {
      if (rid < small_ids.size()) return small_ids[rid];
      auto it = groups.find(rid);
      return it == groups.end() ? nullptr : &it->second;
    }
  };

  void report(std::string reason) {
    ++stats_.malformed;
    sink_.report(Diagnostic{name_, 0, std::move(reason), {}});
  }

  Result<Block> block(std::uint64_t at, std::string_view expected) {
    unsigned char h[24];
    if (at < 64 || !file_->read(at, h, 24)) {
      return make_error(ErrorCode::kMalformed,
                        fmt::format("{}: offset {}: expected a {} block; the link points outside "
                                    "the file ({} bytes)",
                                    name_, at, expected, file_->size()));
    }
    Block b;
    b.at = at;
    b.id.assign(reinterpret_cast<const char*>(h), 4);
    b.length = le64(h + 8);
    const std::uint64_t links = le64(h + 16);
    if (!expected.empty() && expected.find(b.id) == std::string_view::npos) {
      return make_error(ErrorCode::kMalformed,
                        fmt::format("{}: offset {}: expected a {} block, found '{}'", name_, at,
                                    expected, block_name(b.id)));
    }
    if (links > (1U << 20) || b.length < 24 + links * 8) {
      return make_error(ErrorCode::kMalformed,
                        fmt::format("{}: offset {}: {} block of {} bytes cannot hold its {} links",
                                    name_, at, block_name(b.id), b.length, links));
    }
    b.links.resize(static_cast<std::size_t>(links));
    if (links > 0) {
      std::vector<unsigned char> raw(static_cast<std::size_t>(links) * 8);
      if (!file_->read(at + 24, raw.data(), raw.size())) {
        return make_error(ErrorCode::kMalformed,
                          fmt::format("{}: offset {}: {} block cut short in its links", name_, at,
                                      block_name(b.id)));
      }
      for (std::size_t i = 0; i < b.links.size(); ++i) b.links[i] = le64(raw.data() + i * 8);
    }
    b.data_at = at + 24 + links * 8;
    const bool runs_to_end = b.id == "##DT" || b.id == "##SD";
    // Compared as lengths, not as end offsets: a length near 2^64 must not wrap around.
    const std::uint64_t room = file_->size() - at;
    if (b.length > room) {
      if (!runs_to_end) {
        return make_error(ErrorCode::kMalformed,
                          fmt::format("{}: offset {}: {} block of {} bytes is cut short by the end "
                                      "of the file",
                                      name_, at, block_name(b.id), b.length));
      }
      if (!unfinalised_) {
        report(
            fmt::format("offset {}: {} block of {} bytes is cut short by the end of the file; "
                        "read up to there",
                        at, block_name(b.id), b.length));
      }
      b.length = std::max<std::uint64_t>(room, 24 + links * 8);
    }
    b.data_size = b.length - 24 - links * 8;
    // A logger that lost power never wrote its last DT block's length: the data runs to the
    // end of the file.
    if (unfinalised_ && b.id == "##DT" && b.data_size == 0 && b.data_at < file_->size()) {
      b.data_size = file_->size() - b.data_at;
    }
    if (b.data_at > file_->size()) b.data_size = 0;  // the links reach the end exactly
    return b;
  }

  std::string text(std::uint64_t at) {
    if (at == 0) return {};
    auto b = block(at, "##TX##MD");
    if (!b) return {};
    std::string s(static_cast<std::size_t>(std::min<std::uint64_t>(b->data_size, 4096)), '\0');
    if (!file_->read(b->data_at, s.data(), s.size())) return {};
    s.resize(std::strlen(s.c_str()));
    return s;
  }

  // The fragments of a data link (DT, SD, DZ, DL, HL), in order.
  Result<std::vector<DataStream::Fragment>> fragments(std::uint64_t at) {
    std::vector<DataStream::Fragment> out;
    if (at == 0) return out;
    std::set<std::uint64_t> seen, listed;
    auto add = [&](std::uint64_t link) -> Result<void> {
      if (link == 0) return {};
      // A block listed twice would be read twice: a crafted list could make a small file cost
      // any amount of work.
      if (!listed.insert(link).second) {
        return make_error(ErrorCode::kMalformed,
                          fmt::format("{}: offset {}: data block listed twice", name_, link));
      }
      auto b = block(link, "##DT##SD##DZ##RD");
      if (!b) return tl::unexpected(b.error());
      if (out.size() >= kMaxFragments) {
        return make_error(ErrorCode::kMalformed,
                          fmt::format("{}: more than {} data blocks", name_, kMaxFragments));
      }
      DataStream::Fragment f;
      if (b->id == "##DZ") {
        unsigned char d[24];
        if (b->data_size < 24 || !file_->read(b->data_at, d, 24)) {
          return make_error(
              ErrorCode::kMalformed,
              fmt::format("{}: offset {}: DZ block cut short in its header", name_, link));
        }
        f.zipped = true;
        f.zip_type = d[2];
        f.zip_parameter = le32(d + 4);
        f.original_size = le64(d + 8);
        f.size = std::min<std::uint64_t>(le64(d + 16), b->data_size - 24);
        f.at = b->data_at + 24;
        if (f.zip_type == 1 && f.size > compressBound(kMaxTransposedBytes)) {
          return make_error(ErrorCode::kUnsupported,
                            fmt::format("{}: offset {}: transposed DZ block of {} packed bytes; at "
                                        "most {} are read",
                                        name_, link, f.size, compressBound(kMaxTransposedBytes)));
        }
        if (f.zip_type > 1) {
          return make_error(ErrorCode::kUnsupported,
                            fmt::format("{}: offset {}: DZ block compressed with type {}; expected "
                                        "0 (deflate) or 1 (transposed deflate)",
                                        name_, link, f.zip_type));
        }
      } else {
        f.at = b->data_at;
        f.size = b->data_size;
      }
      out.push_back(f);
      return {};
    };
    auto first = block(at, "##DT##SD##DZ##RD##DL##HL");
    if (!first) return tl::unexpected(first.error());
    std::uint64_t dl = 0;
    if (first->id == "##HL") {
      dl = first->link(0);
    } else if (first->id == "##DL") {
      dl = at;
    } else {
      auto r = add(at);
      if (!r) return tl::unexpected(r.error());
      return out;
    }
    while (dl != 0) {
      if (!seen.insert(dl).second) {
        return make_error(ErrorCode::kMalformed,
                          fmt::format("{}: offset {}: DL blocks link in a loop", name_, dl));
      }
      auto b = block(dl, "##DL");
      if (!b) return tl::unexpected(b.error());
      for (std::size_t i = 1; i < b->links.size(); ++i) {
        auto r = add(b->links[i]);
        if (!r) return tl::unexpected(r.error());
      }
      dl = b->link(0);
    }
    return out;
  }

  Result<Conversion> conversion(std::uint64_t at, const std::string& channel) {
    Conversion cc;
    if (at == 0) return cc;
    auto b = block(at, "##CC");
    if (!b) return tl::unexpected(b.error());
    unsigned char d[24];
    if (b->data_size < 24 || !file_->read(b->data_at, d, 24)) {
      return make_error(ErrorCode::kMalformed,
                        fmt::format("{}: offset {}: CC block cut short", name_, at));
    }
    cc.type = d[0];
    const std::uint16_t count = le16(d + 6);
    if (cc.type == 3 || cc.type > 6) {
      return make_error(ErrorCode::kUnsupported,
                        fmt::format("{}: offset {}: conversion type {} on channel {}; CAN members "
                                    "need a numeric conversion (0, 1, 2, 4, 5 or 6)",
                                    name_, at, cc.type, channel));
    }
    if (b->data_size < 24 + count * 8ULL) {
      return make_error(
          ErrorCode::kMalformed,
          fmt::format("{}: offset {}: CC block cut short in its {} values", name_, at, count));
    }
    std::vector<unsigned char> raw(count * 8ULL);
    if (!raw.empty() && !file_->read(b->data_at + 24, raw.data(), raw.size())) {
      return make_error(ErrorCode::kMalformed,
                        fmt::format("{}: offset {}: CC cut short", name_, at));
    }
    for (std::size_t i = 0; i < count; ++i) cc.values.push_back(f64(raw.data() + i * 8));
    return cc;
  }

  Result<Channel> channel(const Block& b, std::string name) {
    Channel c;
    unsigned char d[16];
    if (b.data_size < 16 || !file_->read(b.data_at, d, 16)) {
      return make_error(ErrorCode::kMalformed,
                        fmt::format("{}: offset {}: CN block cut short", name_, b.at));
    }
    c.name = std::move(name);
    c.type = d[0];
    c.sync = d[1];
    c.data_type = d[2];
    c.bit_offset = d[3];
    c.byte_offset = le32(d + 4);
    c.bit_count = le32(d + 8);
    c.data_link = b.link(5);
    auto cc = conversion(b.link(4), c.name);
    if (!cc) return tl::unexpected(cc.error());
    c.cc = std::move(*cc);
    c.present = true;
    c.plain_uint = c.type == 0 && c.data_type == 0 && is_identity(c.cc) && c.bit_count >= 1 &&
                   c.bit_count <= 64;
    if (c.type == 6 && c.cc.type == 1 && c.cc.values.size() >= 2 && c.cc.values[1] == 0.0)
      c.constant = c.cc.values[0];
    if (c.type != 6 && c.type != 3 && (c.data_type == 0 || c.data_type == 2) && c.bit_count >= 1 &&
        c.bit_count <= 64 && (c.cc.type == 0 || (c.cc.type == 1 && c.cc.values.size() >= 2))) {
      c.affine_int = true;
      c.affine_signed = c.data_type == 2;
      if (c.cc.type == 1) {
        c.offset = c.cc.values[0];
        c.factor = c.cc.values[1];
      }
    }
    return c;
  }

  // Reads every channel of a group (compositions included) into `group`.
  Result<void> channels(std::uint64_t first, Group& group, int depth, std::size_t& count) {
    std::set<std::uint64_t> seen;
    for (std::uint64_t at = first; at != 0;) {
      if (!seen.insert(at).second || ++count > kMaxChannels || depth > 4) {
        return make_error(
            ErrorCode::kMalformed,
            fmt::format("{}: offset {}: channels link in a loop or nest too deep", name_, at));
      }
      auto b = block(at, "##CN##CA");
      if (!b) return tl::unexpected(b.error());
      if (b->id != "##CN") break;
      const std::string name = text(b->link(2));
      auto c = channel(*b, name);
      if (!c) return tl::unexpected(c.error());
      const std::string_view member = name.find('.') == std::string::npos
                                          ? std::string_view(name)
                                          : std::string_view(name).substr(name.rfind('.') + 1);
      if (c->type == 2 || c->type == 3) {
        if (c->sync == 1 && !group.time.present) group.time = *c;
      } else if (name == "CAN_DataFrame" || name == "CAN_RemoteFrame" || name == "CAN_ErrorFrame") {
        group.can = true;
        group.event = name == "CAN_DataFrame"     ? Event::kData
                      : name == "CAN_RemoteFrame" ? Event::kRemote
                                                  : Event::kError;
      } else if (name.find('.') != std::string::npos && name.rfind("CAN_", 0) == 0) {
        Channel* slot = member == "ID"           ? &group.id
                        : member == "IDE"        ? &group.ide
                        : member == "DLC"        ? &group.dlc
                        : member == "DataLength" ? &group.length
                        : member == "DataBytes"  ? &group.bytes
                        : member == "BusChannel" ? &group.bus
                        : member == "Dir"        ? &group.dir
                        : member == "EDL"        ? &group.edl
                        : member == "BRS"        ? &group.brs
                        : member == "ESI"        ? &group.esi
                        : member == "ErrorType"  ? &group.error_type
                                                 : nullptr;
        if (slot != nullptr) *slot = *c;
      } else if (group.name.empty() && depth == 0 && c->type == 0) {
        group.name = name;  // the first data channel names a group of another bus
      }
      if (b->link(1) != 0) {
        auto r = channels(b->link(1), group, depth + 1, count);
        if (!r) return r;
      }
      at = b->link(0);
    }
    return {};
  }

  Result<void> add_data_group(const Block& dg, std::uint8_t record_id_size) {
    auto cursor = std::make_unique<Cursor>();
    if (record_id_size != 0 && record_id_size != 1 && record_id_size != 2 && record_id_size != 4 &&
        record_id_size != 8) {
      return make_error(
          ErrorCode::kMalformed,
          fmt::format("{}: offset {}: record id of {} bytes; expected 0, 1, 2, 4 or 8", name_,
                      dg.at, record_id_size));
    }
    cursor->record_id_size = record_id_size;
    bool any_can = false;
    std::size_t count = 0;
    std::set<std::uint64_t> seen;
    for (std::uint64_t cg_at = dg.link(1); cg_at != 0;) {
      if (!seen.insert(cg_at).second) break;
      auto cg = block(cg_at, "##CG");
      if (!cg) return tl::unexpected(cg.error());
      unsigned char d[32];
      if (cg->data_size < 32 || !file_->read(cg->data_at, d, 32)) {
        return make_error(ErrorCode::kMalformed,
                          fmt::format("{}: offset {}: CG block cut short", name_, cg_at));
      }
      Group g;
      g.record_id = le64(d);
      g.cycle_count = le64(d + 8);
      const std::uint16_t flags = le16(d + 16);
      g.vlsd = (flags & 1) != 0;
      g.record_bytes = le32(d + 24) + le32(d + 28);
      if (!g.vlsd) {
        auto r = channels(cg->link(1), g, 0, count);
        if (!r) return r;
        if (g.name.empty()) g.name = text(cg->link(2));
        if (g.can && g.record_bytes == 0) {
          report(
              fmt::format("offset {}: CAN channel group with records of 0 bytes; skipped", cg_at));
          g.can = false;
        }
        if (g.can && g.record_bytes > kMaxCanRecord) {
          report(
              fmt::format("offset {}: CAN channel group with {}-byte records; a bus-logging "
                          "record is at most {} bytes; skipped",
                          cg_at, g.record_bytes, kMaxCanRecord));
          g.can = false;
        }
        if (g.can) {
          if (!g.time.present || (!g.id.present && g.event != Event::kError)) {
            report(fmt::format("offset {}: CAN channel group without {}; skipped", cg_at,
                               g.time.present ? "an ID member" : "a time channel"));
            g.can = false;
          } else {
            any_can = true;
            for (Channel* ch : {&g.time, &g.id, &g.ide, &g.dlc, &g.length, &g.bytes, &g.bus, &g.dir,
                                &g.edl, &g.brs, &g.esi, &g.error_type}) {
              prepare(*ch, g.record_bytes);
            }
          }
        }
        if (!g.can) ++skipped_groups_[g.name.empty() ? "unnamed group" : g.name];
      }
      if (cursor->groups.count(g.record_id) != 0 && record_id_size != 0) {
        return make_error(ErrorCode::kMalformed,
                          fmt::format("{}: offset {}: record id {} used by two channel groups",
                                      name_, cg_at, g.record_id));
      }
      cursor->groups.emplace(g.record_id, std::move(g));
      cg_at = cg->link(0);
    }
    if (!any_can) return {};
    if (cursors_.size() >= kMaxCanGroups) {
      return make_error(
          ErrorCode::kUnsupported,
          fmt::format("{}: more than {} data groups with CAN frames", name_, kMaxCanGroups));
    }
    if (record_id_size == 0 && cursor->groups.size() != 1) {
      return make_error(ErrorCode::kMalformed,
                        fmt::format("{}: offset {}: {} channel groups share a data group without "
                                    "record ids",
                                    name_, dg.at, cursor->groups.size()));
    }
    if (record_id_size == 0 && cursor->groups.begin()->second.record_bytes == 0) return {};
    for (auto& [rid, g] : cursor->groups) {
      if (rid < cursor->small_ids.size()) cursor->small_ids[rid] = &g;
    }
    if (record_id_size == 0) sorted_ = true;
    auto frags = fragments(dg.link(2));
    if (!frags) return tl::unexpected(frags.error());
    cursor->data = std::make_unique<DataStream>(*file_, std::move(*frags));
    cursors_.push_back(std::move(cursor));
    return {};
  }

  // The one-load path of a channel, when its value and the seven bytes after its first lie in
  // every record of `record_bytes` (decode() is only ever given whole records of its group).
  static void prepare(Channel& c, std::uint32_t record_bytes) {
    c.fast = false;
    if (!c.present || c.type == 6 || c.type == 3 || (c.data_type != 0 && c.data_type != 2)) return;
    const std::uint64_t first_bit = c.byte_offset * 8ULL + c.bit_offset;
    const unsigned shift = static_cast<unsigned>(first_bit % 8);
    if (c.bit_count == 0 || c.bit_count > 64 || std::uint64_t{c.bit_count} + shift > 64 ||
        first_bit / 8 + 8 > record_bytes)
      return;
    c.first_byte = static_cast<std::uint32_t>(first_bit / 8);
    c.shift = static_cast<std::uint8_t>(shift);
    c.mask = c.bit_count == 64 ? ~0ULL : (1ULL << c.bit_count) - 1;
    c.fast = true;
  }

  // Raw value of a channel in a record (virtual channels: the record's index).
  static std::optional<double> raw_value(const Channel& c, const unsigned char* rec,
                                         std::size_t size, std::uint64_t index) {
    if (c.type == 6 || c.type == 3) return static_cast<double>(index);
    const std::uint64_t first_bit = c.byte_offset * 8ULL + c.bit_offset;
    if (c.bit_count == 0 || c.bit_count > 64 || first_bit + c.bit_count > size * 8ULL) {
      return std::nullopt;
    }
    if (c.data_type == 4 || c.data_type == 5) {
      if (c.bit_offset != 0 || (c.bit_count != 32 && c.bit_count != 64)) return std::nullopt;
      unsigned char b[8];
      std::memcpy(b, rec + c.byte_offset, c.bit_count / 8);
      if (c.data_type == 5) std::reverse(b, b + c.bit_count / 8);
      if (c.bit_count == 32) {
        float f = 0;
        std::memcpy(&f, b, 4);
        return f;
      }
      double d = 0;
      std::memcpy(&d, b, 8);
      return d;
    }
    if (c.data_type > 3) return std::nullopt;
    const std::uint64_t v = raw_bits(c, rec, size);
    if ((c.data_type == 2 || c.data_type == 3) && c.bit_count < 64 &&
        (v >> (c.bit_count - 1)) & 1) {
      return static_cast<double>(static_cast<std::int64_t>(v | ~((1ULL << c.bit_count) - 1)));
    }
    if (c.data_type == 2 || c.data_type == 3)
      return static_cast<double>(static_cast<std::int64_t>(v));
    return static_cast<double>(v);
  }

  // The channel's bits as an unsigned integer (bounds checked by the caller or here).
  // A plain integer, not an optional: returning optional<uint64_t> through the stack cost a
  // store-forwarding stall per call, a fifth of the reader's time.
  [[gnu::always_inline]] static std::uint64_t raw_bits(const Channel& c, const unsigned char* rec,
                                                       std::size_t size) {
    return raw_bits(c.byte_offset * 8ULL + c.bit_offset, c.bit_count,
                    c.data_type == 1 || c.data_type == 3, rec, size);
  }
  [[gnu::always_inline]] static std::uint64_t raw_bits(std::uint64_t first_bit,
                                                       std::uint32_t bit_count, bool big,
                                                       const unsigned char* rec, std::size_t size) {
    const std::size_t first = first_bit / 8;
    const std::size_t last = (first_bit + bit_count - 1) / 8;
    const unsigned shift0 = static_cast<unsigned>(first_bit % 8);
    if constexpr (std::endian::native == std::endian::little) {
      if (!big && last - first < 8) {
        // Eight bytes at once where the record has them (a fixed-size copy the compiler keeps
        // in a register); the record's last bytes one by one.
        std::uint64_t lo = 0;
        if (first + 8 <= size) {
          std::memcpy(&lo, rec + first, 8);
        } else {
          for (std::size_t k = last + 1; k-- > first;) lo = lo << 8 | rec[k];
        }
        std::uint64_t v = lo >> shift0;
        if (bit_count < 64) v &= (1ULL << bit_count) - 1;
        return v;
      }
    }
    // The bytes of the value, least significant first (at most 9 for 64 bits at an offset).
    std::array<unsigned char, 9> span{};
    for (std::size_t i = first; i <= last; ++i) span[i - first] = rec[big ? first + last - i : i];
    const unsigned shift = static_cast<unsigned>(first_bit % 8);
    std::uint64_t lo = 0;
    for (std::size_t k = 8; k-- > 0;) lo = lo << 8 | span[k];
    std::uint64_t v = lo >> shift;
    if (shift != 0) v |= static_cast<std::uint64_t>(span[8]) << (64 - shift);
    if (bit_count < 64) v &= (1ULL << bit_count) - 1;
    return v;
  }

  // A VLSD channel's record field: the payload's offset, a little-endian unsigned integer
  // whatever the channel's own data type.
  static std::optional<std::uint64_t> offset_value(const Channel& c, const unsigned char* rec,
                                                   std::size_t size) {
    const std::uint64_t first_bit = c.byte_offset * 8ULL + c.bit_offset;
    if (c.bit_count == 0 || c.bit_count > 64 || first_bit + c.bit_count > size * 8ULL) {
      return std::nullopt;
    }
    return raw_bits(first_bit, c.bit_count, false, rec, size);
  }

  static std::optional<double> value(const Channel& c, const unsigned char* rec, std::size_t size,
                                     std::uint64_t index) {
    auto raw = raw_value(c, rec, size, index);
    if (!raw) return std::nullopt;
    return c.cc.type == 0 ? *raw : convert(c.cc, *raw);
  }

  // Unsigned integer member: nullopt when absent, out of the record, or not a whole number.
  // A member's value or nothing, in two registers: std::optional<uint64_t> went through the
  // stack with a store-forwarding stall on every call.
  struct Num {
    std::uint64_t value = 0;
    std::uint64_t ok = 0;
    explicit operator bool() const { return ok != 0; }
    std::uint64_t operator*() const { return value; }
    std::uint64_t value_or(std::uint64_t fallback) const { return ok ? value : fallback; }
  };

  [[gnu::always_inline]] static Num member(const Channel& c, const unsigned char* rec,
                                           std::size_t size, std::uint64_t index) {
    if (c.fast && c.plain_uint) {
      std::uint64_t lo = 0;
      std::memcpy(&lo, rec + c.first_byte, 8);
      return {(lo >> c.shift) & c.mask, 1};
    }
    if (!c.present) return {};
    if (c.plain_uint) {
      if ((c.byte_offset * 8ULL + c.bit_offset + c.bit_count) > size * 8ULL) return {};
      return {raw_bits(c, rec, size), 1};
    }
    auto v = c.constant ? c.constant : value(c, rec, size, index);
    if (!v || !std::isfinite(*v) || *v < 0 || *v > 1.8e19 || std::floor(*v) != *v) return {};
    return {static_cast<std::uint64_t>(*v), 1};
  }

  // Builds a frame from a fixed record; false (and `why`) when it cannot be one.
  bool decode(Group& g, const unsigned char* rec, std::size_t size, can::Frame& f, std::string& why,
              std::optional<std::uint64_t>& vlsd_offset) {
    const std::uint64_t index = g.records++;
    // `f` arrives fresh from the caller: not zeroed twice.
    double t = 0;
    const Channel& tc = g.time;
    if (tc.affine_int &&
        (tc.fast || tc.byte_offset * 8ULL + tc.bit_offset + tc.bit_count <= size * 8ULL)) {
      std::uint64_t raw = 0;
      if (tc.fast) {
        std::memcpy(&raw, rec + tc.first_byte, 8);
        raw = (raw >> tc.shift) & tc.mask;
      } else {
        raw = raw_bits(tc, rec, size);
      }
      double x = static_cast<double>(raw);
      if (tc.affine_signed) {  // sign-extended from its width, as raw_value does
        const std::uint64_t wide = tc.bit_count < 64 && ((raw >> (tc.bit_count - 1)) & 1)
                                       ? raw | ~((1ULL << tc.bit_count) - 1)
                                       : raw;
        x = static_cast<double>(static_cast<std::int64_t>(wide));
      }
      t = tc.offset + tc.factor * x;
    } else if (auto v = value(tc, rec, size, index)) {
      t = *v;
    } else {
      t = std::numeric_limits<double>::quiet_NaN();
    }
    if (!std::isfinite(t) || std::fabs(t) > 3.0e9) {
      why = "time channel unreadable or out of range";
      return false;
    }
    // Rounded half away from zero, exactly as llround, without its library call: the fraction
    // left after truncation is exact in a double (|t| <= 3e9 s keeps ns within int64).
    const double ns = t * 1e9;
    std::int64_t whole = static_cast<std::int64_t>(ns);
    const double fraction = ns - static_cast<double>(whole);
    if (fraction >= 0.5) ++whole;
    if (fraction <= -0.5) --whole;
    f.timestamp_ns = start_ns_ + whole;
    f.time_kind = TimeKind::kAbsolute;
    if (auto bus = member(g.bus, rec, size, index)) {
      const std::string& name = bus_name(*bus);
      if (f.channel != name) f.channel = name;
    } else if (!f.channel.empty()) {
      f.channel.clear();
    }
    if (auto dir = member(g.dir, rec, size, index)) {
      f.direction = *dir ? can::Direction::kTx : can::Direction::kRx;
    }
    if (g.event == Event::kError) {
      const auto type = member(g.error_type, rec, size, index).value_or(0);
      can::Frame e = error_frame(type);
      e.timestamp_ns = f.timestamp_ns;
      e.time_kind = f.time_kind;
      e.channel = std::move(f.channel);
      e.direction = f.direction;
      f = std::move(e);
      return true;
    }
    const auto id = member(g.id, rec, size, index);
    const bool ide = member(g.ide, rec, size, index).value_or(0) != 0;
    if (!id) {
      why = "ID member unreadable";
      return false;
    }
    f.extended = ide || *id > can::kStandardIdMask;
    if (*id > can::kExtendedIdMask || (!ide && g.ide.present && *id > can::kStandardIdMask)) {
      why = fmt::format("identifier 0x{:X} too large for its {}-bit format", *id, ide ? 29 : 11);
      return false;
    }
    f.id = static_cast<std::uint32_t>(*id);
    f.fd = member(g.edl, rec, size, index).value_or(0) != 0;
    f.brs = f.fd && member(g.brs, rec, size, index).value_or(0) != 0;
    f.esi = f.fd && member(g.esi, rec, size, index).value_or(0) != 0;
    const auto dlc = member(g.dlc, rec, size, index);
    const auto length = member(g.length, rec, size, index);
    if (dlc && *dlc > 15) {
      why = "DLC above 15";
      return false;
    }
    std::uint64_t len = length ? *length
                        : dlc  ? (f.fd ? can::fd_dlc_to_len(static_cast<std::uint8_t>(*dlc))
                                       : std::min<std::uint64_t>(*dlc, 8))
                               : 0;
    if (f.fd ? !can::is_valid_fd_len(len) : len > 8) {
      why = fmt::format("data length {} impossible for a {} frame", len,
                        f.fd ? "CAN FD" : "classic CAN");
      return false;
    }
    f.len = static_cast<std::uint8_t>(len);
    f.dlc = dlc ? static_cast<std::uint8_t>(*dlc) : (f.fd ? can::len_to_fd_dlc(len) : f.len);
    if (g.event == Event::kRemote) {
      if (f.fd) {
        why = "CAN FD remote frame";
        return false;
      }
      f.rtr = true;
      return true;
    }
    if (f.len == 0) return true;
    const Channel& b = g.bytes;
    if (!b.present) {
      why = "DataBytes member missing";
      return false;
    }
    if (b.type == 1) {
      auto off = offset_value(b, rec, size);
      if (!off) {
        why = "DataBytes offset unreadable";
        return false;
      }
      vlsd_offset = *off;
      return true;
    }
    const std::uint64_t first = b.byte_offset;
    if (b.bit_offset != 0 || first + f.len > size) {
      why = "DataBytes outside the record";
      return false;
    }
    std::memcpy(f.data.data(), rec + first, f.len);
    return true;
  }

  // "1", "2": bus numbers are few, their names are made once.
  const std::string& bus_name(std::uint64_t bus) {
    if (bus < bus_names_.size() && !bus_names_[bus].empty()) return bus_names_[bus];
    if (bus >= 256) {
      spare_name_ = std::to_string(bus);
      return spare_name_;
    }
    if (bus >= bus_names_.size()) bus_names_.resize(bus + 1);
    bus_names_[bus] = std::to_string(bus);
    return bus_names_[bus];
  }

  // asammdf's names for the bus-logging ErrorType values: 1 bit, 2 form, 3 stuffing, 4 CRC,
  // 5 acknowledgment; 0 other.
  static can::Frame error_frame(std::uint64_t type) {
    std::array<std::uint8_t, 8> d{};
    std::uint32_t cls = can::err::kProtocol;
    switch (type) {
      case 1:
        d[2] = can::err::kProtBit;
        break;
      case 2:
        d[2] = can::err::kProtForm;
        break;
      case 3:
        d[2] = can::err::kProtStuff;
        break;
      case 4:
        d[3] = can::err::kLocCrcSequence;
        break;
      case 5:
        cls = can::err::kNoAck;
        d[3] = can::err::kLocAckSlot;
        break;
      default:
        break;
    }
    return can::make_error_frame(cls, d);
  }

  // The cursor's next n bytes: in place, or copied into its record buffer when they straddle
  // the window; nullptr when the data ends first (c.record then holds what there was).
  const unsigned char* take(Cursor& c, std::size_t n) {
    if (const unsigned char* p = c.data->view(n)) return p;
    c.record.resize(n);
    return c.data->read(c.record.data(), n) == n ? c.record.data() : nullptr;
  }

  // Finds the payload at `offset` of a sorted group's signal data (SD blocks), reading forward.
  bool signal_bytes(Cursor& c, std::uint64_t link, std::uint64_t offset, can::Frame& f,
                    std::string& why) {
    auto it = c.signal_data.find(link);
    const bool back = it != c.signal_data.end() && c.signal_position[link] > offset;
    if (back && ++c.rewinds > kMaxRewinds) {
      why = "signal data read backwards too often (payload offsets out of order); payload dropped";
      return false;
    }
    if (it == c.signal_data.end() || back) {
      auto frags = fragments(link);
      if (!frags) {
        why = frags.error().message;
        return false;
      }
      it = c.signal_data
               .insert_or_assign(link, std::make_unique<DataStream>(*file_, std::move(*frags)))
               .first;
      c.signal_position[link] = 0;
    }
    DataStream& s = *it->second;
    if (!s.skip(offset - c.signal_position[link])) {
      why = "DataBytes offset beyond its signal data";
      return false;
    }
    unsigned char len[4];
    if (s.read(len, 4) != 4) {
      why = "signal data cut short";
      return false;
    }
    const std::uint32_t n = le32(len);
    if (n < f.len) {
      why = fmt::format("signal data holds {} bytes for a frame of {}", n, f.len);
      return false;
    }
    std::array<unsigned char, 64> data{};
    if (s.read(data.data(), f.len) != f.len || !s.skip(n - f.len)) {
      why = "signal data cut short";
      return false;
    }
    std::memcpy(f.data.data(), data.data(), f.len);
    c.signal_position[link] = offset + 4 + n;
    return true;
  }

  // Moves cursor i to its next frame.
  void advance(std::size_t i) {
    Cursor& c = *cursors_[i];
    c.has_next = false;
    for (;;) {
      if (!c.waiting.empty() && c.waiting.front().dropped) {
        c.waiting.pop_front();
        --c.dropped;
        continue;
      }
      if (!c.waiting.empty() && c.waiting.front().filled) {
        c.has_next = true;
        return;
      }
      if (c.done) {
        std::size_t unpaid = 0;
        for (std::size_t k = 0; k < c.waiting.size(); ++k) unpaid += c.waiting[k].dropped ? 0U : 1U;
        if (unpaid > 0) {
          report(
              fmt::format("{} frame(s) at the end never got their payload (a VLSD record); "
                          "dropped",
                          unpaid));
        }
        c.waiting.clear();
        c.dropped = 0;
        return;
      }
      if (c.waiting.size() - c.dropped > kMaxPending) {
        report("a frame's payload (VLSD record) did not follow within 4096 records; dropped");
        c.waiting.pop_front();
        continue;
      }
      read_record(c);
    }
  }

  void end_of_data(Cursor& c, std::size_t partial) {
    c.done = true;
    if (!c.data->error().empty()) report(c.data->error());
    if (partial > 0) {
      if (unfinalised_) {
        ++stats_.notes;
        sink_.report(Diagnostic{name_,
                                0,
                                fmt::format("the logger's file ends inside a record ({} bytes); "
                                            "read up to the last whole record (an unfinalised "
                                            "file, as left at power loss)",
                                            partial),
                                {}});
      } else {
        report(fmt::format("the data ends inside a record ({} bytes left)", partial));
      }
    }
  }

  void read_record(Cursor& c) {
    ++stats_.lines;
    std::uint64_t rid = 0;
    const std::size_t id_size = c.record_id_size;
    if (id_size > 0) {
      unsigned char raw[8] = {};
      const unsigned char* id = c.data->view(id_size);
      if (id == nullptr) {
        const std::size_t got = c.data->read(raw, id_size);
        if (got < id_size) {
          end_of_data(c, got);
          return;
        }
        id = raw;
      }
      for (std::size_t k = id_size; k-- > 0;) rid = rid << 8 | id[k];
    } else {
      rid = c.groups.begin()->first;
    }
    Group* found = c.group(rid);
    if (found == nullptr) {
      report(
          fmt::format("record {}: record id {} belongs to no channel group; the rest of the "
                      "data group cannot be read",
                      stats_.lines, rid));
      c.done = true;
      return;
    }
    Group& g = *found;
    if (g.vlsd) {
      unsigned char len_bytes[4];
      const unsigned char* len = c.data->view(4);
      if (len == nullptr) {
        const std::size_t got = c.data->read(len_bytes, 4);
        if (got < 4) {
          end_of_data(c, id_size + got);
          return;
        }
        len = len_bytes;
      }
      const std::uint32_t n = le32(len);
      const std::uint64_t offset = g.vlsd_offset;
      g.vlsd_offset += 4ULL + n;
      Cursor::Waiting* w = nullptr;
      for (std::size_t k = 0; k < c.waiting.size(); ++k) {
        Cursor::Waiting& x = c.waiting[k];
        if (!x.filled && x.vlsd_group == rid && x.offset == offset) {
          w = &x;
          break;
        }
      }
      // Straight into the waiting frame (its bytes beyond `keep` are already zero).
      const std::size_t keep = w ? std::min<std::size_t>(n, w->frame.len) : 0;
      unsigned char* into = w ? w->frame.data.data() : nullptr;
      if ((keep > 0 && c.data->read(into, keep) != keep) || !c.data->skip(n - keep)) {
        end_of_data(c, 1);
        return;
      }
      ++stats_.ignored;
      if (w == nullptr) return;  // a payload no frame asked for (e.g. of a skipped group)
      if (n < w->frame.len) {
        report(fmt::format("record {}: payload of {} bytes for a frame of {}; frame dropped",
                           stats_.lines, n, w->frame.len));
        w->dropped = true;
        w->filled = true;
        ++c.dropped;
        return;
      }
      w->filled = true;
      return;
    }
    if (!g.can) {  // another bus's record: passed over, never held
      if (!c.data->skip(g.record_bytes)) {
        end_of_data(c, id_size + 1);
        return;
      }
      ++stats_.ignored;
      return;
    }
    const unsigned char* rec = take(c, g.record_bytes);
    if (rec == nullptr) {
      end_of_data(c, id_size + c.record.size());
      return;
    }
    // Decoded straight into a fresh slot at the back of the queue; taken back on failure.
    Cursor::Waiting& w = c.waiting.push_back();
    make_fresh(w.frame);
    w.vlsd_group = 0;
    w.offset = 0;
    w.filled = true;
    w.dropped = false;
    std::string why;
    std::optional<std::uint64_t> vlsd_offset;
    if (!decode(g, rec, g.record_bytes, w.frame, why, vlsd_offset)) {
      c.waiting.pop_back();
      report(fmt::format("record {} ({}): {}", stats_.lines, g.name.empty() ? "CAN" : g.name, why));
      return;
    }
    if (!vlsd_offset) return;
    const std::uint64_t link = g.bytes.data_link;
    if (!g.payload_group_known) {
      g.payload_group = vlsd_group_id(c, link);
      g.payload_group_here = c.record_id_size > 0 && c.groups.count(g.payload_group) != 0;
      g.payload_group_known = true;
    }
    if (g.payload_group_here) {
      w.vlsd_group = g.payload_group;
      w.offset = *vlsd_offset;
      w.filled = false;
      return;
    }
    if (!signal_bytes(c, link, *vlsd_offset, w.frame, why)) {
      c.waiting.pop_back();
      report(fmt::format("record {} ({}): {}", stats_.lines, g.name.empty() ? "CAN" : g.name, why));
      return;
    }
  }

  // The record id of the VLSD channel group a DataBytes link points at (0 if not a CG).
  std::uint64_t vlsd_group_id(Cursor&, std::uint64_t link) {
    auto it = vlsd_ids_.find(link);
    if (it != vlsd_ids_.end()) return it->second;
    std::uint64_t id = ~0ULL;
    unsigned char h[4];
    if (link != 0 && file_->read(link, h, 4) && std::memcmp(h, "##CG", 4) == 0) {
      if (auto b = block(link, "##CG"); b && b->data_size >= 8) {
        unsigned char d[8];
        if (file_->read(b->data_at, d, 8)) id = le64(d);
      }
    }
    vlsd_ids_[link] = id;
    return id;
  }

  std::unique_ptr<File> file_;
  DiagnosticSink& sink_;
  bool unfinalised_ = false;
  std::uint16_t version_ = 0;
  std::string version_text_;
  std::string program_;
  std::int64_t start_ns_ = 0;
  std::uint8_t time_flags_ = 0;
  bool sorted_ = false;
  std::vector<std::unique_ptr<Cursor>> cursors_;
  std::map<std::string, std::uint64_t> skipped_groups_;
  std::unordered_map<std::uint64_t, std::uint64_t> vlsd_ids_;
  std::vector<std::string> bus_names_;
  std::string spare_name_;
};

}  // namespace

bool looks_like_mf4(std::string_view head) {
  return head.substr(0, 8) == "MDF     " || head.substr(0, 8) == "UnFinMF ";
}

Result<std::unique_ptr<FrameReader>> open_mf4(int fd, std::string_view memory, std::string name,
                                              DiagnosticSink& sink) {
  auto reader =
      std::make_unique<Mf4Reader>(std::make_unique<File>(fd, memory), std::move(name), sink);
  auto opened = reader->open();
  if (!opened) return tl::unexpected(opened.error());
  return std::unique_ptr<FrameReader>(std::move(reader));
}

}  // namespace bmslink::capture::detail
