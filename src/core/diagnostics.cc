#include "bmslink/core/diagnostics.h"

#include <fmt/format.h>

namespace bmslink {

void CollectingSink::report(Diagnostic diagnostic) {
  ++total_;
  // Reasons that carry a record number are all different: the table keeps the first few hundred
  // and counts the rest together, so a million bad records cost no memory.
  if (by_reason_.size() < kMaxReasons || by_reason_.count(diagnostic.reason) != 0) {
    ++by_reason_[diagnostic.reason];
  } else {
    ++by_reason_["(other reasons)"];
  }
  if (kept_.size() < keep_) kept_.push_back(std::move(diagnostic));
}

std::string format_diagnostic(const Diagnostic& d) {
  std::string out = d.file;
  if (d.line > 0) out += fmt::format(":{}", d.line);
  out += ": ";
  out += d.reason;
  if (!d.excerpt.empty()) out += fmt::format(" (got \"{}\")", d.excerpt);
  return out;
}

std::string excerpt_of(std::string_view text, std::size_t max_chars) {
  std::string out;
  for (char c : text) {
    if (out.size() >= max_chars) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7F) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace bmslink
