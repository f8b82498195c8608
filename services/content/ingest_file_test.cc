#include "services/content/ingest_file.h"

#include <signal.h>
#include <sys/resource.h>

#include <random>
#include <string>

#include "gtest/gtest.h"

#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::content {
namespace {

using ::berth::testing::IsOk;

std::string Sha(std::string_view data) {
  Sha256 h;
  h.Update(data.data(), data.size());
  return h.Digest();
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

std::string ReadAll(const std::filesystem::path& p) {
  std::string out;
  FILE* f = std::fopen(p.c_str(), "rb");
  if (f == nullptr)
    return out;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

class IngestFileTest : public ::testing::Test {
 protected:
  std::unique_ptr<IngestFile> Open() {
    auto f = IngestFile::Open(path_);
    EXPECT_THAT(f, IsOk());
    return f.ok() ? *std::move(f) : nullptr;
  }

  // Appends `data` in pieces of odd sizes, as a client's messages arrive.
  static void AppendInPieces(IngestFile& f, std::string_view data) {
    for (size_t i = 0, at = 0; at < data.size(); ++i) {
      size_t n = std::min(data.size() - at, 100000 + i * 40993);
      ASSERT_THAT(f.Append(data.substr(at, n)), IsOk());
      at += n;
    }
  }

  testing::TempDir dir_{"ingest-file"};
  std::filesystem::path path_ = dir_ / "data";
};

TEST_F(IngestFileTest, HashesAndWritesManyChunksInOrder) {
  const std::string data = RandomBytes((13 << 20) + 4097, 1);  // 6 full chunks and a tail
  auto f = Open();
  ASSERT_NE(f, nullptr);
  AppendInPieces(*f, data);
  EXPECT_EQ(f->size(), static_cast<int64_t>(data.size()));
  auto d = f->Digest();
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(*d, Sha(data));
  EXPECT_TRUE(ReadAll(path_) == data) << "the file holds exactly the appended bytes";
}

TEST_F(IngestFileTest, UsesDirectIoOnThisFilesystem) {
  auto f = Open();
  ASSERT_NE(f, nullptr);
  ASSERT_THAT(f->Append(RandomBytes(5 << 20, 2)), IsOk());
  ASSERT_THAT(f->Flush(), IsOk());
  // /tmp on the build machines is ext4, which takes O_DIRECT with 4 KiB alignment.
  EXPECT_TRUE(f->direct());
}

TEST_F(IngestFileTest, EmptyFile) {
  auto f = Open();
  ASSERT_NE(f, nullptr);
  auto d = f->Digest();
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(*d, Sha(""));
  EXPECT_EQ(std::filesystem::file_size(path_), 0u);
}

TEST_F(IngestFileTest, TruncateStartsOver) {
  auto f = Open();
  ASSERT_NE(f, nullptr);
  ASSERT_THAT(f->Append(RandomBytes(9 << 20, 3)), IsOk());
  ASSERT_THAT(f->Truncate(), IsOk());
  EXPECT_EQ(f->size(), 0);
  ASSERT_THAT(f->Append("fresh start"), IsOk());
  auto d = f->Digest();
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(*d, Sha("fresh start"));
  EXPECT_EQ(ReadAll(path_), "fresh start");
}

TEST_F(IngestFileTest, ResumesAtAnUnalignedOffset) {
  const std::string data = RandomBytes((7 << 20) + 12345, 4);
  const size_t first = (3 << 20) + 777;  // not a multiple of the block size
  {
    auto f = Open();
    ASSERT_NE(f, nullptr);
    AppendInPieces(*f, std::string_view(data).substr(0, first));
    ASSERT_THAT(f->Flush(), IsOk());
  }
  EXPECT_EQ(std::filesystem::file_size(path_), first);
  auto f = Open();  // as after the client went away
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->size(), static_cast<int64_t>(first));
  AppendInPieces(*f, std::string_view(data).substr(first));
  auto d = f->Digest();
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(*d, Sha(data)) << "the digest covers the resumed bytes too";
  EXPECT_TRUE(ReadAll(path_) == data);
}

TEST_F(IngestFileTest, WithoutFlushTheFileIsAPrefix) {
  const std::string data = RandomBytes((5 << 20) + 100, 5);
  {
    auto f = Open();
    ASSERT_NE(f, nullptr);
    AppendInPieces(*f, data);
  }  // as when berthd dies: queued chunks finish, the partial one is lost
  std::string on_disk = ReadAll(path_);
  EXPECT_EQ(on_disk.size(), 4u << 20) << "the two full 2 MiB chunks";
  EXPECT_TRUE(data.compare(0, on_disk.size(), on_disk) == 0);
  auto f = Open();
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->size(), static_cast<int64_t>(on_disk.size()));
  AppendInPieces(*f, std::string_view(data).substr(on_disk.size()));
  auto d = f->Digest();
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(*d, Sha(data));
}

// A write that fails (here EFBIG past RLIMIT_FSIZE, as ENOSPC would) surfaces as an error and
// leaves the file a prefix of the data, ready for a resume.
TEST_F(IngestFileTest, WriteErrorLeavesAPrefix) {
  struct rlimit old {};

  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);

  struct sigaction ign {
  }, old_sa{};

  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGXFSZ, &ign, &old_sa), 0);
  struct rlimit lim = old;
  lim.rlim_cur = (5 << 20) + 10;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &lim), 0);
  const std::string data = RandomBytes(12 << 20, 6);
  absl::Status s;
  {
    auto f = Open();
    ASSERT_NE(f, nullptr);
    for (size_t at = 0; at < data.size() && s.ok(); at += 1 << 20) {
      s = f->Append(std::string_view(data).substr(at, 1 << 20));
    }
    if (s.ok())
      s = f->Digest().status();
  }
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
  ASSERT_EQ(::sigaction(SIGXFSZ, &old_sa, nullptr), 0);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("write ingest data"), std::string::npos) << s;
  std::string on_disk = ReadAll(path_);
  EXPECT_EQ(on_disk.size(), 4u << 20) << "cut back to the last complete chunk";
  EXPECT_TRUE(data.compare(0, on_disk.size(), on_disk) == 0);
}

}  // namespace
}  // namespace berth::content
