// bctr container prune [-f], bctr image prune -a [-f] and bctr system prune [-a] [--volumes] [-f]:
// remove, in one go, every container that is not running, every image no container uses and the
// anonymous volumes no container uses (ctr/commands/volume.cc), as Docker's prune verbs do.
// Without -f the user is asked first (a line from stdin; anything but y or yes keeps everything).

#include <iostream>
#include <memory>
#include <set>
#include <string>

#include "fmt/format.h"

#include "ctr/commands/commands.h"
#include "ctr/containers.h"
#include "ctr/stdio.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {

absl::Status ConfirmPrune(const std::string& what) {
  std::fprintf(stderr, "WARNING! This will remove %s.\nAre you sure you want to continue? [y/N] ",
               what.c_str());
  std::string answer;
  std::getline(std::cin, answer);
  if (answer == "y" || answer == "Y" || answer == "yes")
    return absl::OkStatus();
  return FailedPrecondition("not confirmed, nothing removed (-f removes without asking)");
}

namespace {

struct PruneFlags {
  bool force = false;
  bool all = false;  // images: every image no container uses (berth keeps no untagged ones)
};

// Every container that is not running, removed; false when one could not be.
absl::StatusOr<bool> PruneContainers(Cli& cli) {
  Connection& conn = cli.conn();
  BERTH_ASSIGN_OR_RETURN(std::vector<ContainerRecord> all, ListContainers(conn));
  std::vector<std::string> removed;
  bool ok = true;
  for (const ContainerRecord& c : all) {
    absl::Status st = [&]() -> absl::Status {
      BERTH_ASSIGN_OR_RETURN(TaskInfo t, GetTaskInfo(conn, c.id()));
      if (t.exists && t.status != "stopped")
        return absl::OkStatus();  // running, paused, or created and about to start
      BERTH_RETURN_IF_ERROR(RemoveExitedContainer(conn, c, t));
      removed.push_back(c.id());
      return absl::OkStatus();
    }();
    if (!st.ok()) {
      std::fprintf(stderr, "bctr: container prune: container %s: %s\n", c.id().c_str(),
                   std::string(st.message()).c_str());
      ok = false;
    }
  }
  if (!removed.empty()) {
    std::printf("Deleted Containers:\n");
    for (const std::string& id : removed) std::printf("%s\n", id.c_str());
  }
  return ok;
}

// Every image no container uses, removed; false when one could not be.
absl::StatusOr<bool> PruneImages(Cli& cli) {
  Connection& conn = cli.conn();
  BERTH_ASSIGN_OR_RETURN(std::vector<ContainerRecord> containers, ListContainers(conn));
  std::set<std::string> used;
  for (const ContainerRecord& c : containers) used.insert(c.image());
  images_api::ListImagesRequest req;
  images_api::ListImagesResponse resp;
  auto ctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.images().List(ctx.get(), req, &resp)));
  std::vector<std::string> removed;
  bool ok = true;
  for (const auto& img : resp.images()) {
    if (used.contains(img.name()))
      continue;
    images_api::DeleteImageRequest del;
    del.set_name(img.name());
    google::protobuf::Empty empty;
    auto dctx = conn.Context();
    absl::Status st = conn.Check(conn.images().Delete(dctx.get(), del, &empty));
    if (st.ok() || absl::IsNotFound(st)) {
      removed.push_back(img.name());
      continue;
    }
    std::fprintf(stderr, "bctr: image prune: %s\n", std::string(st.message()).c_str());
    ok = false;
  }
  if (!removed.empty()) {
    std::printf("Deleted Images:\n");
    for (const std::string& name : removed) std::printf("untagged: %s\n", name.c_str());
  }
  return ok;
}

absl::Status RunContainerPrune(Cli& cli, const PruneFlags& f) {
  if (!f.force)
    BERTH_RETURN_IF_ERROR(ConfirmPrune("all stopped containers"));
  BERTH_ASSIGN_OR_RETURN(bool ok, PruneContainers(cli));
  if (!ok)
    ExitWithCode(1);
  return absl::OkStatus();
}

absl::Status RunImagePrune(Cli& cli, const PruneFlags& f) {
  if (!f.all)
    return absl::OkStatus();  // nothing dangling: every image in berthd has a name
  if (!f.force)
    BERTH_RETURN_IF_ERROR(
        ConfirmPrune("all images without at least one container associated to them"));
  BERTH_ASSIGN_OR_RETURN(bool ok, PruneImages(cli));
  if (!ok)
    ExitWithCode(1);
  return absl::OkStatus();
}

struct SystemPruneFlags {
  bool force = false;
  bool all = false;      // images no container uses
  bool volumes = false;  // anonymous volumes no container uses
};

// docker system prune: stopped containers, then (-a) unused images, then (--volumes) unused
// anonymous volumes, after one question.
absl::Status RunSystemPrune(Cli& cli, const SystemPruneFlags& f) {
  if (!f.force) {
    std::string what = "all stopped containers";
    if (f.all)
      what += ", all images without at least one container associated to them";
    if (f.volumes)
      what += ", all anonymous volumes not used by at least one container";
    BERTH_RETURN_IF_ERROR(ConfirmPrune(what));
  }
  BERTH_ASSIGN_OR_RETURN(bool ok, PruneContainers(cli));
  if (f.all) {
    BERTH_ASSIGN_OR_RETURN(bool images_ok, PruneImages(cli));
    ok = ok && images_ok;
  }
  if (f.volumes)
    BERTH_RETURN_IF_ERROR(Annotate(PruneVolumes(cli, /*all=*/false), "volumes"));
  if (!ok)
    ExitWithCode(1);
  return absl::OkStatus();
}

}  // namespace

void AddContainerPrune(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<PruneFlags>();
  CLI::App* cmd = parent.add_subcommand("prune", "Remove every container that is not running");
  cmd->add_flag("-f,--force", f->force, "Do not ask first");
  cmd->callback([&cli, f] {
    cli.action = [&cli, f] { return Annotate(RunContainerPrune(cli, *f), "container prune"); };
  });
}

void AddImagePrune(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<PruneFlags>();
  CLI::App* cmd = parent.add_subcommand(
      "prune",
      "Remove unused images (-a: every image no container uses; berth keeps no "
      "untagged ones)");
  cmd->add_flag("-a,--all", f->all, "Every image that no container uses");
  cmd->add_flag("-f,--force", f->force, "Do not ask first");
  cmd->callback([&cli, f] {
    cli.action = [&cli, f] { return Annotate(RunImagePrune(cli, *f), "image prune"); };
  });
}

void AddSystem(CLI::App& parent, Cli& cli) {
  CLI::App* grp = parent.add_subcommand("system", "Manage berth as a whole (prune)");
  grp->require_subcommand(1);
  auto f = std::make_shared<SystemPruneFlags>();
  CLI::App* cmd = grp->add_subcommand(
      "prune",
      "Remove stopped containers (-a: and unused images; --volumes: and unused anonymous "
      "volumes)");
  cmd->add_flag("-a,--all", f->all, "Every image that no container uses too");
  cmd->add_flag("--volumes", f->volumes, "Anonymous volumes that no container uses too");
  cmd->add_flag("-f,--force", f->force, "Do not ask first");
  cmd->callback([&cli, f] {
    cli.action = [&cli, f] { return Annotate(RunSystemPrune(cli, *f), "system prune"); };
  });
}

}  // namespace berth::ctr
