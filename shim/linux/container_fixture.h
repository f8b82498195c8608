#pragma once

// The fixture of the embedded runtime's root tests (container_test.cc, container_hooks_test.cc):
// a busybox rootfs in a private directory, the container's output in <dir>/out; the Container
// owns its init and cgroup, so a failing test still kills and removes them.

#include <fcntl.h>
#include <sys/prctl.h>

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "lib/base/unique_fd.h"
#include "shim/linux/container.h"
#include "shim/testing/bundle.h"
#include "tests/testing/command.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::shim::linux {

inline std::string Readlink(const std::string& path) {
  std::error_code ec;
  return std::filesystem::read_symlink(path, ec).string();
}

class ContainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    ASSERT_TRUE(shim::testing::MakeBusyboxRootfs(dir_.path()));
    out_ = UniqueFd(::open((dir_ / "out").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    ASSERT_TRUE(out_.valid());
  }

  static void TearDownTestSuite() { shim::testing::RemoveTestCgroupParents(); }

  absl::StatusOr<std::unique_ptr<Container>> Create(const oci::Spec& spec) {
    return Container::Create(
        {.id = "t",
         .bundle = dir_.path(),
         .stdio = {.in = -1, .out = out_.get(), .err = out_.get(), .console = -1}},
        spec);
  }

  // Creates, starts and waits; returns the exit status (-1 on error) and the output.
  int Run(const oci::Spec& spec, std::string* output) {
    absl::StatusOr<std::unique_ptr<Container>> c = Create(spec);
    EXPECT_THAT(c, berth::testing::IsOk());
    if (!c.ok())
      return -1;
    EXPECT_THAT((*c)->Start(), berth::testing::IsOk());
    absl::StatusOr<int> st = (*c)->init().Wait(std::chrono::seconds(30));
    EXPECT_THAT(st, berth::testing::IsOk());
    EXPECT_THAT((*c)->Destroy(), berth::testing::IsOk());
    EXPECT_FALSE(shim::testing::CgroupExists(spec.linux.cgroups_path));
    *output = berth::testing::ReadFile(dir_ / "out");
    return st.ok() ? *st : -1;
  }

  berth::testing::TempDir dir_{"ctr"};
  UniqueFd out_;
};

}  // namespace berth::shim::linux
