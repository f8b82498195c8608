#pragma once

// Collector removes what nothing refers to (metadata/gc.h has the model): content and
// snapshot records that no root reaches, expired leases, then blobs that no namespace records
// any more, backend snapshots without a record, and ingests that no lease holds and nobody
// wrote to for `ingest_expiry` (an ingest is resumable until then). Collections run in the
// background after deletions (Trigger, debounced) or at once (CollectNow, for deletes with
// sync). Thread-safe.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/status/status.h"

#include "services/content/content_store.h"
#include "services/content/local_store.h"
#include "services/metadata/db.h"
#include "services/metadata/gc.h"
#include "services/plugin/plugin.h"
#include "services/plugin/registry.h"
#include "services/snapshots/stores.h"

namespace berth::gc {

struct CollectStats {
  int content_records = 0;   // records removed
  int leases = 0;            // expired leases removed
  int blobs = 0;             // blob files removed
  int snapshot_records = 0;  // records removed
  int snapshots = 0;         // backend snapshots removed
  int ingests = 0;           // stale ingests removed
};

inline constexpr std::chrono::hours kDefaultIngestExpiry{24};

class Collector : public plugin::Plugin, public metadata::GcScheduler {
 public:
  // `snapshots` may be null (no snapshotter loaded).
  Collector(metadata::Db& db, content::ContentStore& content, content::LocalStore& local,
            snapshots::SnapshotStores* snapshots,
            std::chrono::seconds ingest_expiry = kDefaultIngestExpiry);
  ~Collector() override;

  // Schedules a collection soon; several triggers close together make one collection.
  void Trigger() override;

  // Runs a collection now. It stands for the triggers before it: a pending background
  // collection is dropped.
  absl::Status CollectNow() override;

  // Runs a collection now and returns what it removed.
  absl::StatusOr<CollectStats> Run();

 private:
  absl::StatusOr<CollectStats> Collect();
  void SweepIngests(const std::set<metadata::ResourceKey>& live, CollectStats& stats);
  void Loop();

  metadata::Db& db_;
  content::ContentStore& content_;
  content::LocalStore& local_;
  snapshots::SnapshotStores* snapshots_;
  const std::chrono::seconds ingest_expiry_;
  std::mutex collect_mu_;  // one collection at a time
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;   // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

// io.containerd.gc.v1.scheduler
void RegisterPlugin(plugin::Registry& registry);

}  // namespace berth::gc
