// bctr events [FILTER...]: follows berthd's event stream, one line an event:
// "<time> <namespace> <topic> <event as JSON>", as ctr prints them.

#include <memory>

#include "containerd/events/container.pb.h"
#include "containerd/events/content.pb.h"
#include "containerd/events/image.pb.h"
#include "containerd/events/namespace.pb.h"
#include "containerd/events/snapshot.pb.h"
#include "containerd/events/task.pb.h"
#include "ctr/commands/commands.h"
#include "ctr/output.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

// The event types are only in the generated pool (for JSON printing) when their files are
// linked; naming one message of each file links it.
void LinkEventTypes() {
  (void)containerd::events::ContainerCreate::descriptor();
  (void)containerd::events::ContentDelete::descriptor();
  (void)containerd::services::images::v1::ImageCreate::descriptor();  // containerd keeps it there
  (void)containerd::events::NamespaceCreate::descriptor();
  (void)containerd::events::SnapshotPrepare::descriptor();
  (void)containerd::events::TaskExit::descriptor();
}

absl::Status RunEvents(Cli& cli, const std::vector<std::string>& filters) {
  LinkEventTypes();
  Connection& conn = cli.conn();
  events_api::SubscribeRequest req;
  for (const std::string& f : filters) req.add_filters(f);
  auto ctx = conn.Context();
  auto reader = conn.events().Subscribe(ctx.get(), req);
  events_api::Envelope env;
  while (reader->Read(&env)) {
    std::printf("%s %s %s %s\n", TimeString(env.timestamp()).c_str(), env.namespace_().c_str(),
                env.topic().c_str(), AnyJson(env.event()).c_str());
    std::fflush(stdout);
  }
  return conn.Check(reader->Finish());
}

}  // namespace

void AddEvents(CLI::App& parent, Cli& cli) {
  auto filters = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = parent.add_subcommand("events", "Follow berthd's events (Ctrl-C to stop)");
  cmd->add_option("filters", *filters, "containerd filters, e.g. topic~=/tasks/");
  cmd->callback([&cli, filters] {
    cli.action = [&cli, filters] { return Annotate(RunEvents(cli, *filters), "events"); };
  });
}

}  // namespace berth::ctr
