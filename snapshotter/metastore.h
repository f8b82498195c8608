#pragma once

// MetaStore keeps a snapshotter's records in a small SQLite database of its own
// (<root>/metadata.db, WAL, synchronous=FULL, schema version in user_version): one row per
// snapshot with its numeric id (the directory name), key, parent id, kind, times, usage and
// labels. Ids come from AUTOINCREMENT, so an id of a committed row is never reused.
//
// Not thread-safe: the owning snapshotter serializes every call. Writes happen inside
// Begin()/Commit(); a Transaction that is destroyed without Commit() rolls back.

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

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
    explicit Transaction(MetaStore* store) : store_(store) {}

    Transaction(Transaction&& o) noexcept : store_(std::exchange(o.store_, nullptr)) {}

    Transaction(const Transaction&) = delete;
    ~Transaction();
    absl::Status Commit();

   private:
    MetaStore* store_;
  };

  // BEGIN IMMEDIATE.
  absl::StatusOr<Transaction> Begin();

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
  explicit MetaStore(sqlite3* db) : db_(db) {}

  absl::Status Exec(const std::string& sql);
  absl::Status Error(int rc, const std::string& what);
  absl::Status LoadLabels(Record& r);
  absl::Status PutLabels(int64_t id, const Labels& labels);

  sqlite3* db_;
};

}  // namespace berth::snapshot
