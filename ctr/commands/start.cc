// bctr start [-a] [-i] CONTAINER...: start created or exited containers.

#include <memory>

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
  std::vector<std::string> containers;
};

absl::Status RunStart(Cli& cli, const StartFlags& f) {
  if (f.attach && f.containers.size() > 1)
    return InvalidArgument("start: --attach takes one container");
  for (const std::string& ref : f.containers) {
    BERTH_ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(cli.conn(), ref));
    BERTH_ASSIGN_OR_RETURN(oci::Spec spec, ContainerSpec(c));
    TaskOptions opts;
    opts.attach = f.attach;
    opts.interactive = f.interactive;
    opts.tty = spec.process && spec.process->terminal;
    if (c.labels().contains(kRestartPolicyLabel))
      BERTH_RETURN_IF_ERROR(SetContainerLabel(cli.conn(), c.id(), kRestartStatusLabel, "running"));
    BERTH_ASSIGN_OR_RETURN(int code, StartTask(cli, c, opts));
    if (f.attach) {
      if (code != 0)
        ExitWithCode(code);
      return absl::OkStatus();
    }
    std::printf("%s\n", ref.c_str());
  }
  return absl::OkStatus();
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

}  // namespace berth::ctr
