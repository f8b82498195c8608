#include "lib/filters/filter.h"

#include <chrono>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "tests/testing/matchers.h"

namespace berth::filters {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

struct Entry {
  std::string name;
  std::string other;
  std::map<std::string, std::string> labels;
};

// The corpus of containerd's filters_test.go, in the same order.
const std::vector<Entry>& Corpus() {
  static const auto* corpus = new std::vector<Entry>{
      {"foo", "", {{"foo", "true"}}},
      {"bar", "", {}},
      {"foo", "", {{"foo", "present"}, {"more complex label", "present"}}},
      {"bar", "", {{"bar", "true"}}},
      {"fooer", "", {{"more complex label with \\ and \"", "present"}}},
      {"fooer", "", {{"more complex label with \\ and \".post", "present"}}},
      {"baz", "too complex, yo", {}},
      {"bazo", "abc", {}},
      {"compound", "", {{"foo", "omg_asdf.asdf-qwer"}}},
  };
  return *corpus;
}

MapAdaptor Adapt(const Entry& e) {
  return MapAdaptor({{"name", e.name}, {"other", e.other}}, e.labels);
}

// The indexes of the corpus entries that f matches.
std::vector<int> Matching(const Filter& f) {
  std::vector<int> out;
  for (size_t i = 0; i < Corpus().size(); ++i) {
    if (f.Match(Adapt(Corpus()[i])))
      out.push_back(static_cast<int>(i));
  }
  return out;
}

const std::vector<int> kAll = {0, 1, 2, 3, 4, 5, 6, 7, 8};

TEST(FilterTest, MatchesCorpus) {
  struct Case {
    std::string input;
    std::vector<int> expected;
  } cases[] = {
      // containerd's TestFilters.
      {"", kAll},
      {"name", kAll},
      {"labels.foo", {0, 2, 8}},
      {"labels.foo,name", {0, 2, 8}},
      {"labels.foo==true", {0}},
      {"labels.foo==omg_asdf.asdf-qwer", {8}},
      {"name==bar", {1, 3}},
      {"name!=bar", {0, 2, 4, 5, 6, 7, 8}},
      {"name==bar,labels.bar", {3}},
      {R"(other=="too complex, yo")", {6}},
      {"other~=[abc]+,name!=foo", {6, 7}},
      {"other~=/[abc]+/,name!=foo", {6, 7}},
      {"other~=/[abc]{1,2}/,name!=foo", {6, 7}},
      {R"(other~=/[abc]{0,1}"\//,name!=foo)", {}},
      {"name==bar,labels.bar==true", {3}},
      {"name==bar,labels.bar==wrong", {}},
      {R"(name==foo,labels."more complex label")", {2}},
      {R"(labels."more complex label with \\ and \""==present)", {4}},
      {R"(labels."more complex label with \\ and \"".post==present)", {5}},
      // '|' and more.
      {"name==foo|name==bar", {0, 1, 2, 3}},
      {"name==bar|labels.foo==true", {0, 1, 3}},
      {"labels.foo,name==foo|other", {0, 2, 6, 7}},
      {"name==nothing|name==compound", {8}},
      {R"(name=="foo")", {0, 2}},
      {R"(labels."foo"==true)", {0}},
      {R"("name"==foo)", {0, 2}},
      {"name~=^f.*", {0, 2, 4, 5}},
      {"name~=^foo$", {0, 2}},
      {"name~=foo", {0, 2, 4, 5}},
      {"name~=/^ba(r|z)$/", {1, 3, 6}},
      {"name~=|^ba.?$|", {1, 3, 6}},
      {"name~=(?i)^FOO$", {0, 2}},
      {"other~=^$", {0, 1, 2, 3, 4, 5, 8}},  // an absent field reads as ""
      {"labels.bar!=true", {0, 1, 2, 4, 5, 6, 7, 8}},
      {"labels.missing!=x", kAll},
      {"labels.missing", {}},
      {"labels", {}},
      {"name.sub", {}},
      {"unknown==x", {}},
      {"other==abc,name==bazo", {7}},
      {"other==abc,name==baz", {}},
      {"labels.foo==true|labels.foo==present|labels.bar", {0, 2, 3}},
  };

  for (const Case& c : cases) {
    absl::StatusOr<Filter> f = Filter::Parse(c.input);
    ASSERT_THAT(f, IsOk()) << "input " << c.input;
    EXPECT_EQ(Matching(*f), c.expected) << "input " << c.input;
  }
}

TEST(FilterTest, DefaultMatchesEverything) {
  EXPECT_EQ(Matching(Filter()), kAll);
  EXPECT_EQ(Matching(*Filter::Parse("")), kAll);
}

TEST(FilterTest, ParseAllOrsItsInputs) {
  struct Case {
    std::vector<std::string> inputs;
    std::vector<int> expected;
  } cases[] = {
      {{}, kAll},
      {{""}, kAll},
      {{"name==x", ""}, kAll},
      {{"name==foo", "name==bar"}, {0, 1, 2, 3}},
      {{"name==foo,labels.foo==true", "other"}, {0, 6, 7}},
      {{"name==compound|name==baz", "name==bar"}, {1, 3, 6, 8}},
      {{"labels.nothing"}, {}},
  };

  for (const Case& c : cases) {
    absl::StatusOr<Filter> f = Filter::ParseAll(c.inputs);
    ASSERT_THAT(f, IsOk());
    EXPECT_EQ(Matching(*f), c.expected) << ::testing::PrintToString(c.inputs);
  }
}

TEST(FilterTest, ParseAllReportsTheBadInput) {
  std::vector<std::string> inputs = {"name==foo", "name==", "labels."};
  EXPECT_THAT(Filter::ParseAll(inputs),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       R"(filter "name==": expected value at position 6)"));
}

TEST(FilterTest, CopiesShareTheRegex) {
  Filter copy;
  {
    absl::StatusOr<Filter> f = Filter::Parse("name~=^ba");
    ASSERT_THAT(f, IsOk());
    copy = *f;
  }
  EXPECT_EQ(Matching(copy), (std::vector<int>{1, 3, 6, 7}));
}

TEST(MapAdaptorTest, Fields) {
  MapAdaptor a({{"name", "web"}, {"empty", ""}}, {{"a.b", "c"}, {"blank", ""}, {"x", "y"}});
  auto field = [&](std::vector<std::string> path) { return a.Field(path); };
  EXPECT_EQ(field({"name"}), "web");
  EXPECT_EQ(field({"empty"}), std::nullopt);  // an empty field is absent
  EXPECT_EQ(field({"missing"}), std::nullopt);
  EXPECT_EQ(field({"name", "x"}), std::nullopt);
  EXPECT_EQ(field({"labels", "a.b"}), "c");
  EXPECT_EQ(field({"labels", "a", "b"}), "c");
  EXPECT_EQ(field({"labels", "blank"}), "");  // a label with an empty value is present
  EXPECT_EQ(field({"labels", "x"}), "y");
  EXPECT_EQ(field({"labels", "a"}), std::nullopt);
  EXPECT_EQ(field({"labels"}), std::nullopt);
  EXPECT_EQ(field({}), std::nullopt);
}

TEST(MapAdaptorTest, ThroughFilters) {
  MapAdaptor a({{"name", "foo"}}, {{"a.b", "c"}, {"blank", ""}});

  struct Case {
    std::string input;
    bool match;
  } cases[] = {
      {"name==foo", true},
      {R"(labels."a.b"==c)", true},
      {"labels.a.b==c", true},
      {"labels.a.b", true},
      {"labels.blank", true},
      {R"(labels.blank=="")", true},
      {"labels.blank!=x", true},
      {"labels.a", false},
      {"name,labels.a.b==c", true},
      {"name,labels.a.b==d", false},
      {"name!=foo|labels.a.b", true},
  };

  for (const Case& c : cases) {
    absl::StatusOr<Filter> f = Filter::Parse(c.input);
    ASSERT_THAT(f, IsOk()) << c.input;
    EXPECT_EQ(f->Match(a), c.match) << c.input;
  }
}

TEST(FuncAdaptorTest, PassesThePath) {
  std::vector<std::vector<std::string>> seen;
  FuncAdaptor a([&](std::span<const std::string> path) -> std::optional<std::string> {
    seen.emplace_back(path.begin(), path.end());
    if (path.size() == 2 && path[0] == "spec" && path[1] == "a b")
      return "v";
    return std::nullopt;
  });
  absl::StatusOr<Filter> f = Filter::Parse(R"(spec."a b"==v,x.y)");
  ASSERT_THAT(f, IsOk());
  EXPECT_FALSE(f->Match(a));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], (std::vector<std::string>{"spec", "a b"}));
  EXPECT_EQ(seen[1], (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(Filter::Parse(R"(spec."a b"~=^v$)")->Match(a));
}

// RE2 matches in linear time: patterns that make backtracking engines explode stay fast, also on
// values of the largest label size.
TEST(FilterTest, RegexStaysLinear) {
  const std::string value(4096, 'a');
  MapAdaptor a({{"name", value}});
  const auto start = std::chrono::steady_clock::now();
  for (const char* input : {"name~=(a*)*b", "name~=/(a|aa)*c/", "name~=^(a+)+$", "name~=.*.*.*b"}) {
    absl::StatusOr<Filter> f = Filter::Parse(input);
    ASSERT_THAT(f, IsOk()) << input;
    EXPECT_EQ(f->Match(a), std::string(input) == "name~=^(a+)+$") << input;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// Garbage in, InvalidArgument out: no crash, no hang, no other code.
void ExpectParsesOrRejects(const std::string& input) {
  absl::StatusOr<Filter> f = Filter::Parse(input);
  if (f.ok()) {
    (void)f->Match(MapAdaptor({{"name", "foo"}}, {{"a", "b"}}));
    return;
  }
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument) << f.status();
  EXPECT_EQ(std::string(f.status().message()).rfind("filter \"", 0), 0u) << f.status();
}

TEST(FilterFuzzTest, RandomBytes) {
  std::mt19937 rng(42);
  for (int i = 0; i < 20000; ++i) {
    std::string input(rng() % 32, '\0');
    for (char& c : input) c = static_cast<char>(rng() % 256);
    ExpectParsesOrRejects(input);
  }
}

TEST(FilterFuzzTest, RandomTokens) {
  const std::vector<std::string> pieces = {"name",    "labels",
                                           "a",       ".",
                                           ",",       "|",
                                           "==",      "!=",
                                           "~=",      "=",
                                           "!",       "~",
                                           "\"",      "\\",
                                           "/",       " ",
                                           "\"a b\"", "\\x4",
                                           "\\u00e9", "\\377",
                                           "(",       ")",
                                           "[",       "]",
                                           "*",       "+",
                                           "?",       "{2}",
                                           "\xff",    "\xc3",
                                           "é",       "\n",
                                           "\t",      std::string(1, '\0'),
                                           "-",       "_",
                                           "$",       "^"};
  std::mt19937 rng(7);
  for (int i = 0; i < 50000; ++i) {
    std::string input;
    for (size_t n = rng() % 12; n > 0; --n) input += pieces[rng() % pieces.size()];
    ExpectParsesOrRejects(input);
  }
}

TEST(FilterFuzzTest, LargeInputs) {
  std::string many;
  for (int i = 0; i < 100000; ++i) many += "a==b,c|";
  ExpectParsesOrRejects(many + "d");
  ExpectParsesOrRejects(many);
  ExpectParsesOrRejects("name~=" + std::string(100000, '('));
  ExpectParsesOrRejects("name~=" + std::string(100000, 'a') + std::string(100000, '*'));
  ExpectParsesOrRejects("name~=(((((((((((a{1000}){1000}){1000}){1000})))))))))");
  ExpectParsesOrRejects("\"" + std::string(1000000, '\\'));
  ExpectParsesOrRejects(std::string(1000000, ' '));
}

}  // namespace
}  // namespace berth::filters
