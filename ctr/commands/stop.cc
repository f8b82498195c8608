// bctr stop [-t SECONDS] CONTAINER... and bctr kill [-s SIGNAL] CONTAINER...

#include <signal.h>

#include <memory>
#include <optional>

#include "fmt/format.h"

#include "ctr/commands/commands.h"
#include "ctr/containers.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

struct StopFlags {
  std::optional<int> timeout;  // default: the container's --stop-timeout, else 10
  std::string signal = "KILL";
  std::vector<std::string> containers;
};

absl::Status RunStop(Cli& cli, const StopFlags& f) {
  return EachContainer(f.containers, "stop",
                       [&](const std::string& ref) -> absl::StatusOr<std::string> {
                         BERTH_ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(cli.conn(), ref));
                         BERTH_RETURN_IF_ERROR(StopContainer(cli.conn(), c, f.timeout));
                         return ref;
                       });
}

absl::Status RunKill(Cli& cli, const StopFlags& f) {
  BERTH_ASSIGN_OR_RETURN(int sig, ParseSignal(f.signal));
  return EachContainer(
      f.containers, "kill", [&](const std::string& ref) -> absl::StatusOr<std::string> {
        BERTH_ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(cli.conn(), ref));
        BERTH_ASSIGN_OR_RETURN(TaskInfo t, GetTaskInfo(cli.conn(), c.id()));
        if (!t.exists || t.status == "stopped")
          return FailedPrecondition(fmt::format("container {:?}: is not running", ref));
        if (c.labels().contains(kRestartPolicyLabel) && (sig == SIGKILL || sig == SIGTERM))
          BERTH_RETURN_IF_ERROR(
              SetContainerLabel(cli.conn(), c.id(), kRestartStatusLabel, "stopped"));
        BERTH_RETURN_IF_ERROR(KillTask(cli.conn(), c.id(), sig));
        return ref;
      });
}

}  // namespace

void AddStop(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<StopFlags>();
  CLI::App* cmd = parent.add_subcommand(
      "stop", "Stop containers: their stop signal (default SIGTERM), then SIGKILL");
  cmd->add_option_function<int>(
         "-t,--time", [f](int t) { f->timeout = t; },
         "Seconds to wait before SIGKILL (default: the container's --stop-timeout, else 10)")
      ->check(CLI::Range(0, 86400));
  cmd->add_option("containers", f->containers, "Containers (name, id or id prefix)")->required();
  cmd->callback([&cli, f] { cli.action = [&cli, f] { return RunStop(cli, *f); }; });
}

void AddKill(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<StopFlags>();
  CLI::App* cmd = parent.add_subcommand("kill", "Send a signal to containers");
  cmd->add_option("-s,--signal", f->signal, "Signal: name (TERM, SIGHUP) or number")
      ->capture_default_str();
  cmd->add_option("containers", f->containers, "Containers (name, id or id prefix)")->required();
  cmd->callback(
      [&cli, f] { cli.action = [&cli, f] { return Annotate(RunKill(cli, *f), "kill"); }; });
}

}  // namespace berth::ctr
