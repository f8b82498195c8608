#include "services/daemon/builtins.h"

#include "services/containers/service.h"
#include "services/content/service.h"
#include "services/diff/service.h"
#include "services/events/service.h"
#include "services/gc/collector.h"
#include "services/images/service.h"
#include "services/health/service.h"
#include "services/introspection/service.h"
#include "services/leases/service.h"
#include "services/metadata/plugin.h"
#include "services/namespaces/service.h"
#include "services/restart/monitor.h"
#include "services/runtime/task_manager.h"
#include "services/snapshots/service.h"
#include "services/tasks/service.h"
#include "services/version/service.h"
#include "snapshotter/snapshotter.h"

namespace berth::daemon {

void RegisterBuiltins(plugin::Registry& registry) {
  metadata::RegisterPlugin(registry);
  events::RegisterPlugins(registry);
  content::RegisterPlugins(registry);
  snapshot::RegisterPlugins(registry);
  services::snapshots::RegisterPlugin(registry);
  diff::RegisterPlugins(registry);
  gc::RegisterPlugin(registry);
  services::namespaces::RegisterPlugin(registry);
  services::images::RegisterPlugin(registry);
  services::containers::RegisterPlugin(registry);
  runtime::RegisterPlugin(registry);
  services::tasks::RegisterPlugin(registry);
  restart::RegisterPlugin(registry);
  services::leases::RegisterPlugin(registry);
  services::version::RegisterPlugin(registry);
  services::health::RegisterPlugin(registry);
  services::introspection::RegisterPlugin(registry);
}

}  // namespace berth::daemon
