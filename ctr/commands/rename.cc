// bctr rename OLD NEW: give a container another name.

#include <memory>

#include "ctr/commands/commands.h"
#include "ctr/containers.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

absl::Status RunRename(Cli& cli, const std::string& from, const std::string& to) {
  Connection& conn = cli.conn();
  BERTH_RETURN_IF_ERROR(ValidateContainerName(to));
  BERTH_ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(conn, from));
  if (ContainerName(c) == to)
    return absl::OkStatus();
  BERTH_RETURN_IF_ERROR(CheckNameFree(conn, to));
  return SetContainerLabel(conn, c.id(), kNameLabel, to);
}

}  // namespace

void AddRename(CLI::App& parent, Cli& cli) {
  auto names = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* cmd = parent.add_subcommand("rename", "Rename a container");
  cmd->add_option("container", names->first, "Container (name, id or id prefix)")->required();
  cmd->add_option("new-name", names->second, "Its new name")->required();
  cmd->callback([&cli, names] {
    cli.action = [&cli, names] {
      return Annotate(RunRename(cli, names->first, names->second), "rename");
    };
  });
}

}  // namespace berth::ctr
