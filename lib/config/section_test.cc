#include "lib/config/section.h"

#include "gtest/gtest.h"

#include "tests/testing/matchers.h"

namespace berth::config {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

TEST(SectionTest, DefaultsWhenAbsent) {
  auto doc = Document::Parse("", "c.toml");
  ASSERT_THAT(doc, IsOk());
  Section& s = (*doc)->root();
  EXPECT_EQ(*s.String("root", "/var/lib/berth"), "/var/lib/berth");
  EXPECT_EQ(*s.Int("n", 7), 7);
  EXPECT_EQ(*s.Bool("b", true), true);
  EXPECT_THAT(s.CheckAllRead(), IsOk());
}

TEST(SectionTest, ValuesNestedTablesAndUnknownKeys) {
  auto doc = Document::Parse("root = '/r'\n[grpc]\ngid = 5\nadress = 'x'\n", "c.toml");
  ASSERT_THAT(doc, IsOk());
  Section& s = (*doc)->root();
  EXPECT_EQ(*s.String("root", ""), "/r");
  auto grpc = s.Table("grpc");
  ASSERT_THAT(grpc, IsOk());
  EXPECT_EQ(*grpc->Int("gid", 0), 5);
  EXPECT_EQ(*grpc->String("address", "d"), "d");
  EXPECT_THAT(s.CheckAllRead(), IsOk());
  EXPECT_THAT(grpc->CheckAllRead(),
              StatusIs(absl::StatusCode::kInvalidArgument, "c.toml: grpc.adress: unknown key"));
}

TEST(SectionTest, WrongTypesNameFileAndKey) {
  auto doc = Document::Parse("root = 3\nlist = [1]\ngrpc = 'x'\n", "c.toml");
  ASSERT_THAT(doc, IsOk());
  Section& s = (*doc)->root();
  EXPECT_THAT(s.String("root", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, "c.toml: root: expected a string"));
  EXPECT_THAT(s.StringList("list", {}), StatusIs(absl::StatusCode::kInvalidArgument, "list"));
  EXPECT_THAT(s.Table("grpc"), StatusIs(absl::StatusCode::kInvalidArgument, "grpc"));
}

TEST(SectionTest, SyntaxErrorHasPosition) {
  EXPECT_THAT(Document::Parse("root = \n", "c.toml"),
              StatusIs(absl::StatusCode::kInvalidArgument, "c.toml:1:"));
}

TEST(SectionTest, MissingFileIsNotFound) {
  EXPECT_THAT(Document::Load("/nonexistent/berth.toml"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace berth::config
