#include "bmslink/core/diagnostics.h"

#include <fmt/format.h>

namespace bmslink {

void CollectingSink::report(Diagnostic diagnostic) {
  ++total_;
  ++by_reason_[diagnostic.reason];
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
