// The malicious-layer corpus: every layer is built here with libarchive's writer, applied
// into <tmp>/root, and must fail with a clear error while nothing outside the root changes.
// Escape targets point into the sibling <tmp>/outside (never at real system paths, except
// the hardlink-to-/etc/passwd cases, which can at worst link, never write, and are checked).

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "lib/archive/layer.h"
#include "lib/archive/test_tar.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::archive {
namespace {

namespace fs = std::filesystem;
using ::berth::testing::ReadFile;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::berth::testing::WriteFile;
using namespace ::berth::archive::testing;  // NOLINT(google-build-using-namespace): test helpers

struct Snapshot {
  std::vector<std::string> outside;  // names below <tmp>/outside, and <tmp> itself
  struct stat secret, passwd;
};

class CorpusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directory(root_);
    fs::create_directory(outside_);
    WriteFile(outside_ / "secret", "do not touch");
    before_ = Take();
  }

  Snapshot Take() {
    Snapshot s{};
    for (const auto& e : fs::recursive_directory_iterator(outside_))
      s.outside.push_back(e.path().string());
    for (const auto& e : fs::directory_iterator(t_.path())) s.outside.push_back(e.path().string());
    EXPECT_EQ(::lstat((outside_ / "secret").c_str(), &s.secret), 0);
    EXPECT_EQ(::lstat("/etc/passwd", &s.passwd), 0);
    return s;
  }

  // Applies `layer`, expects `code` and `message` in the error, and checks nothing outside
  // the root was created or changed.
  void ExpectRejected(const std::string& layer, absl::StatusCode code, const std::string& message,
                      ApplyOptions opts = ApplyOptions()) {
    absl::StatusOr<ApplyResult> r = ApplyBytes(root_, layer, opts);
    EXPECT_THAT(r, StatusIs(code, message));
    Snapshot after = Take();
    EXPECT_EQ(after.outside, before_.outside) << "something appeared next to the root";
    EXPECT_EQ(ReadFile(outside_ / "secret"), "do not touch");
    EXPECT_EQ(after.secret.st_nlink, before_.secret.st_nlink);
    EXPECT_EQ(after.secret.st_mtim.tv_nsec, before_.secret.st_mtim.tv_nsec);
    EXPECT_EQ(after.passwd.st_nlink, before_.passwd.st_nlink);
    EXPECT_EQ(after.passwd.st_mtim.tv_sec, before_.passwd.st_mtim.tv_sec);
    EXPECT_EQ(after.passwd.st_mtim.tv_nsec, before_.passwd.st_mtim.tv_nsec);
    EXPECT_EQ(after.passwd.st_ctim.tv_nsec, before_.passwd.st_ctim.tv_nsec);
  }

  TempDir t_{"corpus"};
  fs::path root_ = t_ / "root";
  fs::path outside_ = t_ / "outside";
  Snapshot before_;
};

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;
constexpr auto kDataLoss = absl::StatusCode::kDataLoss;

TEST_F(CorpusTest, PathTraversal) {
  ExpectRejected(MakeTar({File("../../x", "x")}), kInvalid,
                 "entry \"../../x\": \"..\" escapes the root");
  ExpectRejected(MakeTar({File("a/../../outside/pwned", "x")}), kInvalid, "escapes the root");
}

TEST_F(CorpusTest, AbsoluteSymlinkEscapeThenFileThroughIt) {
  ExpectRejected(MakeTar({Symlink("evil", outside_.string()), File("evil/pwned", "x")}), kInvalid,
                 "layer entry \"evil/pwned\": directory \"evil\": path goes through a symlink "
                 "that leads outside the root");
}

TEST_F(CorpusTest, RelativeSymlinkEscapeThenFileThroughIt) {
  ExpectRejected(MakeTar({Symlink("evil", "../outside"), File("evil/pwned", "x")}), kInvalid,
                 "symlink that leads outside the root");
  ExpectRejected(MakeTar({Dir("sub"), Symlink("sub/evil", "../../outside"),
                          File("sub/evil/deeper/pwned", "x")}),
                 kInvalid, "symlink that leads outside the root");
}

TEST_F(CorpusTest, SymlinkChainThenFileThroughIt) {
  // Each link looks harmless alone; together they lead out.
  ExpectRejected(
      MakeTar({Symlink("a", "b"), Symlink("b", outside_.string()), File("a/pwned", "x")}), kInvalid,
      "symlink that leads outside the root");
}

TEST_F(CorpusTest, SymlinkThenHardlinkThroughIt) {
  ExpectRejected(MakeTar({Symlink("evil", "../outside"), Hardlink("stolen", "evil/secret")}),
                 kInvalid, "hardlink target \"evil/secret\"");
}

TEST_F(CorpusTest, HardlinkToEtcPasswd) {
  ExpectRejected(MakeTar({Hardlink("passwd", "/etc/passwd")}), kInvalid,
                 "hardlink target \"etc/passwd\" does not exist");
  ExpectRejected(MakeTar({Hardlink("passwd", "../../../../../../../../etc/passwd")}), kInvalid,
                 "escapes the root");
  ExpectRejected(MakeTar({Hardlink("secret", (outside_ / "secret").string())}), kInvalid,
                 "does not exist");
  ExpectRejected(MakeTar({Hardlink("secret", "../outside/secret")}), kInvalid,
                 "hardlink target: entry \"../outside/secret\": \"..\" escapes the root");
}

TEST_F(CorpusTest, HardlinkToADirectory) {
  ExpectRejected(MakeTar({Dir("d"), Hardlink("l", "d")}), kInvalid, "is a directory");
}

TEST_F(CorpusTest, DeviceNodes) {
  TarEntry chr;
  chr.name = "dev/mem";
  chr.type = AE_IFCHR;
  chr.rdev = makedev(1, 1);
  ExpectRejected(MakeTar({chr}), kInvalid,
                 "layer entry \"dev/mem\": character device nodes are not allowed");
  TarEntry blk;
  blk.name = "dev/sda";
  blk.type = AE_IFBLK;
  blk.rdev = makedev(8, 0);
  ExpectRejected(MakeTar({blk}), kInvalid, "block device nodes are not allowed");
  EXPECT_FALSE(fs::exists(root_ / "dev/mem"));
}

TEST_F(CorpusTest, TruncatedGzip) {
  std::string gz = Compress(MakeTar({File("big", std::string(200000, 'z'))}), Compression::kGzip);
  ExpectRejected(gz.substr(0, gz.size() / 2), kDataLoss, "gzip: stream truncated");
  ExpectRejected(gz.substr(0, gz.size() - 4), kDataLoss, "gzip: stream truncated");
}

TEST_F(CorpusTest, CorruptGzip) {
  std::string gz = Compress(MakeTar({File("big", std::string(200000, 'z'))}), Compression::kGzip);
  for (size_t i = 20; i < 60; ++i) gz[i] = static_cast<char>(gz[i] ^ 0xa5);
  ExpectRejected(gz, kDataLoss, "gzip: corrupt stream");
}

TEST_F(CorpusTest, CorruptZstd) {
  std::string data;
  for (int i = 0; i < 50000; ++i) data += std::to_string(i * 7919);
  std::string zst = Compress(MakeTar({File("f", data)}), Compression::kZstd);
  std::string corrupt = zst;
  for (size_t i = zst.size() / 2; i < zst.size() / 2 + 64; ++i)
    corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
  ExpectRejected(corrupt, kDataLoss, "zstd: corrupt stream");
  ExpectRejected(zst.substr(0, zst.size() - 10), kDataLoss, "zstd: stream truncated");
}

TEST_F(CorpusTest, TruncatedTar) {
  std::string tar = MakeTar({File("big", std::string(100000, 'z')), File("next", "n")});
  ExpectRejected(tar.substr(0, 50000), kInvalid, "malformed tar");
}

TEST_F(CorpusTest, TenThousandDeepPath) {
  std::string deep;
  for (int i = 0; i < 10000; ++i) deep += "d/";
  deep += "leaf";
  ExpectRejected(MakeTar({File(deep, "x")}), kInvalid, "name is longer than PATH_MAX");
  std::string deep2;  // within PATH_MAX, but too deep
  for (int i = 0; i < 2000; ++i) deep2 += "d/";
  ExpectRejected(MakeTar({File(deep2 + "x", "x")}), kInvalid, "deeper than 1024 components");
  EXPECT_FALSE(fs::exists(root_ / "d"));
}

TEST_F(CorpusTest, LongSymlinkTarget) {
  ExpectRejected(MakeTar({Symlink("l", std::string(5000, 'a'))}), kInvalid,
                 "symlink target is longer than PATH_MAX");
}

TEST_F(CorpusTest, EntryOverASymlinkReplacesTheLinkNotItsTarget) {
  // Not an error: the file takes the link's place; the link's target stays untouched.
  absl::StatusOr<ApplyResult> r = ApplyBytes(
      root_, MakeTar({Symlink("victim", (outside_ / "secret").string()), File("victim", "mine")}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ReadFile(root_ / "victim"), "mine");
  EXPECT_FALSE(fs::is_symlink(fs::symlink_status(root_ / "victim")));
  EXPECT_EQ(ReadFile(outside_ / "secret"), "do not touch");
  // Same with a whiteout over a link to a directory outside: only the link goes.
  r = ApplyBytes(root_, MakeTar({Symlink("dirlink", outside_.string()), File(".wh.dirlink", "")}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(fs::exists(fs::symlink_status(root_ / "dirlink")));
  EXPECT_EQ(ReadFile(outside_ / "secret"), "do not touch");
}

TEST_F(CorpusTest, OpaqueMarkerThroughSymlinkIsRejected) {
  ExpectRejected(MakeTar({Symlink("evil", "../outside"), File("evil/.wh..wh..opq", "")}), kInvalid,
                 "symlink that leads outside the root");
  ExpectRejected(MakeTar({Symlink("evil", "../outside"), File("evil/.wh.secret", "")}), kInvalid,
                 "symlink that leads outside the root");
}

// Random byte flips in a small layer full of links: whatever the result, nothing outside the
// root changes (and nothing crashes). Deterministic seed, so a failure reproduces.
TEST_F(CorpusTest, RandomMutationsNeverEscape) {
  std::string tar =
      MakeTar({Dir("d"), Symlink("d/up", "../.."), Symlink("abs", outside_.string()),
               File("d/f", "data"), Hardlink("d/h", "d/f"), Symlink("rel", "../outside"),
               File("d/.wh.x", ""), File("z", std::string(700, 'z'))});
  std::mt19937 rng(20261123);
  int failed = 0;
  for (int i = 0; i < 300; ++i) {
    std::string m = tar;
    int flips = 1 + static_cast<int>(rng() % 8);
    for (int f = 0; f < flips; ++f) m[rng() % m.size()] = static_cast<char>(rng() % 256);
    fs::path root = root_ / std::to_string(i);
    fs::create_directory(root);
    failed += ApplyBytes(root, rng() % 2 ? m : Compress(m, Compression::kGzip)).ok() ? 0 : 1;
  }
  Snapshot after = Take();
  EXPECT_EQ(after.outside, before_.outside);
  EXPECT_EQ(ReadFile(outside_ / "secret"), "do not touch");
  EXPECT_EQ(after.secret.st_nlink, before_.secret.st_nlink);
  EXPECT_EQ(after.passwd.st_nlink, before_.passwd.st_nlink);
  EXPECT_GT(failed, 0) << "the mutations should break some layers";
}

}  // namespace
}  // namespace berth::archive
