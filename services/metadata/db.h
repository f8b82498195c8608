#pragma once

// Db is berthd's metadata database: one SQLite file (WAL, synchronous=FULL, a busy timeout),
// with a versioned schema migrated forward on open. All access goes through transactions:
// Update() for one API call that writes (BEGIN IMMEDIATE … COMMIT, ROLLBACK on error), View()
// for reads. Thread-safe: calls are serialized on one connection, whose prepared statements
// are cached for the life of the Db.
//
// Durability: a kSynced Update is durable when it returns; a kDeferred one when a later kSynced
// commit or SyncLog() has synced the log (lib/base/durability.h). Commits() numbers the
// commits, so that work that must wait for one to be durable can (MakeDurable).

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "lib/base/durability.h"

namespace berth::metadata {

// A prepared statement borrowed from the Db's cache for the duration of one transaction.
// Binding indexes start at 1, column indexes at 0. The statement is reset when destroyed.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}

  Stmt(Stmt&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}

  Stmt(const Stmt&) = delete;
  ~Stmt();

  Stmt& Bind(int i, std::string_view text);
  Stmt& Bind(int i, int64_t v);
  Stmt& BindBlob(int i, std::string_view bytes);
  Stmt& BindNull(int i);

  // Advances: true when a row is ready, false when done. Errors are Internal (Unavailable
  // when the database is busy), except constraint violations, which are FailedPrecondition.
  absl::StatusOr<bool> Step();
  // Steps to the end (for INSERT/UPDATE/DELETE).
  absl::Status Run();

  std::string Text(int col) const;
  int64_t Int(int col) const;
  bool IsNull(int col) const;

 private:
  sqlite3_stmt* s_;
};

class Tx {
 public:
  // The cached prepared statement for `sql` (prepared on first use).
  absl::StatusOr<Stmt> Query(const std::string& sql);
  // Runs one or more statements without parameters.
  absl::Status Exec(const std::string& sql);
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t Changes() const;

 private:
  friend class Db;

  explicit Tx(class Db& db) : db_(db) {}
  class Db& db_;
};

class Db {
 public:
  // Opens (creating) the database at `path` and migrates it to the current schema version.
  // FailedPrecondition when the file was written by a newer berthd (higher schema version).
  static absl::StatusOr<std::unique_ptr<Db>> Open(const std::string& path);
  ~Db();

  absl::Status View(absl::FunctionRef<absl::Status(Tx&)> fn);
  // kDeferred: see lib/base/durability.h; every caller says why losing it is harmless.
  absl::Status Update(absl::FunctionRef<absl::Status(Tx&)> fn,
                      Durability durability = Durability::kSynced);

  // How many Updates have committed since the Db opened: the last one's number.
  uint64_t Commits();
  // Up to which number the commits are known to be durable.
  uint64_t Durable();
  // Makes commit number `n` (and every earlier one) durable: waits up to `patience` for a
  // kSynced commit or another SyncLog() to do it, then syncs the log itself.
  absl::Status MakeDurable(uint64_t n, absl::Duration patience);
  // Makes every commit so far durable (an fdatasync of the write-ahead log). Does not wait
  // for a transaction in progress.
  absl::Status SyncLog();

  int schema_version() const { return schema_version_; }

  const std::string& path() const { return path_; }

 private:
  friend class Tx;

  Db(sqlite3* conn, std::string path) : conn_(conn), path_(std::move(path)) {}

  absl::Status Migrate();
  absl::Status ExecLocked(const std::string& sql);
  absl::Status InTx(const char* begin, absl::FunctionRef<absl::Status(Tx&)> fn,
                    Durability durability = Durability::kSynced);

  absl::Mutex mu_;
  sqlite3* conn_;                               // guarded by mu_
  std::map<std::string, sqlite3_stmt*> stmts_;  // guarded by mu_
  std::string path_;
  // Taken after mu_ when both are. Separate, so that waiting for durability never waits for
  // a transaction.
  absl::Mutex commits_mu_;
  uint64_t commits_ ABSL_GUARDED_BY(commits_mu_) = 0;  // commits so far
  uint64_t durable_ ABSL_GUARDED_BY(commits_mu_) = 0;  // of which durable
  int schema_version_ = 0;
};

// Steps `q` to the end, calling fn(q) for each row; stops at the first error (fn's or the
// query's).
template <typename Fn>
absl::Status ForEachRow(Stmt& q, Fn fn) {
  while (true) {
    absl::StatusOr<bool> row = q.Step();
    if (!row.ok())
      return row.status();
    if (!*row)
      return absl::OkStatus();
    if (absl::Status s = fn(q); !s.ok())
      return s;
  }
}

// The current schema version, and the SQL that brings version v-1 to v (schema.cc).
int CurrentSchemaVersion();
const char* MigrationTo(int version);

// Nanoseconds since the Unix epoch, for created_at/updated_at columns.
int64_t NowNanos();

}  // namespace berth::metadata
