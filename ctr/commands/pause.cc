// bctr pause / unpause CONTAINER...: freeze and thaw a container's processes.

#include <memory>

#include "ctr/commands/commands.h"
#include "ctr/containers.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

absl::Status RunPause(Cli& cli, const std::vector<std::string>& refs, bool pause) {
  Connection& conn = cli.conn();
  const char* verb = pause ? "pause" : "unpause";
  return EachContainer(refs, verb, [&](const std::string& ref) -> absl::StatusOr<std::string> {
    BERTH_ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(conn, ref));
    google::protobuf::Empty resp;
    auto ctx = conn.Context();
    if (pause) {
      tasks_api::PauseTaskRequest req;
      req.set_container_id(c.id());
      BERTH_RETURN_IF_ERROR(conn.Check(conn.tasks().Pause(ctx.get(), req, &resp)));
    } else {
      tasks_api::ResumeTaskRequest req;
      req.set_container_id(c.id());
      BERTH_RETURN_IF_ERROR(conn.Check(conn.tasks().Resume(ctx.get(), req, &resp)));
    }
    return ref;
  });
}

void AddPauseVerb(CLI::App& parent, Cli& cli, bool pause) {
  auto refs = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = parent.add_subcommand(
      pause ? "pause" : "unpause",
      pause ? "Freeze all processes of containers" : "Thaw the processes of paused containers");
  cmd->add_option("containers", *refs, "Containers (name, id or id prefix)")->required();
  cmd->callback([&cli, refs, pause] {
    cli.action = [&cli, refs, pause] { return RunPause(cli, *refs, pause); };
  });
}

}  // namespace

void AddPause(CLI::App& parent, Cli& cli) {
  AddPauseVerb(parent, cli, true);
}

void AddUnpause(CLI::App& parent, Cli& cli) {
  AddPauseVerb(parent, cli, false);
}

}  // namespace berth::ctr
