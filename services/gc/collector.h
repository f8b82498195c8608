#pragma once

// Collector removes what nothing refers to (metadata/gc.h has the model): content records
// that no root reaches, expired leases, and then blobs that no namespace records any more.
// Collections run in the background after deletions (Trigger, debounced) or at once
// (CollectNow, for deletes with sync). Thread-safe.
//
// Snapshot records are marked but not yet swept: the snapshotters that own their data come
// with the snapshot work.

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

namespace berth::gc {

struct CollectStats {
  int content_records = 0;  // records removed
  int leases = 0;           // expired leases removed
  int blobs = 0;            // blob files removed
};

class Collector : public plugin::Plugin, public metadata::GcScheduler {
 public:
  Collector(metadata::Db& db, content::ContentStore& content, content::LocalStore& local);
  ~Collector() override;

  // Schedules a collection soon; several triggers close together make one collection.
  void Trigger() override;

  // Runs a collection now.
  absl::Status CollectNow() override { return Run().status(); }

  // Runs a collection now and returns what it removed.
  absl::StatusOr<CollectStats> Run();

 private:
  absl::StatusOr<CollectStats> Collect();
  void Loop();

  metadata::Db& db_;
  content::ContentStore& content_;
  content::LocalStore& local_;
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
