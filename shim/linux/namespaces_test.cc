#include "shim/linux/namespaces.h"

#include <fcntl.h>
#include <sched.h>

#include "gtest/gtest.h"

#include "tests/testing/matchers.h"

namespace berth::shim::linux {
namespace {

using ::berth::testing::IsOk;

oci::Linux Spec(std::initializer_list<const char*> types) {
  oci::Linux l;
  for (const char* t : types) l.namespaces.push_back({.type = t, .path = ""});
  return l;
}

// Stand-ins for namespace descriptors: PlanNamespaces only moves them.
PreparedNamespaces Fake() {
  PreparedNamespaces p;
  p.net.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  p.ipc.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  p.uts.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  return p;
}

TEST(PlanNamespacesTest, NewNamespacesAreClonedWithoutPrepared) {
  auto plan = PlanNamespaces(Spec({"pid", "network", "ipc", "uts", "mount"}));
  ASSERT_THAT(plan, IsOk());
  EXPECT_EQ(plan->clone_flags, static_cast<uint64_t>(CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC |
                                                     CLONE_NEWUTS | CLONE_NEWNS));
  EXPECT_TRUE(plan->joins.empty());
  EXPECT_TRUE(plan->new_uts);
}

TEST(PlanNamespacesTest, PreparedOnesAreJoinedAndTakenTheRestCloned) {
  PreparedNamespaces prepared = Fake();
  // No uts namespace asked for: the prepared one stays with the caller.
  auto plan = PlanNamespaces(Spec({"pid", "network", "ipc", "mount"}), &prepared);
  ASSERT_THAT(plan, IsOk());
  EXPECT_EQ(plan->clone_flags, static_cast<uint64_t>(CLONE_NEWPID | CLONE_NEWNS));
  ASSERT_EQ(plan->joins.size(), 2u);
  EXPECT_EQ(plan->joins[0].flag, CLONE_NEWNET);
  EXPECT_EQ(plan->joins[1].flag, CLONE_NEWIPC);
  EXPECT_TRUE(plan->joins[0].fd.valid());
  EXPECT_FALSE(prepared.net.valid());
  EXPECT_FALSE(prepared.ipc.valid());
  EXPECT_TRUE(prepared.uts.valid());
}

TEST(PlanNamespacesTest, AUserNamespaceCreatesItsOwn) {
  PreparedNamespaces prepared = Fake();
  auto plan = PlanNamespaces(Spec({"user", "network", "ipc", "uts", "mount"}), &prepared);
  ASSERT_THAT(plan, IsOk());
  EXPECT_EQ(plan->clone_flags, static_cast<uint64_t>(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWIPC |
                                                     CLONE_NEWUTS | CLONE_NEWNS));
  EXPECT_TRUE(plan->joins.empty());
  EXPECT_TRUE(prepared.net.valid() && prepared.ipc.valid() && prepared.uts.valid());
}

}  // namespace
}  // namespace berth::shim::linux
