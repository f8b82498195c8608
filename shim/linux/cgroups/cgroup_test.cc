// Root tests of cgroup v2 on a private cgroup2 mount (this runs on v1 hosts too: the v2
// hierarchy exists there, without controllers): how a child joins a cgroup (CgroupJoin:
// CLONE_INTO_CGROUP through CgroupV2::PrepareJoin and Clone3) and the device rules' program. The v1
// "tasks" join is shown end to end by ContainerTest.InitAndExecProcessesAreInTheCgroupEverywhere.

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "lib/oci/default_spec.h"
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

// A cgroup of its own on a private cgroup2 mount (v1 and hybrid hosts have the v2 hierarchy too,
// without controllers), removed again after the test.
class CgroupV2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    if (::mount("cgroup2", mnt_.path().c_str(), "cgroup2", 0, nullptr) != 0)
      GTEST_SKIP() << "cannot mount cgroup2: " << std::strerror(errno);
    mounted_ = true;
    ASSERT_EQ(::mkdir(dir().c_str(), 0755), 0) << std::strerror(errno);
  }

  void TearDown() override {
    if (!mounted_)
      return;
    ::rmdir(dir().c_str());
    ::umount2(mnt_.path().c_str(), MNT_DETACH);
  }

  std::string dir() const { return mnt_.path().string() + path_; }

  berth::testing::TempDir mnt_{"cg2"};
  bool mounted_ = false;
  const std::string path_ = fmt::format("/berth-cgroup-test-{}", ::getpid());
};

TEST_F(CgroupV2Test, ChildStartsInsideTheCgroup) {
  const std::string& path = path_;
  CgroupV2 cg(path, mnt_.path().string());
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

// v2's device rules (device_filter.h): a child in the cgroup opens what the rules allow and is
// refused the rest, before any driver is asked (EPERM, not ENXIO, for a node with no device).
TEST_F(CgroupV2Test, DeviceRulesAreEnforcedByTheAttachedProgram) {
  berth::testing::TempDir nodes("devnodes");
  // 240: a major for local use, with no driver behind it here.
  const std::string fake_block = (nodes.path() / "fake-block").string();
  ASSERT_EQ(::mknod(fake_block.c_str(), S_IFBLK | 0600, makedev(240, 7)), 0)
      << std::strerror(errno);

  std::vector<oci::DeviceRule> rules = oci::DefaultSpec("ns", "id").linux.resources->devices;
  std::erase_if(rules, [](const oci::DeviceRule& r) { return r.major == 1 && r.minor == 7; });
  rules.push_back({.allow = true, .type = "c", .major = 1, .minor = 7, .access = "r"});  // full
  CgroupV2 cg(path_, mnt_.path().string());
  oci::Resources resources;
  resources.devices = rules;
  ASSERT_THAT(cg.Apply(resources), IsOk());
  ASSERT_THAT(cg.Apply(resources), IsOk()) << "applied again: the earlier program is replaced";

  absl::StatusOr<CgroupJoin> join = cg.PrepareJoin();
  ASSERT_THAT(join, IsOk());
  int pidfd = -1;
  pid_t pid = Clone3(CLONE_PIDFD, SIGCHLD, &pidfd, join->clone_into.get());
  if (pid == 0) {
    auto opens = [](const char* p, int flags) {
      int fd = ::open(p, flags | O_CLOEXEC);
      if (fd >= 0)
        ::close(fd);
      return fd >= 0 ? 0 : errno;
    };
    int bits = 0;
    bits |= opens("/dev/null", O_WRONLY) == 0 ? 1 : 0;
    bits |= opens("/dev/full", O_RDONLY) == 0 ? 2 : 0;
    bits |= opens("/dev/full", O_WRONLY) == EPERM ? 4 : 0;
    bits |= opens(fake_block.c_str(), O_RDONLY) == EPERM ? 8 : 0;
    ::_exit(bits);
  }
  ASSERT_GT(pid, 0) << std::strerror(errno);
  ChildProcess child(pid, UniqueFd(pidfd));
  absl::StatusOr<int> status = child.Wait(std::chrono::seconds(10));
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ(*status, 15) << "1: /dev/null writable, 2: /dev/full readable, 4: /dev/full not "
                            "writable, 8: an unlisted block device refused";
  // Outside the cgroup, the same opens answer as usual (ENXIO: the node has no device).
  EXPECT_EQ(::open(fake_block.c_str(), O_RDONLY | O_CLOEXEC), -1);
  EXPECT_EQ(errno, ENXIO);
}

}  // namespace
}  // namespace berth::shim::linux
