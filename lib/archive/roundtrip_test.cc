// Root tests: owners, setuid, trusted.* xattrs, devices and overlay whiteouts, with the real
// kernel (an overlay mount reads what ApplyLayer wrote).

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "lib/archive/layer.h"
#include "lib/archive/test_tar.h"
#include "tests/testing/command.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::archive {
namespace {

namespace fs = std::filesystem;
using ::berth::testing::IsOk;
using ::berth::testing::ReadFile;
using ::berth::testing::TempDir;
using ::berth::testing::WriteFile;
using namespace ::berth::archive::testing;  // NOLINT(google-build-using-namespace): test helpers

std::string Xattrs(const fs::path& p) {
  char names[4096];
  ssize_t n = ::llistxattr(p.c_str(), names, sizeof(names));
  std::vector<std::string> out;
  for (ssize_t pos = 0; pos < n;) {
    std::string name(names + pos);
    pos += static_cast<ssize_t>(name.size()) + 1;
    if (name.rfind("trusted.overlay.", 0) == 0)
      continue;
    char v[1024];
    ssize_t vn = ::lgetxattr(p.c_str(), name.c_str(), v, sizeof(v));
    out.push_back(name + "=" + std::string(v, vn > 0 ? static_cast<size_t>(vn) : 0));
  }
  std::sort(out.begin(), out.end());
  std::string s;
  for (const auto& x : out) s += x + ";";
  return s;
}

// Everything ApplyLayer must keep, per path; hardlinks show as "link-group=<first path>".
std::map<std::string, std::string> Describe(const fs::path& root, bool with_dir_times = true) {
  std::map<std::string, std::string> out;
  std::map<ino_t, std::string> inodes;
  std::vector<fs::path> paths;
  for (const auto& e : fs::recursive_directory_iterator(root)) paths.push_back(e.path());
  std::sort(paths.begin(), paths.end());
  for (const fs::path& p : paths) {
    struct stat st {};

    EXPECT_EQ(::lstat(p.c_str(), &st), 0);
    std::string rel = p.lexically_relative(root).string();  // fs::relative follows links
    std::string d = fmt::format("mode={:o} uid={} gid={} xattrs={}", st.st_mode, st.st_uid,
                                st.st_gid, Xattrs(p));
    if (!S_ISDIR(st.st_mode) || with_dir_times)
      d += fmt::format(" mtime={}.{:09}", st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    if (S_ISREG(st.st_mode)) {
      d += " data=" + ReadFile(p);
      auto [it, first] = inodes.try_emplace(st.st_ino, rel);
      if (st.st_nlink > 1)
        d += " link-group=" + it->second;
    } else if (S_ISLNK(st.st_mode)) {
      d += " target=" + fs::read_symlink(p).string();
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      d += fmt::format(" rdev={}:{}", major(st.st_rdev), minor(st.st_rdev));
    }
    out[rel] = d;
  }
  return out;
}

void SetTimes(const fs::path& p, time_t sec, long nsec) {
  timespec ts[2] = {{sec, nsec}, {sec, nsec}};
  ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0) << p;
}

void Own(const fs::path& p, uid_t u, gid_t g, mode_t mode) {
  ASSERT_EQ(::lchown(p.c_str(), u, g), 0) << p;
  if (!fs::is_symlink(fs::symlink_status(p))) {
    ASSERT_EQ(::chmod(p.c_str(), mode), 0) << p;  // after chown, which clears setuid
  }
}

// A tree with one of everything ApplyLayer keeps.
void BuildTree(const fs::path& r) {
  fs::create_directories(r / "bin");
  fs::create_directories(r / "shared");
  fs::create_directories(r / "tmp");
  WriteFile(r / "bin/su", "setuid binary");
  Own(r / "bin/su", 0, 0, 04755);
  WriteFile(r / "bin/wall", "setgid binary");
  Own(r / "bin/wall", 0, 5, 02755);
  Own(r / "shared", 1000, 1234, 02775);
  Own(r / "tmp", 0, 0, 01777);
  WriteFile(r / "shared/data", std::string(1 << 20, 'd'));
  Own(r / "shared/data", 1000, 1000, 0640);
  ASSERT_EQ(::setxattr((r / "shared/data").c_str(), "user.note", "hello", 5, 0), 0);
  ASSERT_EQ(::setxattr((r / "shared/data").c_str(), "trusted.tag", "t\0x", 3, 0), 0);
  ASSERT_EQ(::setxattr((r / "shared").c_str(), "user.dir", "d", 1, 0), 0);
  ASSERT_EQ(::link((r / "shared/data").c_str(), (r / "bin/data-link").c_str()), 0);
  fs::create_symlink("../shared/data", r / "bin/sym");
  Own(r / "bin/sym", 1001, 1002, 0);
  ASSERT_EQ(::mkfifo((r / "tmp/fifo").c_str(), 0600), 0);
  ASSERT_EQ(::mknod((r / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  WriteFile(r / "empty", "");
  SetTimes(r / "bin/su", 1234567890, 123456789);
  SetTimes(r / "bin/sym", 1111111111, 0);
  SetTimes(r / "tmp/fifo", 1222222222, 5);
  for (const char* d : {"bin", "shared", "tmp", ""}) SetTimes(r / d, 1333333333, 777);
}

class RoundTripTest : public ::testing::TestWithParam<Compression> {};

TEST_P(RoundTripTest, DiffThenApplyReproducesTheTree) {
  BERTH_REQUIRE_ROOT();
  TempDir t("roundtrip");
  fs::create_directories(t / "lower");
  fs::create_directories(t / "upper");
  fs::create_directories(t / "out");
  BuildTree(t / "upper");
  std::string layer;
  absl::StatusOr<DiffResult> d =
      WriteDiff(t / "lower", t / "upper", GetParam(), [&](std::string_view b) {
        layer.append(b);
        return absl::OkStatus();
      });
  ASSERT_THAT(d, IsOk());
  WriteFile(t / "layer", layer);
  auto sum = berth::testing::RunCommand({"sha256sum", (t / "layer").string()});
  EXPECT_EQ(d->compressed_digest, "sha256:" + sum.out.substr(0, 64));
  EXPECT_EQ(d->compressed_size, static_cast<int64_t>(layer.size()));

  absl::StatusOr<ApplyResult> a =
      ApplyBytes(t / "out", layer, {.whiteouts = Whiteouts::kRemove, .allow_devices = true});
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->compressed_digest, d->compressed_digest);
  EXPECT_EQ(a->uncompressed_digest, d->uncompressed_digest);
  EXPECT_EQ(a->uncompressed_size, d->uncompressed_size);
  auto want = Describe(t / "upper");
  auto got = Describe(t / "out");
  EXPECT_EQ(got, want);
  EXPECT_EQ(want.size(), 11u) << ::testing::PrintToString(want);
  EXPECT_EQ(Xattrs(t / "out/shared/data"), std::string("trusted.tag=t\0x;user.note=hello;", 32));

  // The same trees give the same bytes.
  std::string again;
  ASSERT_THAT(WriteDiff(t / "lower", t / "upper", GetParam(),
                        [&](std::string_view b) {
                          again.append(b);
                          return absl::OkStatus();
                        }),
              IsOk());
  EXPECT_EQ(again, layer);
}

INSTANTIATE_TEST_SUITE_P(Compressions, RoundTripTest,
                         ::testing::Values(Compression::kNone, Compression::kGzip,
                                           Compression::kZstd));

std::string Collect(absl::FunctionRef<absl::StatusOr<DiffResult>(WriteFn)> fn) {
  std::string out;
  absl::StatusOr<DiffResult> r = fn([&](std::string_view b) {
    out.append(b);
    return absl::OkStatus();
  });
  EXPECT_THAT(r, IsOk());
  return out;
}

// Names in a tar stream, in order.
std::vector<std::string> TarNames(const std::string& tar) {
  std::vector<std::string> names;
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_memory(a, tar.data(), tar.size()), ARCHIVE_OK);
  struct archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK)
    names.emplace_back(archive_entry_pathname(e));
  archive_read_free(a);
  return names;
}

TEST(Diff, ChangesWhiteoutsAndParents) {
  BERTH_REQUIRE_ROOT();
  TempDir t("diff");
  std::string base =
      MakeTar({Dir("etc"), File("etc/keep", "k"), File("etc/edit", "old"), File("etc/gone", "g"),
               Dir("var"), Dir("var/lib"), File("var/lib/state", "s"), Dir("old"),
               File("old/x", "x"), File("chmod-me", "c")});
  for (const char* d : {"lower", "upper", "target"}) {
    fs::create_directories(t / d);
    ASSERT_THAT(ApplyBytes(t / d, base), IsOk());
  }
  const fs::path u = t / "upper";
  WriteFile(u / "etc/edit", "new");  // same size, whole-second mtime in lower: bytes compared
  SetTimes(u / "etc/edit", 1700000000, 0);
  SetTimes(u / "etc", 1700000000, 0);
  fs::remove(u / "etc/gone");
  fs::remove_all(u / "old");
  WriteFile(u / "var/lib/new", "n");
  SetTimes(u / "var/lib", 1700000000, 0);
  SetTimes(u / "var", 1700000000, 0);
  ASSERT_EQ(::chmod((u / "chmod-me").c_str(), 0600), 0);
  SetTimes(u, 1700000000, 0);

  std::string layer =
      Collect([&](WriteFn out) { return WriteDiff(t / "lower", u, Compression::kNone, out); });
  EXPECT_THAT(TarNames(layer),
              ::testing::ElementsAre("chmod-me", "etc/", "etc/edit", "etc/.wh.gone", ".wh.old",
                                     "var/", "var/lib/", "var/lib/new"));
  ASSERT_THAT(ApplyBytes(t / "target", layer), IsOk());
  EXPECT_EQ(Describe(t / "target", /*with_dir_times=*/false), Describe(u, false));
}

// kOverlay writes what the kernel's overlayfs reads; WriteOverlayUpperDiff reads it back.
TEST(Overlay, WhiteoutsWorkInARealMount) {
  BERTH_REQUIRE_ROOT();
  TempDir t("overlay");
  for (const char* d : {"l1", "l2", "work", "merged", "native"}) fs::create_directories(t / d);
  std::string layer1 = MakeTar({File("gone", "g"), Dir("opq"), File("opq/old", "o"), Dir("keep"),
                                File("keep/a", "a"), Dir("tree"), File("tree/x/y", "y")});
  std::string layer2 = MakeTar({File(".wh.gone", ""), Dir("opq"), File("opq/.wh..wh..opq", ""),
                                File("opq/new", "n"), File("keep/b", "b"), File("tree/.wh.x", "")});
  ApplyOptions overlay{.whiteouts = Whiteouts::kOverlay};
  ASSERT_THAT(ApplyBytes(t / "l1", layer1, overlay), IsOk());
  ASSERT_THAT(ApplyBytes(t / "l2", layer2, overlay), IsOk());

  struct stat st {};

  ASSERT_EQ(::lstat((t / "l2/gone").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  char v[4] = {};
  EXPECT_EQ(::getxattr((t / "l2/opq").c_str(), "trusted.overlay.opaque", v, sizeof(v)), 1);
  EXPECT_EQ(v[0], 'y');

  std::string opts = fmt::format("lowerdir={}:{}", (t / "l2").string(), (t / "l1").string());
  ASSERT_EQ(::mount("overlay", (t / "merged").c_str(), "overlay", MS_RDONLY, opts.c_str()), 0)
      << strerror(errno);
  absl::Cleanup unmount = [&] { ::umount2((t / "merged").c_str(), MNT_DETACH); };
  EXPECT_FALSE(fs::exists(t / "merged/gone"));
  EXPECT_FALSE(fs::exists(t / "merged/opq/old"));
  EXPECT_EQ(ReadFile(t / "merged/opq/new"), "n");
  EXPECT_EQ(ReadFile(t / "merged/keep/a"), "a");
  EXPECT_EQ(ReadFile(t / "merged/keep/b"), "b");
  EXPECT_FALSE(fs::exists(t / "merged/tree/x"));

  // The upperdir as a layer: OCI whiteouts again, and kRemove over layer1 gives the merged view.
  std::string back = Collect(
      [&](WriteFn out) { return WriteOverlayUpperDiff(t / "l2", Compression::kGzip, out); });
  StringSource src(back);
  std::vector<std::string> names;
  {
    std::string plain = Collect(
        [&](WriteFn out) { return WriteOverlayUpperDiff(t / "l2", Compression::kNone, out); });
    names = TarNames(plain);
  }
  EXPECT_THAT(names, ::testing::ElementsAre(".wh.gone", "keep/", "keep/b", "opq/",
                                            "opq/.wh..wh..opq", "opq/new", "tree/", "tree/.wh.x"));
  ASSERT_THAT(ApplyBytes(t / "native", layer1), IsOk());
  ASSERT_THAT(ApplyBytes(t / "native", back), IsOk());
  EXPECT_EQ(Describe(t / "native", /*with_dir_times=*/false), Describe(t / "merged", false));
}

TEST(Xattrs, OverlayAttributesFromALayerAreSkipped) {
  BERTH_REQUIRE_ROOT();
  TempDir t("xattrs");
  TarEntry d = Dir("d");
  d.xattrs = {
      {"trusted.overlay.opaque", "y"}, {"trusted.overlay.redirect", "/etc"}, {"user.kept", "1"}};
  ASSERT_THAT(ApplyBytes(t.path(), MakeTar({d}), {.whiteouts = Whiteouts::kOverlay}), IsOk());
  EXPECT_EQ(Xattrs(t / "d"), "user.kept=1;");
  char v[8];
  EXPECT_LT(::getxattr((t / "d").c_str(), "trusted.overlay.opaque", v, sizeof(v)), 0);
  EXPECT_LT(::getxattr((t / "d").c_str(), "trusted.overlay.redirect", v, sizeof(v)), 0);
}

TEST(Devices, AllowedWhenAsked) {
  BERTH_REQUIRE_ROOT();
  TempDir t("devices");
  TarEntry chr;
  chr.name = "dev/null";
  chr.type = AE_IFCHR;
  chr.perm = 0666;
  chr.rdev = makedev(1, 3);
  ASSERT_THAT(ApplyBytes(t.path(), MakeTar({chr}), {.allow_devices = true}), IsOk());

  struct stat st {};

  ASSERT_EQ(::lstat((t / "dev/null").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  EXPECT_EQ(st.st_mode & 07777, 0666u);
}

TEST(Owners, SetuidSurvivesChown) {
  BERTH_REQUIRE_ROOT();
  TempDir t("owners");
  TarEntry f = File("suid", "x", 06755);
  f.uid = 4242;
  f.gid = 4343;
  ASSERT_THAT(ApplyBytes(t.path(), MakeTar({f})), IsOk());

  struct stat st {};

  ASSERT_EQ(::lstat((t / "suid").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 4242u);
  EXPECT_EQ(st.st_gid, 4343u);
  EXPECT_EQ(st.st_mode & 07777, 06755u);
}

}  // namespace
}  // namespace berth::archive
