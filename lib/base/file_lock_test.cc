#include "lib/base/file_lock.h"

#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"

#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

TEST(FileLockTest, SecondHolderInAnotherProcessIsRefused) {
  testing::TempDir dir("lock");
  std::string path = dir / "berthd.lock";
  absl::StatusOr<FileLock> first = FileLock::Acquire(path);
  ASSERT_THAT(first, IsOk());
  // flock is per open file description, so a second open in another process must fail.
  pid_t pid = ::fork();
  if (pid == 0) {
    absl::StatusOr<FileLock> second = FileLock::Acquire(path);
    bool refused = second.status().code() == absl::StatusCode::kFailedPrecondition &&
                   std::string(second.status().message()).find("pid") != std::string::npos;
    ::_exit(refused ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(FileLockTest, ReleasedWhenDestroyed) {
  testing::TempDir dir("lock");
  std::string path = dir / "berthd.lock";
  { ASSERT_THAT(FileLock::Acquire(path), IsOk()); }
  EXPECT_THAT(FileLock::Acquire(path), IsOk());
}

TEST(FileLockTest, MissingDirectoryIsNotFound) {
  EXPECT_THAT(FileLock::Acquire("/nonexistent-berth-dir/x.lock"),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace berth
