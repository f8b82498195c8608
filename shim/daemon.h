#pragma once

// The two commands of berth-shim (main.cc parses, these run). StartShim daemonizes before it
// creates any thread, logger or gRPC object.

#include <string>

namespace berth::shim {

struct ShimOptions {
  std::string id;
  std::string ns;
  std::string bundle;
  std::string daemon_address;
  std::string socket;  // default <bundle>/shim.sock
  std::string log_level = "info";
  // A spare shim (`start --spare`): it daemonizes and prepares the process as any shim, then
  // waits on fd 3 (a SOCK_SEQPACKET socket from berthd) for its task: one message
  // "<id>\0<namespace>\0<bundle>", answered with "unix://<socket>" once it serves there, or an
  // error. It exits when berthd closes fd 3 without sending one.
  bool spare = false;
};

// The fd a spare shim gets its task on.
inline constexpr int kSpareChannelFd = 3;

// Returns the process exit code: 0 after printing the address, 1 with the reason on stderr.
int StartShim(ShimOptions opts);

// Returns the exit code of `berth-shim delete`.
int DeleteBundle(const ShimOptions& opts);

}  // namespace berth::shim
