// The one JSON reader: bounded nesting, errors that name the document, the place and the field.
#include "bmslink/core/json.h"

#include <gtest/gtest.h>

namespace bmslink {
namespace {

using nlohmann::json;

TEST(ParseJson, DeepNestingIsRefusedWithoutRecursing) {
  const std::string deep(100000, '[');
  const auto r = parse_json(deep, "body");
  ASSERT_FALSE(r);
  // The 65th '[' is at column 65 of line 1.
  EXPECT_EQ(r.error().message, "body:1:65: nested deeper than 64 levels");
  // 64 levels are fine.
  const std::string ok = std::string(64, '[') + std::string(64, ']');
  EXPECT_TRUE(parse_json(ok, "body"));
}

// Issue 20: 16 MB of "{}," became ~600 MB of values. A million empty objects (3 MB of text)
// take ~100 MB once built (16-byte value, 48-byte map, allocator overhead): refused under a 64 MB
// budget before a value is made; the same text size in numbers stays far below it.
TEST(ParseJson, ADocumentThatWouldTakeTooMuchMemoryIsRefusedBeforeItIsBuilt) {
  std::string objects = "[";
  for (int i = 0; i < 1'000'000; ++i) objects += "{},";
  objects += "{}]";
  const auto refused = parse_json(objects, "body", kMaxJsonDepth, 64U << 20);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "body: the document would take more than 64 MB in memory");
  EXPECT_TRUE(parse_json(objects, "body"));  // the default budget is 1 GiB
  std::string numbers = "[";
  for (int i = 0; i < 300'000; ++i) numbers += "123456789,";
  numbers += "0]";
  EXPECT_TRUE(parse_json(numbers, "body", kMaxJsonDepth, 64U << 20));
  // Brackets and commas inside strings are text, not values.
  const std::string quoted = "[\"" + std::string(3'000'000, '{') + "\"]";
  EXPECT_TRUE(parse_json(quoted, "body", kMaxJsonDepth, 64U << 20));
}

TEST(ParseJson, BracketsInsideStringsAreNotNesting) {
  const std::string text = "{\"a\": \"" + std::string(200, '[') + "\\\"[\"}";
  const auto r = parse_json(text, "s");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ((*r)["a"].get<std::string>().size(), 202U);
}

TEST(ParseJson, ASyntaxErrorNamesLineAndColumn) {
  // Line 3 ends without the comma; the parser stops at the end of the unexpected "symptom" on
  // line 4 (columns 3 to 11).
  const std::string text = "{\n  \"id\": \"x\",\n  \"opened\": \"t\"\n  \"symptom\": \"F58\"\n}\n";
  const auto r = parse_json(text, "case.json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.rfind("case.json:4:11: ", 0), 0U) << r.error().message;
}

TEST(ParseJson, ANumberTooLargeForADoubleIsAnErrorNotAnException) {
  const auto r = parse_json("{\"minutes_by_layer\": {\"1\": 1e3888}}", "case.json");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "case.json: number overflow parsing '1e3888'");
}

TEST(JsonReader, FieldsAreNamedByTheirPathOrAfterADescription) {
  const JsonReader r("case.json");
  const json j = {{"bms", {{"count", "two"}, {"model", 5}}}, {"minutes", 1e9}};
  auto count = r.number(j["bms"], "count", "bms", 0, 1000);
  ASSERT_FALSE(count);
  EXPECT_EQ(count.error().message, "case.json: \"bms.count\": must be a number");
  auto model = r.text(j["bms"], "model", "bms");
  ASSERT_FALSE(model);
  EXPECT_EQ(model.error().message, "case.json: \"bms.model\": must be text");
  auto minutes = r.number(j, "minutes", "", 0, 1000);
  ASSERT_FALSE(minutes);
  EXPECT_EQ(minutes.error().message, "case.json: \"minutes\": must be a number from 0 to 1000");
  auto described = r.number_or(j["bms"], "count", "check l1.bitrate", 3.0);
  ASSERT_FALSE(described);
  EXPECT_EQ(described.error().message, "case.json: check l1.bitrate: \"count\" must be a number");
}

TEST(JsonReader, AbsentAndNullAreEmptyUnlessRequired) {
  const JsonReader r("f.json");
  const json j = {{"gone", nullptr}};
  EXPECT_EQ(*r.text(j, "gone", ""), "");
  EXPECT_EQ(*r.text(j, "absent", ""), "");
  EXPECT_FALSE(r.text(j, "absent", "", true));
  EXPECT_FALSE(r.number(j, "gone", "", 0, 1)->has_value());
  EXPECT_DOUBLE_EQ(*r.number_or(j, "absent", "", 7.5), 7.5);
  EXPECT_FALSE(r.number_or(j, "absent", "", std::nullopt));
  EXPECT_TRUE(r.strings(j, "gone", "")->empty());
}

TEST(JsonReader, GetLeavesTheValueOnAbsenceAndRefusesAnotherType) {
  const json j = {{"n", 3},          {"x", 2.5},        {"s", "t"},
                  {"l", {"a", "b"}}, {"bad", {"a", 1}}, {"b", true}};
  std::optional<int> n;
  EXPECT_TRUE(JsonReader::get(j, "n", n));
  EXPECT_EQ(n, 3);
  EXPECT_FALSE(JsonReader::get(j, "x", n)) << "2.5 is no integer";
  std::optional<double> x;
  EXPECT_TRUE(JsonReader::get(j, "x", x));
  EXPECT_EQ(x, 2.5);
  std::string s = "kept";
  EXPECT_TRUE(JsonReader::get(j, "absent", s));
  EXPECT_EQ(s, "kept");
  EXPECT_FALSE(JsonReader::get(j, "n", s));
  std::vector<std::string> l;
  EXPECT_TRUE(JsonReader::get(j, "l", l));
  EXPECT_EQ(l, (std::vector<std::string>{"a", "b"}));
  std::vector<std::string> untouched{"z"};
  EXPECT_FALSE(JsonReader::get(j, "bad", untouched));
  EXPECT_EQ(untouched, std::vector<std::string>{"z"});
  bool b = false;
  EXPECT_TRUE(JsonReader::get(j, "b", b));
  EXPECT_TRUE(b);
}

TEST(JsonReader, OnlyNamesTheUnknownKeyByItsPath) {
  const JsonReader r("case.json");
  const json j = {{"model", "x"}, {"colour", "red"}};
  auto ok = r.only(j, "bms", {"model", "firmware"});
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().message, "case.json: \"bms.colour\": unknown key");
  EXPECT_TRUE(r.only(j, "bms", {"model", "colour"}));
  EXPECT_FALSE(r.only(json::array(), "bms", {"model"}));
}

}  // namespace
}  // namespace bmslink
