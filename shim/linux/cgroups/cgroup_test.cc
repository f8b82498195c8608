// Root tests of how a child joins a cgroup (CgroupJoin): CLONE_INTO_CGROUP through
// CgroupV2::PrepareJoin and Clone3, on a private cgroup2 mount (this runs on v1 hosts too: the
// v2 hierarchy exists there, without controllers). The v1 "tasks" join is shown end to end by
// ContainerTest.InitAndExecProcessesAreInTheCgroupEverywhere.

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "shim/linux/cgroups/v2.h"
#include "shim/linux/process.h"
#include "shim/linux/syscalls.h"
#include "tests/testing/command.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::shim::linux {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::ReadFile;
using ::testing::HasSubstr;

TEST(CgroupJoinTest, V2ChildStartsInsideTheCgroup) {
  BERTH_REQUIRE_ROOT();
  berth::testing::TempDir mnt("cg2");
  if (::mount("cgroup2", mnt.path().c_str(), "cgroup2", 0, nullptr) != 0)
    GTEST_SKIP() << "cannot mount cgroup2: " << std::strerror(errno);
  absl::Cleanup unmount = [&] { ::umount2(mnt.path().c_str(), MNT_DETACH); };
  std::string path = fmt::format("/berth-join-test-{}", ::getpid());
  ASSERT_EQ(::mkdir((mnt.path().string() + path).c_str(), 0755), 0) << std::strerror(errno);
  absl::Cleanup remove = [&] { ::rmdir((mnt.path().string() + path).c_str()); };
  CgroupV2 cg(path, mnt.path().string());
  absl::StatusOr<CgroupJoin> join = cg.PrepareJoin();
  ASSERT_THAT(join, IsOk());
  ASSERT_TRUE(join->clone_into.valid());
  EXPECT_TRUE(join->tasks_files.empty());
  int hold[2];
  ASSERT_EQ(::pipe2(hold, O_CLOEXEC), 0);
  int pidfd = -1;
  pid_t pid = Clone3(CLONE_PIDFD, SIGCHLD, &pidfd, join->clone_into.get());
  if (pid == 0) {
    char b;
    ::close(hold[1]);
    (void)::read(hold[0], &b, 1);  // until the parent has looked
    ::_exit(0);
  }
  ASSERT_GT(pid, 0) << std::strerror(errno);
  ChildProcess child(pid, UniqueFd(pidfd));
  ::close(hold[0]);
  std::string cgroup = ReadFile(fmt::format("/proc/{}/cgroup", pid));
  ::close(hold[1]);
  EXPECT_THAT(child.Wait(std::chrono::seconds(10)), IsOk());
  EXPECT_THAT(cgroup, HasSubstr("0::" + path + "\n"));
}

}  // namespace
}  // namespace berth::shim::linux
