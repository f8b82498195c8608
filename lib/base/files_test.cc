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

}  // namespace
}  // namespace berth
