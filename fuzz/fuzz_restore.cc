// libFuzzer target for `bmslink restore`: any bytes as a backup archive (zstd or plain tar).
// Either the whole archive is restored or an Error names what is wrong; a refused archive writes
// no record and leaves no capture behind, and nothing crashes or runs away with memory.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "bmslink/records/backup.h"
#include "bmslink/records/store.h"

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace bmslink;
  namespace fs = std::filesystem;
  static const std::string dir = "/tmp/bmslink-fuzz-restore-" + std::to_string(::getpid());
  const std::string archive = dir + ".archive";
  const std::string captures = dir + "/captures";
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(captures, ec);
  std::FILE* f = std::fopen(archive.c_str(), "wb");
  require(f != nullptr);
  if (size > 0) std::fwrite(data, 1, size, f);
  std::fclose(f);
  auto store = records::open_store(":memory:");
  require(store.has_value());
  auto done = records::restore_backup(archive, **store, captures, false);
  auto cases = (*store)->list();
  require(cases.has_value());
  if (!done) {
    require(!done.error().message.empty());
    require(cases->empty());
    // The captures directory holds nothing but what a restore may leave: no staging files.
    for (const auto& e : fs::directory_iterator(captures, ec))
      require(!e.path().filename().string().starts_with(".restore-"));
  } else {
    require(cases->size() == done->cases);
  }
  fs::remove_all(dir, ec);
  std::remove(archive.c_str());
  return 0;
}
