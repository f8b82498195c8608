#include "services/content/file_hasher.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"

#include "lib/base/unique_fd.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::content {
namespace {

using ::berth::testing::IsOk;

std::string Sha(const std::string& data) {
  Sha256 h;
  h.Update(data.data(), data.size());
  return h.Digest();
}

class FileHasherTest : public ::testing::Test {
 protected:
  void Append(const std::string& data) {
    ASSERT_EQ(::pwrite(fd_.get(), data.data(), data.size(), size_),
              static_cast<ssize_t>(data.size()));
    size_ += static_cast<int64_t>(data.size());
    hasher_.Advance(size_);
  }

  testing::TempDir dir_{"hasher"};
  UniqueFd fd_{::open((dir_ / "data").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)};
  int64_t size_ = 0;
  FileHasher hasher_{fd_.get()};
};

TEST_F(FileHasherTest, FollowsTheWriterChunkByChunk) {
  std::string all;
  for (int i = 0; i < 50; ++i) {
    std::string chunk(100000 + i * 4099, static_cast<char>('a' + i % 26));
    Append(chunk);
    all += chunk;
  }
  auto d = hasher_.Digest();
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(*d, Sha(all));
}

TEST_F(FileHasherTest, ResetStartsOver) {
  Append(std::string(9 << 20, 'x'));
  ASSERT_EQ(::ftruncate(fd_.get(), 0), 0);
  size_ = 0;
  hasher_.Reset();
  Append("fresh start");
  auto d = hasher_.Digest();
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(*d, Sha("fresh start"));
}

TEST_F(FileHasherTest, EmptyFile) {
  auto d = hasher_.Digest();
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(*d, Sha(""));
}

}  // namespace
}  // namespace berth::content
