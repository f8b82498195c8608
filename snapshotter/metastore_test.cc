#include "snapshotter/metastore.h"

#include <sqlite3.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::snapshot {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::berth::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::Pair;

std::unique_ptr<MetaStore> Open(const TempDir& tmp) {
  absl::StatusOr<std::unique_ptr<MetaStore>> s = MetaStore::Open(tmp / "metadata.db");
  EXPECT_THAT(s, IsOk());
  return s.ok() ? std::move(*s) : nullptr;
}

TEST(MetaStore, InsertGetCommitChain) {
  TempDir tmp("meta");
  auto store = Open(tmp);
  ASSERT_NE(store, nullptr);
  auto tx = store->Begin();
  ASSERT_THAT(tx, IsOk());
  auto a = store->Insert(Kind::kActive, "a", 0, {{"x", "1"}}, 100);
  ASSERT_THAT(a, IsOk());
  EXPECT_THAT(store->Insert(Kind::kActive, "a", 0, {}, 100),
              StatusIs(absl::StatusCode::kAlreadyExists, "\"a\""));
  ASSERT_THAT(store->MarkCommitted(*a, "base", {{"y", "2"}}, Usage{4096, 3}, 200), IsOk());
  auto b = store->Insert(Kind::kView, "b", *a, {}, 300);
  ASSERT_THAT(b, IsOk());
  ASSERT_THAT(tx->Commit(), IsOk());

  auto base = store->Get("base");
  ASSERT_THAT(base, IsOk());
  EXPECT_EQ(base->kind, Kind::kCommitted);
  EXPECT_THAT(base->labels, ElementsAre(Pair("y", "2")));
  EXPECT_EQ(base->usage.size, 4096);
  EXPECT_EQ(base->usage.inodes, 3);
  EXPECT_EQ(base->created_at, 200);
  EXPECT_THAT(store->Get("a"), StatusIs(absl::StatusCode::kNotFound, "snapshot \"a\""));
  auto view = store->Get("b");
  ASSERT_THAT(view, IsOk());
  EXPECT_EQ(view->parent_key, "base");
  EXPECT_EQ(view->ToInfo().parent, "base");
  EXPECT_THAT(store->Chain(*b), IsOk());
  EXPECT_THAT(*store->Chain(*b), ElementsAre(*b, *a));
  EXPECT_EQ(*store->HasChildren(*a), true);
  EXPECT_EQ(*store->HasChildren(*b), false);
}

TEST(MetaStore, RollbackOnDestroyedTransaction) {
  TempDir tmp("meta");
  auto store = Open(tmp);
  ASSERT_NE(store, nullptr);
  {
    auto tx = store->Begin();
    ASSERT_THAT(tx, IsOk());
    ASSERT_THAT(store->Insert(Kind::kActive, "gone", 0, {}, 1), IsOk());
  }
  EXPECT_THAT(store->Get("gone"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(store->Ids()->empty());
}

TEST(MetaStore, ReopenKeepsRecordsAndLabels) {
  TempDir tmp("meta");
  {
    auto store = Open(tmp);
    ASSERT_NE(store, nullptr);
    auto tx = store->Begin();
    ASSERT_THAT(tx, IsOk());
    auto id = store->Insert(Kind::kActive, "default/1/sha256:abc", 0, {{"k", "v"}}, 5);
    ASSERT_THAT(id, IsOk());
    ASSERT_THAT(store->SetLabels(*id, {{"k", "w"}, {"l", ""}}, 6), IsOk());
    ASSERT_THAT(tx->Commit(), IsOk());
  }
  auto store = Open(tmp);
  ASSERT_NE(store, nullptr);
  auto r = store->Get("default/1/sha256:abc");
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->labels, ElementsAre(Pair("k", "w"), Pair("l", "")));
  EXPECT_EQ(r->updated_at, 6);
  auto all = store->All();
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 1u);
  // Deleting removes the labels with the record.
  auto tx = store->Begin();
  ASSERT_THAT(tx, IsOk());
  ASSERT_THAT(store->Delete(r->id), IsOk());
  ASSERT_THAT(tx->Commit(), IsOk());
  EXPECT_TRUE(store->All()->empty());
}

TEST(MetaStore, DeferredCommitIsKeptAndSyncLogWorks) {
  TempDir tmp("meta");
  {
    auto store = Open(tmp);
    ASSERT_NE(store, nullptr);
    EXPECT_THAT(store->SyncLog(), IsOk());  // nothing pending
    auto tx = store->Begin(Durability::kDeferred);
    ASSERT_THAT(tx, IsOk());
    ASSERT_THAT(store->Insert(Kind::kActive, "deferred", 0, {{"k", "v"}}, 1), IsOk());
    ASSERT_THAT(tx->Commit(), IsOk());
    EXPECT_THAT(store->SyncLog(), IsOk());
    // A synced transaction after a deferred one, and a rolled-back deferred one.
    auto synced = store->Begin();
    ASSERT_THAT(synced, IsOk());
    ASSERT_THAT(store->Insert(Kind::kActive, "synced", 0, {}, 2), IsOk());
    ASSERT_THAT(synced->Commit(), IsOk());
    {
      auto dropped = store->Begin(Durability::kDeferred);
      ASSERT_THAT(dropped, IsOk());
      ASSERT_THAT(store->Insert(Kind::kActive, "dropped", 0, {}, 3), IsOk());
    }
  }
  auto store = Open(tmp);
  ASSERT_NE(store, nullptr);
  auto r = store->Get("deferred");
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->labels, ElementsAre(Pair("k", "v")));
  EXPECT_THAT(store->Get("synced"), IsOk());
  EXPECT_THAT(store->Get("dropped"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(MetaStore, RefusesANewerSchema) {
  TempDir tmp("meta");
  { ASSERT_NE(Open(tmp), nullptr); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((tmp / "metadata.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_THAT(MetaStore::Open(tmp / "metadata.db"),
              StatusIs(absl::StatusCode::kFailedPrecondition, "schema version 99"));
}

}  // namespace
}  // namespace berth::snapshot
