// Unit tests of the runtime's pieces that need neither root nor a shim: bundles on disk, type URLs
// and runtime names.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "services/runtime/bundle.h"
#include "services/runtime/shim_task.h"
#include "services/runtime/task_manager.h"
#include "tests/testing/command.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::runtime {
namespace {

namespace fs = std::filesystem;
using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

TEST(BundleTest, CreateRemoveAndEventCount) {
  testing::TempDir dir("bundle");
  Bundle b(dir.path(), "default", "web");
  EXPECT_EQ(b.path(), dir.path() / "default" / "web");
  ASSERT_THAT(b.Create(R"({"ociVersion":"1.0.2"})"), IsOk());
  EXPECT_EQ(testing::ReadFile(b.path() / "config.json"), R"({"ociVersion":"1.0.2"})");
  EXPECT_TRUE(fs::is_directory(b.rootfs()));
  EXPECT_FALSE(b.RootfsMounted());
  EXPECT_THAT(b.Create("{}"), StatusIs(absl::StatusCode::kAlreadyExists, "task \"web\""));
  EXPECT_EQ(b.EventsSeen().count, 0);
  {
    UniqueFd seen = b.OpenEventsSeen();
    ASSERT_TRUE(seen.valid());
    Bundle::SetEventsSeen(seen.get(), {.count = 1500, .last = 18446744073709551557ull});
    EXPECT_EQ(b.EventsSeen().count, 1500);
    EXPECT_EQ(b.EventsSeen().last, 18446744073709551557ull);
    // Each mark covers the last one whole, a longer one too.
    Bundle::SetEventsSeen(seen.get(), {.count = 7, .last = 3});
    EXPECT_EQ(b.EventsSeen().count, 7);
    EXPECT_EQ(b.EventsSeen().last, 3u);
  }
  // A mark written by an earlier berthd (shorter, not padded) is read and overwritten whole.
  testing::WriteFile(b.path() / "events.seen", "12 345\n");
  EXPECT_EQ(b.EventsSeen().count, 12);
  Bundle::SetEventsSeen(b.OpenEventsSeen().get(), {.count = 13, .last = 9});
  EXPECT_EQ(b.EventsSeen().count, 13);
  EXPECT_EQ(b.EventsSeen().last, 9u);
  Bundle other(dir.path(), "other", "web");  // same id, other namespace
  ASSERT_THAT(other.Create("{}"), IsOk());
  ASSERT_THAT(b.Remove(), IsOk());
  EXPECT_FALSE(fs::exists(b.path()));
  EXPECT_TRUE(fs::exists(other.path()));
  EXPECT_THAT(b.Remove(), IsOk());  // already gone
}

TEST(BundleTest, IsMountPoint) {
  EXPECT_TRUE(IsMountPoint("/"));
  EXPECT_TRUE(IsMountPoint("/proc"));
  EXPECT_FALSE(IsMountPoint("/proc/self"));
}

TEST(TypeUrlTest, ConvertsBetweenContainerdAndProtobuf) {
  EXPECT_EQ(ContainerdTypeUrl("type.googleapis.com/containerd.events.TaskExit"),
            "containerd.events.TaskExit");
  EXPECT_EQ(ContainerdTypeUrl("containerd.events.TaskExit"), "containerd.events.TaskExit");
  EXPECT_EQ(ProtobufTypeUrl("containerd.runc.v1.Options"),
            "type.googleapis.com/containerd.runc.v1.Options");
  EXPECT_EQ(ProtobufTypeUrl("types.containerd.io/opencontainers/runtime-spec/1/Spec"),
            "types.containerd.io/opencontainers/runtime-spec/1/Spec");
}

TEST(EventFingerprintTest, DependsOnTopicTimeAndPayload) {
  shimapi::Event a;
  a.set_topic("/tasks/paused");
  a.mutable_timestamp()->set_seconds(100);
  a.mutable_event()->set_type_url("type.googleapis.com/containerd.events.TaskPaused");
  a.mutable_event()->set_value("\x0a\x03web");
  shimapi::Event b = a;
  EXPECT_EQ(EventFingerprint(a), EventFingerprint(b));
  EXPECT_EQ(EventFingerprint(a), 0x0u + EventFingerprint(a));  // a plain function of the event
  b.set_topic("/tasks/resumed");
  EXPECT_NE(EventFingerprint(a), EventFingerprint(b));
  b = a;
  b.mutable_timestamp()->set_nanos(1);
  EXPECT_NE(EventFingerprint(a), EventFingerprint(b));
  b = a;
  b.mutable_event()->set_value("\x0a\x03wex");
  EXPECT_NE(EventFingerprint(a), EventFingerprint(b));
  b = a;
  b.set_namespace_("other");  // berthd fills the namespace in; not part of the identity
  EXPECT_EQ(EventFingerprint(a), EventFingerprint(b));
}

TEST(TaskManagerTest, RefusesUnknownRuntimesAndBadIdsWithoutTouchingDisk) {
  EXPECT_TRUE(IsShimRuntime("io.containerd.runc.v2"));
  EXPECT_TRUE(IsShimRuntime("io.containerd.runc.v1"));
  EXPECT_TRUE(IsShimRuntime("io.containerd.berth.v1"));
  EXPECT_FALSE(IsShimRuntime("io.containerd.runhcs.v1"));
  testing::TempDir dir("tm");
  events::Exchange exchange;
  TaskManager tm(
      {.state = dir.path() / "tasks", .shim_binary = "/nonexistent", .daemon_address = ""},
      exchange);
  CreateTaskOptions opts;
  opts.ns = "default";
  opts.id = "web";
  opts.runtime_name = "io.containerd.runhcs.v1";
  opts.spec_json = "{}";
  EXPECT_THAT(tm.Create(opts), StatusIs(absl::StatusCode::kNotFound, "io.containerd.runhcs.v1"));
  opts.runtime_name = "io.containerd.runc.v2";
  opts.id = "a/b";
  EXPECT_THAT(tm.Create(opts), StatusIs(absl::StatusCode::kInvalidArgument, "a/b"));
  // A shim that cannot start: Unavailable-class error, and the bundle is gone again.
  opts.id = "web";
  EXPECT_FALSE(tm.Create(opts).ok());
  EXPECT_FALSE(fs::exists(dir.path() / "tasks" / "default" / "web"));
  EXPECT_THAT(tm.Get("default", "web"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(tm.List("default").empty());
  EXPECT_THAT(tm.Delete("default", "web"), StatusIs(absl::StatusCode::kNotFound));
  absl::StatusOr<int> restored = tm.Restore();
  ASSERT_THAT(restored, IsOk());
  EXPECT_EQ(*restored, 0);
}

}  // namespace
}  // namespace berth::runtime
