#include "services/content/local_store.h"

#include <filesystem>

#include "gtest/gtest.h"

#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::content {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
namespace fs = std::filesystem;

std::string DigestOf(const std::string& data) {
  Sha256 h;
  h.Update(data.data(), data.size());
  return h.Digest();
}

class LocalStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = LocalStore::Open(dir_.path());
    ASSERT_THAT(s, IsOk());
    store_ = *std::move(s);
  }

  int IngestCount() const {
    return static_cast<int>(
        std::distance(fs::directory_iterator(dir_ / "ingest"), fs::directory_iterator()));
  }

  testing::TempDir dir_{"content"};
  std::unique_ptr<LocalStore> store_;
};

TEST_F(LocalStoreTest, KnownDigest) {
  EXPECT_EQ(DigestOf("hello\n"),
            "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
  EXPECT_THAT(
      ValidateDigest("sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"),
      IsOk());
  for (const char* bad : {"", "sha256:", "md5:abc", "sha256:ABCDEF",
                          "sha256:../../../../etc/passwd00000000000000000000000000000000000000"}) {
    EXPECT_THAT(ValidateDigest(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST_F(LocalStoreTest, WriteCommitRead) {
  const std::string data(3 << 20, 'x');
  auto w = store_->OpenWriter("ref1", static_cast<int64_t>(data.size()), DigestOf(data));
  ASSERT_THAT(w, IsOk());
  ASSERT_THAT((*w)->Write(0, std::string_view(data).substr(0, 1 << 20)), IsOk());
  ASSERT_THAT((*w)->Write(1 << 20, std::string_view(data).substr(1 << 20)), IsOk());
  auto c = (*w)->Commit(static_cast<int64_t>(data.size()), DigestOf(data));
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->digest, DigestOf(data));
  EXPECT_FALSE(c->existed);
  EXPECT_EQ(*store_->BlobSize(c->digest), static_cast<int64_t>(data.size()));
  EXPECT_EQ(testing::ReadFile(store_->BlobPath(c->digest)), data);
  w->reset();
  EXPECT_EQ(IngestCount(), 0);
  EXPECT_EQ(store_->ListBlobs(), std::vector<std::string>{c->digest});
}

TEST_F(LocalStoreTest, ResumeAfterTheWriterWentAway) {
  const std::string data = "0123456789abcdef";
  {
    auto w = store_->OpenWriter("resume", 16, "");
    ASSERT_THAT(w, IsOk());
    ASSERT_THAT((*w)->Write(0, data.substr(0, 10)), IsOk());
  }
  auto st = store_->Status("resume");
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(st->offset, 10);
  EXPECT_EQ(st->total, 16);
  auto store2 = LocalStore::Open(dir_.path());  // as after a daemon restart
  auto w = (*store2)->OpenWriter("resume", 16, "");
  ASSERT_THAT(w, IsOk());
  EXPECT_EQ((*w)->offset(), 10);
  ASSERT_THAT((*w)->Write(10, data.substr(10)), IsOk());
  auto c = (*w)->Commit(16, DigestOf(data));  // the hash covers the resumed part too
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->digest, DigestOf(data));
}

TEST_F(LocalStoreTest, BadInputLeavesNothingBehind) {
  auto w = store_->OpenWriter("bad", 0, "");
  ASSERT_THAT(w, IsOk());
  ASSERT_THAT((*w)->Write(0, "abc"), IsOk());
  EXPECT_THAT((*w)->Write(7, "zzz"), StatusIs(absl::StatusCode::kOutOfRange, "offset 7"));
  EXPECT_THAT(store_->OpenWriter("bad", 0, ""), StatusIs(absl::StatusCode::kUnavailable, "locked"));
  EXPECT_THAT((*w)->Commit(99, ""),
              StatusIs(absl::StatusCode::kFailedPrecondition, "unexpected commit size 3"));
  EXPECT_EQ(IngestCount(), 0);  // a failed check discards the ingest
  EXPECT_THAT((*w)->Write(3, "x"), StatusIs(absl::StatusCode::kFailedPrecondition, "discarded"));
  w->reset();

  auto w2 = store_->OpenWriter("bad2", 0, "");
  ASSERT_THAT(w2, IsOk());
  ASSERT_THAT((*w2)->Write(0, "abc"), IsOk());
  std::string wrong = DigestOf("not abc");
  EXPECT_THAT((*w2)->Commit(3, wrong),
              StatusIs(absl::StatusCode::kFailedPrecondition, "expected " + wrong));
  EXPECT_TRUE(store_->ListBlobs().empty());
  EXPECT_EQ(IngestCount(), 0);
  w2->reset();

  auto w3 = store_->OpenWriter("bad3", 0, "");
  ASSERT_THAT(w3, IsOk());
  w3->reset();
  EXPECT_THAT(store_->Abort("bad3"), IsOk());
  EXPECT_EQ(IngestCount(), 0);
  EXPECT_THAT(store_->Abort("bad3"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(LocalStoreTest, CommitOfABlobTheStoreHasGivesItsDigestAndDropsTheIngest) {
  for (int i = 0; i < 2; ++i) {
    auto w = store_->OpenWriter("dup" + std::to_string(i), 0, "");
    ASSERT_THAT(w, IsOk());
    ASSERT_THAT((*w)->Write(0, "same"), IsOk());
    auto c = (*w)->Commit(4, "");  // no expected digest: the commit computes it
    ASSERT_THAT(c, IsOk());
    EXPECT_EQ(c->digest, DigestOf("same"));
    EXPECT_EQ(c->existed, i == 1);
  }
  EXPECT_EQ(IngestCount(), 0);
  EXPECT_EQ(store_->ListBlobs(), std::vector<std::string>{DigestOf("same")});
}

TEST_F(LocalStoreTest, RefsThatReadAsPathTraversalAreRejected) {
  for (const char* bad : {"", "/etc/passwd", "../x", "a/../../b", "a b", "a\nb"}) {
    EXPECT_THAT(ValidateRef(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
  EXPECT_THAT(ValidateRef("layer-sha256:abc"), IsOk());
  EXPECT_THAT(ValidateRef("tar-88323d9f/VERSION"), IsOk());  // what ctr import sends
}

}  // namespace
}  // namespace berth::content
