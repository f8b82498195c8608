#include "shim/linux/mount.h"

#include <sys/mount.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "lib/oci/default_spec.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::shim::linux {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

TEST(ParseMountOptionsTest, FlagsPropagationAndData) {
  MountOptions o =
      ParseMountOptions({"nosuid", "ro", "rw", "noexec", "rslave", "mode=755", "size=1m", "rbind"});
  EXPECT_EQ(o.flags, static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC));
  EXPECT_EQ(o.propagation, static_cast<unsigned long>(MS_SLAVE | MS_REC));
  EXPECT_EQ(o.data, "mode=755,size=1m");
  EXPECT_TRUE(o.bind);
  EXPECT_TRUE(o.recursive);
}

TEST(JoinUnderTest, NeverEscapesRoot) {
  EXPECT_EQ(JoinUnder("/r", "/proc"), "/r/proc");
  EXPECT_EQ(JoinUnder("/r/", "/a/../../b"), "/r/b");
  EXPECT_EQ(JoinUnder("/r", "../../etc"), "/r/etc");
  EXPECT_EQ(JoinUnder("/r", "/a/./b//c"), "/r/a/b/c");
}

TEST(PlanMountsTest, DefaultSpecMountsUnderRootfs) {
  oci::Spec s = oci::DefaultSpec("ns", "id");
  std::vector<CgroupBind> binds = {{"/sys/fs/cgroup/memory/ns/id", "memory"},
                                   {"/sys/fs/cgroup/pids/ns/id", "pids"}};
  absl::StatusOr<std::vector<MountOp>> ops = PlanMounts(s, "/b", "/b/rootfs", binds);
  ASSERT_THAT(ops, IsOk());
  EXPECT_EQ(ops->front().target, "/b/rootfs/proc");
  EXPECT_EQ(ops->front().fstype, "proc");
  // cgroup: a tmpfs, one bind per controller, then a read-only remount.
  const MountOp& last = ops->back();
  EXPECT_TRUE(last.remount_only);
  EXPECT_EQ(last.target, "/b/rootfs/sys/fs/cgroup");
  EXPECT_NE(last.flags & MS_RDONLY, 0u);
  const MountOp& mem = (*ops)[ops->size() - 3];
  EXPECT_TRUE(mem.bind);
  EXPECT_EQ(mem.source, "/sys/fs/cgroup/memory/ns/id");
  EXPECT_EQ(mem.target, "/b/rootfs/sys/fs/cgroup/memory");
}

TEST(PlanMountsTest, RejectsUnknownFilesystemType) {
  oci::Spec s = oci::DefaultSpec("ns", "id");
  s.mounts.push_back({"/x", "nosuchfs", "none", {}});
  EXPECT_THAT(PlanMounts(s, "/b", "/b/rootfs", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, "unknown filesystem type \"nosuchfs\""));
}

TEST(PlanMountsTest, BindSourcesResolveAgainstTheBundle) {
  berth::testing::TempDir dir("mnt");
  berth::testing::WriteFile(dir / "data/file", "x");
  oci::Spec s = oci::DefaultSpec("ns", "id");
  s.mounts = {{"/data", "bind", "data", {"rbind", "ro"}}, {"/file", "none", "data/file", {"bind"}}};
  absl::StatusOr<std::vector<MountOp>> ops = PlanMounts(s, dir.path(), "/r", {});
  ASSERT_THAT(ops, IsOk());
  EXPECT_EQ((*ops)[0].source, (dir / "data").string());
  EXPECT_EQ((*ops)[0].flags, static_cast<unsigned long>(MS_REC | MS_RDONLY));
  EXPECT_FALSE((*ops)[0].target_is_file);
  EXPECT_TRUE((*ops)[1].target_is_file);
  s.mounts = {{"/gone", "bind", "missing", {"bind"}}};
  EXPECT_THAT(PlanMounts(s, dir.path(), "/r", {}),
              StatusIs(absl::StatusCode::kNotFound, "mounts[0].source"));
}

}  // namespace
}  // namespace berth::shim::linux
