// The loggers' binary files: real CANedge MF4 files and python-can's BLF test files
// (tests/data/loggers/SOURCES.md). Counts per bus and direction come from an independent
// block walker written during the research (not this reader); the first frames' values were
// worked out by hand from the bytes, as noted at each.
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "bmslink/can/error_frame.h"
#include "bmslink/capture/writer.h"
#include "support/frames.h"

namespace bmslink::capture {
namespace {

using test::bytes;
using test::data_path;
using test::read_file;
using test::read_memory;

std::string logger(const std::string& name) { return data_path("loggers/" + name); }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// "bus/dir/width" -> frames, e.g. "1/tx/11".
std::map<std::string, int> tally(const std::vector<can::Frame>& frames) {
  std::map<std::string, int> t;
  for (const auto& f : frames) {
    const char* dir = f.direction == can::Direction::kTx   ? "tx"
                      : f.direction == can::Direction::kRx ? "rx"
                                                           : "?";
    ++t[f.channel + "/" + dir + "/" + (f.error ? "err" : f.extended ? "29" : "11")];
  }
  return t;
}

bool said(const test::ReadAll& r, std::string_view words) {
  for (const auto& d : r.sink.kept()) {
    if (d.reason.find(words) != std::string::npos) return true;
  }
  return false;
}

TEST(Mf4, UnfinalisedCanedgeFileIsReadToItsLastRecordWithItsFirstFrameExact) {
  auto r = read_file(logger("canedge_fw0103_unfinalised_11bit.MF4"));
  ASSERT_FALSE(r->open_error) << r->open_error->message;
  EXPECT_EQ(r->format, Format::kMf4);
  EXPECT_NE(r->variant.find("unfinalised"), std::string::npos) << r->variant;
  EXPECT_NE(r->variant.find("skipped LIN_Frame"), std::string::npos) << r->variant;
  ASSERT_EQ(r->frames.size(), 2010U);
  EXPECT_EQ(tally(r->frames), (std::map<std::string, int>{{"1/rx/11", 2010}}));
  // First record, by hand (firmware 01.03 layout from its CN blocks): record id 1; time f64
  // 0x42CDEA6B823C5000 = 65785326500000 ns after the header's 1607975914 s; bytes 8-11
  // d8 3d 00 00: IDE bit 0 = 0, ID = 0x3DD8 >> 3 = 0x7BB; byte 12 0x10: DataLength = 8;
  // byte 13 0x84: Dir 0, BusChannel (bits 2-3) = 1, DLC (bits 4-7) = 8; the VLSD record that
  // follows (id 2, length 8) holds the payload.
  const auto& f = r->frames.front();
  EXPECT_EQ(f.timestamp_ns, 1607975914000000000LL + 65785326500000LL);
  EXPECT_EQ(f.time_kind, TimeKind::kAbsolute);
  EXPECT_EQ(f.id, 0x7BBU);
  EXPECT_FALSE(f.extended);
  EXPECT_EQ(f.dlc, 8);
  EXPECT_EQ(f.channel, "1");
  EXPECT_EQ(f.direction, can::Direction::kRx);
  EXPECT_EQ(bytes(f), (std::vector<std::uint8_t>{0x10, 0x26, 0x62, 0x01, 0x00, 0x7E, 0x50, 0x07}));
  for (std::size_t i = 1; i < r->frames.size(); ++i) {
    ASSERT_GE(r->frames[i].timestamp_ns, r->frames[i - 1].timestamp_ns) << i;
  }
}

TEST(Mf4, CanedgeFilesGiveEachBusDirectionAndIdWidthAsLogged) {
  struct Case {
    const char* file;
    std::map<std::string, int> expected;
  };
  const Case cases[] = {
      {"canedge_fw0103_29bit_two_buses.MF4", {{"1/rx/29", 1403}, {"2/rx/29", 412}}},
      {"canedge_fw0104_two_buses_tx.MF4", {{"1/rx/11", 169}, {"1/tx/11", 52}, {"2/rx/11", 5367}}},
      {"canedge_fw0107_per_type_groups.MF4",
       {{"1/rx/11", 234}, {"1/tx/11", 70}, {"2/rx/11", 3283}}},
      // Kept zipped (3 MB as it is): read through the zip path, as the web console reads a card.
      {"canedge_fw0107_150k_frames.zip", {{"1/rx/29", 139136}, {"9/rx/11", 11275}}},
  };
  for (const auto& c : cases) {
    auto r = read_file(logger(c.file));
    ASSERT_FALSE(r->open_error) << c.file << ": " << r->open_error->message;
    EXPECT_EQ(tally(r->frames), c.expected) << c.file;
    EXPECT_EQ(r->stats.malformed, 0U) << c.file;
  }
}

TEST(Mf4, FinalisedSortedFileMergesItsGroupsInTimeAndReadsPayloadsFromSignalData) {
  auto r = read_file(logger("canedge_fw0104_finalised_sorted.MF4"));
  ASSERT_FALSE(r->open_error) << r->open_error->message;
  EXPECT_NE(r->variant.find("sorted"), std::string::npos);
  EXPECT_EQ(r->variant.find("unfinalised"), std::string::npos);
  EXPECT_EQ(r->frames.size(), 5477U);
  EXPECT_EQ(tally(r->frames),
            (std::map<std::string, int>{{"1/rx/11", 541}, {"1/rx/29", 90}, {"2/rx/11", 4846}}));
  for (std::size_t i = 1; i < r->frames.size(); ++i) {
    ASSERT_GE(r->frames[i].timestamp_ns, r->frames[i - 1].timestamp_ns) << i;
  }
  // The earliest frame is the first record of the first group, by hand: time f64
  // 0x4281113F01D18000 = 2345721150000 ns after the header's 1627274454 s; bytes 8-11
  // 4c 00 00 00: IDE 0, BusChannel (bits 1-2) 2, ID 0x4C >> 3 = 0x009; byte 12 0x10:
  // DataLength 8; DataBytes offset 0: the SD block's first entry, length 8, 9b e4 cf c0 00 fe
  // af 7f.
  const auto& f = r->frames.front();
  EXPECT_EQ(f.timestamp_ns, 1627276799721150000LL);
  EXPECT_EQ(f.id, 0x009U);
  EXPECT_EQ(f.channel, "2");
  EXPECT_EQ(bytes(f), (std::vector<std::uint8_t>{0x9B, 0xE4, 0xCF, 0xC0, 0x00, 0xFE, 0xAF, 0x7F}));
}

TEST(Mf4, TheSameFramesComeFromAFileAndFromMemory) {
  const std::string path = logger("canedge_fw0104_two_buses_tx.MF4");
  const std::string all = slurp(path);
  auto from_file = read_file(path);
  auto from_memory = read_memory(all);
  ASSERT_FALSE(from_file->open_error) << from_file->open_error->message;
  ASSERT_FALSE(from_memory->open_error) << from_memory->open_error->message;
  ASSERT_EQ(from_file->frames.size(), 5588U);
  ASSERT_EQ(from_file->frames.size(), from_memory->frames.size());
  for (std::size_t i = 0; i < from_file->frames.size(); ++i) {
    ASSERT_TRUE(can::same_frame(from_file->frames[i], from_memory->frames[i])) << i;
  }
}

// ---- synthetic variants of a real file: the same records in DZ, transposed DZ, DL, HL ----

void put(std::string& s, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}
std::uint64_t get(const std::string& s, std::size_t at, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i)
    v = v << 8 | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
  return v;
}

std::string make_block(const char* id, const std::vector<std::uint64_t>& links,
                       const std::string& data) {
  std::string b(id, 4);
  put(b, 0, 4);
  put(b, 24 + links.size() * 8 + data.size(), 8);
  put(b, links.size(), 8);
  for (auto l : links) put(b, l, 8);
  return b + data;
}

std::string deflated(const std::string& plain) {
  uLongf n = compressBound(plain.size());
  std::string out(n, '\0');
  EXPECT_EQ(compress(reinterpret_cast<Bytef*>(out.data()), &n,
                     reinterpret_cast<const Bytef*>(plain.data()), plain.size()),
            Z_OK);
  out.resize(n);
  return out;
}

std::string dz_block(const std::string& plain, int zip_type, std::uint32_t columns) {
  std::string body = plain;
  if (zip_type == 1) {
    const std::size_t rows = plain.size() / columns;
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t c = 0; c < columns; ++c) body[c * rows + r] = plain[r * columns + c];
    }
  }
  const std::string packed = deflated(body);
  std::string data = "DT";
  put(data, static_cast<std::uint64_t>(zip_type), 1);
  put(data, 0, 1);
  put(data, columns, 4);
  put(data, plain.size(), 8);
  put(data, packed.size(), 8);
  return make_block("##DZ", {}, data + packed);
}

struct Base {
  std::string file;
  std::size_t data_link_at = 0;  // where the DG's data link is stored
  std::string records;           // the DT's records
};

// The unfinalised file's single DT runs to the end of the file; its records are taken out so
// they can be stored again another way.
Base base() {
  Base b;
  b.file = slurp(logger("canedge_fw0103_unfinalised_11bit.MF4"));
  const std::size_t dg = get(b.file, 64 + 24, 8);  // HD link 0: the first DG
  b.data_link_at = dg + 24 + 2 * 8;
  const std::size_t dt = get(b.file, b.data_link_at, 8);
  EXPECT_EQ(b.file.substr(dt, 4), "##DT");
  b.records = b.file.substr(dt + 24);
  return b;
}

// Appends blocks (the first is what the DG links to) and marks the file finalised.
std::string with_data(Base b, const std::vector<std::string>& blocks_after) {
  std::string f = b.file;
  while (f.size() % 8 != 0) f += '\0';
  const std::size_t start = f.size();
  // Fix links relative to `start`: blocks are laid one after the other; a placeholder link
  // value of 1, 2, ... means "the block with that index".
  std::vector<std::size_t> at;
  std::size_t pos = start;
  for (const auto& blk : blocks_after) {
    at.push_back(pos);
    pos += blk.size();
    while (pos % 8 != 0) ++pos;
  }
  for (std::size_t i = 0; i < blocks_after.size(); ++i) {
    std::string blk = blocks_after[i];
    const std::size_t links = get(blk, 16, 8);
    for (std::size_t k = 0; k < links; ++k) {
      const std::uint64_t v = get(blk, 24 + k * 8, 8);
      if (v >= 1 && v <= blocks_after.size()) {
        blk.replace(24 + k * 8, 8, std::string(8, '\0'));
        std::string enc;
        put(enc, at[v - 1], 8);
        blk.replace(24 + k * 8, 8, enc);
      }
    }
    f += blk;
    while (f.size() % 8 != 0) f += '\0';
  }
  std::string link;
  put(link, start, 8);
  f.replace(b.data_link_at, 8, link);
  f.replace(0, 8, "MDF     ");
  return f;
}

void expect_same_frames(const std::string& variant, const std::string& what) {
  auto original = read_file(logger("canedge_fw0103_unfinalised_11bit.MF4"));
  auto r = read_memory(variant);
  ASSERT_FALSE(r->open_error) << what << ": " << r->open_error->message;
  ASSERT_EQ(r->frames.size(), original->frames.size()) << what;
  for (std::size_t i = 0; i < r->frames.size(); ++i) {
    ASSERT_TRUE(can::same_frame(r->frames[i], original->frames[i])) << what << " frame " << i;
  }
}

TEST(Mf4, DeflatedTransposedListedAndHeadedDataAllReadAsThePlainBlock) {
  const Base b = base();
  // Whole records only: the synthetic files are finalised.
  expect_same_frames(with_data(b, {dz_block(b.records, 0, 0)}), "DZ deflate");
  expect_same_frames(with_data(b, {dz_block(b.records, 1, 23)}), "DZ transposed, 23 columns");
  const std::size_t cut = b.records.size() / 3 + 5;  // not on a record boundary
  std::string dl_data;
  put(dl_data, 0, 4);  // flags, reserved
  put(dl_data, 2, 4);  // two blocks
  put(dl_data, 0, 8);
  put(dl_data, cut, 8);
  const std::string dl = make_block("##DL", {0, 2, 3}, dl_data);
  const std::string first = make_block("##DT", {}, b.records.substr(0, cut));
  const std::string second = dz_block(b.records.substr(cut), 0, 0);
  expect_same_frames(with_data(b, {dl, first, second}), "DL of a DT and a DZ");
  std::string hl_data;
  put(hl_data, 1, 2);
  put(hl_data, 0, 6);
  const std::string hl = make_block("##HL", {2}, hl_data);
  const std::string dl2 = make_block("##DL", {0, 3, 4}, dl_data);
  expect_same_frames(with_data(b, {hl, dl2, first, second}), "HL over a DL");
}

// DZ blocks are inflated whole (libdeflate), the next one ahead on a second core; a block it
// refuses goes through zlib's streaming inflate. Either way the frames are the plain block's.
TEST(Mf4, ManyDzBlocksReadTheSameWhicheverInflaterTakesThem) {
  const Base b = base();
  // Six blocks cut off record boundaries, listed by one DL (offsets as the spec wants them).
  const std::size_t n = 6;
  std::vector<std::size_t> cuts;
  for (std::size_t i = 0; i < n; ++i) cuts.push_back(b.records.size() * i / n + (i ? 3 : 0));
  cuts.push_back(b.records.size());
  auto listed = [&](const std::function<std::string(std::size_t, const std::string&)>& block) {
    std::string dl_data;
    put(dl_data, 0, 4);
    put(dl_data, n, 4);
    std::vector<std::uint64_t> links{0};
    std::vector<std::string> blocks{""};
    for (std::size_t i = 0; i < n; ++i) {
      put(dl_data, cuts[i], 8);
      links.push_back(i + 2);
      blocks.push_back(block(i, b.records.substr(cuts[i], cuts[i + 1] - cuts[i])));
    }
    blocks[0] = make_block("##DL", links, dl_data);
    return with_data(b, blocks);
  };
  expect_same_frames(listed([](std::size_t, const std::string& p) { return dz_block(p, 0, 0); }),
                     "six DZ blocks");
  // A declared size half the truth (libdeflate has no room: zlib streams it) and one twice it
  // (libdeflate stops at the stream's end): the same frames.
  auto declared = [&](double factor) {
    return listed([factor](std::size_t i, const std::string& p) {
      std::string dz = dz_block(p, 0, 0);
      if (i % 2 == 1) {
        std::string size;
        put(size, static_cast<std::uint64_t>(static_cast<double>(p.size()) * factor), 8);
        dz.replace(24 + 8, 8, size);  // after "DT", type, reserved, columns
      }
      return dz;
    });
  };
  expect_same_frames(declared(0.5), "DZ blocks declaring half their size");
  expect_same_frames(declared(2.0), "DZ blocks declaring twice their size");

  // A damaged third block: said, with its offset, and the first two blocks' frames kept as
  // they are.
  const std::string damaged = listed([](std::size_t i, const std::string& p) {
    std::string dz = dz_block(p, 0, 0);
    if (i == 2) {
      for (std::size_t k = 24 + 24 + 40; k < 24 + 24 + 60 && k < dz.size(); ++k) dz[k] = '\x5A';
    }
    return dz;
  });
  auto original = read_file(logger("canedge_fw0103_unfinalised_11bit.MF4"));
  auto r = read_memory(damaged);
  ASSERT_FALSE(r->open_error) << r->open_error->message;
  EXPECT_TRUE(said(*r, "DZ block does not inflate")) << r->sink.kept().size();
  EXPECT_GE(r->stats.malformed, 1U);
  ASSERT_LT(r->frames.size(), original->frames.size());
  // Records of 1 + 24 bytes or so: the first two sixths hold far more than 10 whole frames.
  ASSERT_GT(r->frames.size(), 10U);
  for (std::size_t i = 0; i < 10; ++i) {
    ASSERT_TRUE(can::same_frame(r->frames[i], original->frames[i])) << i;
  }
}

TEST(Mf4, BadInputGetsAnErrorThatNamesTheOffsetAndWhatWasExpected) {
  const Base b = base();
  {
    std::string mdf3 = b.file;
    mdf3.replace(8, 8, "3.30    ");
    mdf3[28] = static_cast<char>(330 & 0xFF);
    mdf3[29] = static_cast<char>(330 >> 8);
    auto r = read_memory(mdf3);
    ASSERT_TRUE(r->open_error);
    EXPECT_EQ(r->open_error->code, ErrorCode::kUnsupported);
    EXPECT_NE(r->open_error->message.find("MDF version 330"), std::string::npos)
        << r->open_error->message;
  }
  {
    std::string dz = dz_block(b.records, 0, 0);
    dz[24 + 2] = 7;  // zip type 7
    auto r = read_memory(with_data(b, {dz}));
    ASSERT_TRUE(r->open_error);
    EXPECT_EQ(r->open_error->code, ErrorCode::kUnsupported);
    EXPECT_NE(r->open_error->message.find("DZ block compressed with type 7"), std::string::npos)
        << r->open_error->message;
  }
  {
    std::string f = b.file;
    const std::size_t dg = get(f, 64 + 24, 8);
    f.replace(dg, 4, "##XX");
    auto r = read_memory(f);
    ASSERT_TRUE(r->open_error);
    EXPECT_NE(r->open_error->message.find(fmt::format("offset {}: expected a ##DG block, found "
                                                      "'##XX'",
                                                      dg)),
              std::string::npos)
        << r->open_error->message;
  }
}

TEST(Mf4, CraftedSizesAndListsAreRefusedNotFollowed) {
  const Base b = base();
  {
    // A DL listing the same DT a million times would make a small file cost any amount of work.
    std::string dl_data;
    put(dl_data, 0, 4);
    put(dl_data, 3, 4);
    for (int i = 0; i < 3; ++i) put(dl_data, 0, 8);
    const std::string dl = make_block("##DL", {0, 2, 2, 2}, dl_data);
    const std::string dt = make_block("##DT", {}, b.records);
    auto r = read_memory(with_data(b, {dl, dt}));
    ASSERT_TRUE(r->open_error);
    EXPECT_NE(r->open_error->message.find("data block listed twice"), std::string::npos)
        << r->open_error->message;
  }
  {
    // A block length near 2^64 must not wrap around the end-of-file check.
    std::string dz = dz_block(b.records, 0, 0);
    dz.replace(8, 8, std::string("\xF0\xFF\xFF\xFF\xFF\xFF\xFF\xFF", 8));
    auto r = read_memory(with_data(b, {dz}));
    ASSERT_TRUE(r->open_error);
    EXPECT_NE(r->open_error->message.find("cut short by the end of the file"), std::string::npos)
        << r->open_error->message;
  }
  {
    // A CAN group whose records are 0 bytes long: refused, never read (in a sorted group such
    // records would be read forever without moving).
    std::string f = b.file;
    const std::size_t dg = get(f, 64 + 24, 8);
    std::size_t cg = get(f, dg + 24 + 8, 8);
    while (cg != 0 && get(f, cg + 24 + 6 * 8 + 24, 4) != 22) cg = get(f, cg + 24, 8);
    ASSERT_NE(cg, 0U) << "the 22-byte CAN_DataFrame group";
    f.replace(cg + 24 + 6 * 8 + 24, 4, std::string(4, '\0'));
    auto r = read_memory(f);
    ASSERT_TRUE(r->open_error);
    EXPECT_TRUE(said(*r, "records of 0 bytes"));
  }
}

TEST(Mf4, AFileCutAnywhereNeverCrashesAndKeepsTheFramesBeforeTheCut) {
  const std::string whole = slurp(logger("canedge_fw0104_two_buses_tx.MF4"));
  const auto all = read_memory(whole)->frames.size();
  for (std::size_t cut = 0; cut < whole.size(); cut += whole.size() / 97 + 1) {
    auto r = read_memory(std::string_view(whole).substr(0, cut));
    EXPECT_LE(r->frames.size(), all);
  }
  // Cut inside the data: the unfinalised file's rule reads up to the last whole record.
  auto r = read_memory(std::string_view(whole).substr(0, whole.size() - 7));
  ASSERT_FALSE(r->open_error);
  EXPECT_GE(r->frames.size(), all - 2);
  EXPECT_TRUE(said(*r, "ends inside a record")) << r->sink.kept().size();
}

// ---- BLF ----

TEST(Blf, ClassicMessagesReadWithTheirTimeChannelAndBytes) {
  for (const char* name : {"test_CanMessage.blf", "test_CanMessage2.blf"}) {
    auto r = read_file(logger(name));
    ASSERT_FALSE(r->open_error) << r->open_error->message;
    EXPECT_EQ(r->format, Format::kBlf);
    ASSERT_EQ(r->frames.size(), 2U) << name;
    // By hand from the bytes at 0xB0: object header v1, flags 2 (1 ns ticks), timestamp
    // 0x2222222222222222; body: channel 0x1111, flags 0x22 (Rx, no remote), DLC 0x33, id
    // 0x44444444, data 55..CC. The start time is all zeros, so times are relative.
    const auto& f = r->frames[0];
    EXPECT_EQ(f.timestamp_ns, 0x2222222222222222LL);
    EXPECT_EQ(f.time_kind, TimeKind::kRelative);
    EXPECT_EQ(f.channel, "4369");
    EXPECT_EQ(f.direction, can::Direction::kRx);
    EXPECT_EQ(f.id, 0x4444444U);  // bits 29-30 dropped, as python-can does
    EXPECT_TRUE(f.extended);      // above 0x7FF without the flag: said, and read as 29-bit
    EXPECT_FALSE(f.rtr);
    EXPECT_EQ(bytes(f),
              (std::vector<std::uint8_t>{0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC}));
    EXPECT_TRUE(said(*r, "DLC above 15"));
    EXPECT_TRUE(said(*r, "without the extended flag"));
  }
}

TEST(Blf, CanFdMessagesCarryAllSixtyFourBytes) {
  for (const char* name : {"test_CanFdMessage.blf", "test_CanFdMessage64.blf"}) {
    auto r = read_file(logger(name));
    ASSERT_FALSE(r->open_error) << r->open_error->message;
    ASSERT_EQ(r->frames.size(), 2U) << name;
    const auto& f = r->frames[0];
    EXPECT_TRUE(f.fd) << name;
    EXPECT_EQ(f.len, 64) << name;
    for (int i = 0; i < 64; ++i) ASSERT_EQ(f.data[static_cast<std::size_t>(i)], i) << name;
  }
}

TEST(Blf, Issue1905ShortFdPayloadsArePaddedWithZerosNotTheNextObject) {
  auto r = read_file(logger("issue_1905.blf"));
  ASSERT_FALSE(r->open_error) << r->open_error->message;
  ASSERT_EQ(r->frames.size(), 22U);
  EXPECT_NE(r->variant.find("type 115"), std::string::npos) << r->variant;
  for (const auto& f : r->frames) {
    ASSERT_EQ(f.id, 0x6A9U);
    ASSERT_FALSE(f.extended);
    ASSERT_TRUE(f.fd);
    ASSERT_EQ(f.len, 64);
    for (int i = 0; i < 48; ++i) ASSERT_EQ(f.data[static_cast<std::size_t>(i)], 0xFF);
    // Debian's python-can 4.1 reads "LOBJ" and the next header here; Vector pads with zeros.
    for (int i = 48; i < 64; ++i) ASSERT_EQ(f.data[static_cast<std::size_t>(i)], 0);
  }
  // python-can (upstream, UTC start time) gives 1735654183.491113 s for the first frame.
  EXPECT_EQ((r->frames[0].timestamp_ns + 500) / 1000, 1735654183491113LL);
  EXPECT_EQ(r->frames[0].channel, "7");
  EXPECT_TRUE(said(*r, "fewer data bytes than their DLC"));
}

TEST(Blf, ErrorFramesAreErrorFrames) {
  auto r = read_file(logger("test_CanErrorFrameExt.blf"));
  ASSERT_FALSE(r->open_error) << r->open_error->message;
  ASSERT_EQ(r->frames.size(), 2U);
  EXPECT_TRUE(r->frames[0].error);
  EXPECT_EQ(r->frames[0].channel, "4369");
}

// Containers are inflated whole (libdeflate); one it refuses goes through zlib, which keeps
// what it can and says why.
TEST(Blf, ContainersReadTheSameWhicheverInflaterTakesThem) {
  const std::string whole = slurp(logger("issue_1905.blf"));
  auto original = read_memory(whole);
  ASSERT_EQ(original->frames.size(), 22U);
  // The containers: "LOBJ", header size, version, object size, type 10; method 2 is zlib; the
  // uncompressed size at byte 24. The first holds 2640 bytes: all 22 frames but the last's tail.
  std::vector<std::size_t> containers;
  for (std::size_t at = whole.find("LOBJ"); at != std::string::npos;
       at = whole.find("LOBJ", at + 4)) {
    if (get(whole, at + 12, 4) == 10 && get(whole, at + 16, 2) == 2) containers.push_back(at);
  }
  ASSERT_EQ(containers.size(), 3U);
  const std::size_t first = containers[0];
  ASSERT_EQ(get(whole, first + 24, 4), 2640U);

  // Declaring more than it holds: the stream's end is the end, nothing said.
  std::string larger = whole;
  std::string size;
  put(size, 2640 * 2, 4);
  larger.replace(first + 24, 4, size);
  auto r = read_memory(larger);
  ASSERT_EQ(r->frames.size(), 22U);
  EXPECT_EQ(r->stats.malformed, 0U);
  for (std::size_t i = 0; i < 22; ++i) {
    EXPECT_TRUE(can::same_frame(r->frames[i], original->frames[i])) << i;
  }

  // Declaring less: the whole inflation has no room, zlib's keeps the declared bytes and says so.
  std::string smaller = whole;
  size.clear();
  put(size, 1320, 4);
  smaller.replace(first + 24, 4, size);
  auto h = read_memory(smaller);
  EXPECT_TRUE(said(*h, "does not inflate to its declared 1320 bytes"));
  EXPECT_LT(h->frames.size(), 22U);

  // Damage inside the first container's deflate stream: said, with the bytes recovered, and
  // fewer frames, never a crash.
  std::string damaged = whole;
  for (std::size_t k = first + 32 + 40; k < first + 32 + 60; ++k) {
    damaged[k] = static_cast<char>(damaged[k] ^ 0x55);
  }
  auto d = read_memory(damaged);
  EXPECT_TRUE(said(*d, "does not inflate to its declared 2640 bytes")) << d->sink.kept().size();
  EXPECT_TRUE(said(*d, "bytes recovered"));
  EXPECT_LT(d->frames.size(), 22U);
}

TEST(Blf, StreamsFromAPipeAndSurvivesEveryCut) {
  const std::string whole = slurp(logger("issue_1905.blf"));
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], whole.data(), whole.size()), static_cast<ssize_t>(whole.size()));
  close(fds[1]);
  CollectingSink sink;
  auto reader = open_capture_fd(fds[0], "pipe", sink);
  ASSERT_TRUE(reader) << reader.error().message;
  can::Frame f;
  int n = 0;
  while ((*reader)->next(f)) ++n;
  close(fds[0]);
  EXPECT_EQ(n, 22);
  for (std::size_t cut = 0; cut < whole.size(); ++cut) {
    auto r = read_memory(std::string_view(whole).substr(0, cut));
    EXPECT_LE(r->frames.size(), 22U);
  }
}

}  // namespace
}  // namespace bmslink::capture

// ---- writers ----

namespace bmslink::capture {
namespace {

// Frames of every kind the writers must carry: classic 11/29-bit, both directions, two buses,
// remote, CAN FD with and without BRS/ESI at several lengths, and each error type MF4 names.
std::vector<can::Frame> varied_frames() {
  std::vector<can::Frame> out;
  std::int64_t t = 1733500000123456789LL;
  auto next = [&](can::Frame f) {
    f.timestamp_ns = t;
    f.time_kind = TimeKind::kAbsolute;
    t += 1'234'567;
    out.push_back(f);
  };
  for (int i = 0; i < 40; ++i) {
    can::Frame f;
    f.id = i % 2 ? 0x351U : 0x18FF50E5U;
    f.extended = i % 2 == 0;
    f.len = f.dlc = static_cast<std::uint8_t>(i % 9);
    for (int k = 0; k < f.len; ++k)
      f.data[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(i * 7 + k);
    f.channel = i % 3 ? "1" : "2";
    f.direction = i % 4 ? can::Direction::kRx : can::Direction::kTx;
    next(f);
  }
  for (std::uint8_t dlc : {std::uint8_t{9}, std::uint8_t{12}, std::uint8_t{15}}) {
    can::Frame f;
    f.id = 0x123;
    f.fd = true;
    f.brs = dlc != 12;
    f.esi = dlc == 15;
    f.dlc = dlc;
    f.len = can::fd_dlc_to_len(dlc);
    for (int k = 0; k < f.len; ++k)
      f.data[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(255 - k);
    f.channel = "1";
    f.direction = can::Direction::kRx;
    next(f);
  }
  can::Frame remote;
  remote.id = 0x7DF;
  remote.rtr = true;
  remote.len = remote.dlc = 8;
  remote.channel = "2";
  remote.direction = can::Direction::kTx;
  next(remote);
  const std::array<std::pair<std::uint32_t, std::array<std::uint8_t, 8>>, 4> errors = {{
      {can::err::kProtocol, {0, 0, can::err::kProtBit, 0, 0, 0, 0, 0}},
      {can::err::kProtocol, {0, 0, can::err::kProtStuff, 0, 0, 0, 0, 0}},
      {can::err::kProtocol, {0, 0, 0, can::err::kLocCrcSequence, 0, 0, 0, 0}},
      {can::err::kNoAck, {0, 0, 0, can::err::kLocAckSlot, 0, 0, 0, 0}},
  }};
  for (const auto& [cls, d] : errors) {
    can::Frame e = can::make_error_frame(cls, d);
    e.channel = "1";
    e.direction = can::Direction::kRx;
    next(e);
  }
  return out;
}

std::string write_to_file(OutputFormat format, const std::vector<can::Frame>& frames) {
  std::FILE* out = std::tmpfile();
  auto writer = make_writer(format, out);
  for (const auto& f : frames) writer->write(f);
  EXPECT_TRUE(writer->finish());
  std::string bytes(static_cast<std::size_t>(std::ftell(out)), '\0');
  std::rewind(out);
  EXPECT_EQ(std::fread(bytes.data(), 1, bytes.size(), out), bytes.size());
  std::fclose(out);
  return bytes;
}

TEST(Mf4Writer, EveryKindOfFrameReadsBackTheSame) {
  const auto frames = varied_frames();
  auto r = read_memory(write_to_file(OutputFormat::kMf4, frames));
  ASSERT_FALSE(r->open_error) << r->open_error->message;
  EXPECT_EQ(r->variant.find("unfinalised"), std::string::npos) << r->variant;
  ASSERT_EQ(r->frames.size(), frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto& a = frames[i];
    const auto& b = r->frames[i];
    EXPECT_EQ(a.timestamp_ns, b.timestamp_ns) << i;
    EXPECT_EQ(a.channel, b.channel) << i;
    EXPECT_EQ(a.direction, b.direction) << i;
    if (a.error) {
      // MF4 keeps the error's type, not SocketCAN's every detail.
      EXPECT_TRUE(b.error) << i;
      EXPECT_EQ(a.id & can::err::kNoAck, b.id & can::err::kNoAck) << i;
      EXPECT_EQ(a.data[2], b.data[2]) << i;
      continue;
    }
    EXPECT_TRUE(can::same_frame(a, b)) << i << " " << can::id_hex(a);
  }
}

TEST(BlfWriter, EveryKindOfFrameReadsBackTheSame) {
  const auto frames = varied_frames();
  auto r = read_memory(write_to_file(OutputFormat::kBlf, frames));
  ASSERT_FALSE(r->open_error) << r->open_error->message;
  ASSERT_EQ(r->frames.size(), frames.size());
  EXPECT_EQ(r->stats.malformed, 0U);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto& a = frames[i];
    const auto& b = r->frames[i];
    EXPECT_EQ(a.timestamp_ns, b.timestamp_ns) << i;
    EXPECT_EQ(a.channel, b.channel) << i;
    if (a.error) {
      EXPECT_TRUE(b.error) << i;  // BLF error objects carry no SocketCAN class bits
      continue;
    }
    EXPECT_EQ(a.direction, b.direction) << i;
    EXPECT_TRUE(can::same_frame(a, b)) << i << " " << can::id_hex(a);
  }
}

// A block-by-block check of the writer's MF4 from the ASAM MDF 4.1 block layouts, written
// without the reader: identification, alignment, link targets, record sizes and counts.
TEST(Mf4Writer, OutputFollowsTheBlockLayoutsOfTheStandard) {
  const auto frames = varied_frames();
  const std::string f = write_to_file(OutputFormat::kMf4, frames);
  ASSERT_GE(f.size(), 64U);
  EXPECT_EQ(f.substr(0, 8), "MDF     ");
  EXPECT_EQ(f.substr(8, 8), "4.11    ");
  EXPECT_EQ(get(f, 28, 2), 411U);
  EXPECT_EQ(get(f, 60, 2), 0U);  // nothing left unfinalised
  std::set<std::uint64_t> seen;
  struct Blk {
    std::string id;
    std::uint64_t length;
    std::vector<std::uint64_t> links;
    std::uint64_t data;
  };
  std::function<Blk(std::uint64_t)> block = [&](std::uint64_t at) {
    Blk b;
    EXPECT_EQ(at % 8, 0U) << "block at " << at << " not 8-byte aligned";
    EXPECT_LE(at + 24, f.size());
    b.id = f.substr(at, 4);
    EXPECT_EQ(b.id.substr(0, 2), "##") << at;
    b.length = get(f, at + 8, 8);
    const std::uint64_t n = get(f, at + 16, 8);
    EXPECT_GE(b.length, 24 + 8 * n) << b.id;
    EXPECT_LE(at + b.length, f.size()) << b.id;
    for (std::uint64_t k = 0; k < n; ++k) {
      b.links.push_back(get(f, at + 24 + 8 * k, 8));
      if (b.links.back() != 0) {
        EXPECT_EQ(f.substr(b.links.back(), 2), "##") << b.id << " link " << k;
      }
    }
    b.data = at + 24 + 8 * n;
    return b;
  };
  auto text = [&](std::uint64_t at) {
    const Blk t = block(at);
    EXPECT_EQ(t.id, "##TX");
    const std::string s = f.substr(t.data, t.length - 24);
    EXPECT_NE(s.find('\0'), std::string::npos) << "TX without its terminating zero";
    return s.substr(0, s.find('\0'));
  };
  const Blk hd = block(64);
  ASSERT_EQ(hd.id, "##HD");
  ASSERT_EQ(hd.links.size(), 6U);  // DG, FH, CH, AT, EV, MD
  EXPECT_EQ(get(f, hd.data, 8), static_cast<std::uint64_t>(frames.front().timestamp_ns));
  ASSERT_NE(hd.links[1], 0U);
  EXPECT_EQ(block(hd.links[1]).id, "##FH");  // the file history the standard requires
  const Blk dg = block(hd.links[0]);
  ASSERT_EQ(dg.id, "##DG");
  EXPECT_EQ(dg.links[0], 0U);
  const std::size_t id_size = static_cast<unsigned char>(f[dg.data]);
  ASSERT_EQ(id_size, 1U);
  const Blk dt = block(dg.links[2]);
  ASSERT_EQ(dt.id, "##DT");
  EXPECT_EQ(dg.links[2] + dt.length, f.size());  // the DT runs to the end, length written back
  // Channel groups: record id -> (bytes, cycle count, VLSD).
  struct Group {
    std::uint64_t bytes, cycles;
    bool vlsd;
  };
  std::map<std::uint64_t, Group> groups;
  for (std::uint64_t cg_at = dg.links[1]; cg_at != 0;) {
    const Blk cg = block(cg_at);
    ASSERT_EQ(cg.id, "##CG");
    ASSERT_EQ(cg.links.size(), 6U);
    const std::uint64_t rid = get(f, cg.data, 8);
    const bool vlsd = get(f, cg.data + 16, 2) & 1;
    const std::uint64_t bytes =
        vlsd ? get(f, cg.data + 24, 8) : get(f, cg.data + 24, 4) + get(f, cg.data + 28, 4);
    EXPECT_TRUE(groups.emplace(rid, Group{bytes, get(f, cg.data + 8, 8), vlsd}).second)
        << "record id " << rid << " twice";
    if (!vlsd) {
      // Every channel (compositions too) lies inside the record; one time master.
      int masters = 0;
      std::function<void(std::uint64_t, int)> walk = [&](std::uint64_t cn_at, int depth) {
        for (; cn_at != 0;) {
          const Blk cn = block(cn_at);
          ASSERT_EQ(cn.id, "##CN");
          const int type = static_cast<unsigned char>(f[cn.data]);
          const std::uint64_t first_bit =
              get(f, cn.data + 4, 4) * 8 + static_cast<unsigned char>(f[cn.data + 3]);
          const std::uint64_t bits = get(f, cn.data + 8, 4);
          const std::string name = text(cn.links[2]);
          if (type == 2) {
            ++masters;
            EXPECT_EQ(f[cn.data + 1], 1) << "the master is a time channel";
            const Blk cc = block(cn.links[4]);
            EXPECT_EQ(cc.id, "##CC");
            EXPECT_EQ(f[cc.data], 1);  // linear
            double factor = 0;
            std::uint64_t raw = get(f, cc.data + 24 + 8, 8);
            std::memcpy(&factor, &raw, 8);
            EXPECT_DOUBLE_EQ(factor, 1e-9);
          }
          // Composition members are named "<event>.<member>" after the group.
          if (depth > 0) {
            EXPECT_EQ(name.rfind(text(cg.links[2]) + ".", 0), 0U) << name;
          }
          if (type != 6) {
            EXPECT_LE(first_bit + bits, bytes * 8) << name;
          }
          if (type == 1) {
            EXPECT_EQ(block(cn.links[5]).id, "##CG") << name << " points at its VLSD group";
          }
          if (cn.links[1] != 0) walk(cn.links[1], depth + 1);
          cn_at = cn.links[0];
        }
      };
      walk(cg.links[1], 0);
      EXPECT_EQ(masters, 1) << "record id " << rid;
    }
    cg_at = cg.links[0];
  }
  // The records, walked by their ids, fill the DT exactly and match every count.
  std::map<std::uint64_t, std::uint64_t> counted, vlsd_bytes;
  std::uint64_t pos = dt.data;
  const std::uint64_t end = dg.links[2] + dt.length;
  while (pos < end) {
    const std::uint64_t rid = static_cast<unsigned char>(f[pos]);
    ASSERT_TRUE(groups.count(rid)) << "record id " << rid << " at " << pos;
    ++counted[rid];
    pos += 1;
    if (groups[rid].vlsd) {
      const std::uint64_t n = get(f, pos, 4);
      vlsd_bytes[rid] += 4 + n;
      pos += 4 + n;
    } else {
      pos += groups[rid].bytes;
    }
  }
  EXPECT_EQ(pos, end);
  for (const auto& [rid, g] : groups) {
    EXPECT_EQ(g.cycles, counted[rid]) << "cycle count of record id " << rid;
    if (g.vlsd) {
      EXPECT_EQ(g.bytes, vlsd_bytes[rid]) << "byte count of VLSD group " << rid;
    }
  }
  EXPECT_EQ(counted[1], 43U);  // 40 classic + 3 FD data frames
}

// A frame whose VLSD payload is shorter than its length says is dropped where it stands; the
// frames around it, waiting in the same queue for their own payloads, come out whole and in
// order. The writer puts each payload right after its frame, so the file is rearranged: every
// frame record first, then every payload (their offsets count payloads in order, so they hold),
// which makes all 40 frames wait at once, the short one in the middle.
TEST(Mf4Writer, AFrameWhosePayloadIsShortIsDroppedAndItsNeighboursKept) {
  constexpr int kFrames = 40, kShort = 20;
  std::vector<can::Frame> frames;
  for (int i = 0; i < kFrames; ++i) {
    can::Frame f;
    f.timestamp_ns = 1733500000000000000LL + i * 1000000LL;
    f.time_kind = TimeKind::kAbsolute;
    f.id = 0x100U + static_cast<std::uint32_t>(i);
    f.fd = i == kShort;
    f.len = 8;
    f.dlc = 8;
    f.channel = i % 3 == 0 ? "2" : "1";
    f.direction = can::Direction::kRx;
    for (std::uint8_t k = 0; k < 8; ++k) f.data[k] = static_cast<std::uint8_t>(4 * i + k);
    frames.push_back(f);
  }
  std::string file = write_to_file(OutputFormat::kMf4, frames);
  // The data group's records: id 1 (24-byte frame record: time 0-7, bus 8, ID 9-12, DLC and
  // flags 13, DataLength 14, payload offset 16-23), id 2 (u32 length, bytes).
  const std::size_t dt = file.find("##DT");
  ASSERT_NE(dt, std::string::npos);
  const std::size_t end = dt + get(file, dt + 8, 8);
  std::string fixed, payloads;
  bool changed = false;
  for (std::size_t at = dt + 24; at < end;) {
    const auto rid = static_cast<unsigned char>(file[at]);
    ASSERT_TRUE(rid == 1 || rid == 2) << at;
    const std::size_t size = rid == 1 ? 1 + 24 : 1 + 4 + get(file, at + 1, 4);
    std::string record = file.substr(at, size);
    if (rid == 1 && (get(record, 1 + 9, 4) & 0x1FFFFFFFU) == 0x100U + kShort) {
      record[1 + 14] = 12;  // an FD frame of 12 bytes (DLC 9) whose payload holds 8
      record[1 + 13] = static_cast<char>((record[1 + 13] & 0xF0) | 9);
      changed = true;
    }
    (rid == 1 ? fixed : payloads) += record;
    at += size;
  }
  ASSERT_TRUE(changed);
  file.replace(dt + 24, fixed.size() + payloads.size(), fixed + payloads);
  auto r = read_memory(file);
  ASSERT_FALSE(r->open_error) << r->open_error->message;
  EXPECT_TRUE(said(*r, "payload of 8 bytes for a frame of 12; frame dropped"));
  EXPECT_EQ(r->stats.malformed, 1U);
  ASSERT_EQ(r->frames.size(), static_cast<std::size_t>(kFrames - 1));
  for (std::size_t i = 0; i < r->frames.size(); ++i) {
    const auto& want = frames[i < kShort ? i : i + 1];
    EXPECT_TRUE(can::same_frame(r->frames[i], want)) << i;
    EXPECT_EQ(r->frames[i].channel, want.channel) << i;
    EXPECT_EQ(r->frames[i].timestamp_ns, want.timestamp_ns) << i;
  }
}

TEST(Mf4Writer, ToAPipeTheFileStaysUnfinalisedAndStillReads) {
  const auto frames = varied_frames();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string got;
  std::thread drain([&] {
    char buf[4096];
    ssize_t n = 0;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) got.append(buf, static_cast<std::size_t>(n));
  });
  std::FILE* out = fdopen(fds[1], "wb");
  auto writer = make_writer(OutputFormat::kMf4, out);
  for (const auto& f : frames) writer->write(f);
  EXPECT_TRUE(writer->finish());
  std::fclose(out);
  drain.join();
  close(fds[0]);
  EXPECT_EQ(got.substr(0, 8), "UnFinMF ");
  auto r = read_memory(got);
  ASSERT_FALSE(r->open_error) << r->open_error->message;
  EXPECT_EQ(r->frames.size(), frames.size());
}

}  // namespace
}  // namespace bmslink::capture
