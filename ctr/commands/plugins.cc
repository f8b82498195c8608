// bctr plugins [ls]: berthd's plugins and whether they loaded, as `ctr plugins ls` shows them.

#include <memory>

#include "ctr/commands/commands.h"
#include "ctr/output.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

using Stub = introspection_api::Introspection::Stub;

absl::Status RunLs(Cli& cli, bool detailed, const std::string& format,
                   const std::vector<std::string>& filters) {
  introspection_api::PluginsRequest req;
  for (const std::string& f : filters) req.add_filters(f);
  introspection_api::PluginsResponse resp;
  BERTH_RETURN_IF_ERROR(cli.conn().Call(cli.conn().introspection(), &Stub::Plugins, req, &resp));
  Table t(detailed ? std::vector<std::string>{"TYPE", "ID", "PLATFORMS", "STATUS", "ERROR"}
                   : std::vector<std::string>{"TYPE", "ID", "PLATFORMS", "STATUS"});
  for (const auto& p : resp.plugins()) {
    std::string platforms;
    for (const auto& pl : p.platforms())
      platforms += (platforms.empty() ? "" : ",") + pl.os() + "/" + pl.architecture() +
                   (pl.variant().empty() ? "" : "/" + pl.variant());
    bool failed = p.has_init_err() && p.init_err().code() != 0;
    std::vector<std::string> row = {p.type(), p.id(), platforms.empty() ? "-" : platforms,
                                    failed ? "error" : "ok"};
    if (detailed)
      row.push_back(failed ? p.init_err().message() : "-");
    t.Add(std::move(row));
  }
  t.Print(format);
  return absl::OkStatus();
}

}  // namespace

void AddPlugins(CLI::App& parent, Cli& cli) {
  CLI::App* grp = parent.add_subcommand("plugins", "berthd's plugins")->alias("plugin");
  grp->require_subcommand(1);
  auto detailed = std::make_shared<bool>(false);
  auto filters = std::make_shared<std::vector<std::string>>();
  auto format = std::make_shared<std::string>("table");
  CLI::App* ls = grp->add_subcommand("ls", "List plugins")->alias("list");
  ls->add_option("--format", *format, "Output format: table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  ls->add_flag("-d,--detailed", *detailed, "Show why a plugin failed to load");
  ls->add_option("filters", *filters,
                 "containerd filters, e.g. type==io.containerd.snapshotter.v1");
  ls->callback([&cli, detailed, format, filters] {
    cli.action = [&cli, detailed, format, filters] {
      return Annotate(RunLs(cli, *detailed, *format, *filters), "plugins ls");
    };
  });
}

}  // namespace berth::ctr
