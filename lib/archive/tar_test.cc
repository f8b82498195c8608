// TarWriter and TarReader without root: entries from bytes and from trees (links, modes,
// times, symlinks that are never followed), compressed input, and broken input.

#include "lib/archive/tar.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "lib/archive/layer.h"
#include "lib/archive/stream.h"
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
using ::testing::HasSubstr;

struct Read {
  std::vector<std::string> names;
  std::vector<std::string> data;  // of regular files, in order
  absl::Status status;
};

Read ReadAll(const std::string& tar) {
  size_t pos = 0;
  auto in = [&](char* buf, size_t len) -> absl::StatusOr<size_t> {
    size_t n = std::min(len, tar.size() - pos);
    std::memcpy(buf, tar.data() + pos, n);
    pos += n;
    return n;
  };
  TarReader r(in, "test.tar");
  Read out;
  while (true) {
    absl::StatusOr<std::optional<TarEntry>> e = r.Next();
    if (!e.ok()) {
      out.status = e.status();
      return out;
    }
    if (!*e)
      return out;
    out.names.push_back((*e)->name);
    if ((*e)->type == S_IFREG) {
      std::string d;
      char buf[7];  // small reads on purpose
      while (true) {
        absl::StatusOr<size_t> n = r.Read(buf, sizeof(buf));
        if (!n.ok()) {
          out.status = n.status();
          return out;
        }
        if (*n == 0)
          break;
        d.append(buf, *n);
      }
      out.data.push_back(d);
    }
  }
}

TEST(TarWriterTest, EntriesFromBytes) {
  std::string tar;
  auto out = [&](std::string_view b) {
    tar.append(b);
    return absl::OkStatus();
  };
  TarWriter w(out);
  ASSERT_THAT(w.AddFile("oci-layout", "{}"), IsOk());
  ASSERT_THAT(w.AddDirectory("blobs"), IsOk());
  ASSERT_THAT(w.BeginFile("blobs/big", 5000), IsOk());
  ASSERT_THAT(w.WriteData(std::string(2000, 'a')), IsOk());
  ASSERT_THAT(w.WriteData(std::string(3000, 'b')), IsOk());
  ASSERT_THAT(w.Close(), IsOk());
  Read r = ReadAll(tar);
  ASSERT_THAT(r.status, IsOk());
  EXPECT_THAT(r.names, ElementsAre("oci-layout", "blobs/", "blobs/big"));
  EXPECT_THAT(r.data, ElementsAre("{}", std::string(2000, 'a') + std::string(3000, 'b')));
}

TEST(TarWriterTest, TreeKeepsLinksModesTimesAndNeverFollowsSymlinks) {
  TempDir dir;
  fs::path src = dir / "src";
  fs::create_directories(src / "sub");
  WriteFile(src / "sub/file", "data");
  ASSERT_EQ(::chmod((src / "sub/file").c_str(), 0640), 0);
  ASSERT_EQ(::link((src / "sub/file").c_str(), (src / "hard").c_str()), 0);
  fs::create_symlink("/etc", src / "escape");
  ASSERT_EQ(::mkfifo((src / "fifo").c_str(), 0600), 0);
  struct timespec times[2] = {{1000000000, 123456789}, {1000000000, 123456789}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (src / "sub/file").c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
  // xattrs on a file and a directory (user.*: no privilege needed, where the filesystem has them).
  const bool xattrs = ::setxattr((src / "sub/file").c_str(), "user.berth", "on file", 7, 0) == 0;
  const int xattr_errno = errno;
  if (xattrs) {
    ASSERT_EQ(::setxattr((src / "sub").c_str(), "user.berth.dir", "on dir", 6, 0), 0);
  }

  std::string tar;
  auto out = [&](std::string_view b) {
    tar.append(b);
    return absl::OkStatus();
  };
  UniqueFd fd(::open(src.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  TarWriter w(out);
  ASSERT_THAT(w.AddTree(fd.get(), "", "copy"), IsOk());
  ASSERT_THAT(w.Close(), IsOk());
  Read r = ReadAll(tar);
  ASSERT_THAT(r.status, IsOk());
  EXPECT_THAT(r.names, ElementsAre("copy/", "copy/escape", "copy/fifo", "copy/hard", "copy/sub/",
                                   "copy/sub/file"));
  EXPECT_THAT(r.data, ElementsAre("data"));  // the second link is a tar hardlink, no data

  // Applied elsewhere, the tree comes back the same.
  fs::path dst = dir / "dst";
  fs::create_directories(dst);
  size_t pos = 0;
  auto in = [&](char* buf, size_t len) -> absl::StatusOr<size_t> {
    size_t n = std::min(len, tar.size() - pos);
    std::memcpy(buf, tar.data() + pos, n);
    pos += n;
    return n;
  };
  ASSERT_THAT(ApplyLayer(dst, in, ApplyOptions{}).status(), IsOk());
  struct stat a, b;
  ASSERT_EQ(::stat((dst / "copy/sub/file").c_str(), &a), 0);
  ASSERT_EQ(::stat((dst / "copy/hard").c_str(), &b), 0);
  EXPECT_EQ(a.st_mode & 07777, 0640u);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_mtim.tv_sec, 1000000000);
  EXPECT_EQ(a.st_mtim.tv_nsec, 123456789);
  EXPECT_EQ(fs::read_symlink(dst / "copy/escape"), "/etc");
  EXPECT_TRUE(fs::is_fifo(dst / "copy/fifo"));
  EXPECT_EQ(ReadFile(dst / "copy/hard"), "data");
  if (xattrs) {
    char v[16] = {};
    EXPECT_EQ(::getxattr((dst / "copy/sub/file").c_str(), "user.berth", v, sizeof(v)), 7);
    EXPECT_STREQ(v, "on file");
    std::memset(v, 0, sizeof(v));
    EXPECT_EQ(::getxattr((dst / "copy/sub").c_str(), "user.berth.dir", v, sizeof(v)), 6);
    EXPECT_STREQ(v, "on dir");
  } else {
    ADD_FAILURE() << "no user xattrs where the test's temporary directory is: "
                  << std::strerror(xattr_errno);
  }
}

TEST(TarWriterTest, SingleFileAndErrorsFromTheSink) {
  TempDir dir;
  WriteFile(dir / "one", "1");
  UniqueFd fd(::open((dir / "one").c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  auto fail = [](std::string_view) { return absl::UnavailableError("disk gone"); };
  TarWriter w(fail);
  absl::Status st = w.AddTree(fd.get(), "", "renamed");
  if (st.ok())
    st = w.Close();
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kUnavailable));

  std::string tar;
  auto out = [&](std::string_view b) {
    tar.append(b);
    return absl::OkStatus();
  };
  TarWriter ok(out);
  ASSERT_THAT(ok.AddTree(fd.get(), "", "renamed"), IsOk());
  ASSERT_THAT(ok.Close(), IsOk());
  EXPECT_THAT(ReadAll(tar).names, ElementsAre("renamed"));
}

TEST(TarReaderTest, CompressedTruncatedAndGarbage) {
  std::string tar;
  auto out = [&](std::string_view b) {
    tar.append(b);
    return absl::OkStatus();
  };
  TarWriter w(out);
  ASSERT_THAT(w.AddFile("a", std::string(100000, 'x')), IsOk());
  ASSERT_THAT(w.Close(), IsOk());

  std::string gz;
  auto gz_out = [&](std::string_view b) {
    gz.append(b);
    return absl::OkStatus();
  };
  LayerWriter lw(Compression::kGzip, gz_out);
  ASSERT_THAT(lw.Write(tar), IsOk());
  ASSERT_THAT(lw.Finish().status(), IsOk());
  Read r = ReadAll(gz);
  ASSERT_THAT(r.status, IsOk());
  EXPECT_THAT(r.names, ElementsAre("a"));
  EXPECT_EQ(r.data.at(0).size(), 100000u);

  r = ReadAll(tar.substr(0, 5000));
  EXPECT_FALSE(r.status.ok());
  EXPECT_THAT(std::string(r.status.message()), HasSubstr("test.tar"));
  r = ReadAll(gz.substr(0, gz.size() / 2));
  EXPECT_FALSE(r.status.ok());
  r = ReadAll(std::string(4096, 'x'));
  EXPECT_FALSE(r.status.ok());
  EXPECT_THAT(std::string(r.status.message()), HasSubstr("test.tar"));
}

}  // namespace
}  // namespace berth::archive
