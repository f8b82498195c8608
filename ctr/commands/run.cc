// bctr run [flags] IMAGE [CMD...] and bctr create: a container from an image, as docker run.

#include <memory>

#include "ctr/commands/commands.h"
#include "ctr/container_create.h"
#include "ctr/stdio.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/meta/labels.h"

namespace berth::ctr {
namespace {

absl::Status RunRun(Cli& cli, const RunFlags& f) {
  BERTH_ASSIGN_OR_RETURN(ContainerRecord c, CreateContainer(cli, f));
  TaskOptions opts;
  opts.attach = !f.detach;
  opts.interactive = f.interactive;
  opts.tty = f.tty;
  opts.remove = f.rm;
  absl::StatusOr<int> code = StartTask(cli, c, opts);
  if (!code.ok()) {
    // As docker: a container whose task could not start stays (Created), unless --rm.
    if (f.rm) {
      (void)DeleteTask(cli.conn(), c.id());
      (void)RemoveContainer(cli.conn(), c);
      (void)meta::RemoveAnonymousVolumes({c.labels().begin(), c.labels().end()}, cli.conn().ns());
    }
    return code.status();
  }
  if (f.detach) {
    std::printf("%s\n", c.id().c_str());
    return absl::OkStatus();
  }
  if (*code != 0)
    ExitWithCode(*code);
  return absl::OkStatus();
}

absl::Status RunCreate(Cli& cli, const RunFlags& f) {
  BERTH_ASSIGN_OR_RETURN(ContainerRecord c, CreateContainer(cli, f));
  std::printf("%s\n", c.id().c_str());
  return absl::OkStatus();
}

}  // namespace

void AddRun(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<RunFlags>();
  CLI::App* cmd = parent.add_subcommand("run", "Create and start a container from an image");
  f->Add(*cmd, true);
  cmd->callback([&cli, f] { cli.action = [&cli, f] { return Annotate(RunRun(cli, *f), "run"); }; });
}

void AddCreate(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<RunFlags>();
  CLI::App* cmd = parent.add_subcommand("create", "Create a container from an image (not started)");
  f->Add(*cmd, false);
  cmd->callback(
      [&cli, f] { cli.action = [&cli, f] { return Annotate(RunCreate(cli, *f), "create"); }; });
}

}  // namespace berth::ctr
