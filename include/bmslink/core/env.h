// bmslink core: the file-system seam (leveldb's Env). Code that needs random access to a file by
// path — the parallel analysis of a large log — asks an Env, so it never calls stat/open/pread
// itself and tests can hand it files held in memory. Env::posix() is the real file system.
// Thread-safety: RandomAccessFile::read_at may be called from several threads at once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "bmslink/core/error.h"

namespace bmslink {

class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to out.size() bytes at `offset`; fewer only at the end of the file.
  virtual Result<std::size_t> read_at(std::uint64_t offset, std::span<char> out) const = 0;
  virtual std::uint64_t size() const = 0;
};

class Env {
 public:
  virtual ~Env() = default;
  // The size of `path` when it is a regular file (not a pipe, device or directory); nullopt
  // otherwise, including when it does not exist.
  virtual std::optional<std::uint64_t> regular_file_size(const std::string& path) const = 0;
  virtual Result<std::unique_ptr<RandomAccessFile>> open_random_access(
      const std::string& path) const = 0;

  static const Env& posix();
};

// Files in memory, for tests and for bytes already held (an HTTP upload).
class MemoryEnv final : public Env {
 public:
  void add_file(std::string path, std::string bytes) { files_[std::move(path)] = std::move(bytes); }
  std::optional<std::uint64_t> regular_file_size(const std::string& path) const override;
  Result<std::unique_ptr<RandomAccessFile>> open_random_access(
      const std::string& path) const override;

 private:
  std::map<std::string, std::string> files_;
};

}  // namespace bmslink
