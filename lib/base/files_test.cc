// ReadWholeFile and ReplaceFile.

#include "lib/base/files.h"

#include <sys/stat.h>

#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

TEST(FilesTest, ReplaceThenReadBack) {
  testing::TempDir dir("files");
  const std::filesystem::path path = dir.path() / "a/b/state";
  ASSERT_THAT(ReplaceFile(path, "one\n"), IsOk());  // parents made
  EXPECT_EQ(ReadWholeFile(path).value_or(""), "one\n");
  std::string big(100000, 'x');
  ASSERT_THAT(ReplaceFile(path, big, 0600, Durability::kSynced), IsOk());
  EXPECT_EQ(ReadWholeFile(path).value_or(""), big);

  struct stat st {};

  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(path.parent_path()),
                          std::filesystem::directory_iterator()),
            1)
      << "no temporary file is left";
  EXPECT_THAT(ReadWholeFile(dir.path() / "missing"),
              StatusIs(absl::StatusCode::kNotFound, "missing"));
  EXPECT_THAT(ReplaceFile(path / "under-a-file", "x"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(FilesTest, RewriteKeepsTheInodeAndFollowsNoSymlink) {
  testing::TempDir dir("files");
  const std::filesystem::path path = dir.path() / "hosts";
  ASSERT_THAT(ReplaceFile(path, "a long first content\n"), IsOk());

  struct stat before {
  }, after{};

  ASSERT_EQ(::stat(path.c_str(), &before), 0);
  ASSERT_THAT(RewriteFile(path, "short\n"), IsOk());
  ASSERT_EQ(::stat(path.c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_EQ(ReadWholeFile(path).value_or(""), "short\n");
  std::filesystem::create_symlink(path, dir.path() / "link");
  absl::Status through_link = RewriteFile(dir.path() / "link", "x");
  EXPECT_FALSE(through_link.ok());
  EXPECT_THAT(through_link.message(),
              ::testing::HasSubstr("link: Too many levels of symbolic links"));
  EXPECT_EQ(ReadWholeFile(path).value_or(""), "short\n");
  EXPECT_THAT(RewriteFile(dir.path() / "missing", "x"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace berth
