#pragma once

// LocalSnapshotter holds what the overlayfs and native snapshotters share: records in a
// MetaStore (<root>/metadata.db), one directory per snapshot at <root>/snapshots/<id>/ (fs/,
// and work/ for overlay), the crash-safe order of creating and removing them, and Cleanup. A
// Driver supplies what differs: how a new directory is filled and which mounts it has.
//
// Crash safety: a new snapshot is built in <root>/snapshots/new-XXXXXX and renamed to its id
// inside the transaction that inserts its record (a synced creation syncs the directory
// before the commit; a deferred one syncs neither); a removed one is renamed to rm-<id> inside
// the transaction that deletes its record, which commits without a sync, and deleted once the
// log has been synced. Whatever a crash leaves in snapshots/ without a record is removed by
// Cleanup(); when the snapshotter opens, an rm-<id> whose record is still there (the removal
// was not committed, or not synced) is renamed back, and an active or view snapshot whose
// directory a crash took (a deferred creation: its record reached the disk, the rename did
// not) gets a new one, as it was created: nothing written into it can have outlived the
// rename. Commit syncs the directory first: a committed snapshot's directory is never lost.
//
// Thread-safe: one mutex serializes the calls (Walk calls its fn outside it).

#include <deque>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"

#include "lib/base/batch_worker.h"
#include "lib/mount/mount.h"
#include "snapshotter/metastore.h"
#include "snapshotter/snapshotter.h"

namespace berth::snapshot {

class Driver {
 public:
  virtual ~Driver() = default;

  // Fills the new snapshot directory `dir` (which exists and is empty): at least fs/.
  // `parents` are the fs/ dirs of the parent chain, newest first.
  virtual absl::Status Populate(const std::filesystem::path& dir, Kind kind,
                                const std::vector<std::filesystem::path>& parents) = 0;

  // The mounts of snapshot directory `dir` of kind `kind` (active or view).
  virtual std::vector<mount::Mount> Mounts(const std::filesystem::path& dir, Kind kind,
                                           const std::vector<std::filesystem::path>& parents) = 0;
};

class LocalSnapshotter : public Snapshotter {
 public:
  // Creates <root>, <root>/snapshots and the database when missing.
  static absl::StatusOr<std::unique_ptr<LocalSnapshotter>> Open(const std::filesystem::path& root,
                                                                std::unique_ptr<Driver> driver);
  // Finishes the removals still queued (trash_'s destructor).
  ~LocalSnapshotter() override = default;

  absl::StatusOr<Info> Stat(const std::string& key) override;
  absl::StatusOr<Info> Update(const Info& info, const std::vector<std::string>& paths) override;
  absl::StatusOr<Usage> GetUsage(const std::string& key) override;
  absl::StatusOr<std::vector<mount::Mount>> Mounts(const std::string& key) override;
  absl::StatusOr<std::vector<mount::Mount>> Prepare(
      const std::string& key, const std::string& parent, const Labels& labels,
      Durability durability = Durability::kSynced) override;
  absl::StatusOr<std::vector<mount::Mount>> View(
      const std::string& key, const std::string& parent, const Labels& labels,
      Durability durability = Durability::kSynced) override;
  absl::Status Commit(const std::string& name, const std::string& key,
                      const Labels& labels) override;
  absl::Status Remove(const std::string& key) override;
  absl::Status Walk(absl::FunctionRef<absl::Status(const Info&)> fn) override;
  absl::Status Cleanup() override;

  const std::filesystem::path& root() const { return root_; }

  // <root>/snapshots/<id>
  std::filesystem::path SnapshotDir(int64_t id) const;

 protected:
  LocalSnapshotter(std::filesystem::path root, std::unique_ptr<MetaStore> store,
                   std::unique_ptr<Driver> driver)
      : root_(std::move(root)),
        store_(std::move(store)),
        driver_(std::move(driver)),
        trash_([this](std::deque<std::filesystem::path>& batch, bool) { RemoveDirs(batch); }) {}

 private:
  // Puts back the directories of removals that a crash interrupted before their commit, and
  // rebuilds those of active and view snapshots whose creation a crash cut short.
  absl::Status Recover();
  absl::StatusOr<std::vector<mount::Mount>> Create(Kind kind, const std::string& key,
                                                   const std::string& parent, const Labels& labels,
                                                   Durability durability);
  // The fs/ dirs of the chain that starts at `parent_id`, newest first.
  absl::StatusOr<std::vector<std::filesystem::path>> ParentDirs(int64_t parent_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::filesystem::path> BuildDir(Kind kind,
                                                 const std::vector<std::filesystem::path>& parents);

  const std::filesystem::path root_;
  absl::Mutex mu_;
  std::unique_ptr<MetaStore> store_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Driver> driver_;

  // Directories no record points to any more (a removed snapshot, moved to rm-<id> before the
  // commit; a failed creation) are deleted by one thread of their own, off the caller's path
  // and outside mu_. Cleanup() waits for the queue first; a crash leaves them to Cleanup().
  void RemoveLater(std::filesystem::path dir);
  void WaitForRemovals();
  void RemoveDirs(std::deque<std::filesystem::path>& batch);
  BatchWorker<std::filesystem::path> trash_;  // last: it uses the rest
};

// Nanoseconds since the Unix epoch.
int64_t NowNanos();

}  // namespace berth::snapshot
