#include "services/metadata/plugin.h"

#include "lib/base/status_macros.h"
#include "services/namespaces/service.h"
#include "services/plugin/registry.h"

namespace berth::services::namespaces {

void RegisterPlugin(plugin::Registry& registry) {
  registry.Add({
      .type = plugin::Type::kGrpc,
      .id = "namespaces",
      .deps = {plugin::Type::kMetadata, plugin::Type::kEvent},
      .init = [](plugin::InitContext& ic) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        BERTH_ASSIGN_OR_RETURN(auto* md,
                               ic.GetSingle<metadata::MetadataPlugin>(plugin::Type::kMetadata));
        BERTH_ASSIGN_OR_RETURN(auto* ex, ic.GetSingle<events::Exchange>(plugin::Type::kEvent));
        return std::make_unique<NamespacesService>(md->namespaces(), *ex);
      },
  });
}

}  // namespace berth::services::namespaces
