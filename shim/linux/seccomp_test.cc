#include "shim/linux/seccomp.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "lib/oci/default_spec.h"
#include "tests/testing/matchers.h"

namespace berth::shim::linux {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

TEST(CompileSeccompTest, DefaultProfileCompiles) {
  absl::StatusOr<SeccompProgram> p = CompileSeccomp(oci::DefaultSeccompProfile());
  ASSERT_THAT(p, IsOk());
  EXPECT_GT(p->filter.size(), 10u);
}

TEST(CompileSeccompTest, UnknownSyscallNamesTheField) {
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  s.syscalls.push_back({.names = {"mkdir", "no_such_call"},
                        .action = "SCMP_ACT_ERRNO",
                        .errno_ret = 13,
                        .args = {}});
  EXPECT_THAT(CompileSeccomp(s),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       R"(linux.seccomp.syscalls[0].names[1]: unknown syscall "no_such_call")"));
}

TEST(CompileSeccompTest, BadActionOperatorAndArchitecture) {
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_BOGUS";
  EXPECT_THAT(CompileSeccomp(s), StatusIs(absl::StatusCode::kInvalidArgument, "defaultAction"));
  s.default_action = "SCMP_ACT_ALLOW";
  s.architectures = {"SCMP_ARCH_NOPE"};
  EXPECT_THAT(CompileSeccomp(s), StatusIs(absl::StatusCode::kInvalidArgument, "architectures[0]"));
  s.architectures = {"SCMP_ARCH_X86_64"};
  s.syscalls.push_back({.names = {"mkdir"},
                        .action = "SCMP_ACT_ERRNO",
                        .errno_ret = {},
                        .args = {{.index = 1, .value = 1, .value_two = 0, .op = "SCMP_CMP_XX"}}});
  EXPECT_THAT(CompileSeccomp(s), StatusIs(absl::StatusCode::kInvalidArgument, "args[0].op"));
}

}  // namespace
}  // namespace berth::shim::linux
