#pragma once

// The snapshots-service plugin (io.containerd.service.v1.snapshots-service): one
// SnapshotStore per loaded snapshotter plugin, shared by the Snapshots API, the diff service,
// the tasks service and the garbage collector.

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

#include "services/plugin/plugin.h"
#include "services/plugin/registry.h"
#include "services/snapshots/store.h"

namespace berth::snapshots {

// What ctr and containerd use when a request names no snapshotter.
inline constexpr char kDefaultSnapshotter[] = "overlayfs";

class SnapshotStores : public plugin::Plugin {
 public:
  void Add(std::unique_ptr<SnapshotStore> store) {
    std::string name = store->name();
    stores_[name] = std::move(store);
  }

  // The store of snapshotter `name` ("" = the default); InvalidArgument naming it when it is
  // not loaded.
  absl::StatusOr<SnapshotStore*> Get(const std::string& name);

  const std::map<std::string, std::unique_ptr<SnapshotStore>>& all() const { return stores_; }

 private:
  std::map<std::string, std::unique_ptr<SnapshotStore>> stores_;
};

// The loaded snapshots-service plugin: NotFound when it did not load (no snapshotter),
// Internal when the plugin under that name is something else.
absl::StatusOr<SnapshotStores*> GetStores(const plugin::InitContext& ic);

void RegisterPlugin(plugin::Registry& registry);

}  // namespace berth::snapshots
