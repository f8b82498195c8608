// bctr wait CONTAINER...: block until each container's task has exited, print its exit code.

#include <memory>
#include <string>

#include "ctr/commands/commands.h"
#include "ctr/containers.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

// The exit code of the container's task once it is not running: at once for a stopped task or
// a container without one (its recorded exit, 0 when it never ran, as Docker's "not-running").
absl::StatusOr<uint32_t> WaitOne(Connection& conn, const std::string& ref) {
  BERTH_ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(conn, ref));
  BERTH_ASSIGN_OR_RETURN(TaskInfo t, GetTaskInfo(conn, c.id()));
  if (!t.exists || t.status == "stopped")
    return ContainerState(c, t).exit_status;
  return WaitTask(conn, c.id(), -1);
}

absl::Status RunWait(Cli& cli, const std::vector<std::string>& refs) {
  return EachContainer(refs, "wait", [&](const std::string& ref) -> absl::StatusOr<std::string> {
    BERTH_ASSIGN_OR_RETURN(uint32_t code, WaitOne(cli.conn(), ref));
    return std::to_string(code);
  });
}

}  // namespace

void AddWait(CLI::App& parent, Cli& cli) {
  auto refs = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd =
      parent.add_subcommand("wait", "Block until containers stop, then print their exit codes");
  cmd->add_option("containers", *refs, "Containers (name, id or id prefix)")->required();
  cmd->callback([&cli, refs] { cli.action = [&cli, refs] { return RunWait(cli, *refs); }; });
}

}  // namespace berth::ctr
