// The label contract's paths, and which files a container's labels make its own.

#include "lib/meta/labels.h"

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/temp_dir.h"

namespace berth::meta {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(MetaLabelsTest, PathsAndUris) {
  EXPECT_EQ(LogPath("/var/log/berth", "b", "x"), "/var/log/berth/b/x.log");
  EXPECT_EQ(LogUri("/var/log/berth/b/x.log"), "file:///var/log/berth/b/x.log?format=cri");
  EXPECT_EQ(FileUriPath(LogUri("/var/log/berth/b/x.log")), "/var/log/berth/b/x.log");
  EXPECT_EQ(FileUriPath("file:///tmp/x.log"), "/tmp/x.log");
  EXPECT_EQ(FileUriPath("file://localhost/tmp/a%20b.log"), "/tmp/a b.log");  // as the shim
  for (const char* other : {"binary:///bin/logger", "fifo:///x", "file://relative", "/tmp/x", ""})
    EXPECT_EQ(FileUriPath(other), "") << other;
  EXPECT_EQ(HostsFilePath("/run/berth/cni", "b", "x"), "/run/berth/cni/hosts.d/b-x");
  EXPECT_EQ(ResolvFilePath("/run/berth/cni", "b", "x"), "/run/berth/cni/resolv.d/b-x");
  EXPECT_EQ(InitLayerName("x"), "x-init");
  EXPECT_TRUE(IsInitLayerOf({{kInitLayerLabel, "x"}}, "x"));
  EXPECT_FALSE(IsInitLayerOf({{kInitLayerLabel, "y"}}, "x"));
  EXPECT_FALSE(IsInitLayerOf({}, "x"));
}

TEST(MetaLabelsTest, OwnedFilesHaveTheShapeTheirMakerGivesThem) {
  const Labels own = {{kLogUriLabel, LogUri("/var/log/berth/b/x.log")},
                      {kHostsFileLabel, "/run/berth/cni/hosts.d/b-x"},
                      {kResolvFileLabel, "/run/berth/cni/resolv.d/b-x"}};
  EXPECT_THAT(OwnedFiles(own, "b", "x"),
              ElementsAre(fs::path("/var/log/berth/b/x.log"), "/run/berth/cni/hosts.d/b-x",
                          "/run/berth/cni/resolv.d/b-x"));
  // Another container's, another namespace's, or any other file: not this container's.
  EXPECT_THAT(OwnedFiles(own, "b", "y"), IsEmpty());
  EXPECT_THAT(OwnedFiles(own, "c", "x"), IsEmpty());
  EXPECT_THAT(
      OwnedFiles({{kLogUriLabel, "file:///etc/passwd"}, {kHostsFileLabel, "/etc/hosts"}}, "b", "x"),
      IsEmpty());
  EXPECT_THAT(OwnedFiles({{kHostsFileLabel, "hosts.d/b-x"}}, "b", "x"), IsEmpty());  // relative
  EXPECT_THAT(OwnedFiles({{kHostsFileLabel, "/run/berth/cni/resolv.d/b-x"},
                          {kResolvFileLabel, "/run/berth/cni/hosts.d/b-x"}},
                         "b", "x"),
              IsEmpty());  // each label its own directory
  EXPECT_THAT(OwnedFiles({{kLogUriLabel, "binary:///b/x.log"}}, "b", "x"), IsEmpty());
}

TEST(MetaLabelsTest, RemovesOnlyItsOwnRegularFiles) {
  testing::TempDir dir("meta");
  const fs::path log = dir.path() / "logs/b/x.log";
  const fs::path hosts = HostsFilePath(dir.path().string(), "b", "x");
  const fs::path other = dir.path() / "hosts.d/b-y";
  for (const fs::path& p : {log, hosts, other}) testing::WriteFile(p, "x");
  const Labels labels = {{kLogUriLabel, LogUri(log.string())}, {kHostsFileLabel, hosts.string()}};

  RemoveOwnedFiles({{kHostsFileLabel, other.string()}}, "b", "x");  // names y's
  RemoveOwnedFiles(labels, "c", "x");
  EXPECT_TRUE(fs::exists(log) && fs::exists(hosts) && fs::exists(other));

  // A symlink in the file's place is left alone, and so is what it points to.
  fs::remove(hosts);
  fs::create_symlink(other, hosts);
  RemoveOwnedFiles(labels, "b", "x");
  EXPECT_FALSE(fs::exists(log));
  EXPECT_TRUE(fs::is_symlink(hosts));
  EXPECT_TRUE(fs::exists(other));

  fs::remove(hosts);
  testing::WriteFile(hosts, "x");
  RemoveOwnedFiles(labels, "b", "x");  // the log is gone already: no error
  EXPECT_FALSE(fs::exists(hosts));
}

TEST(MetaLabelsTest, RemovesOnlyAnonymousVolumeDirectories) {
  testing::TempDir dir("meta");
  const std::string hex(64, 'a');
  const fs::path mine = dir.path() / "b" / hex;
  const fs::path other_ns = dir.path() / "c" / hex;
  const fs::path named = dir.path() / "b" / "data";
  const fs::path bare = dir.path() / "b" / std::string(64, 'b');  // no volume.json
  for (const fs::path& v : {mine, other_ns, named}) {
    testing::WriteFile(v / "volume.json", "{}");
    testing::WriteFile(v / "_data/sub/f", "x");
  }
  testing::WriteFile(bare / "_data/f", "x");
  std::string label;
  for (const fs::path& v : {mine, other_ns, named, bare, dir.path() / "b" / std::string(64, 'c')})
    label += v.string() + "\n";
  label += "relative/b/" + hex + "\n";
  ASSERT_TRUE(RemoveAnonymousVolumes({{kAnonymousVolumesLabel, label}}, "b").ok());
  EXPECT_FALSE(fs::exists(mine));
  EXPECT_TRUE(fs::exists(other_ns / "_data/sub/f"));
  EXPECT_TRUE(fs::exists(named / "_data/sub/f"));
  EXPECT_TRUE(fs::exists(bare / "_data/f"));
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir.path() / "b"))
    left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_THAT(left, ElementsAre(std::string(64, 'b'), "data")) << "nothing half-removed";
  EXPECT_TRUE(RemoveAnonymousVolumes({}, "b").ok());
  EXPECT_TRUE(RemoveAnonymousVolumes({{kAnonymousVolumesLabel, label}}, "b").ok())
      << "gone already: no error";
}

}  // namespace
}  // namespace berth::meta
