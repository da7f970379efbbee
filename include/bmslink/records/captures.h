// bmslink records: capture files kept beside the records, named by their SHA-256 so the same
// file analysed twice is stored once.
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bmslink/core/error.h"

namespace bmslink::records {

// 64 lower-case hex digits of the file's SHA-256.
Result<std::string> sha256_of_file(const std::string& path);

// The directory captures are kept in for a store: beside a SQLite file, else in the user's data
// directory ("<dir>/captures").
std::string captures_dir(std::string_view store_url);

// Copies `path` into `dir` as <sha256> unless that file is there already; returns the hash.
Result<std::string> keep_capture(const std::string& path, const std::string& dir);

// A capture kept as it arrives (an upload): bytes are written to a private file in `dir` and
// hashed on the way; finish() names the file by its SHA-256 (once; a second copy is dropped) and
// returns the hash. Destroyed unfinished, the partial file is removed.
class CaptureKeeper {
 public:
  static Result<std::unique_ptr<CaptureKeeper>> open(const std::string& dir);
  ~CaptureKeeper();
  CaptureKeeper(const CaptureKeeper&) = delete;
  CaptureKeeper& operator=(const CaptureKeeper&) = delete;

  Result<void> write(std::string_view bytes);
  Result<std::string> finish();
  std::uint64_t size() const { return size_; }
  // After finish(): whether this upload put the file there (false: it was kept already).
  bool added() const { return added_; }

 private:
  CaptureKeeper() = default;
  struct Hash;
  std::unique_ptr<Hash> hash_;
  std::FILE* file_ = nullptr;
  std::string dir_, tmp_;
  std::uint64_t size_ = 0;
  bool added_ = false;
};

// Removes a kept capture and its settings (an upload that turned out not to be a capture).
void forget_capture(const std::string& dir, std::string_view sha256);

// Bytes taken by the captures kept in `dir` (0 when there is none).
std::uint64_t kept_bytes(const std::string& dir);

// What the kept captures take, and how much of it no case refers to (a case, or a kept
// version of one: an admin may restore it).
struct CaptureUsage {
  std::size_t files = 0, referenced_files = 0, unreferenced_files = 0;
  std::uint64_t bytes = 0, referenced_bytes = 0, unreferenced_bytes = 0;
};

// Unreferenced captures older than the grace period removed (with their settings), and
// leftovers of crashed uploads (upload.* and ".tmp" files) older than it, within an hour to a
// day. A capture kept again (uploaded anew) starts its grace period again.
// `dry_run`: only said.
struct CollectedCaptures {
  CaptureUsage before;
  std::vector<std::string> removed;  // hashes (and leftover file names), oldest first
  std::uint64_t removed_bytes = 0;
  std::size_t young_unreferenced = 0;  // within the grace period: kept for now
};

class Store;
Result<CaptureUsage> capture_usage(Store& store, const std::string& dir);
Result<CollectedCaptures> collect_captures(Store& store, const std::string& dir,
                                           std::int64_t grace_s, bool dry_run);
// The same from references read before (a server reads them under its store's lock and looks
// at the files without it).
CaptureUsage capture_usage(const std::vector<std::string>& referenced, const std::string& dir);
Result<CollectedCaptures> collect_captures(const std::vector<std::string>& referenced,
                                           const std::string& dir, std::int64_t grace_s,
                                           bool dry_run);

// The path of a kept capture by its hash, or an error when `sha256` is not 64 hex digits or no
// such capture is kept (never a path outside `dir`).
Result<std::string> kept_capture_path(const std::string& dir, std::string_view sha256);

// How a kept capture was analysed when it was uploaded (the inverter's timeout, the bit rate), so
// a later diagnosis analyses it the same way. Kept beside it as <sha256>.options; the last
// upload's options win. Absent: the defaults.
struct AnalysisSettings {
  std::optional<double> timeout_s;
  std::optional<std::uint32_t> bitrate_bps;
};
Result<void> keep_analysis_settings(const std::string& dir, std::string_view sha256,
                                    const AnalysisSettings& settings);
AnalysisSettings kept_analysis_settings(const std::string& dir, std::string_view sha256);

}  // namespace bmslink::records
