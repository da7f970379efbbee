// bmslink records: a company's records and kept captures in one archive, and back.
//
// The archive is a tar (pax) compressed with zstd (libarchive):
//   records/cases.jsonl      one stored case body per line
//   records/versions.jsonl   {"case_id", "saved_at", "deleted", "body"} per line
//   records/users.jsonl      {"name", "password_hash", "role", "disabled"} per line
//   records/settings.jsonl   {"key", "value"} per line
//   captures/<sha256>        every kept capture (and <sha256>.options, its analysis settings)
//   manifest.json            last: format, counts, and every entry's size and SHA-256
// Sessions and failed logins are not carried: a restored company logs in afresh. The records are
// read in one transaction (consistent while a server writes); captures are named by their hash,
// so a file kept later cannot change one that is listed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bmslink/core/error.h"

namespace bmslink::records {

class Store;

inline constexpr std::string_view kBackupFormat = "bmslink-backup";
inline constexpr int kBackupVersion = 1;

struct BackupSummary {
  std::size_t cases = 0, versions = 0, users = 0, settings = 0, captures = 0;
  std::uint64_t capture_bytes = 0;
  // A capture a case refers to that was not in the captures directory (backup), or that the
  // archive does not carry (restore): the case stays, its capture cannot be opened.
  std::vector<std::string> missing_captures;
};

Result<BackupSummary> write_backup(Store& store, const std::string& captures_dir,
                                   const std::string& archive_path);

// Checks the whole archive against its manifest before anything is written (a damaged or
// altered entry is named and nothing is stored), then keeps its captures and loads its records
// in one transaction. Without `merge` a store with cases or accounts is refused.
Result<BackupSummary> restore_backup(const std::string& archive_path, Store& store,
                                     const std::string& captures_dir, bool merge);

}  // namespace bmslink::records
