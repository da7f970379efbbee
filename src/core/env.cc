#include "bmslink/core/env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace bmslink {
namespace {

class PosixFile final : public RandomAccessFile {
 public:
  PosixFile(int fd, std::uint64_t size, std::string path)
      : fd_(fd), size_(size), path_(std::move(path)) {}
  ~PosixFile() override { ::close(fd_); }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  Result<std::size_t> read_at(std::uint64_t offset, std::span<char> out) const override {
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t got =
          ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (got < 0) {
        if (errno == EINTR) continue;
        return make_error(ErrorCode::kIo,
                          fmt::format("{}: read failed: {}", path_, std::strerror(errno)));
      }
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    return done;
  }
  std::uint64_t size() const override { return size_; }

 private:
  int fd_;
  std::uint64_t size_;
  std::string path_;
};

class PosixEnv final : public Env {
 public:
  std::optional<std::uint64_t> regular_file_size(const std::string& path) const override {
    struct stat st {};
    if (path == "-" || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    return static_cast<std::uint64_t>(st.st_size);
  }
  Result<std::unique_ptr<RandomAccessFile>> open_random_access(
      const std::string& path) const override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return make_error(ErrorCode::kIo,
                        fmt::format("cannot open {}: {}", path, std::strerror(errno)));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return make_error(ErrorCode::kIo,
                        fmt::format("cannot stat {}: {}", path, std::strerror(errno)));
    }
    return std::unique_ptr<RandomAccessFile>(
        std::make_unique<PosixFile>(fd, static_cast<std::uint64_t>(st.st_size), path));
  }
};

class MemoryFile final : public RandomAccessFile {
 public:
  explicit MemoryFile(const std::string& bytes) : bytes_(bytes) {}
  Result<std::size_t> read_at(std::uint64_t offset, std::span<char> out) const override {
    if (offset >= bytes_.size()) return std::size_t{0};
    const std::size_t n = std::min<std::size_t>(out.size(), bytes_.size() - offset);
    std::memcpy(out.data(), bytes_.data() + offset, n);
    return n;
  }
  std::uint64_t size() const override { return bytes_.size(); }

 private:
  const std::string& bytes_;
};

}  // namespace

const Env& Env::posix() {
  static const PosixEnv env;
  return env;
}

std::optional<std::uint64_t> MemoryEnv::regular_file_size(const std::string& path) const {
  const auto it = files_.find(path);
  if (it == files_.end()) return std::nullopt;
  return it->second.size();
}

Result<std::unique_ptr<RandomAccessFile>> MemoryEnv::open_random_access(
    const std::string& path) const {
  const auto it = files_.find(path);
  if (it == files_.end())
    return make_error(ErrorCode::kIo, fmt::format("cannot open {}: no such file", path));
  return std::unique_ptr<RandomAccessFile>(std::make_unique<MemoryFile>(it->second));
}

}  // namespace bmslink
