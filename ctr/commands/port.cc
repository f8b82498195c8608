// bctr port CONTAINER [PORT[/PROTO]]: the container's published ports, as docker port prints
// them ("80/tcp -> 0.0.0.0:8080"; with PORT, only where that port is reachable on the host).

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "fmt/format.h"

#include "ctr/commands/commands.h"
#include "ctr/container_create.h"
#include "ctr/containers.h"
#include "ctr/network.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

struct PortFlags {
  std::string container;
  std::string port;  // PORT or PORT/PROTO; empty: all
};

absl::Status RunPort(Cli& cli, const PortFlags& f) {
  uint32_t want_port = 0;
  std::string want_proto = "tcp";
  if (!f.port.empty()) {
    std::string number = f.port;
    if (size_t slash = f.port.find('/'); slash != std::string::npos) {
      number = f.port.substr(0, slash);
      want_proto = f.port.substr(slash + 1);
    }
    if (!absl::SimpleAtoi(number, &want_port) || want_port == 0 || want_port > 65535 ||
        (want_proto != "tcp" && want_proto != "udp" && want_proto != "sctp")) {
      return InvalidArgument(
          fmt::format("port {:?}: want PORT or PORT/PROTO (tcp, udp, sctp), PORT 1-65535", f.port));
    }
  }
  BERTH_ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(cli.conn(), f.container));
  BERTH_ASSIGN_OR_RETURN(oci::Spec spec, ContainerSpec(c));
  bool found = false;
  for (const cni::PortMapping& p : PublishedPorts(spec)) {
    if (want_port == 0) {
      std::printf("%u/%s -> %s\n", p.container_port, p.protocol.c_str(), HostEndpoint(p).c_str());
    } else if (p.container_port == want_port && p.protocol == want_proto) {
      std::printf("%s\n", HostEndpoint(p).c_str());
      found = true;
    }
  }
  if (want_port != 0 && !found) {
    return absl::NotFoundError(
        fmt::format("container {:?}: no published port {}/{}", f.container, want_port, want_proto));
  }
  return absl::OkStatus();
}

}  // namespace

void AddPort(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<PortFlags>();
  CLI::App* cmd = parent.add_subcommand("port", "List the ports a container publishes (run -p)");
  cmd->add_option("container", f->container, "Container (name, id or id prefix)")->required();
  cmd->add_option("port", f->port, "Only this container port: PORT or PORT/PROTO");
  cmd->callback(
      [&cli, f] { cli.action = [&cli, f] { return Annotate(RunPort(cli, *f), "port"); }; });
}

}  // namespace berth::ctr
