#include "bmslink/core/diagnostics.h"

#include <gtest/gtest.h>

namespace bmslink {
namespace {

TEST(CollectingSink, CountsEveryReportButKeepsOnlyTheFirstFew) {
  CollectingSink sink(2);
  for (int i = 0; i < 5; ++i)
    sink.report({"a.log", static_cast<std::uint64_t>(i + 1), "bad id", "x"});
  sink.report({"a.log", 9, "bad data", "y"});
  EXPECT_EQ(sink.total(), 6u);
  ASSERT_EQ(sink.kept().size(), 2u);
  EXPECT_EQ(sink.kept()[1].line, 2u);
  EXPECT_EQ(sink.by_reason().at("bad id"), 5u);
  EXPECT_EQ(sink.by_reason().at("bad data"), 1u);
}

TEST(FormatDiagnostic, NamesFileLineReasonAndInput) {
  EXPECT_EQ(format_diagnostic({"cap.log", 12, "expected '<id>#<data>'", "zz"}),
            "cap.log:12: expected '<id>#<data>' (got \"zz\")");
}

TEST(ExcerptOf, MakesControlBytesVisibleAndShortens) {
  EXPECT_EQ(excerpt_of(std::string_view("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(excerpt_of(std::string(100, 'x'), 10), "xxxxxxxxxx...");
}

}  // namespace
}  // namespace bmslink
