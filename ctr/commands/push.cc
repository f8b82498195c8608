// bctr push REF [LOCAL]: upload an image from berthd to a registry.

#include "ctr/push.h"

#include <memory>

#include "ctr/commands/commands.h"
#include "ctr/progress.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

struct PushFlags {
  std::string remote;
  std::string local;
  RegistryFlags registry;
};

absl::Status RunPush(Cli& cli, const PushFlags& f) {
  BERTH_ASSIGN_OR_RETURN(registry::Reference remote, ParseImageRef(f.remote));
  std::string local = remote.String();
  if (!f.local.empty()) {
    BERTH_ASSIGN_OR_RETURN(registry::Reference l, ParseImageRef(f.local));
    local = l.String();
  }
  BERTH_ASSIGN_OR_RETURN(registry::ClientOptions co, f.registry.Options(remote.domain));
  registry::Client client(std::move(co));
  const bool tty = StdoutIsTty();
  Progress progress(stdout, tty, "uploading");
  PushOptions opts;
  opts.observer = &progress;
  absl::Status st = Push(cli.conn(), client, local, remote, opts);
  progress.Stop();
  BERTH_RETURN_IF_ERROR(st);
  std::printf("%s: pushed\n", remote.String().c_str());
  return absl::OkStatus();
}

}  // namespace

void AddPush(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<PushFlags>();
  CLI::App* cmd = parent.add_subcommand("push", "Upload an image to a registry");
  cmd->add_option("ref", f->remote, "Where to push, e.g. 127.0.0.1:5000/app:1")->required();
  cmd->add_option("local", f->local, "The local image to push (default: the same name)");
  f->registry.Add(*cmd);
  cmd->callback(
      [&cli, f] { cli.action = [&cli, f] { return Annotate(RunPush(cli, *f), "push"); }; });
}

}  // namespace berth::ctr
