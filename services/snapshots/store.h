#pragma once

// SnapshotStore puts namespaces over one backend snapshotter, as containerd's metadata
// snapshotter does: a client's key lives in its namespace (table `snapshots`), and maps to a
// backend key "<namespace>/<n>/<key>" that no other namespace can name. Labels, kinds and
// parents are recorded here; the backend holds the data. Objects created under a lease are
// held by it in the same transaction.
//
// Durability (lib/base/durability.h): a record and its backend snapshot reach the disk in an
// order that a power loss cannot turn into a record without its backend snapshot, except
// where the start puts it right:
//   - Prepare/View without a lease: the backend snapshot is synced, then the record.
//   - Prepare/View under a lease: neither is synced (the lease itself is not). A record lost
//     leaves a backend snapshot that SweepBackend() removes; a backend snapshot lost under a
//     record that a later synced commit (the container that uses it) made durable is
//     recreated, empty as it was created, by RecreateLost() at start.
//   - Remove: the record's deletion commits without a sync, and the backend snapshot is
//     removed by a thread of this store once the deletion is durable: at the next synced
//     commit of the database (ctr's next call deletes the container) or, after
//     kRemovalPatience without one, a sync of the log. When the backend removal fails (a
//     mount still busy), the garbage collector's SweepBackend() removes it later, with every
//     other backend snapshot that no record refers to.
// Thread-safe.
//
// Errors: InvalidArgument (empty key, bad labels or update path), NotFound (key, parent or
// lease), AlreadyExists (key or commit name taken), FailedPrecondition (parent not
// committed, Commit of a snapshot that is not active, Remove of a snapshot with children).

#include <cstdint>
#include <deque>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "lib/base/batch_worker.h"
#include "lib/base/labels.h"
#include "lib/mount/mount.h"
#include "services/metadata/db.h"
#include "snapshotter/snapshotter.h"

namespace berth::snapshots {

class SnapshotStore {
 public:
  // How long a removed record's backend snapshot waits for a synced commit to make the
  // removal durable before the store syncs the log itself.
  static constexpr absl::Duration kRemovalPatience = absl::Milliseconds(200);

  SnapshotStore(std::string name, metadata::Db& db, snapshot::Snapshotter& backend,
                absl::Duration removal_patience = kRemovalPatience);

  const std::string& name() const { return name_; }

  absl::StatusOr<std::vector<mount::Mount>> Prepare(const std::string& ns, const std::string& key,
                                                    const std::string& parent, const Labels& labels,
                                                    const std::string& lease = "");
  absl::StatusOr<std::vector<mount::Mount>> View(const std::string& ns, const std::string& key,
                                                 const std::string& parent, const Labels& labels,
                                                 const std::string& lease = "");
  absl::StatusOr<std::vector<mount::Mount>> Mounts(const std::string& ns, const std::string& key);
  absl::Status Commit(const std::string& ns, const std::string& name, const std::string& key,
                      const Labels& labels, const std::string& lease = "");
  absl::Status Remove(const std::string& ns, const std::string& key);
  absl::StatusOr<snapshot::Info> Stat(const std::string& ns, const std::string& key);
  // Only labels change: paths "labels", "labels.<key>"; none replaces all labels.
  absl::StatusOr<snapshot::Info> Update(const std::string& ns, const snapshot::Info& info,
                                        const std::vector<std::string>& paths);
  absl::StatusOr<snapshot::Usage> GetUsage(const std::string& ns, const std::string& key);
  // Every snapshot of the namespace, by key.
  absl::StatusOr<std::vector<snapshot::Info>> List(const std::string& ns);

  absl::Status Cleanup() { return backend_.Cleanup(); }

  // Removes the backend snapshots that no record refers to (children before parents) and
  // returns how many. Blocks Prepare/View/Commit meanwhile, so that it never sees a backend
  // snapshot before its record.
  absl::StatusOr<int> SweepBackend();

  // Recreates the backend snapshots of active and view records that a power loss took (see
  // above) and returns how many. For the start, before the first call.
  absl::StatusOr<int> RecreateLost();

  // Returns once the backend removals queued so far are done.
  void WaitForRemovals() { remover_.WaitIdle(); }

 private:
  absl::StatusOr<std::vector<mount::Mount>> Create(snapshot::Kind kind, const std::string& ns,
                                                   const std::string& key,
                                                   const std::string& parent, const Labels& labels,
                                                   const std::string& lease);
  std::string NewBackendKey(const std::string& ns, const std::string& key);

  const std::string name_;
  metadata::Db& db_;
  snapshot::Snapshotter& backend_;
  std::shared_mutex sweep_mu_;  // shared: calls that create backend snapshots; exclusive: sweep

  // Backend snapshots whose records are deleted, each with the number of the commit that
  // deleted it (metadata::Db::Commits), oldest first: children go before their parents. The
  // destructor finishes them (syncing the log at once).
  struct Removal {
    std::string backend_id;
    uint64_t commit = 0;
  };

  void RemoveBackends(std::deque<Removal>& batch, bool stopping);
  const absl::Duration removal_patience_;
  BatchWorker<Removal> remover_;  // last: it uses the rest
};

}  // namespace berth::snapshots
