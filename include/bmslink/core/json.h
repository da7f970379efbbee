// bmslink core: the one way the project reads JSON — check catalogues, the device knowledge base,
// cases, answers, settings. A JsonReader names its document in every error and each field by
// where it sits, so a bad file is answered with "FILE: WHERE: \"KEY\" must be ..." and nothing
// else; parse_json() bounds the nesting (a hostile body cannot exhaust the stack) and says the
// line and column of a syntax error.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "bmslink/core/error.h"

namespace bmslink {

// Deeper nesting than any document the project reads (a case is 4 levels, a catalogue 6).
constexpr std::size_t kMaxJsonDepth = 64;

// What a parsed document may take in memory, estimated before it is built: a 16 MB text of
// empty objects would take ~600 MB as values.
constexpr std::size_t kMaxJsonMemoryBytes = std::size_t(1) << 30;

// The JSON text as a value, or an error "DOCUMENT:LINE:COLUMN: what was wrong"; nesting deeper
// than `max_depth`, or a document estimated to take more than `max_memory_bytes` once built, is
// refused before it is built.
Result<nlohmann::json> parse_json(std::string_view text, std::string_view document,
                                  std::size_t max_depth = kMaxJsonDepth,
                                  std::size_t max_memory_bytes = kMaxJsonMemoryBytes);

// The estimate parse_json() compares with its budget: bytes a document of this text takes as
// nlohmann values (containers, scalars and the text of strings), from one pass over the text.
std::size_t json_memory_estimate(std::string_view text);

class JsonReader {
 public:
  using json = nlohmann::json;
  explicit JsonReader(std::string document) : document_(std::move(document)) {}
  const std::string& document() const { return document_; }

  // "DOCUMENT: WHERE: WHAT" (WHERE left out when empty), ErrorCode::kMalformed.
  tl::unexpected<Error> error(std::string_view where, std::string_view what) const;
  // "DOCUMENT: \"FIELD\": WHAT" for a field named by its path ("bms.count").
  tl::unexpected<Error> field_error(std::string_view field, std::string_view what) const;

  // A key of the object at WHERE, which is a path of fields ("bms", "checks[2]", "" for the top)
  // or a description ("check l1.bitrate"): "DOCUMENT: \"bms.count\": WHAT" after a path,
  // "DOCUMENT: check l1.bitrate: \"minutes\" WHAT" after a description.
  tl::unexpected<Error> key_error(std::string_view where, std::string_view key,
                                  std::string_view what) const;

  // A field of an object into `out`: absent or null leaves `out` as it is; false when the field
  // has another type (for callers that say themselves what was wrong).
  static bool get(const json& obj, std::string_view key, std::string& out);
  static bool get(const json& obj, std::string_view key, std::vector<std::string>& out);
  static bool get(const json& obj, std::string_view key, std::optional<int>& out);
  static bool get(const json& obj, std::string_view key, std::optional<double>& out);
  static bool get(const json& obj, std::string_view key, bool& out);

  // Text: absent or null is "" unless `required`.
  Result<std::string> text(const json& obj, std::string_view key, std::string_view where,
                           bool required = false) const;
  // A finite number from lo to hi; absent or null is nullopt.
  Result<std::optional<double>> number(const json& obj, std::string_view key,
                                       std::string_view where, double lo, double hi) const;
  // A number; absent is `fallback`, or an error when there is none.
  Result<double> number_or(const json& obj, std::string_view key, std::string_view where,
                           std::optional<double> fallback) const;
  // A list of strings; absent or null is empty.
  Result<std::vector<std::string>> strings(const json& obj, std::string_view key,
                                           std::string_view where) const;
  // An object whose keys are all in `keys` (an unknown key is named by its path).
  Result<void> only(const json& obj, std::string_view where,
                    std::initializer_list<std::string_view> keys) const;

 private:
  std::string document_;
};

}  // namespace bmslink
