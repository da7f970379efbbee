// bmslink core: where malformed input is reported while parsing goes on.
//
// Readers never stop at a bad line: they describe it to a DiagnosticSink (file, line, what was
// expected) and continue. CollectingSink keeps counters per reason and the first few messages so
// a week-long capture with a million bad lines stays cheap. Not thread-safe: one sink per reader.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace bmslink {

struct Diagnostic {
  std::string file;
  std::uint64_t line = 0;  // 1-based; 0 when the problem is not tied to a line (binary records)
  std::string reason;      // what was expected, e.g. "expected '(seconds) iface id#data'"
  std::string excerpt;     // the offending input, shortened
};

class DiagnosticSink {
 public:
  virtual ~DiagnosticSink() = default;
  virtual void report(Diagnostic diagnostic) = 0;
};

// Counts every report by reason and keeps the first `keep` in full.
class CollectingSink final : public DiagnosticSink {
 public:
  static constexpr std::size_t kMaxReasons = 256;  // distinct reasons counted one by one
  explicit CollectingSink(std::size_t keep = 20) : keep_(keep) {}

  void report(Diagnostic diagnostic) override;

  std::uint64_t total() const { return total_; }
  const std::vector<Diagnostic>& kept() const { return kept_; }
  const std::map<std::string, std::uint64_t>& by_reason() const { return by_reason_; }

 private:
  std::size_t keep_;
  std::uint64_t total_ = 0;
  std::vector<Diagnostic> kept_;
  std::map<std::string, std::uint64_t> by_reason_;
};

// Discards everything; for callers that only want the frames.
class NullSink final : public DiagnosticSink {
 public:
  void report(Diagnostic) override {}
};

// "file:line: reason: excerpt" for humans.
std::string format_diagnostic(const Diagnostic& diagnostic);

// Shortens a line for a message: at most `max_chars`, control characters made visible.
std::string excerpt_of(std::string_view text, std::size_t max_chars = 80);

}  // namespace bmslink
