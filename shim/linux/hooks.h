#pragma once

// OCI hooks run by the runtime (prestart, createRuntime, poststart, poststop) with the
// container state as JSON on stdin, each with its timeout. createContainer and startContainer
// hooks are not run by the embedded runtime yet (Create rejects a spec that has them).

#include <sys/types.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

#include "lib/oci/spec.h"

namespace berth::shim::linux {

struct HookState {
  std::string id;
  std::string status;  // creating, created, running, stopped
  pid_t pid = 0;
  std::string bundle;
  std::map<std::string, std::string> annotations;
};

// The runtime-spec state JSON.
std::string StateJson(const HookState& state);

// Runs `hooks` in order; stops at the first failure. `stage` names them in errors:
// `hooks.poststart[0] /bin/x: exited with status 3`.
absl::Status RunHooks(const std::vector<oci::Hook>& hooks, const HookState& state,
                      std::string_view stage);

}  // namespace berth::shim::linux
