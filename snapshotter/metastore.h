#pragma once

// MetaStore keeps a snapshotter's records in a small SQLite database of its own
// (<root>/metadata.db, WAL, synchronous=FULL, schema version in user_version): one row per
// snapshot with its numeric id (the directory name), key, parent id, kind, times, usage and
// labels. Ids come from AUTOINCREMENT, so an id of a committed row is never reused.
//
// Not thread-safe: the owning snapshotter serializes every call. Writes happen inside
// Begin()/Commit(); a Transaction that is destroyed without Commit() rolls back. Prepared
// statements are cached for the life of the store.

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "lib/base/durability.h"
#include "lib/base/labels.h"
#include "snapshotter/snapshotter.h"

namespace berth::snapshot {

struct Record {
  int64_t id = 0;
  std::string key;
  int64_t parent_id = 0;   // 0: none
  std::string parent_key;  // the parent's (committed) name
  Kind kind = Kind::kUnknown;
  Labels labels;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  Usage usage;  // recorded at Commit

  Info ToInfo() const;
};

class MetaStore {
 public:
  // Opens or creates the database. FailedPrecondition when it has a newer schema.
  static absl::StatusOr<std::unique_ptr<MetaStore>> Open(const std::filesystem::path& path);
  ~MetaStore();
  MetaStore(const MetaStore&) = delete;
  MetaStore& operator=(const MetaStore&) = delete;

  class Transaction {
   public:
    Transaction(MetaStore* store, Durability durability) : store_(store), durability_(durability) {}

    Transaction(Transaction&& o) noexcept
        : store_(std::exchange(o.store_, nullptr)), durability_(o.durability_) {}

    Transaction(const Transaction&) = delete;
    ~Transaction();
    absl::Status Commit();

   private:
    void End(bool rollback);

    MetaStore* store_;
    Durability durability_;
  };

  // BEGIN IMMEDIATE. A kDeferred transaction's commit is durable after the next SyncLog() or
  // kSynced commit (lib/base/durability.h).
  absl::StatusOr<Transaction> Begin(Durability durability = Durability::kSynced);
  // Makes every commit so far durable: an fsync of the write-ahead log. Unlike the rest, safe
  // to call from any thread at any time (it uses a descriptor of its own).
  absl::Status SyncLog() const;

  // NotFound: `snapshot "key": not found`.
  absl::StatusOr<Record> Get(const std::string& key);
  // The ids of the parent chain starting at `parent_id`, newest first.
  absl::StatusOr<std::vector<int64_t>> Chain(int64_t parent_id);
  // AlreadyExists when the key is taken. Returns the new id.
  absl::StatusOr<int64_t> Insert(Kind kind, const std::string& key, int64_t parent_id,
                                 const Labels& labels, int64_t now);
  // Makes `id` the committed snapshot `name`: AlreadyExists when the name is taken.
  absl::Status MarkCommitted(int64_t id, const std::string& name, const Labels& labels,
                             const Usage& usage, int64_t now);
  absl::Status SetLabels(int64_t id, const Labels& labels, int64_t now);
  absl::Status Delete(int64_t id);
  absl::StatusOr<bool> HasChildren(int64_t id);
  // Every record, in id order.
  absl::StatusOr<std::vector<Record>> All();
  absl::StatusOr<std::set<int64_t>> Ids();

 private:
  MetaStore(sqlite3* db, std::filesystem::path log_path)
      : db_(db), log_path_(std::move(log_path)) {}

  absl::Status Exec(const std::string& sql);
  absl::Status Error(int rc, const std::string& what);
  // The cached statement for `sql`, prepared on first use (null if that failed); reset and
  // unbound again by the Stmt that borrows it.
  sqlite3_stmt* Prepared(const std::string& sql);
  absl::Status LoadLabels(Record& r);
  absl::Status PutLabels(int64_t id, const Labels& labels);

  sqlite3* db_;
  const std::filesystem::path log_path_;
  std::map<std::string, sqlite3_stmt*, std::less<>> stmts_;
};

}  // namespace berth::snapshot
