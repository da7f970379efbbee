#include "bmslink/core/json.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace bmslink {
namespace {

using nlohmann::json;

const json* field(const json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string line_and_column(std::string_view text, std::size_t byte) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return fmt::format("{}:{}", line, column);
}

// WHERE is a path of fields ("bms", "checks[2]") or a description ("check l1.bitrate"): a key is
// named after a path as one path, after a description on its own.
bool is_path(std::string_view where) {
  return std::all_of(where.begin(), where.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '[' ||
           c == ']';
  });
}

}  // namespace

// Measured with glibc on x86-64: an empty object or array as a value of an array takes ~100
// bytes (the value, its map or vector, the allocator's overhead); a number or literal its 16
// bytes plus a share of its container's growth; a string 48 bytes plus its text.
constexpr std::size_t kContainerBytes = 112, kScalarBytes = 32, kStringBytes = 48;

namespace {

// One pass over the text outside its strings: what the document would take in memory, and where
// its nesting first goes deeper than `max_depth` (npos: nowhere).
struct Shape {
  std::size_t memory_bytes = 0;
  std::size_t too_deep_at = std::string_view::npos;
};

Shape shape_of(std::string_view text, std::size_t max_depth) {
  std::size_t containers = 0, separators = 0, strings = 0, depth = 0;
  Shape out;
  bool in_string = false, escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      ++strings;
    } else if (c == '[' || c == '{') {
      ++containers;
      if (++depth > max_depth && out.too_deep_at == std::string_view::npos) out.too_deep_at = i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    } else if (c == ',' || c == ':') {
      ++separators;
    }
  }
  out.memory_bytes = containers * kContainerBytes + (separators + 1) * kScalarBytes +
                     strings * kStringBytes + text.size();
  return out;
}

}  // namespace

std::size_t json_memory_estimate(std::string_view text) {
  return shape_of(text, std::numeric_limits<std::size_t>::max()).memory_bytes;
}

Result<json> parse_json(std::string_view text, std::string_view document, std::size_t max_depth,
                        std::size_t max_memory_bytes) {
  // Both are known before parsing: nlohmann's parser recurses once per level, and a document's
  // values can take forty times its text.
  const Shape shape = shape_of(text, max_depth);
  if (shape.too_deep_at != std::string_view::npos)
    return make_error(ErrorCode::kMalformed,
                      fmt::format("{}:{}: nested deeper than {} levels", document,
                                  line_and_column(text, shape.too_deep_at), max_depth));
  if (shape.memory_bytes > max_memory_bytes)
    return make_error(ErrorCode::kMalformed,
                      fmt::format("{}: the document would take more than {} MB in memory", document,
                                  max_memory_bytes >> 20));
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    // e.byte is 1-based: the byte after which the parser stopped.
    const std::size_t at = e.byte > 0 ? e.byte - 1 : 0;
    std::string what = e.what();
    if (const auto colon = what.rfind(": "); colon != std::string::npos)
      what = what.substr(colon + 2);
    return make_error(ErrorCode::kMalformed,
                      fmt::format("{}:{}: {}", document, line_and_column(text, at), what));
  } catch (const json::exception& e) {
    // A number out of a double's range (1e3888): the parser says which, not where.
    std::string what = e.what();
    if (const auto bracket = what.find("] "); bracket != std::string::npos)
      what = what.substr(bracket + 2);
    return make_error(ErrorCode::kMalformed, fmt::format("{}: {}", document, what));
  }
}

tl::unexpected<Error> JsonReader::error(std::string_view where, std::string_view what) const {
  if (where.empty())
    return make_error(ErrorCode::kMalformed, fmt::format("{}: {}", document_, what));
  return make_error(ErrorCode::kMalformed, fmt::format("{}: {}: {}", document_, where, what));
}

tl::unexpected<Error> JsonReader::field_error(std::string_view path, std::string_view what) const {
  return make_error(ErrorCode::kMalformed, fmt::format("{}: \"{}\": {}", document_, path, what));
}

tl::unexpected<Error> JsonReader::key_error(std::string_view where, std::string_view key,
                                            std::string_view what) const {
  if (is_path(where))
    return field_error(where.empty() ? std::string(key) : fmt::format("{}.{}", where, key), what);
  return error(where, fmt::format("\"{}\" {}", key, what));
}

bool JsonReader::get(const json& obj, std::string_view key, std::string& out) {
  const json* f = field(obj, key);
  if (f == nullptr) return true;
  if (!f->is_string()) return false;
  out = f->get<std::string>();
  return true;
}

bool JsonReader::get(const json& obj, std::string_view key, std::vector<std::string>& out) {
  const json* f = field(obj, key);
  if (f == nullptr) return true;
  if (!f->is_array()) return false;
  std::vector<std::string> got;
  for (const auto& v : *f) {
    if (!v.is_string()) return false;
    got.push_back(v.get<std::string>());
  }
  out.insert(out.end(), got.begin(), got.end());
  return true;
}

bool JsonReader::get(const json& obj, std::string_view key, std::optional<int>& out) {
  const json* f = field(obj, key);
  if (f == nullptr) return true;
  if (!f->is_number_integer()) return false;
  const auto v = f->get<std::int64_t>();
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) return false;
  out = static_cast<int>(v);
  return true;
}

bool JsonReader::get(const json& obj, std::string_view key, std::optional<double>& out) {
  const json* f = field(obj, key);
  if (f == nullptr) return true;
  if (!f->is_number() || !std::isfinite(f->get<double>())) return false;
  out = f->get<double>();
  return true;
}

bool JsonReader::get(const json& obj, std::string_view key, bool& out) {
  const json* f = field(obj, key);
  if (f == nullptr) return true;
  if (!f->is_boolean()) return false;
  out = f->get<bool>();
  return true;
}

Result<std::string> JsonReader::text(const json& obj, std::string_view key, std::string_view where,
                                     bool required) const {
  const json* f = field(obj, key);
  if (f == nullptr) {
    if (required) return key_error(where, key, "is missing");
    return std::string();
  }
  if (!f->is_string()) return key_error(where, key, "must be text");
  return f->get<std::string>();
}

Result<std::optional<double>> JsonReader::number(const json& obj, std::string_view key,
                                                 std::string_view where, double lo,
                                                 double hi) const {
  const json* f = field(obj, key);
  if (f == nullptr) return std::optional<double>();
  if (!f->is_number()) return key_error(where, key, "must be a number");
  const double v = f->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi)
    return key_error(where, key, fmt::format("must be a number from {} to {}", lo, hi));
  return std::optional<double>(v);
}

Result<double> JsonReader::number_or(const json& obj, std::string_view key, std::string_view where,
                                     std::optional<double> fallback) const {
  const json* f = field(obj, key);
  if (f == nullptr) {
    if (fallback) return *fallback;
    return key_error(where, key, "is missing");
  }
  if (!f->is_number() || !std::isfinite(f->get<double>()))
    return key_error(where, key, "must be a number");
  return f->get<double>();
}

Result<std::vector<std::string>> JsonReader::strings(const json& obj, std::string_view key,
                                                     std::string_view where) const {
  std::vector<std::string> out;
  if (!get(obj, key, out)) return key_error(where, key, "must be a list of strings");
  return out;
}

Result<void> JsonReader::only(const json& obj, std::string_view where,
                              std::initializer_list<std::string_view> keys) const {
  if (!obj.is_object()) {
    if (where.empty()) return error("", "expected an object");
    return field_error(where, "expected an object");
  }
  for (const auto& item : obj.items()) {
    if (std::find(keys.begin(), keys.end(), item.key()) != keys.end()) continue;
    return field_error(where.empty() ? item.key() : fmt::format("{}.{}", where, item.key()),
                       "unknown key");
  }
  return {};
}

}  // namespace bmslink
