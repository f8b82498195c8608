// bctr start [-a] [-i] CONTAINER...: start created or exited containers; bctr restart [-t N]
// CONTAINER...: stop them (as bctr stop) and start them again.

#include <memory>
#include <optional>

#include "ctr/commands/commands.h"
#include "ctr/container_create.h"
#include "ctr/stdio.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

struct StartFlags {
  bool attach = false;
  bool interactive = false;
  std::optional<int> timeout;  // restart: seconds before SIGKILL
  std::vector<std::string> containers;
};

// Starts the container's task (its restart status "running" first, so that berthd's restart
// monitor keeps it up); with `attach`, returns its exit code.
absl::StatusOr<int> StartOne(Cli& cli, const ContainerRecord& c, bool attach, bool interactive) {
  BERTH_ASSIGN_OR_RETURN(oci::Spec spec, ContainerSpec(c));
  TaskOptions opts;
  opts.attach = attach;
  opts.interactive = interactive;
  opts.tty = spec.process && spec.process->terminal;
  if (c.labels().contains(kRestartPolicyLabel))
    BERTH_RETURN_IF_ERROR(SetContainerLabel(cli.conn(), c.id(), kRestartStatusLabel, "running"));
  return StartTask(cli, c, opts);
}

absl::Status RunStart(Cli& cli, const StartFlags& f) {
  if (f.attach && f.containers.size() > 1)
    return InvalidArgument("start: --attach takes one container");
  for (const std::string& ref : f.containers) {
    BERTH_ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(cli.conn(), ref));
    BERTH_ASSIGN_OR_RETURN(int code, StartOne(cli, c, f.attach, f.interactive));
    if (f.attach) {
      if (code != 0)
        ExitWithCode(code);
      return absl::OkStatus();
    }
    std::printf("%s\n", ref.c_str());
  }
  return absl::OkStatus();
}

// Stops and starts one container. A container run with `-d --rm` is not removed on the way:
// its auto-remove label is set aside while its task stops and given back once the new one runs.
absl::Status RestartOne(Cli& cli, const std::string& ref, std::optional<int> timeout) {
  Connection& conn = cli.conn();
  BERTH_ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(conn, ref));
  const bool auto_remove = c.labels().contains(kAutoRemoveLabel);
  if (auto_remove)
    BERTH_RETURN_IF_ERROR(SetContainerLabel(conn, c.id(), kAutoRemoveLabel, ""));
  absl::Status st = StopContainer(conn, c, timeout);
  if (st.ok())
    st = StartOne(cli, c, false, false).status();
  if (auto_remove)
    BERTH_RETURN_IF_ERROR(SetContainerLabel(conn, c.id(), kAutoRemoveLabel, "true"));
  return st;
}

absl::Status RunRestart(Cli& cli, const StartFlags& f) {
  return EachContainer(f.containers, "restart",
                       [&](const std::string& ref) -> absl::StatusOr<std::string> {
                         BERTH_RETURN_IF_ERROR(RestartOne(cli, ref, f.timeout));
                         return ref;
                       });
}

}  // namespace

void AddStart(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<StartFlags>();
  CLI::App* cmd = parent.add_subcommand("start", "Start created or stopped containers");
  cmd->add_flag("-a,--attach", f->attach, "Attach stdout/stderr and exit with the container");
  cmd->add_flag("-i,--interactive", f->interactive, "Attach stdin too");
  cmd->add_option("containers", f->containers, "Containers (name, id or id prefix)")->required();
  cmd->callback(
      [&cli, f] { cli.action = [&cli, f] { return Annotate(RunStart(cli, *f), "start"); }; });
}

void AddRestart(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<StartFlags>();
  CLI::App* cmd = parent.add_subcommand("restart", "Stop containers and start them again");
  cmd->add_option_function<int>(
         "-t,--time", [f](int t) { f->timeout = t; },
         "Seconds to wait before SIGKILL (default: the container's --stop-timeout, else 10)")
      ->check(CLI::Range(0, 86400));
  cmd->add_option("containers", f->containers, "Containers (name, id or id prefix)")->required();
  cmd->callback([&cli, f] { cli.action = [&cli, f] { return RunRestart(cli, *f); }; });
}

}  // namespace berth::ctr
