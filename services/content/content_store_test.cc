#include "services/content/content_store.h"

#include <filesystem>

#include "gtest/gtest.h"

#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::content {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

class ContentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = *metadata::Db::Open(dir_ / "meta.db");
    local_ = *LocalStore::Open(dir_ / "content");
    store_ = std::make_unique<ContentStore>(*db_, *local_);
  }

  std::string Ingest(const std::string& ns, const std::string& ref, const std::string& data,
                     Labels labels = {}) {
    auto w = store_->OpenWriter(ns, ref, 0, "");
    EXPECT_THAT(w, IsOk());
    EXPECT_THAT((*w)->Write(0, data), IsOk());
    auto d = store_->Commit(ns, **w, 0, "", labels);
    EXPECT_THAT(d, IsOk());
    return d.ok() ? *d : "";
  }

  testing::TempDir dir_{"cstore"};
  std::unique_ptr<metadata::Db> db_;
  std::unique_ptr<LocalStore> local_;
  std::unique_ptr<ContentStore> store_;
};

TEST_F(ContentStoreTest, NamespacesSeeOnlyTheirOwnContent) {
  std::string d = Ingest("a", "r", "payload", {{"k", "v"}});
  auto info = store_->Get("a", d);
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->size, 7);
  EXPECT_EQ(info->labels.at("k"), "v");
  EXPECT_THAT(store_->Get("b", d), StatusIs(absl::StatusCode::kNotFound, "content \"sha256:"));
  // Namespace b writing the same bytes shares the blob and sees AlreadyExists, then has it.
  EXPECT_THAT(store_->OpenWriter("b", "r", 7, d), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store_->Get("b", d), IsOk());
  EXPECT_THAT(store_->OpenWriter("a", "r2", 0, d), StatusIs(absl::StatusCode::kAlreadyExists));
}

// ctr's import writes an archive's files without knowing their digests; one that another
// namespace already has must still become this namespace's (importing the same image into a
// second namespace), and a second write of it in the same namespace is AlreadyExists.
TEST_F(ContentStoreTest, WritingABlobAnotherNamespaceHasWithoutItsDigestRecordsIt) {
  std::string d = Ingest("a", "r", "layer bytes", {{"k", "a"}});
  std::string in_b = Ingest("b", "tar-layer.tar", "layer bytes", {{"k", "b"}});
  EXPECT_EQ(in_b, d);
  auto info = store_->Get("b", d);
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->size, 11);
  EXPECT_EQ(info->labels.at("k"), "b");
  EXPECT_EQ(store_->Get("a", d)->labels.at("k"), "a");  // each namespace its own record
  auto w = store_->OpenWriter("b", "again", 0, "");
  ASSERT_THAT(w, IsOk());
  ASSERT_THAT((*w)->Write(0, "layer bytes"), IsOk());
  EXPECT_THAT(store_->Commit("b", **w, 0, "", {}), StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_F(ContentStoreTest, ErrorsNameTheClientsRef) {
  auto w = store_->OpenWriter("a", "my-ref", 0, "");
  ASSERT_THAT(w, IsOk());
  ASSERT_THAT((*w)->Write(0, "bytes"), IsOk());
  absl::StatusOr<std::string> d = store_->Commit("a", **w, 0, "sha256:" + std::string(64, '0'), {});
  EXPECT_THAT(d, StatusIs(absl::StatusCode::kFailedPrecondition,
                          "ref \"my-ref\": unexpected commit digest"));
  EXPECT_EQ(std::string(d.status().message()).find('@'), std::string::npos) << d.status();
}

TEST_F(ContentStoreTest, DeleteRemovesOnlyTheRecord) {
  std::string d = Ingest("a", "r", "shared");
  ASSERT_THAT(store_->Delete("a", d), IsOk());
  EXPECT_TRUE(std::filesystem::exists(local_->BlobPath(d)));  // the collector's job
  EXPECT_THAT(store_->Get("a", d), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Delete("a", d), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ContentStoreTest, CommitUnderALeaseIsHeldByIt) {
  ASSERT_THAT(db_->Update([](metadata::Tx& tx) {
    return tx.Exec(
        "INSERT INTO namespaces VALUES ('a', '{}', 1, 1);"
        "INSERT INTO leases (namespace, id, created_at) VALUES ('a', 'l1', 1);");
  }),
              IsOk());
  auto w = store_->OpenWriter("a", "r", 0, "");
  ASSERT_THAT(w, IsOk());
  ASSERT_THAT((*w)->Write(0, "leased"), IsOk());
  auto d = store_->Commit("a", **w, 0, "", {}, "l1");
  ASSERT_THAT(d, IsOk());
  int64_t held = 0;
  ASSERT_THAT(db_->View([&](metadata::Tx& tx) -> absl::Status {
    auto q = tx.Query("SELECT COUNT(*) FROM lease_resources WHERE lease = 'l1'");
    if (!q.ok())
      return q.status();
    (void)q->Step();
    held = q->Int(0);
    return absl::OkStatus();
  }),
              IsOk());
  EXPECT_EQ(held, 1);
  auto w2 = store_->OpenWriter("a", "r2", 0, "");
  ASSERT_THAT((*w2)->Write(0, "other"), IsOk());
  EXPECT_THAT(store_->Commit("a", **w2, 0, "", {}, "no-such-lease"),
              StatusIs(absl::StatusCode::kNotFound, "lease \"no-such-lease\""));
}

// As containerd: a client told that a blob exists (and so will not write it) has it held by its
// lease, whether the blob was in the namespace already or in another one; before, a blob that
// nothing referred to any more could be collected between that answer and the client's use.
TEST_F(ContentStoreTest, WriteOfAnExistingBlobUnderALeaseIsHeldByIt) {
  std::string d = Ingest("a", "r", "existing");
  ASSERT_THAT(db_->Update([](metadata::Tx& tx) {
    return tx.Exec(
        "INSERT INTO namespaces VALUES ('b', '{}', 1, 1);"
        "INSERT INTO leases (namespace, id, created_at) VALUES ('a', 'la', 1), ('b', 'lb', 1);");
  }),
              IsOk());
  EXPECT_THAT(store_->OpenWriter("a", "r2", 0, d, "la"),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store_->OpenWriter("b", "r2", 8, d, "lb"),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store_->Get("b", d), IsOk());
  int64_t held = 0;
  ASSERT_THAT(db_->View([&](metadata::Tx& tx) -> absl::Status {
    auto q = tx.Query("SELECT COUNT(*) FROM lease_resources WHERE id = ? AND type = 'content'");
    if (!q.ok())
      return q.status();
    q->Bind(1, d);
    (void)q->Step();
    held = q->Int(0);
    return absl::OkStatus();
  }),
              IsOk());
  EXPECT_EQ(held, 2);
  EXPECT_THAT(store_->OpenWriter("a", "r3", 0, d, "no-such-lease"),
              StatusIs(absl::StatusCode::kNotFound, "lease \"no-such-lease\""));
}

TEST_F(ContentStoreTest, UpdateLabelsOnly) {
  std::string d = Ingest("a", "r", "x", {{"keep", "1"}});
  Info in;
  in.digest = d;
  in.labels = {{"new", "2"}};
  auto up = store_->Update("a", in, {"labels.new"});
  ASSERT_THAT(up, IsOk());
  EXPECT_EQ(up->labels, (Labels{{"keep", "1"}, {"new", "2"}}));
  in.labels.clear();
  EXPECT_THAT(store_->Update("a", in, {"size"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "cannot update field \"size\""));
}

TEST_F(ContentStoreTest, IngestsArePerNamespace) {
  auto w = store_->OpenWriter("a", "same-ref", 0, "");
  ASSERT_THAT(w, IsOk());
  ASSERT_THAT((*w)->Write(0, "abc"), IsOk());
  EXPECT_THAT(store_->OpenWriter("b", "same-ref", 0, ""), IsOk());  // not locked: another ns
  EXPECT_EQ(store_->ListStatuses("a").size(), 1u);
  EXPECT_EQ(store_->ListStatuses("a")[0].ref, "same-ref");
  EXPECT_THAT(store_->Status("c", "same-ref"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->OpenWriter("a", "/x/../y", 0, ""),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace berth::content
