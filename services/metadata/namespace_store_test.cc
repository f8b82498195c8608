#include "services/metadata/namespace_store.h"

#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::metadata {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Pair;

class NamespaceStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Db::Open(dir_ / "meta.db");
    ASSERT_THAT(db, IsOk());
    db_ = *std::move(db);
    store_ = std::make_unique<NamespaceStore>(*db_);
  }

  testing::TempDir dir_{"ns"};
  std::unique_ptr<Db> db_;
  std::unique_ptr<NamespaceStore> store_;
};

TEST_F(NamespaceStoreTest, CreateGetListDelete) {
  ASSERT_THAT(store_->Create({"web", {{"team", "a"}}}), IsOk());
  ASSERT_THAT(store_->Create({"k8s.io", {}}), IsOk());
  auto got = store_->Get("web");
  ASSERT_THAT(got, IsOk());
  EXPECT_THAT(got->labels, ElementsAre(Pair("team", "a")));
  auto all = store_->List();
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "k8s.io");
  EXPECT_EQ((*all)[1].name, "web");
  EXPECT_THAT(store_->Delete("web"), IsOk());
  EXPECT_THAT(store_->Get("web"), StatusIs(absl::StatusCode::kNotFound, "namespace \"web\""));
}

TEST_F(NamespaceStoreTest, Errors) {
  ASSERT_THAT(store_->Create({"web", {}}), IsOk());
  EXPECT_THAT(store_->Create({"web", {}}),
              StatusIs(absl::StatusCode::kAlreadyExists, "namespace \"web\": already exists"));
  EXPECT_THAT(store_->Create({"bad/name", {}}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Create({"ok", {{"", "v"}}}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Delete("missing"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Update({"missing", {}}, {}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Update({"web", {}}, {"name"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "cannot update field \"name\""));
}

TEST_F(NamespaceStoreTest, UpdateWithFieldPaths) {
  ASSERT_THAT(store_->Create({"web", {{"a", "1"}, {"b", "2"}}}), IsOk());
  // One key set, one removed (absent from the input), the rest kept.
  auto up = store_->Update({"web", {{"c", "3"}}}, {"labels.c", "labels.a"});
  ASSERT_THAT(up, IsOk());
  EXPECT_THAT(up->labels, ElementsAre(Pair("b", "2"), Pair("c", "3")));
  // No paths: replace all.
  up = store_->Update({"web", {{"z", "9"}}}, {});
  ASSERT_THAT(up, IsOk());
  EXPECT_THAT(up->labels, ElementsAre(Pair("z", "9")));
  EXPECT_THAT(store_->Get("web")->labels, ElementsAre(Pair("z", "9")));
}

TEST_F(NamespaceStoreTest, DeleteRefusesWhileObjectsRemain) {
  ASSERT_THAT(store_->Create({"web", {}}), IsOk());
  ASSERT_THAT(db_->Update([](Tx& tx) {
    return tx.Exec(
        "INSERT INTO images (namespace, name, target, created_at, updated_at) "
        "VALUES ('web', 'busybox', '{}', 1, 1);"
        "INSERT INTO leases (namespace, id, created_at) VALUES ('web', 'l1', 1);");
  }),
              IsOk());
  EXPECT_THAT(store_->Delete("web"),
              StatusIs(absl::StatusCode::kFailedPrecondition, "still has images, leases"));
  EXPECT_THAT(store_->Get("web"), IsOk());
}

TEST_F(NamespaceStoreTest, EnsureNamespaceCreatesOnce) {
  ASSERT_THAT(db_->Update([](Tx& tx) { return EnsureNamespace(tx, "default"); }), IsOk());
  ASSERT_THAT(db_->Update([](Tx& tx) { return EnsureNamespace(tx, "default"); }), IsOk());
  EXPECT_THAT(store_->Get("default"), IsOk());
  EXPECT_THAT(db_->Update([](Tx& tx) { return EnsureNamespace(tx, "a b"); }),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(NamespaceStoreTest, DataSurvivesReopen) {
  ASSERT_THAT(store_->Create({"persist", {{"k", "v"}}}), IsOk());
  store_.reset();
  db_.reset();
  auto db = Db::Open(dir_ / "meta.db");
  ASSERT_THAT(db, IsOk());
  NamespaceStore again(**db);
  auto got = again.Get("persist");
  ASSERT_THAT(got, IsOk());
  EXPECT_THAT(got->labels, ElementsAre(Pair("k", "v")));
}

}  // namespace
}  // namespace berth::metadata
