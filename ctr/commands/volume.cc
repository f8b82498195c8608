// bctr volume create | ls | inspect | rm | prune: Docker's local volumes (ctr/volumes.h), kept
// by bctr under bctr.toml's [volumes] root, per namespace.

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

#include "ctr/commands/commands.h"
#include "ctr/containers.h"
#include "ctr/output.h"
#include "ctr/volumes.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

// Each volume's users: the names of the containers whose labels name it.
absl::StatusOr<std::map<std::string, std::vector<std::string>>> VolumeUsers(Connection& conn) {
  BERTH_ASSIGN_OR_RETURN(std::vector<ContainerRecord> all, ListContainers(conn));
  std::map<std::string, std::vector<std::string>> out;
  for (const ContainerRecord& c : all) {
    for (const std::string& v : ContainerVolumes({c.labels().begin(), c.labels().end()}))
      out[v].push_back(ContainerName(c));
  }
  return out;
}

struct CreateFlags {
  std::string name;
  std::vector<std::string> labels;
};

absl::Status RunCreate(Cli& cli, const CreateFlags& f) {
  BERTH_ASSIGN_OR_RETURN(VolumeStore store, ConfiguredVolumeStore(cli.ns));
  BERTH_ASSIGN_OR_RETURN(auto labels, ParseLabelArgs(f.labels));
  absl::StatusOr<Volume> v = store.Create(f.name, labels);
  if (absl::IsAlreadyExists(v.status()))
    v = store.Get(f.name);  // as Docker: creating an existing volume names it again
  BERTH_RETURN_IF_ERROR(v.status());
  std::printf("%s\n", v->name.c_str());
  return absl::OkStatus();
}

absl::Status RunLs(Cli& cli, const ListFlags& f) {
  BERTH_ASSIGN_OR_RETURN(VolumeStore store, ConfiguredVolumeStore(cli.ns));
  BERTH_ASSIGN_OR_RETURN(std::vector<Volume> all, store.List());
  Listing out(f, {"VOLUME NAME", "DRIVER", "MOUNTPOINT"}, {"Name", "Driver", "Mountpoint"});
  for (const Volume& v : all) out.Add({v.name, "local", v.mountpoint.string()});
  return out.Print();
}

absl::Status RunInspect(Cli& cli, const std::vector<std::string>& names) {
  BERTH_ASSIGN_OR_RETURN(VolumeStore store, ConfiguredVolumeStore(cli.ns));
  nlohmann::json out = nlohmann::json::array();
  for (const std::string& name : names) {
    BERTH_ASSIGN_OR_RETURN(Volume v, store.Get(name));
    out.push_back({{"CreatedAt", v.created_at},
                   {"Driver", "local"},
                   {"Labels", v.labels},
                   {"Mountpoint", v.mountpoint.string()},
                   {"Name", v.name},
                   {"Options", nlohmann::json::object()},
                   {"Scope", "local"},
                   {"Anonymous", v.anonymous}});
  }
  std::printf("%s\n", out.dump(4).c_str());
  return absl::OkStatus();
}

struct RmFlags {
  bool force = false;  // a volume that is not there is no error
  std::vector<std::string> names;
};

absl::Status RunRm(Cli& cli, const RmFlags& f) {
  BERTH_ASSIGN_OR_RETURN(VolumeStore store, ConfiguredVolumeStore(cli.ns));
  BERTH_ASSIGN_OR_RETURN(auto users, VolumeUsers(cli.conn()));
  return EachContainer(
      f.names, "volume rm", [&](const std::string& name) -> absl::StatusOr<std::string> {
        if (auto it = users.find(name); it != users.end()) {
          return FailedPrecondition(fmt::format("volume {:?}: in use by container {}", name,
                                                fmt::join(it->second, ", ")));
        }
        absl::Status st = store.Remove(name);
        if (!st.ok() && !(f.force && absl::IsNotFound(st)))
          return st;
        return name;
      });
}

struct PruneFlags {
  bool force = false;
  bool all = false;  // named volumes too, not only anonymous ones
};

absl::Status RunPrune(Cli& cli, const PruneFlags& f) {
  if (!f.force)
    BERTH_RETURN_IF_ERROR(ConfirmPrune(f.all ? "all volumes not used by at least one container"
                                             : "all anonymous volumes not used by at least one "
                                               "container"));
  return PruneVolumes(cli, f.all);
}

}  // namespace

absl::Status PruneVolumes(Cli& cli, bool all) {
  BERTH_ASSIGN_OR_RETURN(VolumeStore store, ConfiguredVolumeStore(cli.ns));
  BERTH_ASSIGN_OR_RETURN(auto users, VolumeUsers(cli.conn()));
  BERTH_ASSIGN_OR_RETURN(std::vector<Volume> volumes, store.List());
  std::vector<std::string> removed;
  absl::Status failed;
  for (const Volume& v : volumes) {
    if (users.contains(v.name) || !(all || v.anonymous))
      continue;
    if (absl::Status st = store.Remove(v.name); !st.ok()) {
      failed = st;  // the others still go
      continue;
    }
    removed.push_back(v.name);
  }
  if (!removed.empty()) {
    std::printf("Deleted Volumes:\n");
    for (const std::string& name : removed) std::printf("%s\n", name.c_str());
  }
  return failed;
}

void AddVolume(CLI::App& parent, Cli& cli) {
  CLI::App* grp = parent.add_subcommand("volume", "Manage volumes (run -v NAME:/path)");
  grp->require_subcommand(1);

  auto cf = std::make_shared<CreateFlags>();
  CLI::App* create = grp->add_subcommand("create", "Create a volume (prints its name)");
  create->add_option("name", cf->name, "Its name (default: a random one)");
  create->add_option("-l,--label", cf->labels, "KEY=VALUE")->allow_extra_args(false);
  create->callback([&cli, cf] {
    cli.action = [&cli, cf] { return Annotate(RunCreate(cli, *cf), "volume create"); };
  });

  auto lf = std::make_shared<ListFlags>();
  CLI::App* ls = grp->add_subcommand("ls", "List volumes")->alias("list");
  lf->Add(ls, "Only names");
  ls->callback(
      [&cli, lf] { cli.action = [&cli, lf] { return Annotate(RunLs(cli, *lf), "volume ls"); }; });

  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* inspect = grp->add_subcommand("inspect", "Show volumes as JSON");
  inspect->add_option("volumes", *names, "Volumes")->required();
  inspect->callback([&cli, names] {
    cli.action = [&cli, names] { return Annotate(RunInspect(cli, *names), "volume inspect"); };
  });

  auto rf = std::make_shared<RmFlags>();
  CLI::App* rm = grp->add_subcommand("rm", "Remove volumes no container uses")->alias("remove");
  rm->add_flag("-f,--force", rf->force, "A volume that does not exist is no error");
  rm->add_option("volumes", rf->names, "Volumes")->required();
  rm->callback([&cli, rf] { cli.action = [&cli, rf] { return RunRm(cli, *rf); }; });

  auto pf = std::make_shared<PruneFlags>();
  CLI::App* prune = grp->add_subcommand(
      "prune", "Remove the anonymous volumes no container uses (-a: named ones too)");
  prune->add_flag("-a,--all", pf->all, "Named volumes too");
  prune->add_flag("-f,--force", pf->force, "Do not ask first");
  prune->callback([&cli, pf] {
    cli.action = [&cli, pf] { return Annotate(RunPrune(cli, *pf), "volume prune"); };
  });
}

}  // namespace berth::ctr
