// berth-shim: one per container.
//   berth-shim start --id ID --namespace NS --bundle DIR --address DAEMON_SOCK [--socket PATH]
//     daemonizes (double fork, setsid, re-parented), becomes the child subreaper, serves
//     berth.shim.v1 on <bundle>/shim.sock (or --socket), writes <bundle>/shim.pid, logs to
//     <bundle>/shim.log, and prints "unix://<socket>" once it answers. Exits after the task is
//     deleted, on Shutdown, or on SIGTERM.
//   berth-shim start --spare --address DAEMON_SOCK   (fd 3: a SOCK_SEQPACKET socket)
//     the same, started ahead of its task: it waits on fd 3 for "<id>\0<namespace>\0<bundle>"
//     and then serves as above, answering the address on fd 3 (shim/daemon.h).
//   berth-shim delete --id ID --namespace NS --bundle DIR
//     cleans up after a shim that is gone: kills what is left in the container's cgroup,
//     removes it and prints a DeleteResponse (binary protobuf) on stdout.

#include <iostream>

#include "CLI/CLI.hpp"

#include "lib/base/mutex_mode.h"
#include "shim/daemon.h"

int main(int argc, char** argv) {
  berth::IgnoreMutexDeadlockCycles();
  CLI::App app{"berth-shim: the per-container shim of berth"};
  app.require_subcommand(1);
  berth::shim::ShimOptions opts;
  CLI::App* start = app.add_subcommand("start", "start a shim daemon for a task");
  start->add_flag("--spare", opts.spare, "start ahead of the task, which comes on fd 3");
  for (CLI::App* cmd : {start, app.add_subcommand("delete", "clean up a bundle after its shim")}) {
    cmd->add_option("--id", opts.id, "task id");
    cmd->add_option("--namespace", opts.ns, "namespace");
    cmd->add_option("--bundle", opts.bundle, "bundle directory");
    cmd->add_option("--address", opts.daemon_address, "berthd's socket");
    cmd->add_option("--socket", opts.socket, "socket to serve on (default <bundle>/shim.sock)");
    cmd->add_option("--log-level", opts.log_level, "log level")->default_val("info");
  }
  CLI11_PARSE(app, argc, argv);
  if (!opts.spare && (opts.id.empty() || opts.ns.empty() || opts.bundle.empty())) {
    std::cerr << "berth-shim: --id, --namespace and --bundle are required\n";
    return 1;
  }
  if (app.got_subcommand("start"))
    return berth::shim::StartShim(opts);
  return berth::shim::DeleteBundle(opts);
}
