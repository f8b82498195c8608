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
};

// Returns the process exit code: 0 after printing the address, 1 with the reason on stderr.
int StartShim(ShimOptions opts);

// Returns the exit code of `berth-shim delete`.
int DeleteBundle(const ShimOptions& opts);

}  // namespace berth::shim
