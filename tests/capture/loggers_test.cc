// The loggers' binary files: real CANedge MF4 files and python-can's BLF test files
// (tests/data/captures/loggers/SOURCES.md). Counts per bus and direction come from an independent
// block walker written during the research (not this reader); the first frames' values were
// worked out by hand from the bytes, as noted at each.
#include <unistd.h>
#include <zlib.h>

#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include "bmslink/can/error_frame.h"
#include "support/frames.h"

namespace bmslink::capture {
namespace {

using test::bytes;
using test::data_path;
using test::read_file;
using test::read_memory;

std::string logger(const std::string& name) { return data_path("captures/loggers/" + name); }

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
      {"canedge_fw0107_150k_frames.MF4", {{"1/rx/29", 139136}, {"9/rx/11", 11275}}},
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

TEST(Mf4, TheSameFramesComeFromAStreamAFileAndMemory) {
  const std::string path = logger("canedge_fw0104_two_buses_tx.MF4");
  const std::string all = slurp(path);
  auto from_file = read_file(path);
  auto from_memory = read_memory(all);
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
