// Escaping typed text for HTML and Markdown, on hand-written examples.
#include "bmslink/core/text.h"

#include <gtest/gtest.h>

namespace bmslink {
namespace {

TEST(HtmlEscape, TurnsMarkupIntoEntitiesAndControlsIntoSpaces) {
  EXPECT_EQ(html_escape("<b onclick=\"x('1')\">A&B</b>"),
            "&lt;b onclick=&quot;x(&#39;1&#39;)&quot;&gt;A&amp;B&lt;/b&gt;");
  EXPECT_EQ(html_escape(std::string("a\x01"
                                    "b\tc\nd",
                                    7)),
            "a b\tc\nd");
  EXPECT_EQ(html_escape("60 \u03a9"), "60 \u03a9") << "UTF-8 passes untouched";
}

TEST(MarkdownEscape, BackslashesFormattingAndFoldsLines) {
  EXPECT_EQ(markdown_escape("*bold* _it_ `code` [l](u) <x> a|b #1 \\"),
            "\\*bold\\* \\_it\\_ \\`code\\` \\[l\\](u) \\<x\\> a\\|b \\#1 \\\\");
  EXPECT_EQ(markdown_escape("line\n# heading\r\n- item"), "line \\# heading  - item");
}

}  // namespace
}  // namespace bmslink
