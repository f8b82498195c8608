#include "services/snapshots/stores.h"

#include "fmt/format.h"
#include "spdlog/spdlog.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "services/metadata/plugin.h"
#include "snapshotter/snapshotter.h"

namespace berth::snapshots {

absl::StatusOr<SnapshotStore*> SnapshotStores::Get(const std::string& name) {
  const std::string& want = name.empty() ? std::string(kDefaultSnapshotter) : name;
  auto it = stores_.find(want);
  if (it == stores_.end())
    return InvalidArgument(fmt::format("snapshotter {:?} is not loaded", want));
  return it->second.get();
}

absl::StatusOr<SnapshotStores*> GetStores(const plugin::InitContext& ic) {
  BERTH_ASSIGN_OR_RETURN(plugin::Plugin * p, ic.Get(plugin::Type::kService, "snapshots-service"));
  auto* stores = dynamic_cast<SnapshotStores*>(p);
  if (stores == nullptr)
    return Internal("plugin snapshots-service is not a SnapshotStores");
  return stores;
}

void RegisterPlugin(plugin::Registry& registry) {
  registry.Add({
      .type = plugin::Type::kService,
      .id = "snapshots-service",
      .deps = {plugin::Type::kMetadata, plugin::Type::kSnapshotter},
      .init = [](plugin::InitContext& ic) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        BERTH_ASSIGN_OR_RETURN(auto* md,
                               ic.GetSingle<metadata::MetadataPlugin>(plugin::Type::kMetadata));
        auto stores = std::make_unique<SnapshotStores>();
        for (const auto& [id, p] : ic.GetAll(plugin::Type::kSnapshotter)) {
          auto* backend = dynamic_cast<snapshot::Snapshotter*>(p);
          if (backend == nullptr)
            return Internal(fmt::format("snapshotter plugin {:?} is not a snapshotter", id));
          auto store = std::make_unique<SnapshotStore>(id, md->db(), *backend);
          if (absl::StatusOr<int> n = store->RecreateLost(); !n.ok()) {
            spdlog::error("snapshotter {}: recreating snapshots lost in a crash: {}", id,
                          n.status().ToString());
          }
          stores->Add(std::move(store));
        }
        return stores;
      },
  });
}

}  // namespace berth::snapshots
