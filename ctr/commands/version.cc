// bctr version: this client's version and berthd's.

#include "lib/base/version.h"

#include "ctr/commands/commands.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {

void AddVersion(CLI::App& parent, Cli& cli) {
  CLI::App* cmd = parent.add_subcommand("version", "Show the client's and berthd's versions");
  cmd->callback([&cli] {
    cli.action = [&cli]() -> absl::Status {
      std::printf("Client:\n  Version:  %s\n  Revision: %s\n\n", std::string(Version()).c_str(),
                  std::string(Revision()).c_str());
      Connection& conn = cli.conn();
      google::protobuf::Empty req;
      version_api::VersionResponse resp;
      auto ctx = conn.Context();
      BERTH_RETURN_IF_ERROR(
          Annotate(conn.Check(conn.version().Version(ctx.get(), req, &resp)), "version"));
      std::printf("Server:\n  Version:  %s\n  Revision: %s\n", resp.version().c_str(),
                  resp.revision().c_str());
      return absl::OkStatus();
    };
  });
}

}  // namespace berth::ctr
