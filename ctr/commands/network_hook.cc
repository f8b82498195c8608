// bctr __network-hook up|down: the OCI hook that attaches a container to its CNI network and
// detaches it again (ctr/network.h). Hidden: the shim runs it, with the container's state on
// stdin; everything else it needs is in its arguments, written into the spec by `run`/`create`.

#include <iostream>
#include <iterator>
#include <memory>

#include "ctr/commands/commands.h"
#include "ctr/network.h"

namespace berth::ctr {

void AddNetworkHook(CLI::App& parent, Cli& cli) {
  struct Flags {
    std::string stage, ns, network;
    NetworkSettings settings;
  };

  auto f = std::make_shared<Flags>();
  f->settings.plugin_dirs.clear();
  CLI::App* cmd =
      parent.add_subcommand("__network-hook", "A container's CNI attachment (OCI hook)");
  cmd->group("");  // hidden
  cmd->add_option("stage", f->stage, "up or down")
      ->required()
      ->check(CLI::IsMember({"up", "down"}));
  cmd->add_option("--ns", f->ns, "The container's namespace")->required();
  cmd->add_option("--network", f->network, "The network's name")->required();
  cmd->add_option("--conf-dir", f->settings.conf_dir, "CNI configurations")->required();
  cmd->add_option("--state-dir", f->settings.state_dir, "IPAM leases and results")->required();
  cmd->add_option("--plugin-dir", f->settings.plugin_dirs, "CNI plugin directories")->required();
  cmd->callback([&cli, f] {
    cli.action = [f] {
      std::string state(std::istreambuf_iterator<char>(std::cin), {});
      return RunNetworkHook(f->stage, f->settings, f->ns, f->network, state);
    };
  });
}

}  // namespace berth::ctr
