// bctr containers [ls | info | rm | prune | label]: berthd's container records as ctr shows them
// (ids, image, runtime), next to the Docker-style `ps`, `inspect` and `rm`.

#include <memory>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

#include "ctr/commands/commands.h"
#include "ctr/containers.h"
#include "ctr/output.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

using Stub = containers_api::Containers::Stub;

absl::Status RunLs(Cli& cli, const ListFlags& lf, const std::vector<std::string>& filters) {
  containers_api::ListContainersRequest req;
  for (const std::string& f : filters) req.add_filters(f);
  containers_api::ListContainersResponse resp;
  BERTH_RETURN_IF_ERROR(cli.conn().Call(cli.conn().containers(), &Stub::List, req, &resp));
  Listing out(lf, {"CONTAINER", "IMAGE", "RUNTIME"});
  for (const auto& c : resp.containers()) {
    out.Add({c.id(), c.image().empty() ? "-" : c.image(), c.runtime().name()});
  }
  return out.Print();
}

// The record as JSON, the spec decoded (ctr's `containers info`).
absl::Status RunInfo(Cli& cli, const std::string& ref) {
  BERTH_ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(cli.conn(), ref));
  nlohmann::json out = {{"ID", c.id()},
                        {"Labels", LabelsJson(c.labels())},
                        {"Image", c.image()},
                        {"Runtime", {{"Name", c.runtime().name()}}},
                        {"Snapshotter", c.snapshotter()},
                        {"SnapshotKey", c.snapshot_key()},
                        {"CreatedAt", TimeString(c.created_at())},
                        {"UpdatedAt", TimeString(c.updated_at())}};
  out["Spec"] = nlohmann::json::parse(c.spec().value(), nullptr, false);
  std::printf("%s\n", out.dump(4).c_str());
  return absl::OkStatus();
}

// Removes containers whose task is gone or stopped (their snapshot and log with them).
absl::Status RunRm(Cli& cli, const std::vector<std::string>& refs) {
  return EachContainer(
      refs, "containers rm", [&](const std::string& ref) -> absl::StatusOr<std::string> {
        BERTH_ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(cli.conn(), ref));
        BERTH_ASSIGN_OR_RETURN(TaskInfo t, GetTaskInfo(cli.conn(), c.id()));
        if (t.exists && t.status != "stopped")
          return FailedPrecondition(fmt::format(
              "container {:?}: its task is {} (stop it or use `bctr rm -f`)", ref, t.status));
        if (t.exists)
          BERTH_RETURN_IF_ERROR(DeleteTask(cli.conn(), c.id()).status());
        BERTH_RETURN_IF_ERROR(RemoveContainer(cli.conn(), c));
        return ref;
      });
}

absl::Status RunLabel(Cli& cli, const std::string& ref, const std::vector<std::string>& args) {
  BERTH_ASSIGN_OR_RETURN(auto labels, ParseLabelArgs(args));
  BERTH_ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(cli.conn(), ref));
  for (const auto& [k, v] : labels)
    BERTH_RETURN_IF_ERROR(SetContainerLabel(cli.conn(), c.id(), k, v));
  BERTH_ASSIGN_OR_RETURN(ContainerRecord after, FindContainer(cli.conn(), c.id()));
  std::printf("%s\n", LabelsCell(after.labels()).c_str());
  return absl::OkStatus();
}

}  // namespace

void AddContainers(CLI::App& parent, Cli& cli) {
  CLI::App* grp = parent.add_subcommand("containers", "Manage container records (ctr style)")
                      ->alias("container");
  grp->require_subcommand(1);

  auto lf = std::make_shared<ListFlags>();
  auto args = std::make_shared<std::vector<std::string>>();
  CLI::App* ls = grp->add_subcommand("ls", "List containers")->alias("list");
  lf->Add(ls, "Only ids");
  ls->add_option("filters", *args, "containerd filters, e.g. image~=busybox");
  ls->callback([&cli, lf, args] {
    cli.action = [&cli, lf, args] { return Annotate(RunLs(cli, *lf, *args), "containers ls"); };
  });

  auto ref = std::make_shared<std::string>();
  CLI::App* info = grp->add_subcommand("info", "Show a container record as JSON");
  info->add_option("container", *ref, "Container id or name")->required();
  info->callback([&cli, ref] {
    cli.action = [&cli, ref] { return Annotate(RunInfo(cli, *ref), "containers info"); };
  });

  CLI::App* rm = grp->add_subcommand("rm", "Remove stopped containers")->alias("delete");
  rm->add_option("containers", *args, "Container ids or names")->required();
  rm->callback([&cli, args] { cli.action = [&cli, args] { return RunRm(cli, *args); }; });

  AddContainerPrune(*grp, cli);

  CLI::App* label = grp->add_subcommand("label", "Set (KEY=VALUE) or clear (KEY=) labels");
  label->add_option("container", *ref, "Container id or name")->required();
  label->add_option("labels", *args, "KEY=VALUE labels");
  label->callback([&cli, ref, args] {
    cli.action = [&cli, ref, args] {
      return Annotate(RunLabel(cli, *ref, *args), "containers label");
    };
  });
}

}  // namespace berth::ctr
