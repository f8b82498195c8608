#include "services/metadata/plugin.h"

#include "lib/base/status_macros.h"

namespace berth::metadata {

void RegisterPlugin(plugin::Registry& registry) {
  registry.Add({
      .type = plugin::Type::kMetadata,
      .id = "sqlite",
      .deps = {},
      .init = [](plugin::InitContext& ic) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        std::string path = (ic.daemon().root / "meta.db").string();
        BERTH_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(path));
        ic.Export("path", path);
        ic.Export("schema_version", std::to_string(db->schema_version()));
        return std::make_unique<MetadataPlugin>(std::move(db));
      },
  });
}

}  // namespace berth::metadata
