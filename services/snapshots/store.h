#pragma once

// SnapshotStore puts namespaces over one backend snapshotter, as containerd's metadata
// snapshotter does: a client's key lives in its namespace (table `snapshots`), and maps to a
// backend key "<namespace>/<n>/<key>" that no other namespace can name. Labels, kinds and
// parents are recorded here; the backend holds the data. Objects created under a lease are
// held by it in the same transaction.
//
// Removing a record removes the backend snapshot too; when that fails (a mount still busy)
// the garbage collector's SweepBackend() removes it later, with every other backend snapshot
// that no record refers to. Thread-safe.
//
// Errors: InvalidArgument (empty key, bad labels or update path), NotFound (key, parent or
// lease), AlreadyExists (key or commit name taken), FailedPrecondition (parent not
// committed, Commit of a snapshot that is not active, Remove of a snapshot with children).

#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"

#include "lib/base/labels.h"
#include "lib/mount/mount.h"
#include "services/metadata/db.h"
#include "snapshotter/snapshotter.h"

namespace berth::snapshots {

class SnapshotStore {
 public:
  SnapshotStore(std::string name, metadata::Db& db, snapshot::Snapshotter& backend)
      : name_(std::move(name)), db_(db), backend_(backend) {}

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
};

}  // namespace berth::snapshots
