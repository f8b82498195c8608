#include "lib/base/status_macros.h"
#include "services/events/service.h"

namespace berth::events {

void RegisterPlugins(plugin::Registry& registry) {
  registry.Add({
      .type = plugin::Type::kEvent,
      .id = "exchange",
      .deps = {},
      .init = [](plugin::InitContext&) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        return std::make_unique<Exchange>();
      },
  });
  registry.Add({
      .type = plugin::Type::kGrpc,
      .id = "events",
      .deps = {plugin::Type::kEvent},
      .init = [](plugin::InitContext& ic) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        BERTH_ASSIGN_OR_RETURN(Exchange * ex, ic.GetSingle<Exchange>(plugin::Type::kEvent));
        return std::make_unique<EventsService>(*ex);
      },
  });
}

}  // namespace berth::events
