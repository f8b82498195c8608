// Root integration tests of berth-shim with the embedded runtime alone (the fixture is in
// shim/testing/shim_fixture.h; the suite that every runtime passes is runtime_suite_test.cc).

#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <string>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "lib/mount/mount.h"
#include "shim/testing/shim_fixture.h"

namespace berth::shim {
namespace {

using ::berth::testing::ReadFile;
using ::testing::Contains;
using ::testing::HasSubstr;

TEST_F(ShimTest, MemoryLimitGivesAnOomEvent) {
  oci::Spec spec = shim::testing::BusyboxSpec(
      id_, "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived");
  spec.linux.resources->memory = oci::MemoryResources{};
  spec.linux.resources->memory->limit = 32 << 20;
  spec.linux.resources->memory->swap = 32 << 20;
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  ASSERT_TRUE(Create({}).ok());
  ASSERT_TRUE(Start().ok());
  EXPECT_EQ(Wait(), 137);
  EXPECT_THAT(Topics(), Contains("/tasks/oom"));
  ASSERT_TRUE(Delete().ok());
}

TEST_F(ShimTest, BadSpecIsAClearErrorAndLeavesNothing) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "true");
  spec.process->capabilities->bounding.push_back("CAP_BOGUS");
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  absl::Status s = Create({});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("unknown capability \"CAP_BOGUS\""));
  EXPECT_FALSE(shim::testing::CgroupExists(cgroups_path_));
  spec.process->capabilities->bounding.pop_back();
  spec.root.path = "missing";
  ASSERT_TRUE(oci::WriteSpec(dir_.path(), spec).ok());
  s = Create({});
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(s.message(), HasSubstr("root.path"));
  EXPECT_FALSE(shim::testing::CgroupExists(cgroups_path_));
  EXPECT_FALSE(shim::testing::MountedUnder(dir_.path()));
}

// As containerd's runc shim, the shim mounts the rootfs that Create names on <bundle>/rootfs,
// on a thread of its own while it reads the spec and makes the cgroup; the mount stays for the
// task (berthd unmounts it after the delete).
TEST_F(ShimTest, CreateMountsTheRootfsItIsGiven) {
  const std::filesystem::path image = dir_ / "image";
  ASSERT_TRUE(shim::testing::MakeBusyboxRootfs(image));
  berth::testing::WriteFile(image / "rootfs/marker", "from the image\n");
  ASSERT_NO_FATAL_FAILURE(StartShim(shim::testing::BusyboxSpec(id_, "cat /marker")));
  v1::CreateTaskRequest req;
  containerd::types::Mount* m = req.add_rootfs();
  m->set_type("bind");
  m->set_source((image / "rootfs").string());
  m->add_options("rbind");
  req.set_stdout(Fifo("stdout"));
  FifoReader out(req.stdout());
  absl::Status s = Create(req);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(shim::testing::MountedUnder(dir_.path()));
  ASSERT_TRUE(Start().ok());
  EXPECT_EQ(Wait(), 0);
  out.Join();
  EXPECT_EQ(out.data(), "from the image\n");
  ASSERT_TRUE(Delete().ok());
  EXPECT_TRUE(mount::UnmountAll(dir_ / "rootfs").ok());
  EXPECT_FALSE(shim::testing::MountedUnder(dir_.path()));
}

TEST_F(ShimTest, ARootfsThatDoesNotMountFailsCreateNamingItAndLeavesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartShim(shim::testing::BusyboxSpec(id_, "true")));
  v1::CreateTaskRequest req;
  containerd::types::Mount* m = req.add_rootfs();
  m->set_type("overlay");
  m->set_source("overlay");
  m->add_options("lowerdir=" + (dir_ / "no-such-layer").string());
  absl::Status s = Create(req);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr(fmt::format("task \"{}\": mount rootfs", id_)));
  EXPECT_FALSE(shim::testing::CgroupExists(cgroups_path_));
  EXPECT_FALSE(shim::testing::MountedUnder(dir_.path()));
  // A mount that fails after others were made (the second here) takes those down too.
  req.clear_rootfs();
  m = req.add_rootfs();
  m->set_type("bind");
  m->set_source((dir_ / "rootfs").string());
  m->add_options("rbind");
  m = req.add_rootfs();
  m->set_type("bind");
  m->set_source((dir_ / "no-such-dir").string());
  m->add_options("rbind");
  s = Create(req);
  EXPECT_THAT(s.message(), HasSubstr("mount rootfs"));
  EXPECT_FALSE(shim::testing::MountedUnder(dir_.path()));
}

// The shim outlives whoever started it: a descriptor that its starter leaked (berthd's listening
// socket, once) is closed, not kept open for the shim's life.
TEST_F(ShimTest, DescriptorsItsStarterLeakedAreClosed) {
  UniqueFd leaked = berth::testing::LeakableDescriptor(200);
  ASSERT_GE(leaked.get(), 200);
  ASSERT_NO_FATAL_FAILURE(StartShim(shim::testing::BusyboxSpec(id_, "true")));
  const std::string fd = fmt::format("/proc/{}/fd/{}", ShimPid(), leaked.get());
  EXPECT_NE(::access(fd.c_str(), F_OK), 0) << fd << " is still open in the shim";
}

oci::Hook HostHook(const std::string& script) {
  return oci::Hook{.path = "/bin/sh",
                   .args = {"sh", "-c", script},
                   .env = {"PATH=/usr/bin:/bin"},
                   .timeout = 10};
}

// Hooks inside the real shim, whose reaper reaps every child with waitpid(-1): each hook's
// exit must still reach the hook runner (exit claims), so Create and Start succeed and every
// hook runs exactly once.
TEST_F(ShimTest, HooksRunOnceEachInsideTheShim) {
  const std::string log = (dir_ / "hooks.log").string();
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "cat /started; exit 0");
  for (int i = 0; i < 5; ++i)
    spec.hooks.create_runtime.push_back(
        HostHook(fmt::format("echo createRuntime{} >> {}", i, log)));
  spec.hooks.create_container = {HostHook("echo createContainer >> " + log)};
  spec.hooks.start_container = {{.path = "/bin/sh",
                                 .args = {"sh", "-c", "echo startContainer > /started"},
                                 .env = {},
                                 .timeout = 10}};
  spec.hooks.poststart = {HostHook("cat > " + (dir_ / "poststart.json").string())};
  spec.hooks.poststop = {HostHook("echo poststop >> " + log)};
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  v1::CreateTaskRequest req;
  req.set_stdout(Fifo("stdout"));
  FifoReader out(req.stdout());
  uint32_t pid = 0;
  absl::Status s = Create(req, &pid);
  ASSERT_TRUE(s.ok()) << s.message();
  s = Start();
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Wait(), 0);
  out.Join();
  EXPECT_EQ(out.data(), "startContainer\n");
  std::string poststart = ReadFile(dir_ / "poststart.json");
  EXPECT_THAT(poststart, HasSubstr("\"status\":\"running\""));
  EXPECT_THAT(poststart, HasSubstr(fmt::format("\"pid\":{}", pid)));
  s = Delete();
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(ReadFile(log),
            "createRuntime0\ncreateRuntime1\ncreateRuntime2\ncreateRuntime3\ncreateRuntime4\n"
            "createContainer\npoststop\n");
}

TEST_F(ShimTest, AFailingCreateContainerHookFailsCreateAndLeavesNothing) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "true");
  spec.hooks.create_container = {HostHook("echo no GPU here >&2; exit 3")};
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  absl::Status s = Create({});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(),
              HasSubstr("hooks.createContainer[0] /bin/sh: exited with status 3: no GPU here"));
  EXPECT_FALSE(shim::testing::CgroupExists(cgroups_path_));
  EXPECT_FALSE(shim::testing::MountedUnder(dir_.path()));
}

// A failing startContainer hook fails Start and stops the container (runtime-spec): the init
// exits with SIGKILL's status, the task is deletable, and nothing is left.
TEST_F(ShimTest, AFailingStartContainerHookFailsStartAndStopsTheTask) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "echo never");
  spec.hooks.start_container = {HostHook("exit 5")};
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  v1::CreateTaskRequest req;
  req.set_stdout(Fifo("stdout"));
  FifoReader out(req.stdout());
  ASSERT_TRUE(Create(req).ok());
  absl::Status s = Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("hooks.startContainer[0] /bin/sh: exited with status 5"));
  EXPECT_EQ(Wait(), 137);
  out.Join();
  EXPECT_EQ(out.data(), "") << "the process never ran";
  s = Delete();
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_FALSE(shim::testing::CgroupExists(cgroups_path_));
  EXPECT_FALSE(shim::testing::MountedUnder(dir_.path()));
}

}  // namespace
}  // namespace berth::shim
