// bmslink records: capture files kept beside the records, named by their SHA-256 so the same
// file analysed twice is stored once.
#pragma once

#include <string>
#include <string_view>

#include "bmslink/core/error.h"

namespace bmslink::records {

// 64 lower-case hex digits of the file's SHA-256.
Result<std::string> sha256_of_file(const std::string& path);

// The directory captures are kept in for a store: beside a SQLite file, else in the user's data
// directory ("<dir>/captures").
std::string captures_dir(std::string_view store_url);

// Copies `path` into `dir` as <sha256> unless that file is there already; returns the hash.
Result<std::string> keep_capture(const std::string& path, const std::string& dir);

}  // namespace bmslink::records
