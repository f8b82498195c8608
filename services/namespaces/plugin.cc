#include "services/metadata/plugin.h"

#include "lib/base/status_macros.h"
#include "services/namespaces/service.h"
#include "services/plugin/registry.h"

namespace berth::services::namespaces {

void RegisterPlugin(plugin::Registry& registry) {
  registry.Add({
      .type = plugin::Type::kGrpc,
      .id = "namespaces",
      .deps = {plugin::Type::kMetadata},
      .init = [](plugin::InitContext& ic) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        BERTH_ASSIGN_OR_RETURN(auto* md,
                               ic.GetSingle<metadata::MetadataPlugin>(plugin::Type::kMetadata));
        return std::make_unique<NamespacesService>(md->namespaces());
      },
  });
}

}  // namespace berth::services::namespaces
