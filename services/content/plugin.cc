#include "services/metadata/plugin.h"

#include "lib/base/status_macros.h"
#include "services/content/service.h"

namespace berth::content {

void RegisterPlugins(plugin::Registry& registry) {
  registry.Add({
      .type = plugin::Type::kContent,
      .id = "content",
      .deps = {plugin::Type::kMetadata},
      .init = [](plugin::InitContext& ic) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        BERTH_ASSIGN_OR_RETURN(auto* md,
                               ic.GetSingle<metadata::MetadataPlugin>(plugin::Type::kMetadata));
        BERTH_ASSIGN_OR_RETURN(std::unique_ptr<LocalStore> local, LocalStore::Open(ic.root()));
        ic.Export("root", ic.root().string());
        return std::make_unique<ContentPlugin>(std::move(local), md->db());
      },
  });
  registry.Add({
      .type = plugin::Type::kGrpc,
      .id = "content",
      .deps = {plugin::Type::kContent, plugin::Type::kEvent, plugin::Type::kGc},
      .init = [](plugin::InitContext& ic) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        BERTH_ASSIGN_OR_RETURN(auto* cp, ic.GetSingle<ContentPlugin>(plugin::Type::kContent));
        BERTH_ASSIGN_OR_RETURN(auto* ex, ic.GetSingle<events::Exchange>(plugin::Type::kEvent));
        BERTH_ASSIGN_OR_RETURN(auto* gc, ic.GetSingle<metadata::GcScheduler>(plugin::Type::kGc));
        return std::make_unique<ContentService>(cp->store(), *ex, *gc);
      },
  });
}

}  // namespace berth::content
