#include "lib/filters/parser.h"

#include <string>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"

#include "lib/filters/filter.h"
#include "tests/testing/matchers.h"

namespace berth::filters {
namespace {

using ::berth::testing::StatusIs;

// Renders a parsed filter: segments and values quoted, ", " between selectors, " | " between
// alternatives. `labels."a.b"==c` becomes `"labels"."a.b"=="c"`.
std::string Describe(const Filter& f) {
  std::vector<std::string> alternatives;
  for (const Conjunction& c : f.alternatives()) {
    std::vector<std::string> selectors;
    for (const Selector& s : c) {
      std::vector<std::string> path;
      for (const std::string& segment : s.path()) path.push_back(fmt::format("{:?}", segment));
      std::string text = fmt::format("{}", fmt::join(path, "."));
      if (s.op() != Operator::kPresent) {
        text += fmt::format("{}{:?}", OperatorText(s.op()), s.value());
      }
      selectors.push_back(std::move(text));
    }
    alternatives.push_back(fmt::format("{}", fmt::join(selectors, ", ")));
  }
  return fmt::format("{}", fmt::join(alternatives, " | "));
}

TEST(ParserTest, Valid) {
  struct Case {
    std::string input;
    std::string parsed;
  } cases[] = {
      {"", ""},
      {"name", R"("name")"},
      {"name==foo", R"("name"=="foo")"},
      {"  name  ==  foo  ", R"("name"=="foo")"},
      {"\tname\n==\r\nfoo\v", R"("name"=="foo")"},
      {"name!=bar", R"("name"!="bar")"},
      {"name~=^f.*", R"("name"~="^f.*")"},
      {"1abc-def_G==x", R"("1abc-def_G"=="x")"},
      {R"(labels."foo.bar"==true)", R"("labels"."foo.bar"=="true")"},
      {"labels.foo.bar==true", R"("labels"."foo"."bar"=="true")"},
      {R"("labels"."a b"."c,d")", R"("labels"."a b"."c,d")"},
      {R"(""==x)", R"(""=="x")"},
      {"name,labels.present", R"("name", "labels"."present")"},
      {"name==foo|name==bar", R"("name"=="foo" | "name"=="bar")"},
      {"a|b,c|d", R"("a" | "b", "c" | "d")"},
      {"a , b | c", R"("a", "b" | "c")"},
      {R"(other=="too complex, yo")", R"("other"=="too complex, yo")"},
      {R"(name=="a|b")", R"("name"=="a|b")"},
      {R"(name=="")", R"("name"=="")"},
      {"labels.foo==omg_asdf.asdf-qwer", R"("labels"."foo"=="omg_asdf.asdf-qwer")"},
      {"name==a==b", R"("name"=="a==b")"},
      {R"(name==foo"bar)", R"("name"=="foo\"bar")"},
      {"name==/usr/bin", R"("name"=="/usr/bin")"},
      {"name==日本", "\"name\"==\"日本\""},
      {"name==a.b:c@d/e+f", R"("name"=="a.b:c@d/e+f")"},
      // containerd's quoted regular expressions: /…/ and |…| after ~= only.
      {"other~=/[abc]{1,2}/,name!=foo", R"("other"~="[abc]{1,2}", "name"!="foo")"},
      {"other~=|[abc]+|", R"("other"~="[abc]+")"},
      {"other~=|a,b||c", R"("other"~="a,b" | "c")"},
      {R"(other~=/[abc]{0,1}"\//,name!=foo)", R"("other"~="[abc]{0,1}\"/", "name"!="foo")"},
      {R"(other~=|a\|b|)", R"("other"~="a|b")"},
      {"name~=//", R"("name"~="")"},
      {R"(name~="^a\\d$")", R"("name"~="^a\\d$")"},
      {"name~=(?i)FOO", R"("name"~="(?i)FOO")"},
      // Unquoted, '|' ends a regular expression: quote alternations.
      {"name~=a|b", R"("name"~="a" | "b")"},
      {"name~=/a|b/", R"("name"~="a|b")"},
      {R"(name~="a|b")", R"("name"~="a|b")"},
      // Go string escapes.
      {R"(labels."more complex label with \\ and \""==present)",
       R"("labels"."more complex label with \\ and \""=="present")"},
      {R"(name=="\x41\101\u00e9\U0001F600")", "\"name\"==\"AAé😀\""},
      {R"(name=="\a\b\f\n\r\t\v")", R"("name"=="\x07\x08\x0c\n\r\t\x0b")"},
  };

  for (const Case& c : cases) {
    absl::StatusOr<Filter> f = Filter::Parse(c.input);
    ASSERT_TRUE(f.ok()) << "input " << c.input << ": " << f.status();
    EXPECT_EQ(Describe(*f), c.parsed) << "input " << c.input;
  }
}

TEST(ParserTest, Invalid) {
  struct Case {
    std::string input;
    std::string error;  // a substring of the message
  } cases[] = {
      {"name==", R"(filter "name==": expected value at position 6)"},
      {"name!=  ", "expected value at position 8"},
      {"name==foo,", "expected field name or quoted string at position 10"},
      {"labels.", "expected field name or quoted string at position 7"},
      {"labels..foo", R"(expected field name or quoted string, found "." at position 7)"},
      {R"(labels.?"x"==present)", R"(found "?" at position 7)"},
      {"labels.|foo|==x", R"(expected field name or quoted string, found "|" at position 7)"},
      {"labels./foo/==x", R"(found "/" at position 7)"},
      {"image~=,id?=?fbaq", R"(expected value, found "," at position 7)"},
      {"name=foo", R"(unknown operator "=" (want ==, != or ~=) at position 4)"},
      {"name===foo", R"(unknown operator "===")"},
      {"name!foo", R"(unknown operator "!")"},
      {"name foo", R"(expected operator ==, != or ~=, found "foo" at position 5)"},
      {R"(labels."a"b)", R"(expected operator ==, != or ~=, found "b" at position 10)"},
      {"name==foo bar", R"(expected ',', '|' or end of filter, found "bar" at position 10)"},
      {R"(name=="foo"bar)", R"(found "bar" at position 11)"},
      {"name~=/foo/bar", R"(found "bar" at position 11)"},
      {"|name==foo", R"(found "|" at position 0)"},
      {"name==foo|", "expected field name or quoted string at position 10"},
      {"name==foo||name==bar", R"(found "|" at position 10)"},
      {"name==foo,|x", R"(found "|" at position 10)"},
      {",name", R"(found "," at position 0)"},
      {"name,,x", R"(found "," at position 5)"},
      {"==foo", R"(found "==" at position 0)"},
      {"   ", "expected field name or quoted string at position 3"},
      {"name!=|x|", R"(expected value, found "|" at position 6)"},
      {"é==x", R"(found "é" at position 0)"},
      {"name==\x01", R"(expected value, found "\x01" at position 6)"},
      {std::string("name\0==a", 8),
       R"(expected operator ==, != or ~=, found "\x00" at position 4)"},
      {"name==\xff", R"(filter "name==\xff": invalid UTF-8 at position 6)"},
      {"a\xc3(", "invalid UTF-8 at position 1"},
      {"\xed\xa0\x80", "invalid UTF-8 at position 0"},  // a UTF-16 surrogate
      // Quoted strings.
      {R"("unterminated)", "unterminated quoted string at position 0"},
      {R"(name=="foo)", "unterminated quoted string at position 6"},
      {"name==\"a\nb\"", "unterminated quoted string at position 6"},
      {"name~=/abc", "unterminated quoted string at position 6"},
      {"name~=|abc", "unterminated quoted string at position 6"},
      {R"(name=="a\qb")", R"(invalid escape sequence \q at position 8)"},
      {R"(name~=/\d+/)", R"(invalid escape sequence \d at position 7)"},
      {R"(name~=/a\"/)", R"(invalid escape sequence \" at position 8)"},
      {R"(name=="\x4")", "\\x escape needs 2 hex digits at position 7"},
      {R"(name=="\u12G4")", "\\u escape needs 4 hex digits at position 7"},
      {R"(name=="\400")", "octal escape above \\377 at position 7"},
      {R"(name=="\18")", "octal escape needs three digits"},
      {R"(name=="\uD800")", "not a valid Unicode code point at position 7"},
      {R"(name=="\U00110000")", "not a valid Unicode code point"},
      {"name==\"\\", "unterminated escape sequence at position 7"},
      // Regular expressions (RE2).
      {"name~=[", R"(invalid regular expression "[": missing ]: [ at position 6)"},
      {"name~=/(x/", R"(invalid regular expression "(x": missing ): (x at position 6)"},
      {R"(name~=a\)", "invalid regular expression"},
      {"name~=(?P<n>x", "invalid regular expression"},
      {R"(name~=(a)\1)", "invalid regular expression"},  // no backreferences in RE2
      {"name==foo,other~=*", R"(invalid regular expression "*")"},
  };

  for (const Case& c : cases) {
    EXPECT_THAT(Filter::Parse(c.input), StatusIs(absl::StatusCode::kInvalidArgument, c.error))
        << "input " << c.input;
  }
}

}  // namespace
}  // namespace berth::filters
