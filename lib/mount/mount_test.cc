// Root tests on the real kernel: bind mounts, read-only remounts, overlay with long lower
// chains (both the new mount API and the relative-path fallback), unmounting stacks.

#include "lib/mount/mount.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "lib/mount/options.h"
#include "lib/mount/overlay.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::mount {
namespace {

namespace fs = std::filesystem;
using ::berth::testing::IsOk;
using ::berth::testing::ReadFile;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::berth::testing::WriteFile;
using ::testing::HasSubstr;

// How many mounts sit exactly on `path` (from /proc/self/mountinfo).
int MountCount(const fs::path& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mountpoint;
    fields >> id >> parent >> devno >> root >> mountpoint;
    if (mountpoint == path.string())
      ++n;
  }
  return n;
}

// errno of creating `path` (0 on success).
int CreateErrno(const fs::path& path) {
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0)
    return errno;
  ::close(fd);
  return 0;
}

TEST(Mount, BindReadOnlyIsReallyReadOnly) {
  BERTH_REQUIRE_ROOT();
  TempDir tmp("mount");
  WriteFile(tmp / "src/file", "data");
  fs::create_directories(tmp / "dst");
  Mount m{.type = "bind", .source = (tmp / "src").string(), .options = {"rbind", "ro"}};
  ASSERT_THAT(MountAll({&m, 1}, tmp / "dst"), IsOk());
  EXPECT_EQ(MountCount(tmp / "dst"), 1);
  EXPECT_EQ(ReadFile(tmp / "dst/file"), "data");
  EXPECT_EQ(CreateErrno(tmp / "dst/new"), EROFS);
  EXPECT_EQ(CreateErrno(tmp / "src/new"), 0) << "the source must stay writable";
  ASSERT_THAT(Unmount(tmp / "dst"), IsOk());
  EXPECT_EQ(MountCount(tmp / "dst"), 0);
}

TEST(Mount, BindReadWriteWritesThrough) {
  BERTH_REQUIRE_ROOT();
  TempDir tmp("mount");
  fs::create_directories(tmp / "src");
  fs::create_directories(tmp / "dst");
  Mount m{.type = "bind", .source = (tmp / "src").string(), .options = {"rbind", "rw"}};
  ASSERT_THAT(MountAll({&m, 1}, tmp / "dst"), IsOk());
  WriteFile(tmp / "dst/new", "x");
  EXPECT_EQ(ReadFile(tmp / "src/new"), "x");
  ASSERT_THAT(UnmountAll(tmp / "dst"), IsOk());
}

TEST(Mount, ErrorsNameTargetTypeAndCause) {
  BERTH_REQUIRE_ROOT();
  TempDir tmp("mount");
  fs::create_directories(tmp / "dst");
  Mount m{.type = "nosuchfs", .source = "none", .options = {}};
  absl::Status s = MountAll({&m, 1}, tmp / "dst");
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("nosuchfs"));
  EXPECT_THAT(std::string(s.message()), HasSubstr((tmp / "dst").string()));
  Mount missing{.type = "bind", .source = (tmp / "absent").string(), .options = {"rbind"}};
  EXPECT_THAT(MountAll({&missing, 1}, tmp / "dst"),
              StatusIs(absl::StatusCode::kNotFound, "absent"));
  EXPECT_EQ(MountCount(tmp / "dst"), 0);
}

TEST(Mount, MountAllRollsBackOnFailure) {
  BERTH_REQUIRE_ROOT();
  TempDir tmp("mount");
  fs::create_directories(tmp / "src");
  fs::create_directories(tmp / "dst");
  std::vector<Mount> ms = {
      {.type = "bind", .source = (tmp / "src").string(), .options = {"rbind"}},
      {.type = "bind", .source = (tmp / "absent").string(), .options = {"rbind"}},
  };
  EXPECT_FALSE(MountAll(ms, tmp / "dst").ok());
  EXPECT_EQ(MountCount(tmp / "dst"), 0);
}

TEST(Mount, UnmountAllRemovesAStack) {
  BERTH_REQUIRE_ROOT();
  TempDir tmp("mount");
  fs::create_directories(tmp / "src");
  fs::create_directories(tmp / "dst");
  Mount m{.type = "bind", .source = (tmp / "src").string(), .options = {"bind"}};
  for (int i = 0; i < 3; ++i) ASSERT_THAT(MountAll({&m, 1}, tmp / "dst"), IsOk());
  EXPECT_EQ(MountCount(tmp / "dst"), 3);
  ASSERT_THAT(UnmountAll(tmp / "dst"), IsOk());
  EXPECT_EQ(MountCount(tmp / "dst"), 0);
  // Not a mount point, or not there at all: nothing to do.
  EXPECT_THAT(Unmount(tmp / "dst"), IsOk());
  EXPECT_THAT(UnmountAll(tmp / "dst"), IsOk());
  EXPECT_THAT(UnmountAll(tmp / "absent"), IsOk());
}

TEST(Mount, UnmountBusyFallsBackToDetach) {
  BERTH_REQUIRE_ROOT();
  TempDir tmp("mount");
  WriteFile(tmp / "src/file", "busy");
  fs::create_directories(tmp / "dst");
  Mount m{.type = "bind", .source = (tmp / "src").string(), .options = {"rbind"}};
  ASSERT_THAT(MountAll({&m, 1}, tmp / "dst"), IsOk());
  int fd = ::open((tmp / "dst/file").c_str(), O_RDONLY | O_CLOEXEC);  // keeps the mount busy
  ASSERT_GE(fd, 0);
  EXPECT_THAT(Unmount(tmp / "dst"), IsOk());
  EXPECT_EQ(MountCount(tmp / "dst"), 0);
  char buf[8] = {};
  EXPECT_EQ(::read(fd, buf, sizeof(buf)), 4) << "a lazily detached mount stays readable";
  ::close(fd);
}

TEST(Mount, WithTempMountCleansUp) {
  BERTH_REQUIRE_ROOT();
  TempDir tmp("mount");
  WriteFile(tmp / "src/file", "seen");
  Mount m{.type = "bind", .source = (tmp / "src").string(), .options = {"rbind", "ro"}};
  fs::path seen_dir;
  ASSERT_THAT(WithTempMount({&m, 1}, tmp / "mnt",
                            [&](const fs::path& dir) {
                              seen_dir = dir;
                              EXPECT_EQ(ReadFile(dir / "file"), "seen");
                              EXPECT_EQ(MountCount(dir), 1);
                              return absl::OkStatus();
                            }),
              IsOk());
  EXPECT_FALSE(fs::exists(seen_dir));
  EXPECT_TRUE(fs::is_empty(tmp / "mnt"));
  // fn's error comes back, and the mount is still removed.
  EXPECT_THAT(WithTempMount({&m, 1}, tmp / "mnt",
                            [&](const fs::path& dir) {
                              seen_dir = dir;
                              return absl::AbortedError("stop");
                            }),
              StatusIs(absl::StatusCode::kAborted, "stop"));
  EXPECT_EQ(MountCount(seen_dir), 0);
  EXPECT_TRUE(fs::is_empty(tmp / "mnt"));
  // A mount that fails leaves no directory behind.
  Mount bad{.type = "bind", .source = (tmp / "absent").string(), .options = {"rbind"}};
  EXPECT_THAT(
      WithTempMount({&bad, 1}, tmp / "mnt", [](const fs::path&) { return absl::OkStatus(); }),
      StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(fs::is_empty(tmp / "mnt"));
}

// `n` lower layers with long absolute paths: layer i holds "layer-i" and "top" = i; layer 0
// also holds "bottom". Returns the overlay mount (newest first) with an upper and work dir.
Mount LongChain(const fs::path& root, int n) {
  std::string lower;
  const std::string padding(40, 'p');
  for (int i = 0; i < n; ++i) {
    fs::path dir = root / fmt::format("layers-with-a-rather-long-name-{}/{:04}/fs", padding, i);
    WriteFile(dir / fmt::format("layer-{}", i), std::to_string(i));
    WriteFile(dir / "top", std::to_string(i));
    if (i == 0)
      WriteFile(dir / "bottom", "bottom");
    lower = dir.string() + (lower.empty() ? "" : ":" + lower);
  }
  fs::create_directories(root / "upper");
  fs::create_directories(root / "work");
  return Mount{.type = "overlay",
               .source = "overlay",
               .options = {"index=off", "workdir=" + (root / "work").string(),
                           "upperdir=" + (root / "upper").string(), "lowerdir=" + lower}};
}

void ExpectChainVisible(const fs::path& dir, int n) {
  EXPECT_EQ(ReadFile(dir / "bottom"), "bottom");
  EXPECT_EQ(ReadFile(dir / "top"), std::to_string(n - 1));
  EXPECT_EQ(ReadFile(dir / "layer-0"), "0");
  EXPECT_EQ(ReadFile(dir / fmt::format("layer-{}", n - 1)), std::to_string(n - 1));
  WriteFile(dir / "written", "up");
}

TEST(Overlay, LongLowerdirChainMounts) {
  BERTH_REQUIRE_ROOT();
  TempDir tmp("mount");
  constexpr int kLayers = 128;
  Mount m = LongChain(tmp.path(), kLayers);
  ASSERT_GT(ParseOptions(m.options).Data().size(), MaxMountDataSize())
      << "the chain must not fit into one mount(2) page for this test to mean anything";
  fs::create_directories(tmp / "dst");
  ASSERT_THAT(MountAll({&m, 1}, tmp / "dst"), IsOk());
  ExpectChainVisible(tmp / "dst", kLayers);
  ASSERT_THAT(UnmountAll(tmp / "dst"), IsOk());
  EXPECT_EQ(ReadFile(tmp / "upper/written"), "up");
}

TEST(Overlay, NewMountApiTakesEachLayer) {
  BERTH_REQUIRE_ROOT();
  TempDir tmp("mount");
  Mount m = LongChain(tmp.path(), 128);
  fs::create_directories(tmp / "dst");
  absl::Status s = MountOverlayNewApi(m, tmp / "dst");
  if (absl::IsUnimplemented(s))
    GTEST_SKIP() << s;
  ASSERT_THAT(s, IsOk());
  ExpectChainVisible(tmp / "dst", 128);
  ASSERT_THAT(UnmountAll(tmp / "dst"), IsOk());
}

TEST(Overlay, RelativePathFallbackMounts) {
  BERTH_REQUIRE_ROOT();
  TempDir tmp("mount");
  Mount m = LongChain(tmp.path(), 128);
  fs::create_directories(tmp / "dst");
  ASSERT_THAT(MountOverlayRelative(m, tmp / "dst"), IsOk());
  ExpectChainVisible(tmp / "dst", 128);
  ASSERT_THAT(UnmountAll(tmp / "dst"), IsOk());
}

TEST(Overlay, NewApiReportsTheKernelsMessage) {
  BERTH_REQUIRE_ROOT();
  TempDir tmp("mount");
  fs::create_directories(tmp / "dst");
  Mount m{
      .type = "overlay", .source = "overlay", .options = {"lowerdir=" + (tmp / "absent").string()}};
  absl::Status s = MountOverlayNewApi(m, tmp / "dst");
  if (absl::IsUnimplemented(s))
    GTEST_SKIP() << s;
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("absent"));
  EXPECT_THAT(std::string(s.message()), HasSubstr((tmp / "dst").string()));
  EXPECT_EQ(MountCount(tmp / "dst"), 0);
}

TEST(Overlay, WhiteoutHidesTheLowerFile) {
  BERTH_REQUIRE_ROOT();
  TempDir tmp("mount");
  WriteFile(tmp / "lower/gone", "x");
  WriteFile(tmp / "lower/kept", "k");
  fs::create_directories(tmp / "upper");
  fs::create_directories(tmp / "work");
  fs::create_directories(tmp / "dst");
  ASSERT_EQ(::mknod((tmp / "upper/gone").c_str(), S_IFCHR | 0000, makedev(0, 0)), 0);
  Mount m{.type = "overlay",
          .source = "overlay",
          .options = {"workdir=" + (tmp / "work").string(), "upperdir=" + (tmp / "upper").string(),
                      "lowerdir=" + (tmp / "lower").string()}};
  ASSERT_THAT(MountAll({&m, 1}, tmp / "dst"), IsOk());
  EXPECT_FALSE(fs::exists(tmp / "dst/gone"));
  EXPECT_EQ(ReadFile(tmp / "dst/kept"), "k");
  ASSERT_THAT(UnmountAll(tmp / "dst"), IsOk());
}

}  // namespace
}  // namespace berth::mount
