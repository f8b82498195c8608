#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "lib/archive/layer.h"
#include "lib/archive/safe_fs.h"
#include "lib/archive/stream.h"
#include "lib/archive/test_tar.h"
#include "tests/testing/command.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::archive {
namespace {

namespace fs = std::filesystem;
using ::berth::testing::IsOk;
using ::berth::testing::ReadFile;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::berth::testing::WriteFile;
using namespace ::berth::archive::testing;  // NOLINT(google-build-using-namespace): test helpers

struct stat Lstat(const fs::path& p) {
  struct stat st {};

  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st;
}

// "sha256:<hex>" of a file, by the sha256sum program.
std::string Sha256Sum(const fs::path& p) {
  auto r = berth::testing::RunCommand({"sha256sum", p.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return "sha256:" + r.out.substr(0, 64);
}

TEST(CleanEntryPath, Table) {
  struct Case {
    std::string in, out;
  } ok[] = {{"a", "a"},          {"./a/b/", "a/b"},
            {"/abs/x", "abs/x"}, {"a//b/./c", "a/b/c"},
            {"a/../b", "b"},     {".", ""},
            {"./", ""},          {"a/b/../../c", "c"},
            {"../", "ESCAPE"},   {"a/../../b", "ESCAPE"}};

  for (const Case& c : ok) {
    absl::StatusOr<std::string> got = CleanEntryPath(c.in);
    if (c.out == "ESCAPE") {
      EXPECT_THAT(got, StatusIs(absl::StatusCode::kInvalidArgument, "escapes the root")) << c.in;
    } else {
      ASSERT_THAT(got, IsOk()) << c.in;
      EXPECT_EQ(*got, c.out) << c.in;
    }
  }
}

std::vector<TarEntry> SampleLayer() {
  TarEntry exe = File("usr/bin/tool", "#!/bin/sh\necho hi\n", 0755);
  exe.mtime = 1600000000;
  TarEntry d = Dir("usr/share");
  d.mtime = 1500000000;
  return {Dir("usr"),
          Dir("usr/bin"),
          exe,
          d,
          File("usr/share/doc.txt", std::string(300000, 'x')),
          Symlink("usr/bin/alias", "tool"),
          Hardlink("usr/bin/tool2", "usr/bin/tool"),
          File("etc/missing-parent/conf", "k=v\n")};
}

void ExpectSampleTree(const fs::path& root) {
  EXPECT_EQ(ReadFile(root / "usr/bin/tool"), "#!/bin/sh\necho hi\n");
  struct stat tool = Lstat(root / "usr/bin/tool");
  EXPECT_EQ(tool.st_mode & 07777, 0755u);
  EXPECT_EQ(tool.st_mtim.tv_sec, 1600000000);
  EXPECT_EQ(tool.st_nlink, 2u);
  EXPECT_EQ(Lstat(root / "usr/bin/tool2").st_ino, tool.st_ino);
  EXPECT_EQ(fs::read_symlink(root / "usr/bin/alias"), "tool");
  EXPECT_EQ(ReadFile(root / "usr/share/doc.txt").size(), 300000u);
  // Directory times are set after their contents were written.
  EXPECT_EQ(Lstat(root / "usr/share").st_mtim.tv_sec, 1500000000);
  EXPECT_EQ(ReadFile(root / "etc/missing-parent/conf"), "k=v\n");
  EXPECT_EQ(Lstat(root / "etc/missing-parent").st_mode & 07777, 0755u);
}

class ApplyTest : public ::testing::TestWithParam<Compression> {};

TEST_P(ApplyTest, AppliesAndReportsDigests) {
  TempDir t("archive");
  std::string tar = MakeTar(SampleLayer());
  std::string layer = Compress(tar, GetParam());
  if (GetParam() != Compression::kNone) {
    ASSERT_NE(layer, tar);
  }
  WriteFile(t / "layer", layer);
  WriteFile(t / "layer.tar", tar);
  fs::create_directory(t / "root");
  absl::StatusOr<ApplyResult> r = ApplyBytes(t / "root", layer);
  ASSERT_THAT(r, IsOk());
  ExpectSampleTree(t / "root");
  EXPECT_EQ(r->compressed_digest, Sha256Sum(t / "layer"));
  EXPECT_EQ(r->uncompressed_digest, Sha256Sum(t / "layer.tar"));
  EXPECT_EQ(r->compressed_size, static_cast<int64_t>(layer.size()));
  EXPECT_EQ(r->uncompressed_size, static_cast<int64_t>(tar.size()));
}

INSTANTIATE_TEST_SUITE_P(Compressions, ApplyTest,
                         ::testing::Values(Compression::kNone, Compression::kGzip,
                                           Compression::kZstd));

// What LayerWriter writes is plain gzip and zstd to the standard tools.
TEST(LayerWriter, StandardToolsDecodeIt) {
  TempDir t("archive");
  std::string tar = MakeTar(SampleLayer());
  WriteFile(t / "layer.tar", tar);
  WriteFile(t / "layer.gz", Compress(tar, Compression::kGzip));
  auto r = berth::testing::RunCommand(
      {"sh", "-c",
       "gzip -dc " + (t / "layer.gz").string() + " | cmp - " + (t / "layer.tar").string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  if (berth::testing::HaveProgram("zstd")) {
    WriteFile(t / "layer.zst", Compress(tar, Compression::kZstd));
    r = berth::testing::RunCommand(
        {"sh", "-c",
         "zstd -dc " + (t / "layer.zst").string() + " | cmp - " + (t / "layer.tar").string()});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  }
}

TEST(Apply, TinyReadsStillWork) {
  TempDir t("archive");
  std::string layer = Compress(MakeTar(SampleLayer()), Compression::kGzip);
  StringSource src(layer, /*chunk=*/7);
  ASSERT_THAT(ApplyLayer(t.path(), src, ApplyOptions()), IsOk());
  ExpectSampleTree(t.path());
}

TEST(Apply, MultiMemberGzip) {
  TempDir t("archive");
  std::string tar = MakeTar({File("a", "1"), File("b", "2")});
  std::string half1 = tar.substr(0, 700), half2 = tar.substr(700);
  std::string layer = Compress(half1, Compression::kGzip) + Compress(half2, Compression::kGzip);
  absl::StatusOr<ApplyResult> r = ApplyBytes(t.path(), layer);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(ReadFile(t / "b"), "2");
  EXPECT_EQ(r->uncompressed_size, static_cast<int64_t>(tar.size()));
}

TEST(Apply, GzipTrailingGarbageFails) {
  TempDir t("archive");
  std::string layer = Compress(MakeTar({File("a", "1")}), Compression::kGzip) + "garbage";
  EXPECT_THAT(ApplyBytes(t.path(), layer),
              StatusIs(absl::StatusCode::kDataLoss, "trailing data after the end"));
}

TEST(Apply, GzipChecksumMismatchFails) {
  TempDir t("archive");
  std::string layer = Compress(MakeTar({File("a", std::string(5000, 'q'))}), Compression::kGzip);
  layer[layer.size() - 6] ^= 0x55;  // inside the CRC32 of the trailer
  EXPECT_THAT(ApplyBytes(t.path(), layer), StatusIs(absl::StatusCode::kDataLoss, "gzip"));
}

// umoci 0.4 ends layers right after the last file's data: no padding, no end blocks. Go's
// archive/tar (containerd, Docker) reads them; so must we, but only when the cut is exactly
// at the end of the last entry's data.
TEST(Apply, LayerEndingRightAfterTheLastFilesDataIsRead) {
  TempDir t("archive");
  std::string tar = MakeTar({File("a", "1"), File("last", "b\n")});
  size_t data_end = tar.rfind("b\n") + 2;
  std::string cut = tar.substr(0, data_end);
  absl::StatusOr<ApplyResult> r = ApplyBytes(t.path(), Compress(cut, Compression::kGzip));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(ReadFile(t / "last"), "b\n");
  EXPECT_EQ(r->uncompressed_size, static_cast<int64_t>(cut.size())) << "digests cover real bytes";

  TempDir t2("archive");
  std::string short_data = MakeTar({File("a", "1"), File("last", std::string(300, 'x'))});
  size_t start = short_data.find(std::string(300, 'x'));
  EXPECT_THAT(ApplyBytes(t2.path(), short_data.substr(0, start + 200)),
              StatusIs(absl::StatusCode::kDataLoss, "truncated"))
      << "a file cut inside its last block is not completed with zeros";
}

TEST(Apply, EmptyStreamIsAnEmptyLayer) {
  TempDir t("archive");
  absl::StatusOr<ApplyResult> r = ApplyBytes(t.path(), "");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->uncompressed_digest,
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Apply, MissingRootIsNotFound) {
  TempDir t("archive");
  EXPECT_THAT(ApplyBytes(t / "nope", MakeTar({File("a", "1")})),
              StatusIs(absl::StatusCode::kNotFound, "nope"));
}

TEST(Apply, WhiteoutsRemoveLowerEntries) {
  TempDir t("archive");
  ASSERT_THAT(ApplyBytes(t.path(),
                         MakeTar({Dir("keep"), File("keep/a", "a"), File("gone", "g"), Dir("tree"),
                                  File("tree/deep/x", "x"), Dir("opq"), File("opq/old1", "1"),
                                  Dir("opq/olddir"), File("opq/olddir/f", "f")})),
              IsOk());
  std::string layer2 =
      MakeTar({File(".wh.gone", ""), File("keep/b", "b"), File(".wh.tree", ""), Dir("opq"),
               File("opq/before", "written before the marker"), File("opq/.wh..wh..opq", ""),
               File("opq/after", "after"), File(".wh.never-existed", "")});
  ASSERT_THAT(ApplyBytes(t.path(), layer2), IsOk());
  EXPECT_FALSE(fs::exists(t / "gone"));
  EXPECT_FALSE(fs::exists(t / "tree"));
  EXPECT_EQ(ReadFile(t / "keep/a"), "a");
  EXPECT_EQ(ReadFile(t / "keep/b"), "b");
  EXPECT_FALSE(fs::exists(t / "opq/old1"));
  EXPECT_FALSE(fs::exists(t / "opq/olddir"));
  EXPECT_EQ(ReadFile(t / "opq/before"), "written before the marker");
  EXPECT_EQ(ReadFile(t / "opq/after"), "after");
  EXPECT_FALSE(fs::exists(t / ".wh.gone"));
  EXPECT_FALSE(fs::exists(t / "opq/.wh..wh..opq"));
}

TEST(Apply, WhiteoutsInMissingDirectories) {
  TempDir t("archive");
  std::string layer =
      MakeTar({File("x/y/.wh.z", ""), File("o/.wh..wh..opq", ""),
               File(".wh..wh.plnk/123.456", "aufs hardlink store"), Dir(".wh..wh.plnk")});
  ASSERT_THAT(ApplyBytes(t / "", layer), IsOk());
  EXPECT_TRUE(fs::is_empty(t.path())) << "kRemove makes no directory for a whiteout";

  TempDir t2("archive");
  ASSERT_THAT(ApplyBytes(t2.path(), MakeTar({File("x/y/.wh..wh..opq", "")}),
                         {.whiteouts = Whiteouts::kOverlay}),
              ::testing::AnyOf(IsOk(), StatusIs(absl::StatusCode::kPermissionDenied)));
  EXPECT_TRUE(fs::is_directory(t2 / "x/y")) << "kOverlay needs the directory in the upperdir";
}

TEST(Apply, ReplacesEntriesOfAnotherType) {
  TempDir t("archive");
  ASSERT_THAT(ApplyBytes(t.path(), MakeTar({File("f2d", "file"), Dir("d2f"), File("d2f/x", "x"),
                                            Symlink("l2f", "f2d"), File("f2l", "x")})),
              IsOk());
  ASSERT_THAT(
      ApplyBytes(t.path(), MakeTar({Dir("f2d"), File("f2d/in", "in"), File("d2f", "now"),
                                    File("l2f", "not through the link"), Symlink("f2l", "d2f")})),
      IsOk());
  EXPECT_TRUE(fs::is_directory(t / "f2d"));
  EXPECT_EQ(ReadFile(t / "f2d/in"), "in");
  EXPECT_EQ(ReadFile(t / "d2f"), "now");
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(t / "l2f")));
  EXPECT_EQ(ReadFile(t / "l2f"), "not through the link");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(t / "f2l")));
}

TEST(Apply, FollowsSymlinksThatStayInside) {
  TempDir t("archive");
  ASSERT_THAT(
      ApplyBytes(t.path(), MakeTar({Dir("real"), Symlink("rel", "real"), Symlink("a/b", "../real"),
                                    File("rel/one", "1"), File("a/b/two", "2")})),
      IsOk());
  EXPECT_EQ(ReadFile(t / "real/one"), "1");
  EXPECT_EQ(ReadFile(t / "real/two"), "2");
}

TEST(Apply, FifoAndModes) {
  TempDir t("archive");
  TarEntry fifo;
  fifo.name = "run/pipe";
  fifo.type = AE_IFIFO;
  fifo.perm = 0620;
  ASSERT_THAT(ApplyBytes(t.path(), MakeTar({fifo, File("ro", "r", 0400), Dir("sticky", 01777)})),
              IsOk());
  EXPECT_TRUE(S_ISFIFO(Lstat(t / "run/pipe").st_mode));
  EXPECT_EQ(Lstat(t / "run/pipe").st_mode & 07777, 0620u);
  EXPECT_EQ(Lstat(t / "ro").st_mode & 07777, 0400u);
  EXPECT_EQ(Lstat(t / "sticky").st_mode & 07777, 01777u);
}

TEST(Apply, NonAsciiNamesKeepTheirBytes) {
  TempDir t("archive");
  std::string utf8 = "caf\xc3\xa9";     // UTF-8, stored in a PAX path record by libarchive
  std::string latin1 = "na\xefve.txt";  // not UTF-8: raw bytes in the ustar header
  ASSERT_THAT(ApplyBytes(t.path(), MakeTar({File(utf8, "u"), File(latin1, "l"),
                                            Symlink("link-" + utf8, utf8)})),
              IsOk());
  EXPECT_EQ(ReadFile(t / utf8), "u");
  EXPECT_EQ(ReadFile(t / latin1), "l");
  EXPECT_EQ(fs::read_symlink(t / ("link-" + utf8)).string(), utf8);
}

}  // namespace
}  // namespace berth::archive
