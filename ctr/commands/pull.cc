// bctr pull REF: download an image from a registry into berthd and unpack it.

#include "ctr/pull.h"

#include <memory>

#include "fmt/format.h"

#include "ctr/commands/commands.h"
#include "ctr/progress.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

struct PullFlags {
  std::string ref;
  std::string platform;
  bool no_unpack = false;
  std::string snapshotter = "overlayfs";
  int parallel = 3;
  RegistryFlags registry;
};

absl::Status RunPull(Cli& cli, const PullFlags& f) {
  BERTH_ASSIGN_OR_RETURN(registry::Reference ref, ParseImageRef(f.ref));
  PullOptions opts;
  if (!f.platform.empty()) {
    BERTH_ASSIGN_OR_RETURN(opts.platform, registry::ParsePlatform(f.platform));
  }
  opts.unpack = !f.no_unpack;
  opts.snapshotter = f.snapshotter;
  opts.parallel = f.parallel;
  BERTH_ASSIGN_OR_RETURN(registry::ClientOptions co, f.registry.Options(ref.domain));
  registry::Client client(std::move(co));
  const bool tty = StdoutIsTty();
  Progress progress(stdout, tty, "downloading");
  opts.observer = &progress;
  if (!tty) {
    opts.say = [](const std::string& s) {
      std::printf("%s\n", s.c_str());
      std::fflush(stdout);
    };
  }
  absl::StatusOr<PullResult> r = Pull(cli.conn(), client, ref, opts);
  progress.Stop();
  BERTH_RETURN_IF_ERROR(r.status());
  std::printf("%s: pulled %s%s\n", r->name.c_str(), r->target.digest.c_str(),
              r->chain_id.empty() ? "" : fmt::format(", unpacked to {}", r->chain_id).c_str());
  return absl::OkStatus();
}

}  // namespace

void AddPull(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<PullFlags>();
  CLI::App* cmd = parent.add_subcommand("pull", "Download an image from a registry and unpack it");
  cmd->add_option("ref", f->ref, "Image reference, e.g. busybox or 127.0.0.1:5000/app:1")
      ->required();
  cmd->add_option("--platform", f->platform, "Platform to pull from an index (os/arch[/variant])");
  cmd->add_flag("--no-unpack", f->no_unpack, "Only download; do not unpack into snapshots");
  cmd->add_option("--snapshotter", f->snapshotter, "Snapshotter to unpack into")
      ->capture_default_str();
  cmd->add_option("--max-concurrent-downloads", f->parallel, "Layers downloaded at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  f->registry.Add(*cmd);
  cmd->callback(
      [&cli, f] { cli.action = [&cli, f] { return Annotate(RunPull(cli, *f), "pull"); }; });
}

}  // namespace berth::ctr
