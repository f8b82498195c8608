// berth-shim: one per container.
//   berth-shim start --id ID --namespace NS --bundle DIR --address DAEMON_SOCK [--socket PATH]
//     daemonizes (double fork, setsid, re-parented), becomes the child subreaper, serves
//     berth.shim.v1 on <bundle>/shim.sock (or --socket), writes <bundle>/shim.pid, logs to
//     <bundle>/shim.log, and prints "unix://<socket>" once it answers. Exits after the task is
//     deleted, on Shutdown, or on SIGTERM.
//   berth-shim delete --id ID --namespace NS --bundle DIR
//     cleans up after a shim that is gone: kills what is left in the container's cgroup,
//     removes it and prints a DeleteResponse (binary protobuf) on stdout.

#include "CLI/CLI.hpp"

#include "shim/daemon.h"

int main(int argc, char** argv) {
  CLI::App app{"berth-shim: the per-container shim of berth"};
  app.require_subcommand(1);
  berth::shim::ShimOptions opts;
  for (CLI::App* cmd : {app.add_subcommand("start", "start a shim daemon for a task"),
                        app.add_subcommand("delete", "clean up a bundle after its shim")}) {
    cmd->add_option("--id", opts.id, "task id")->required();
    cmd->add_option("--namespace", opts.ns, "namespace")->required();
    cmd->add_option("--bundle", opts.bundle, "bundle directory")->required();
    cmd->add_option("--address", opts.daemon_address, "berthd's socket");
    cmd->add_option("--socket", opts.socket, "socket to serve on (default <bundle>/shim.sock)");
    cmd->add_option("--log-level", opts.log_level, "log level")->default_val("info");
  }
  CLI11_PARSE(app, argc, argv);
  if (app.got_subcommand("start"))
    return berth::shim::StartShim(opts);
  return berth::shim::DeleteBundle(opts);
}
