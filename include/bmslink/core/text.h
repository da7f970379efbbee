// bmslink core: escaping text that people typed (site names, symptoms, notes, signal names) for
// the two markup languages the reports are written in. One place, so every renderer escapes the
// same way.
#pragma once

#include <string>
#include <string_view>

namespace bmslink {

// HTML text and attribute values: & < > " ' as entities; control characters other than tab and
// line feed as spaces.
std::string html_escape(std::string_view text);

// Markdown inline text: the characters that format (\ ` * _ [ ] < > | #) backslashed, line breaks
// as spaces so a typed line cannot start a heading, a list or a table row.
std::string markdown_escape(std::string_view text);

}  // namespace bmslink
