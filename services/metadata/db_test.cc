#include "services/metadata/db.h"

#include <thread>

#include "fmt/format.h"
#include "gtest/gtest.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::metadata {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

// The first column of the first row of `sql` (-1 when there is none), in `tx`.
absl::StatusOr<int64_t> QueryInt(Tx& tx, const char* sql) {
  BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query(sql));
  BERTH_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.Int(0) : -1;
}

// The same in a transaction of its own.
int64_t QueryInt(Db& db, const char* sql) {
  int64_t v = -1;
  EXPECT_THAT(db.View([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(v, QueryInt(tx, sql));
    return absl::OkStatus();
  }),
              IsOk());
  return v;
}

TEST(DbTest, OpenMigratesToCurrentVersionInWalMode) {
  testing::TempDir dir("db");
  auto db = Db::Open(dir / "meta.db");
  ASSERT_THAT(db, IsOk());
  EXPECT_EQ((*db)->schema_version(), CurrentSchemaVersion());
  std::string mode;
  ASSERT_THAT((*db)->View([&](Tx& tx) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(Stmt q, tx.Query("PRAGMA journal_mode"));
    BERTH_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row)
      mode = q.Text(0);
    return absl::OkStatus();
  }),
              IsOk());
  EXPECT_EQ(mode, "wal");
}

TEST(DbTest, FailedUpdateRollsBack) {
  testing::TempDir dir("db");
  auto db = Db::Open(dir / "meta.db");
  ASSERT_THAT(db, IsOk());
  absl::Status s = (*db)->Update([](Tx& tx) -> absl::Status {
    BERTH_RETURN_IF_ERROR(tx.Exec(
        "INSERT INTO namespaces (name, labels, created_at, updated_at) VALUES ('x', '{}', 1, 1)"));
    return InvalidArgument("caller changed its mind");
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, "changed its mind"));
  EXPECT_EQ(QueryInt(**db, "SELECT COUNT(*) FROM namespaces"), 0);
}

TEST(DbTest, DeferredUpdateCommitsAndLeavesTheConnectionSynced) {
  testing::TempDir dir("db");
  auto db = Db::Open(dir / "meta.db");
  ASSERT_THAT(db, IsOk());
  EXPECT_EQ(QueryInt(**db, "PRAGMA synchronous"), 2);  // FULL
  const char* insert =
      "INSERT INTO namespaces (name, labels, created_at, updated_at) VALUES ('x', '{}', 1, 1)";
  int64_t inside = -1;
  ASSERT_THAT((*db)->Update(
                  [&](Tx& tx) -> absl::Status {
                    BERTH_ASSIGN_OR_RETURN(inside, QueryInt(tx, "PRAGMA synchronous"));
                    return tx.Exec(insert);
                  },
                  Durability::kDeferred),
              IsOk());
  EXPECT_EQ(inside, 1) << "NORMAL: the commit does not fsync the log";
  EXPECT_EQ(QueryInt(**db, "PRAGMA synchronous"), 2);  // FULL
  // A failed deferred update rolls back and puts the level back too.
  EXPECT_THAT((*db)->Update([&](Tx& tx) { return tx.Exec(insert); }, Durability::kDeferred),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(QueryInt(**db, "PRAGMA synchronous"), 2);  // FULL
  db->reset();
  auto again = Db::Open(dir / "meta.db");
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(QueryInt(**again, "SELECT COUNT(*) FROM namespaces WHERE name = 'x'"), 1);
}

// Commits are numbered; a deferred one is durable once a later synced commit or a sync of the
// log has come, and MakeDurable waits for the first, up to its patience, before doing the second.
TEST(DbTest, DurabilityIsCountedAndMadeOnDemand) {
  testing::TempDir dir("db");
  auto opened = Db::Open(dir / "meta.db");
  ASSERT_THAT(opened, IsOk());
  Db& db = **opened;
  int n = 0;
  auto insert = [&](Durability d) {
    ++n;
    return db.Update(
        [&](Tx& tx) {
          return tx.Exec(
              fmt::format("INSERT INTO namespaces (name, labels, created_at, "
                          "updated_at) VALUES ('n{}', '{{}}', 1, 1)",
                          n));
        },
        d);
  };
  const uint64_t start = db.Commits();
  ASSERT_THAT(insert(Durability::kDeferred), IsOk());
  EXPECT_EQ(db.Commits(), start + 1);
  EXPECT_LT(db.Durable(), db.Commits());
  // A failed update is no commit.
  EXPECT_THAT(db.Update([](Tx&) { return InvalidArgument("no"); }, Durability::kDeferred),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(db.Commits(), start + 1);
  ASSERT_THAT(db.MakeDurable(db.Commits(), absl::ZeroDuration()), IsOk());  // syncs the log
  EXPECT_EQ(db.Durable(), db.Commits());

  // A waiter is released by the next synced commit, long before its patience runs out.
  ASSERT_THAT(insert(Durability::kDeferred), IsOk());
  const uint64_t deferred = db.Commits();
  absl::Status waited;
  absl::Time released;
  std::thread waiter([&] {
    waited = db.MakeDurable(deferred, absl::Minutes(10));
    released = absl::Now();
  });
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_LT(db.Durable(), deferred) << "nothing has synced it yet";
  ASSERT_THAT(insert(Durability::kSynced), IsOk());
  const absl::Time synced = absl::Now();
  waiter.join();
  EXPECT_THAT(waited, IsOk());
  EXPECT_LT(released - synced, absl::Seconds(5));
  EXPECT_EQ(db.Durable(), db.Commits());
}

TEST(DbTest, RefusesADatabaseFromANewerBerthd) {
  testing::TempDir dir("db");
  std::string path = dir / "meta.db";
  {
    auto db = Db::Open(path);
    ASSERT_THAT(db, IsOk());
    ASSERT_THAT((*db)->Update([](Tx& tx) { return tx.Exec("PRAGMA user_version = 999"); }), IsOk());
  }
  EXPECT_THAT(Db::Open(path), StatusIs(absl::StatusCode::kFailedPrecondition, "999"));
}

TEST(DbTest, UnopenablePathIsAClearError) {
  auto db = Db::Open("/nonexistent-dir/meta.db");
  EXPECT_FALSE(db.ok());
  EXPECT_NE(std::string(db.status().message()).find("/nonexistent-dir/meta.db"), std::string::npos)
      << db.status();
}

}  // namespace
}  // namespace berth::metadata
