#include "snapshotter/fs_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::snapshot {
namespace {

namespace fs = std::filesystem;
using ::berth::testing::IsOk;
using ::berth::testing::ReadFile;
using ::berth::testing::TempDir;
using ::berth::testing::WriteFile;

struct stat Lstat(const fs::path& p) {
  struct stat st {};

  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st;
}

TEST(DiskUsage, CountsHardlinkedInodesOnce) {
  TempDir tmp("fsutil");
  WriteFile(tmp / "t/big", std::string(256 * 1024, 'x'));
  fs::create_hard_link(tmp / "t/big", tmp / "t/link");
  WriteFile(tmp / "t/dir/small", "s");
  auto u = DiskUsage(tmp / "t");
  ASSERT_THAT(u, IsOk());
  EXPECT_EQ(u->inodes, 4);  // t, big (= link), dir, small
  EXPECT_GE(u->size, 256 * 1024);
  EXPECT_LT(u->size, 2 * 256 * 1024) << "the hardlink must not count twice";
  EXPECT_FALSE(DiskUsage(tmp / "absent").ok());
}

TEST(RemoveTree, RemovesNestedTreesAndMissingIsOk) {
  TempDir tmp("fsutil");
  WriteFile(tmp / "t/a/b/c/file", "x");
  fs::create_symlink("/etc/passwd", tmp / "t/a/escape");
  ASSERT_THAT(RemoveTree(tmp / "t"), IsOk());
  EXPECT_FALSE(fs::exists(tmp / "t"));
  EXPECT_TRUE(fs::exists("/etc/passwd"));
  EXPECT_THAT(RemoveTree(tmp / "t"), IsOk());
}

TEST(CopyTree, KeepsFilesLinksModesAndTimes) {
  TempDir tmp("fsutil");
  WriteFile(tmp / "src/file", "content");
  ::chmod((tmp / "src/file").c_str(), 0751);
  fs::create_hard_link(tmp / "src/file", tmp / "src/hard");
  fs::create_symlink("file", tmp / "src/sym");
  WriteFile(tmp / "src/dir/inner", "inner");
  ::chmod((tmp / "src/dir").c_str(), 01770);
  ASSERT_EQ(::mkfifo((tmp / "src/fifo").c_str(), 0640), 0);
  struct timespec times[2] = {{1000, 5}, {2000, 7}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (tmp / "src/file").c_str(), times, 0), 0);
  ASSERT_EQ(::utimensat(AT_FDCWD, (tmp / "src/dir").c_str(), times, 0), 0);
  ASSERT_EQ(::utimensat(AT_FDCWD, (tmp / "src/sym").c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
  fs::create_directories(tmp / "dst");

  ASSERT_THAT(CopyTree(tmp / "src", tmp / "dst"), IsOk());
  EXPECT_EQ(ReadFile(tmp / "dst/file"), "content");
  EXPECT_EQ(ReadFile(tmp / "dst/dir/inner"), "inner");
  EXPECT_EQ(Lstat(tmp / "dst/file").st_mode & 07777, 0751u);
  EXPECT_EQ(Lstat(tmp / "dst/dir").st_mode & 07777, 01770u);
  EXPECT_EQ(Lstat(tmp / "dst/file").st_ino, Lstat(tmp / "dst/hard").st_ino);
  EXPECT_EQ(Lstat(tmp / "dst/file").st_nlink, 2u);
  EXPECT_NE(Lstat(tmp / "dst/file").st_ino, Lstat(tmp / "src/file").st_ino);
  EXPECT_EQ(fs::read_symlink(tmp / "dst/sym"), "file");
  EXPECT_TRUE(S_ISFIFO(Lstat(tmp / "dst/fifo").st_mode));
  EXPECT_EQ(Lstat(tmp / "dst/fifo").st_mode & 07777, 0640u);
  EXPECT_EQ(Lstat(tmp / "dst/file").st_mtim.tv_sec, 2000);
  EXPECT_EQ(Lstat(tmp / "dst/file").st_mtim.tv_nsec, 7);
  EXPECT_EQ(Lstat(tmp / "dst/dir").st_mtim.tv_sec, 2000);
  EXPECT_EQ(Lstat(tmp / "dst/sym").st_mtim.tv_sec, 2000);
  // The copy is independent of the source.
  WriteFile(tmp / "dst/file", "changed");
  EXPECT_EQ(ReadFile(tmp / "src/file"), "content");
}

}  // namespace
}  // namespace berth::snapshot
