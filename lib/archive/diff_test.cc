// WriteDiff and WriteOverlayUpperDiff without root: files, links, whiteouts, skipped sockets,
// errors. (Owners, devices and real overlay mounts are in roundtrip_test.cc, label root.)

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "lib/archive/layer.h"
#include "lib/archive/test_tar.h"
#include "lib/base/unique_fd.h"
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
using ::testing::ElementsAre;
using namespace ::berth::archive::testing;  // NOLINT(google-build-using-namespace): test helpers

struct Listed {
  std::string name;
  std::string hardlink;
};

std::vector<std::string> Names(const std::string& tar, std::vector<Listed>* full = nullptr) {
  std::vector<std::string> names;
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_memory(a, tar.data(), tar.size()), ARCHIVE_OK);
  struct archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    names.emplace_back(archive_entry_pathname(e));
    if (full != nullptr) {
      const char* l = archive_entry_hardlink(e);
      full->push_back({names.back(), l ? l : ""});
    }
  }
  archive_read_free(a);
  return names;
}

std::string Diff(const fs::path& lower, const fs::path& upper, Compression c = Compression::kNone) {
  std::string out;
  auto sink = [&](std::string_view b) {
    out.append(b);
    return absl::OkStatus();
  };
  absl::StatusOr<DiffResult> r = WriteDiff(lower, upper, c, sink);
  EXPECT_THAT(r, IsOk());
  if (r.ok()) {
    EXPECT_EQ(r->compressed_size, static_cast<int64_t>(out.size()));
  }
  return out;
}

void SetMtime(const fs::path& p, time_t sec) {
  timespec ts[2] = {{sec, 0}, {sec, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW), 0);
}

TEST(WriteDiff, AddedTreeWithHardlinksAndSymlinks) {
  TempDir t("diff");
  fs::create_directories(t / "lower");
  fs::create_directories(t / "upper/a/b");
  WriteFile(t / "upper/a/b/f", "data");
  ASSERT_EQ(::link((t / "upper/a/b/f").c_str(), (t / "upper/a/g").c_str()), 0);
  fs::create_symlink("b/f", t / "upper/a/s");
  std::vector<Listed> full;
  EXPECT_THAT(Names(Diff(t / "lower", t / "upper"), &full),
              ElementsAre("a/", "a/b/", "a/b/f", "a/g", "a/s"));
  EXPECT_EQ(full[3].hardlink, "a/b/f");
}

TEST(WriteDiff, UnchangedTreesGiveAnEmptyLayer) {
  TempDir t("diff");
  std::string tar = MakeTar({Dir("d"), File("d/f", "x"), Symlink("l", "d/f")});
  for (const char* d : {"lower", "upper"}) {
    fs::create_directories(t / d);
    ASSERT_THAT(ApplyBytes(t / d, tar), IsOk());
  }
  EXPECT_THAT(Names(Diff(t / "lower", t / "upper")), ElementsAre());
}

TEST(WriteDiff, SameSizeSameSecondEditIsFoundByContent) {
  TempDir t("diff");
  std::string tar = MakeTar({File("f", "aaaa"), File("same", "bbbb")});
  for (const char* d : {"lower", "upper"}) {
    fs::create_directories(t / d);
    ASSERT_THAT(ApplyBytes(t / d, tar), IsOk());
  }
  WriteFile(t / "upper/f", "abcd");
  SetMtime(t / "upper/f", 1700000000);  // the tar's mtime: only the bytes differ
  EXPECT_THAT(Names(Diff(t / "lower", t / "upper")), ElementsAre("f"));
}

TEST(WriteDiff, RemovedAndRetypedEntries) {
  TempDir t("diff");
  std::string tar = MakeTar({Dir("d"), File("d/gone", "g"), File("d/keep", "k"), File("f2d", "f"),
                             Dir("d2f"), File("d2f/x", "x")});
  for (const char* d : {"lower", "upper", "target"}) {
    fs::create_directories(t / d);
    ASSERT_THAT(ApplyBytes(t / d, tar), IsOk());
  }
  fs::remove(t / "upper/d/gone");
  SetMtime(t / "upper/d", 1700000000);
  fs::remove(t / "upper/f2d");
  fs::create_directories(t / "upper/f2d");
  fs::remove_all(t / "upper/d2f");
  WriteFile(t / "upper/d2f", "now a file");
  std::string layer = Diff(t / "lower", t / "upper", Compression::kZstd);
  ASSERT_THAT(ApplyBytes(t / "target", layer), IsOk());
  EXPECT_FALSE(fs::exists(t / "target/d/gone"));
  EXPECT_EQ(ReadFile(t / "target/d/keep"), "k");
  EXPECT_TRUE(fs::is_directory(t / "target/f2d"));
  EXPECT_EQ(ReadFile(t / "target/d2f"), "now a file");
}

TEST(WriteDiff, SocketsAreSkipped) {
  TempDir t("diff");
  fs::create_directories(t / "lower");
  fs::create_directories(t / "upper");
  WriteFile(t / "upper/file", "f");
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = (t / "upper/sock").string();
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_THAT(Names(Diff(t / "lower", t / "upper")), ElementsAre("file"));
}

TEST(WriteDiff, MissingTreesAreNotFound) {
  TempDir t("diff");
  fs::create_directories(t / "upper");
  auto sink = [](std::string_view) { return absl::OkStatus(); };
  EXPECT_THAT(WriteDiff(t / "nope", t / "upper", Compression::kNone, sink),
              StatusIs(absl::StatusCode::kNotFound, "lower tree"));
  EXPECT_THAT(WriteOverlayUpperDiff(t / "nope", Compression::kNone, sink),
              StatusIs(absl::StatusCode::kNotFound, "overlay upperdir"));
}

TEST(WriteDiff, SinkErrorsComeBack) {
  TempDir t("diff");
  fs::create_directories(t / "lower");
  fs::create_directories(t / "upper");
  WriteFile(t / "upper/big", std::string(3 << 20, 'b'));
  auto sink = [](std::string_view) { return absl::UnavailableError("disk full"); };
  EXPECT_THAT(WriteDiff(t / "lower", t / "upper", Compression::kGzip, sink),
              StatusIs(absl::StatusCode::kUnavailable, "disk full"));
}

}  // namespace
}  // namespace berth::archive
