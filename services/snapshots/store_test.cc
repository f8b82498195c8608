// SnapshotStore over a real SQLite database and the native snapshotter in a temp directory:
// namespaces, leases, the parent rules and the backend sweep.

#include "services/snapshots/store.h"

#include <filesystem>
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "services/metadata/lease_store.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::snapshots {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

class SnapshotStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    db_ = *metadata::Db::Open(dir_ / "meta.db");
    auto backend = snapshot::NewNative(dir_ / "native");
    ASSERT_THAT(backend, IsOk());
    backend_ = *std::move(backend);
    store_ = std::make_unique<SnapshotStore>("native", *db_, *backend_);
  }

  int BackendCount() {
    int n = 0;
    EXPECT_THAT(backend_->Walk([&](const snapshot::Info&) {
      ++n;
      return absl::OkStatus();
    }),
                IsOk());
    return n;
  }

  testing::TempDir dir_{"snapstore"};
  std::unique_ptr<metadata::Db> db_;
  std::unique_ptr<snapshot::Snapshotter> backend_;
  std::unique_ptr<SnapshotStore> store_;
};

TEST_F(SnapshotStoreTest, KeysArePerNamespace) {
  ASSERT_THAT(store_->Prepare("a", "k", "", {}), IsOk());
  ASSERT_THAT(store_->Prepare("b", "k", "", {}), IsOk());
  EXPECT_THAT(store_->Prepare("a", "k", "", {}), StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_THAT(store_->Commit("a", "base", "k", {{"x", "1"}}), IsOk());
  EXPECT_THAT(store_->Stat("b", "base"), StatusIs(absl::StatusCode::kNotFound));
  auto info = store_->Stat("a", "base");
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->kind, snapshot::Kind::kCommitted);
  EXPECT_EQ(info->labels.at("x"), "1");
  // A parent from another namespace does not exist here.
  EXPECT_THAT(store_->Prepare("b", "child", "base", {}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(store_->List("a")->size(), 1u);
  EXPECT_EQ(store_->List("b")->size(), 1u);
  EXPECT_EQ(BackendCount(), 2);
}

TEST_F(SnapshotStoreTest, ParentRules) {
  ASSERT_THAT(store_->Prepare("ns", "active", "", {}), IsOk());
  EXPECT_THAT(store_->Prepare("ns", "child", "active", {}),
              StatusIs(absl::StatusCode::kFailedPrecondition, "not committed"));
  ASSERT_THAT(store_->Commit("ns", "base", "active", {}), IsOk());
  EXPECT_THAT(store_->Stat("ns", "active"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(store_->View("ns", "view", "base", {}), IsOk());
  EXPECT_THAT(store_->Commit("ns", "x", "view", {}),
              StatusIs(absl::StatusCode::kFailedPrecondition, "not active"));
  EXPECT_THAT(store_->Remove("ns", "base"),
              StatusIs(absl::StatusCode::kFailedPrecondition, "child"));
  ASSERT_THAT(store_->Remove("ns", "view"), IsOk());
  ASSERT_THAT(store_->Remove("ns", "base"), IsOk());
  store_->WaitForRemovals();
  EXPECT_EQ(BackendCount(), 0);
}

// Remove deletes the record without a sync; the backend snapshot goes only once the deletion
// is durable, here at the next synced commit (the patience is far longer than the test).
TEST_F(SnapshotStoreTest, BackendSnapshotGoesOnceItsRecordsDeletionIsDurable) {
  SnapshotStore store("native", *db_, *backend_, absl::Minutes(10));
  ASSERT_THAT(store.Prepare("ns", "k", "", {}), IsOk());
  ASSERT_THAT(store.Remove("ns", "k"), IsOk());
  EXPECT_THAT(store.Stat("ns", "k"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_LT(db_->Durable(), db_->Commits());
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(BackendCount(), 1) << "removed before its record's deletion was durable";
  const absl::Time before = absl::Now();
  ASSERT_THAT(store.Prepare("ns", "other", "", {}), IsOk());  // a synced commit
  store.WaitForRemovals();
  EXPECT_LT(absl::Now() - before, absl::Seconds(5));
  EXPECT_EQ(BackendCount(), 1);  // "other"

  // The collector's sweep makes a deletion that is not durable yet durable before it removes
  // anything. The sync also releases the store's remover, so "other" goes by whichever of the
  // two comes first; the orphan made here (as a crash leaves them) only the sweep removes.
  ASSERT_THAT(store.Remove("ns", "other"), IsOk());
  ASSERT_THAT(backend_->Prepare("orphan", "", {}), IsOk());
  EXPECT_LT(db_->Durable(), db_->Commits());
  auto swept = store.SweepBackend();
  ASSERT_THAT(swept, IsOk());
  EXPECT_GE(*swept, 1);
  EXPECT_LE(*swept, 2);
  EXPECT_EQ(db_->Durable(), db_->Commits());
  EXPECT_THAT(backend_->Stat("orphan"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(store.Prepare("ns", "third", "", {}), IsOk());
  store.WaitForRemovals();       // a backend removal that finds nothing left is no error
  EXPECT_EQ(BackendCount(), 1);  // "third"
}

// Under a lease the backend snapshot is not synced: one that a power loss took from under a
// durable record is recreated at start, empty and on the same parent.
TEST_F(SnapshotStoreTest, RecreateLostPutsBackLostActiveAndViewSnapshots) {
  metadata::LeaseStore leases(*db_);
  ASSERT_THAT(leases.Create("ns", {"run", {}}), IsOk());
  ASSERT_THAT(store_->Prepare("ns", "base-k", "", {}), IsOk());
  ASSERT_THAT(store_->Commit("ns", "base", "base-k", {}), IsOk());
  ASSERT_THAT(store_->Prepare("ns", "k", "base", {}, "run"), IsOk());
  ASSERT_THAT(store_->View("ns", "v", "base", {}, "run"), IsOk());
  EXPECT_EQ(*store_->RecreateLost(), 0);
  std::string base_backend;
  std::map<std::string, snapshot::Kind> children;  // backend key → kind
  ASSERT_THAT(backend_->Walk([&](const snapshot::Info& i) {
    if (i.parent.empty()) {
      base_backend = i.name;
    } else {
      children[i.name] = i.kind;
    }
    return absl::OkStatus();
  }),
              IsOk());
  ASSERT_EQ(children.size(), 2u);
  for (const auto& [key, kind] : children) ASSERT_THAT(backend_->Remove(key), IsOk());
  ASSERT_EQ(BackendCount(), 1);

  auto n = store_->RecreateLost();
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(*n, 2);
  for (const auto& [key, kind] : children) {
    auto info = backend_->Stat(key);
    ASSERT_THAT(info, IsOk());
    EXPECT_EQ(info->parent, base_backend);
    EXPECT_EQ(info->kind, kind);
  }
  EXPECT_THAT(store_->Mounts("ns", "k"), IsOk());
  EXPECT_THAT(store_->Mounts("ns", "v"), IsOk());
  EXPECT_EQ(*store_->RecreateLost(), 0);
}

TEST_F(SnapshotStoreTest, LeaseHoldsWhatIsCreatedUnderIt) {
  metadata::LeaseStore leases(*db_);
  EXPECT_THAT(store_->Prepare("ns", "k", "", {}, "missing"),
              StatusIs(absl::StatusCode::kNotFound, "lease"));
  EXPECT_EQ(BackendCount(), 0) << "a failed Prepare leaves no backend snapshot";
  ASSERT_THAT(leases.Create("ns", {"pull", {}}), IsOk());
  ASSERT_THAT(store_->Prepare("ns", "k", "", {}, "pull"), IsOk());
  ASSERT_THAT(store_->Commit("ns", "layer", "k", {}, "pull"), IsOk());
  auto held = leases.ListResources("ns", "pull");
  ASSERT_THAT(held, IsOk());
  EXPECT_THAT(*held, ::testing::Contains(metadata::LeaseResource{"layer", "snapshots/native"}));
}

TEST_F(SnapshotStoreTest, SweepRemovesBackendSnapshotsWithoutRecords) {
  ASSERT_THAT(store_->Prepare("ns", "k", "", {}), IsOk());
  ASSERT_THAT(store_->Commit("ns", "base", "k", {}), IsOk());
  ASSERT_THAT(store_->Prepare("ns", "top", "base", {}), IsOk());
  // Backend snapshots that no record names: a chain of two, as a crash could leave them.
  ASSERT_THAT(backend_->Prepare("orphan-1", "", {}), IsOk());
  ASSERT_THAT(backend_->Commit("orphan-base", "orphan-1", {}), IsOk());
  ASSERT_THAT(backend_->Prepare("orphan-2", "orphan-base", {}), IsOk());
  ASSERT_EQ(BackendCount(), 4);
  auto removed = store_->SweepBackend();
  ASSERT_THAT(removed, IsOk());
  EXPECT_EQ(*removed, 2);
  EXPECT_EQ(BackendCount(), 2);
  EXPECT_THAT(store_->Mounts("ns", "top"), IsOk());
}

}  // namespace
}  // namespace berth::snapshots
