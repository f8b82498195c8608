// The device filter's program as instructions (the root test CgroupDevicesTest shows the kernel
// running it).

#include "shim/linux/cgroups/device_filter.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/matchers.h"

namespace berth::shim::linux {
namespace {

using ::berth::testing::StatusIs;

TEST(DeviceFilterTest, OneBlockPerRuleLastFirstAndDenyAtTheEnd) {
  // No rule: the six loads, then "deny".
  absl::StatusOr<std::vector<struct bpf_insn>> p = DeviceFilterProgram({});
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->size(), 8u);
  EXPECT_EQ((*p)[6].code, BPF_ALU64 | BPF_MOV | BPF_K);
  EXPECT_EQ((*p)[6].imm, 0);
  EXPECT_EQ((*p)[7].code, BPF_JMP | BPF_EXIT);

  // deny all, then allow c 1:3 rw: the allow's block comes first; its three jumps land on the
  // deny block, which matches everything.
  p = DeviceFilterProgram({{.allow = false, .type = "a", .major = {}, .minor = {}, .access = "rwm"},
                           {.allow = true, .type = "c", .major = 1, .minor = 3, .access = "rw"}});
  ASSERT_TRUE(p.ok()) << p.status();
  // loads 6 + allow (type, mov, and, access, major, minor, return 2) 8 + deny 2; the deny
  // matches everything, so nothing follows it
  ASSERT_EQ(p->size(), 16u);
  const std::vector<struct bpf_insn>& i = *p;
  EXPECT_EQ(i[6].code, BPF_JMP | BPF_JNE | BPF_K);
  EXPECT_EQ(i[6].imm, BPF_DEVCG_DEV_CHAR);
  EXPECT_EQ(i[6].off, 7);  // to the deny block at 14
  EXPECT_EQ(i[8].imm, ~(BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE));
  EXPECT_EQ(i[9].off, 4);
  EXPECT_EQ(i[10].imm, 1);  // major
  EXPECT_EQ(i[10].off, 3);
  EXPECT_EQ(i[11].imm, 3);  // minor
  EXPECT_EQ(i[11].off, 2);
  EXPECT_EQ(i[12].imm, 1);  // allow
  EXPECT_EQ(i[14].imm, 0);  // the deny rule: no test, its answer at once
  EXPECT_EQ(i[15].code, BPF_JMP | BPF_EXIT);

  // An allow-all in the middle hides the rules before it.
  p = DeviceFilterProgram({{.allow = true, .type = "c", .major = 1, .minor = 3, .access = "rwm"},
                           {.allow = true, .type = "a", .major = {}, .minor = {}, .access = ""}});
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->size(), 8u);
  EXPECT_EQ((*p)[6].imm, 1);
}

TEST(DeviceFilterTest, BadRulesAreNamed) {
  EXPECT_THAT(
      DeviceFilterProgram({{.allow = true, .type = "x", .major = {}, .minor = {}, .access = "r"}})
          .status(),
      StatusIs(absl::StatusCode::kInvalidArgument, "type \"x\""));
  EXPECT_THAT(
      DeviceFilterProgram({{.allow = true, .type = "c", .major = {}, .minor = {}, .access = "rq"}})
          .status(),
      StatusIs(absl::StatusCode::kInvalidArgument, "access \"rq\""));
}

}  // namespace
}  // namespace berth::shim::linux
