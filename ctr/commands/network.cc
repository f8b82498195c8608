// bctr network ls | inspect: the CNI networks `run --net` can name (ctr/network.h).

#include "ctr/network.h"

#include <memory>

#include "ctr/commands/commands.h"
#include "ctr/config.h"
#include "ctr/output.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

absl::Status RunLs(const ListFlags& f) {
  BERTH_ASSIGN_OR_RETURN(ClientConfig config, LoadClientConfig(ClientConfigPath()));
  BERTH_ASSIGN_OR_RETURN(std::vector<cni::NetworkConfig> all, AllNetworks(config.network));
  Listing out(f, {"NAME", "PLUGINS", "SOURCE"});
  for (const cni::NetworkConfig& n : all) {
    std::string plugins;
    for (const nlohmann::json& p : n.plugins)
      plugins += (plugins.empty() ? "" : ",") + p.value("type", std::string());
    out.Add({n.name, plugins, n.source});
  }
  return out.Print();
}

absl::Status RunInspect(const std::vector<std::string>& names) {
  BERTH_ASSIGN_OR_RETURN(ClientConfig config, LoadClientConfig(ClientConfigPath()));
  nlohmann::json out = nlohmann::json::array();
  for (const std::string& name : names) {
    BERTH_ASSIGN_OR_RETURN(cni::NetworkConfig n, LoadNetwork(config.network, name));
    out.push_back({{"name", n.name},
                   {"cniVersion", n.cni_version},
                   {"plugins", n.plugins},
                   {"source", n.source}});
  }
  std::printf("%s\n", out.dump(2).c_str());
  return absl::OkStatus();
}

}  // namespace

void AddNetwork(CLI::App& parent, Cli& cli) {
  CLI::App* grp =
      parent.add_subcommand("network", "CNI networks for run --net (bctr.toml [network])");
  grp->require_subcommand(1);

  auto lf = std::make_shared<ListFlags>();
  CLI::App* ls = grp->add_subcommand("ls", "List the networks")->alias("list");
  lf->Add(ls, "Only names");
  ls->callback([&cli, lf] { cli.action = [lf] { return Annotate(RunLs(*lf), "network ls"); }; });

  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* inspect = grp->add_subcommand("inspect", "Show networks' CNI configuration lists");
  inspect->add_option("names", *names, "Networks")->required();
  inspect->callback([&cli, names] {
    cli.action = [names] { return Annotate(RunInspect(*names), "network inspect"); };
  });
}

}  // namespace berth::ctr
