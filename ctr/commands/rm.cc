// bctr rm [-f] [-v] CONTAINER...: remove containers with their task, snapshot and log (and with
// -v their anonymous volumes).

#include <signal.h>

#include <memory>

#include "fmt/format.h"

#include "ctr/commands/commands.h"
#include "ctr/containers.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/meta/labels.h"

namespace berth::ctr {
namespace {

struct RmFlags {
  bool force = false;
  bool volumes = false;  // -v: the container's anonymous volumes too
  std::vector<std::string> containers;
};

absl::Status RemoveOne(Cli& cli, const std::string& ref, const RmFlags& f) {
  Connection& conn = cli.conn();
  BERTH_ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(conn, ref));
  BERTH_ASSIGN_OR_RETURN(TaskInfo t, GetTaskInfo(conn, c.id()));
  if (t.exists && t.status != "stopped") {
    if (!f.force) {
      return FailedPrecondition(
          fmt::format("container {:?}: is {}; stop it first or use rm -f", ref, t.status));
    }
    if (c.labels().contains(kRestartPolicyLabel))
      BERTH_RETURN_IF_ERROR(SetContainerLabel(conn, c.id(), kRestartStatusLabel, "stopped"));
    BERTH_RETURN_IF_ERROR(KillTask(conn, c.id(), SIGKILL, true));
    BERTH_RETURN_IF_ERROR(WaitTask(conn, c.id(), 30000).status());
  }
  BERTH_RETURN_IF_ERROR(RemoveExitedContainer(conn, c, t));
  if (f.volumes)
    return meta::RemoveAnonymousVolumes({c.labels().begin(), c.labels().end()}, conn.ns());
  return absl::OkStatus();
}

absl::Status RunRm(Cli& cli, const RmFlags& f) {
  return EachContainer(f.containers, "rm",
                       [&](const std::string& ref) -> absl::StatusOr<std::string> {
                         BERTH_RETURN_IF_ERROR(RemoveOne(cli, ref, f));
                         return ref;
                       });
}

}  // namespace

void AddRm(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<RmFlags>();
  CLI::App* cmd = parent.add_subcommand("rm", "Remove containers");
  cmd->add_flag("-f,--force", f->force, "Kill running containers first");
  cmd->add_flag("-v,--volumes", f->volumes, "Remove the containers' anonymous volumes too");
  cmd->add_option("containers", f->containers, "Containers (name, id or id prefix)")->required();
  cmd->callback([&cli, f] { cli.action = [&cli, f] { return RunRm(cli, *f); }; });
}

}  // namespace berth::ctr
