// A DBC reader for what signal decoding needs. The grammar is the de-facto one of Vector's DBC
// files: statements introduced by keywords, most ending in ';', BO_/SG_ ending at the line end.

#include "bmslink/protocol/dbc.h"

#include <cmath>

#include "bmslink/core/diagnostics.h"

#include <cctype>
#include <charconv>
#include <cstdlib>

#include <fmt/format.h>

namespace bmslink::protocol {
namespace {

enum class Tok { kIdent, kNumber, kString, kPunct, kEnd };

struct Token {
  Tok kind = Tok::kEnd;
  std::string_view text;  // for strings: without quotes, escapes not resolved
  std::uint64_t line = 0;
};

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  Token next() {
    skip_space_and_comments();
    Token t;
    t.line = line_;
    if (pos_ >= s_.size()) return t;
    const char c = s_[pos_];
    const std::size_t start = pos_;
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      while (pos_ < s_.size() &&
             (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_'))
        ++pos_;
      t.kind = Tok::kIdent;
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               ((c == '-' || c == '+' || c == '.') && pos_ + 1 < s_.size() &&
                (std::isdigit(static_cast<unsigned char>(s_[pos_ + 1])) || s_[pos_ + 1] == '.'))) {
      ++pos_;
      while (pos_ < s_.size()) {
        const char d = s_[pos_];
        if (std::isdigit(static_cast<unsigned char>(d)) || d == '.' || d == 'e' || d == 'E' ||
            ((d == '-' || d == '+') && (s_[pos_ - 1] == 'e' || s_[pos_ - 1] == 'E'))) {
          ++pos_;
        } else {
          break;
        }
      }
      t.kind = Tok::kNumber;
    } else if (c == '"') {
      ++pos_;
      const std::size_t body = pos_;
      while (pos_ < s_.size() && s_[pos_] != '"') {
        if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) ++pos_;
        if (s_[pos_] == '\n') ++line_;
        ++pos_;
      }
      if (pos_ >= s_.size()) {
        t.kind = Tok::kEnd;  // unterminated string: reported by the parser as "expected"
        unterminated_ = true;
        return t;
      }
      t.kind = Tok::kString;
      t.text = s_.substr(body, pos_ - body);
      ++pos_;
      return t;
    } else {
      ++pos_;
      t.kind = Tok::kPunct;
    }
    t.text = s_.substr(start, pos_ - start);
    return t;
  }

  bool unterminated() const { return unterminated_; }

 private:
  void skip_space_and_comments() {
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == '\n') {
        ++line_;
        ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
        ++pos_;
      } else if (c == '/' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '/') {
        while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::uint64_t line_ = 1;
  bool unterminated_ = false;
};

class Parser {
 public:
  Parser(std::string_view text, std::string_view name) : lex_(text), name_(name) { advance(); }

  Result<Database> run() {
    Database db;
    db.name = std::string(name_);
    while (cur_.kind != Tok::kEnd) {
      if (cur_.kind != Tok::kIdent) {
        return fail("expected a DBC keyword (BO_, SG_, VAL_, CM_, BA_, ...)");
      }
      const std::string_view kw = cur_.text;
      if (kw == "BO_") {
        auto r = message(db);
        if (!r) return tl::unexpected(r.error());
      } else if (kw == "SG_") {
        if (db.messages.empty()) return fail("SG_ before any BO_");
        auto r = signal(db.messages.back());
        if (!r) return tl::unexpected(r.error());
      } else if (kw == "VAL_") {
        auto r = values(db);
        if (!r) return tl::unexpected(r.error());
      } else if (kw == "CM_") {
        auto r = comment(db);
        if (!r) return tl::unexpected(r.error());
      } else if (kw == "BA_") {
        auto r = attribute(db);
        if (!r) return tl::unexpected(r.error());
      } else if (kw == "SIG_VALTYPE_") {
        auto r = value_type(db);
        if (!r) return tl::unexpected(r.error());
      } else if (kw == "SG_MUL_VAL_") {
        auto r = mux_values(db);
        if (!r) return tl::unexpected(r.error());
      } else if (kw == "NS_") {
        while (cur_.kind != Tok::kEnd && !(cur_.kind == Tok::kIdent && cur_.text == "BS_"))
          advance();
      } else if (kw == "VERSION" || kw == "BS_" || kw == "BU_") {
        skip_line();
      } else {
        // Every other statement (BA_DEF_, VAL_TABLE_, SIG_VALTYPE_, EV_, ...) ends with ';'.
        while (cur_.kind != Tok::kEnd && !(cur_.kind == Tok::kPunct && cur_.text == ";")) advance();
        if (cur_.kind == Tok::kEnd) return fail(fmt::format("expected ';' to end {}", kw));
        advance();
      }
    }
    if (lex_.unterminated()) return fail("unterminated string");
    if (auto r = resolve_multiplexing(db); !r) return tl::unexpected(r.error());
    return db;
  }

 private:
  void advance() { cur_ = lex_.next(); }

  tl::unexpected<Error> fail(std::string_view what) const {
    return make_error(ErrorCode::kMalformed,
                      fmt::format("{}:{}: {}{}", name_, cur_.line, what,
                                  cur_.kind == Tok::kEnd
                                      ? " (at end of file)"
                                      : fmt::format(" (got \"{}\")", excerpt_of(cur_.text, 40))));
  }

  // A statement that parsed but cannot be honoured: the line, without the next token.
  tl::unexpected<Error> refuse(std::uint64_t line, std::string_view what) const {
    return make_error(ErrorCode::kMalformed, fmt::format("{}:{}: {}", name_, line, what));
  }

  void skip_line() {
    const std::uint64_t line = cur_.line;
    advance();
    while (cur_.kind != Tok::kEnd && cur_.line == line) advance();
  }

  bool punct(std::string_view p) {
    if (cur_.kind == Tok::kPunct && cur_.text == p) {
      advance();
      return true;
    }
    return false;
  }

  std::optional<double> number() {
    if (cur_.kind != Tok::kNumber) return std::nullopt;
    const std::string text(cur_.text);
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size()) return std::nullopt;
    advance();
    return v;
  }

  std::optional<std::uint64_t> unsigned_number() {
    if (cur_.kind != Tok::kNumber) return std::nullopt;
    std::uint64_t v = 0;
    const auto* b = cur_.text.data();
    const auto* e = b + cur_.text.size();
    const auto [ptr, ec] = std::from_chars(b, e, v);
    if (ec != std::errc() || ptr != e) return std::nullopt;
    advance();
    return v;
  }

  std::optional<std::int64_t> signed_number() {
    if (cur_.kind != Tok::kNumber) return std::nullopt;
    std::int64_t v = 0;
    const auto* b = cur_.text.data();
    const auto* e = b + cur_.text.size();
    if (b != e && *b == '+') ++b;
    const auto [ptr, ec] = std::from_chars(b, e, v);
    if (ec != std::errc() || ptr != e) return std::nullopt;
    advance();
    return v;
  }

  std::optional<std::string> ident() {
    if (cur_.kind != Tok::kIdent) return std::nullopt;
    std::string s(cur_.text);
    advance();
    return s;
  }

  std::optional<std::string> string() {
    if (cur_.kind != Tok::kString) return std::nullopt;
    std::string s;
    for (std::size_t i = 0; i < cur_.text.size(); ++i) {
      if (cur_.text[i] == '\\' && i + 1 < cur_.text.size()) ++i;
      s += cur_.text[i];
    }
    advance();
    return s;
  }

  // BO_ <id> <name>: <dlc> <transmitter>
  Result<void> message(Database& db) {
    advance();
    Message m;
    const auto id = unsigned_number();
    if (!id || *id > 0xFFFFFFFFULL) return fail("expected the message id after BO_");
    m.extended = (*id & 0x80000000ULL) != 0;
    m.id = static_cast<std::uint32_t>(*id & 0x1FFFFFFFULL);
    if (!m.extended && m.id > 0x7FF)
      return fail("11-bit message id above 0x7FF (set bit 31 for 29-bit ids)");
    auto name = ident();
    if (!name) return fail("expected the message name after the id");
    m.name = *name;
    if (!punct(":")) return fail("expected ':' after the message name");
    const auto dlc = unsigned_number();
    if (!dlc || *dlc > 64) return fail("expected the message length (0-64) after ':'");
    m.dlc = static_cast<std::uint32_t>(*dlc);
    auto tx = ident();
    if (!tx) return fail("expected the transmitting node after the length");
    m.transmitter = *tx;
    db.messages.push_back(std::move(m));
    return {};
  }

  // SG_ <name> [M|m<n>] : <start>|<len>@<0|1><+|-> (<factor>,<offset>) [<min>|<max>] "<unit>"
  // <rx>...
  Result<void> signal(Message& m) {
    const std::uint64_t line = cur_.line;
    advance();
    Signal s;
    auto name = ident();
    if (!name) return fail("expected the signal name after SG_");
    s.name = *name;
    s.line = line;
    // Multiplexer indicator: "M" (a multiplexer), "m<n>" (selected by value n of the message's
    // multiplexer), "m<n>M" (both: a nested multiplexer).
    if (cur_.kind == Tok::kIdent) {
      const std::string_view ind = cur_.text;
      if (ind == "M") {
        s.is_multiplexer = true;
      } else if (ind.size() >= 2 && ind[0] == 'm') {
        std::string_view digits = ind.substr(1);
        if (digits.back() == 'M') {
          s.is_multiplexer = true;
          digits.remove_suffix(1);
        }
        std::int64_t v = 0;
        const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
        if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size())
          return fail("expected a multiplexer indicator M, m<n> or m<n>M");
        s.mux = MuxSelector{{}, {{v, v}}};
      } else {
        return fail("expected a multiplexer indicator M, m<n> or m<n>M, or ':'");
      }
      advance();
    }
    if (!punct(":")) return fail("expected ':' after the signal name");
    const auto start = unsigned_number();
    if (!start || *start > 511) return fail("expected the start bit (0-511)");
    if (!punct("|")) return fail("expected '|' between start bit and length");
    const auto len = unsigned_number();
    if (!len || *len < 1 || *len > 64) return fail("expected the signal length in bits (1-64)");
    if (!punct("@")) return fail("expected '@' and the byte order");
    const auto order = unsigned_number();
    if (!order || *order > 1)
      return fail("expected byte order 0 (Motorola) or 1 (Intel) after '@'");
    if (punct("+")) {
      s.is_signed = false;
    } else if (punct("-")) {
      s.is_signed = true;
    } else {
      return fail("expected '+' (unsigned) or '-' (signed) after the byte order");
    }
    s.start_bit = static_cast<std::uint32_t>(*start);
    s.length = static_cast<std::uint32_t>(*len);
    s.order = *order == 1 ? ByteOrder::kIntel : ByteOrder::kMotorola;
    if (!punct("(")) return fail("expected '(factor,offset)'");
    const auto factor = number();
    if (!factor || !punct(",")) return fail("expected the factor and ','");
    const auto offset = number();
    if (!offset || !punct(")")) return fail("expected the offset and ')'");
    if (!punct("[")) return fail("expected '[min|max]'");
    const auto mn = number();
    if (!mn || !punct("|")) return fail("expected the minimum and '|'");
    const auto mx = number();
    if (!mx || !punct("]")) return fail("expected the maximum and ']'");
    auto unit = string();
    if (!unit) return fail("expected the unit in quotes");
    s.factor = *factor;
    s.offset = *offset;
    s.minimum = *mn;
    s.maximum = *mx;
    s.unit = *unit;
    // Receivers: identifiers and commas up to the end of the line.
    while (cur_.kind != Tok::kEnd && cur_.line == line &&
           (cur_.kind == Tok::kIdent || (cur_.kind == Tok::kPunct && cur_.text == ","))) {
      advance();
    }
    if (!fits(s, m))
      return fail(fmt::format("signal {} does not fit in a {}-byte message", s.name, m.dlc));
    m.signals.push_back(std::move(s));
    return {};
  }

  static bool fits(const Signal& s, const Message& m) {
    const std::uint32_t bits = m.dlc * 8;
    if (s.order == ByteOrder::kIntel) return s.start_bit + s.length <= bits;
    // Motorola: the MSB is start_bit; walk to the LSB in big-endian bit order.
    const std::uint32_t msb = (s.start_bit / 8) * 8 + (7 - s.start_bit % 8);
    return msb + s.length <= bits;
  }

  Message* find_message(Database& db, std::uint64_t raw_id) {
    const bool ext = (raw_id & 0x80000000ULL) != 0;
    const auto id = static_cast<std::uint32_t>(raw_id & 0x1FFFFFFFULL);
    for (auto& m : db.messages) {
      if (m.id == id && m.extended == ext) return &m;
    }
    return nullptr;
  }

  static Signal* find_signal(Message& m, std::string_view name) {
    for (auto& s : m.signals) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }

  // VAL_ <id> <signal> <n> "<text>" ... ;
  Result<void> values(Database& db) {
    advance();
    const auto id = unsigned_number();
    if (!id) return fail("expected the message id after VAL_");
    auto sig = ident();
    if (!sig) return fail("expected the signal name after the message id");
    Message* m = find_message(db, *id);
    Signal* s = m ? find_signal(*m, *sig) : nullptr;
    if (s == nullptr) return fail(fmt::format("VAL_ for unknown signal {}", *sig));
    while (!punct(";")) {
      const auto v = signed_number();
      if (!v) return fail("expected a value or ';' in VAL_");
      auto text = string();
      if (!text) return fail("expected the value's name in quotes");
      s->values[*v] = *text;
    }
    return {};
  }

  // SIG_VALTYPE_ <id> <signal> : <0|1|2>;
  Result<void> value_type(Database& db) {
    advance();
    const auto id = unsigned_number();
    if (!id) return fail("expected the message id after SIG_VALTYPE_");
    auto sig = ident();
    if (!sig) return fail("expected the signal name in SIG_VALTYPE_");
    Message* m = find_message(db, *id);
    Signal* s = m ? find_signal(*m, *sig) : nullptr;
    if (s == nullptr) return fail(fmt::format("SIG_VALTYPE_ for unknown signal {}", *sig));
    punct(":");
    const auto type = unsigned_number();
    if (!type || *type > 2) return fail("expected 0 (integer), 1 (float) or 2 (double)");
    const std::uint64_t at = cur_.line;
    if (*type == 1 && s->length != 32)
      return refuse(at, fmt::format("{} is declared float but is {} bits, not 32 (line {})",
                                    s->name, s->length, s->line));
    if (*type == 2 && s->length != 64)
      return refuse(at, fmt::format("{} is declared double but is {} bits, not 64 (line {})",
                                    s->name, s->length, s->line));
    if (*type != 0 && s->is_multiplexer)
      return refuse(at, fmt::format("multiplexer {} cannot be a float", s->name));
    s->value_type = *type == 1   ? ValueType::kFloat32
                    : *type == 2 ? ValueType::kFloat64
                                 : ValueType::kInteger;
    if (!punct(";")) return fail("expected ';' after SIG_VALTYPE_");
    return {};
  }

  // SG_MUL_VAL_ <id> <signal> <multiplexer> <lo>-<hi>[, <lo>-<hi>]... ;
  Result<void> mux_values(Database& db) {
    advance();
    const auto id = unsigned_number();
    if (!id) return fail("expected the message id after SG_MUL_VAL_");
    auto sig = ident();
    if (!sig) return fail("expected the signal name in SG_MUL_VAL_");
    auto mux = ident();
    if (!mux) return fail("expected the multiplexer's name in SG_MUL_VAL_");
    Message* m = find_message(db, *id);
    Signal* s = m ? find_signal(*m, *sig) : nullptr;
    if (s == nullptr) return fail(fmt::format("SG_MUL_VAL_ for unknown signal {}", *sig));
    if (find_signal(*m, *mux) == nullptr)
      return fail(fmt::format("SG_MUL_VAL_ names {} as multiplexer, which {} does not have", *mux,
                              m->name));
    MuxSelector sel{*mux, {}};
    // "2-5" lexes as 2 and -5 (a number may start with '-'), or as 2, '-', 5.
    while (!punct(";")) {
      if (!sel.ranges.empty() && !punct(",")) return fail("expected ',' or ';' in SG_MUL_VAL_");
      const auto lo = signed_number();
      if (!lo) return fail("expected a range <lo>-<hi> in SG_MUL_VAL_");
      std::optional<std::int64_t> hi;
      if (punct("-")) {
        hi = signed_number();
      } else if (cur_.kind == Tok::kNumber && cur_.text.starts_with("-")) {
        hi = signed_number();
        if (hi) hi = -*hi;
      }
      if (!hi || *hi < *lo) return fail("expected a range <lo>-<hi> with lo <= hi in SG_MUL_VAL_");
      sel.ranges.emplace_back(*lo, *hi);
    }
    if (sel.ranges.empty()) return fail("SG_MUL_VAL_ without a range");
    // The ranges and the multiplexer named here replace the m<n> of the SG_ line (which cannot say
    // which multiplexer it means when a message has several).
    s->mux = std::move(sel);
    return {};
  }

  // Every m<n> without SG_MUL_VAL_ belongs to the message's one plain multiplexer ("M"). Where
  // there are several, or none, the reader cannot tell which: an error naming the signal's line.
  Result<void> resolve_multiplexing(Database& db) {
    for (auto& m : db.messages) {
      std::vector<const Signal*> roots;
      for (const auto& s : m.signals)
        if (s.is_multiplexer && !s.mux) roots.push_back(&s);
      for (auto& s : m.signals) {
        if (!s.mux || !s.mux->multiplexer.empty()) continue;
        if (roots.size() != 1) {
          return make_error(
              ErrorCode::kMalformed,
              fmt::format("{}:{}: signal {} of {} is multiplexed but the message has {} "
                          "multiplexers without a parent; an SG_MUL_VAL_ line must say which",
                          name_, s.line, s.name, m.name, roots.size()));
        }
        s.mux->multiplexer = roots.front()->name;
      }
      // Every chain must end at a root, without cycles.
      for (const auto& s : m.signals) {
        const Signal* at = &s;
        for (std::size_t depth = 0; at->mux; ++depth) {
          const Signal* up = find_signal(m, at->mux->multiplexer);
          if (up == nullptr || !up->is_multiplexer || depth > m.signals.size()) {
            return make_error(ErrorCode::kMalformed,
                              fmt::format("{}:{}: signal {} is selected by {}, which is not a "
                                          "multiplexer of {} (or the chain loops)",
                                          name_, s.line, s.name, at->mux->multiplexer, m.name));
          }
          at = up;
        }
      }
    }
    return {};
  }

  static const Signal* find_signal(const Message& m, std::string_view name) {
    for (const auto& s : m.signals)
      if (s.name == name) return &s;
    return nullptr;
  }

  // CM_ [BO_ <id> | SG_ <id> <signal> | BU_ <node> | EV_ <var>] "<text>";
  Result<void> comment(Database& db) {
    advance();
    std::string* target = nullptr;
    if (cur_.kind == Tok::kIdent && (cur_.text == "BO_" || cur_.text == "SG_")) {
      const bool is_signal = cur_.text == "SG_";
      advance();
      const auto id = unsigned_number();
      if (!id) return fail("expected the message id in CM_");
      Message* m = find_message(db, *id);
      if (is_signal) {
        auto sig = ident();
        if (!sig) return fail("expected the signal name in CM_ SG_");
        Signal* s = m ? find_signal(*m, *sig) : nullptr;
        if (s != nullptr) target = &s->comment;
      } else if (m != nullptr) {
        target = &m->comment;
      }
    } else if (cur_.kind == Tok::kIdent) {
      advance();  // BU_ node / EV_ variable
      if (cur_.kind == Tok::kIdent) advance();
    }
    auto text = string();
    if (!text) return fail("expected the comment text in quotes");
    if (target != nullptr) *target = *text;
    if (!punct(";")) return fail("expected ';' after the comment");
    return {};
  }

  // BA_ "<name>" [BO_ <id> | SG_ <id> <sig> | BU_ <node>] <value>;
  Result<void> attribute(Database& db) {
    advance();
    auto name = string();
    if (!name) return fail("expected the attribute name in quotes after BA_");
    Message* m = nullptr;
    bool network = true;  // no object: an attribute of the whole database
    if (cur_.kind == Tok::kIdent && cur_.text == "BO_") {
      network = false;
      advance();
      const auto id = unsigned_number();
      if (!id) return fail("expected the message id in BA_ ... BO_");
      m = find_message(db, *id);
    } else if (cur_.kind == Tok::kIdent &&
               (cur_.text == "SG_" || cur_.text == "BU_" || cur_.text == "EV_")) {
      const bool sg = cur_.text == "SG_";
      network = false;
      advance();
      if (sg && !unsigned_number()) return fail("expected the message id in BA_ ... SG_");
      if (!ident()) return fail("expected a name in BA_");
    }
    std::optional<double> value = number();
    if (!value && !string()) return fail("expected the attribute value");
    if (m != nullptr && *name == "GenMsgCycleTime" && value && *value >= 0 && *value < 4e9) {
      m->cycle_time_ms = static_cast<std::uint32_t>(*value);
    }
    if (value && std::isfinite(*value)) {
      if (m != nullptr) m->attributes[*name] = *value;
      if (network) db.attributes[*name] = *value;
    }
    if (!punct(";")) return fail("expected ';' after the attribute value");
    return {};
  }

  Lexer lex_;
  std::string_view name_;
  Token cur_;
};

}  // namespace

const Message* Database::find(std::uint32_t id, bool extended) const {
  for (const auto& m : messages) {
    if (m.id == id && m.extended == extended) return &m;
  }
  return nullptr;
}

Result<Database> parse_dbc(std::string_view text, std::string_view name) {
  return Parser(text, name).run();
}

}  // namespace bmslink::protocol
