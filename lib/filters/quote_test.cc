#include "lib/filters/quote.h"

#include <string>

#include "gtest/gtest.h"

namespace berth::filters {
namespace {

TEST(QuoteTest, Decodes) {
  struct Case {
    std::string input;  // starts with the opening delimiter
    std::string text;
    size_t end;
  } cases[] = {
      {R"("")", "", 2},
      {R"("abc")", "abc", 5},
      {R"("abc"rest)", "abc", 5},
      {R"("a b, c|d/e")", "a b, c|d/e", 12},
      {R"("\a\b\f\n\r\t\v\\\"")", "\a\b\f\n\r\t\v\\\"", 20},
      {R"("\x00\x7f\xFF")", std::string("\0\x7f\xff", 3), 14},
      {R"("\000\101\377")", std::string("\0A\xff", 3), 14},
      {R"("\u00e9\u4e2d")", "é中", 14},
      {R"("\U0001F600\U0010FFFF")", "😀\U0010FFFF", 22},
      {R"(/a\/b/)", "a/b", 6},
      {R"(/a"b/)", "a\"b", 5},
      {R"(|a\|b|)", "a|b", 6},
      {R"(|a/b|)", "a/b", 5},
      {"\"tab\there\"", "tab\there", 10},
  };

  for (const Case& c : cases) {
    Unquoted u = Unquote(c.input, 0);
    ASSERT_TRUE(u.ok()) << c.input << ": " << u.error;
    EXPECT_EQ(u.text, c.text) << c.input;
    EXPECT_EQ(u.end, c.end) << c.input;
  }
}

TEST(QuoteTest, Rejects) {
  struct Case {
    std::string input;
    std::string error;
    size_t pos;
  } cases[] = {
      {R"(")", "unterminated quoted string", 0},
      {R"("abc)", "unterminated quoted string", 0},
      {"\"a\nb\"", "unterminated quoted string", 0},
      {R"("\)", "unterminated escape sequence", 1},
      {R"("ab\q")", "invalid escape sequence \\q", 3},
      {R"("\/")", "invalid escape sequence \\/", 1},
      {R"(/\"/)", "invalid escape sequence \\\"", 1},
      {R"("\|")", "invalid escape sequence \\|", 1},
      {R"("\')", "invalid escape sequence \\'", 1},
      {"\"\\\xc3\xa9\"", "invalid escape sequence", 1},
      {R"("\x")", "\\x escape needs 2 hex digits", 1},
      {R"("\xG0")", "\\x escape needs 2 hex digits", 1},
      {R"("\u123")", "\\u escape needs 4 hex digits", 1},
      {R"("\U0001F60")", "\\U escape needs 8 hex digits", 1},
      {R"("\7")", "octal escape needs three digits (\\000 to \\377)", 1},
      {R"("\777")", "octal escape above \\377", 1},
      {R"("\uDFFF")", "escape is not a valid Unicode code point", 1},
      {R"("\UFFFFFFFF")", "escape is not a valid Unicode code point", 1},
      {R"("ok\x41\q")", "invalid escape sequence \\q", 7},
      {std::string("\"a\0\"", 4), "NUL in quoted string", 2},
  };

  for (const Case& c : cases) {
    Unquoted u = Unquote(c.input, 0);
    EXPECT_EQ(u.error, c.error) << c.input;
    EXPECT_EQ(u.error_pos, c.pos) << c.input;
  }
}

TEST(QuoteTest, StartsAnywhere) {
  Unquoted u = Unquote(R"(name=="x\ty",z)", 6);
  ASSERT_TRUE(u.ok()) << u.error;
  EXPECT_EQ(u.text, "x\ty");
  EXPECT_EQ(u.end, 12u);
}

}  // namespace
}  // namespace berth::filters
