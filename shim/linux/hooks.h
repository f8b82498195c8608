#pragma once

// OCI hooks (runtime-spec config.md "POSIX-platform Hooks"): each hook is path + args + env,
// started with exactly that environment, the container state JSON on stdin, and its stdout
// and stderr captured (the first KiB goes into the error when it fails). Where they run:
//   prestart, createRuntime, poststart, poststop: the runtime's namespaces (the shim's);
//   createContainer, startContainer: the container's namespaces (HookTarget), the hook a child
//   of an intermediate that joined them with setns(init pidfd), so it is in the container's
//   pid namespace too. createContainer runs before pivot_root, so its path resolves as on the
//   host; startContainer runs after it, so its path resolves in the container's root.
// A hook with a timeout is SIGKILLed, with every process of its process group, when the
// timeout passes. Hook processes are ClaimedChild children (see exit_claims.h), so the shim's
// reaper cannot steal their exit.

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
  pid_t pid = 0;       // the container's init as the host sees it
  std::string bundle;
  std::map<std::string, std::string> annotations;
};

// The runtime-spec state JSON.
std::string StateJson(const HookState& state);

// Where hooks run: the runtime's namespaces (init_pidfd < 0) or the namespaces `ns_flags`
// (CLONE_NEW*) of the process behind `init_pidfd`.
struct HookTarget {
  int init_pidfd = -1;
  int ns_flags = 0;
};

// InvalidArgument for a hook whose path is not absolute or whose timeout is not positive,
// naming it: `hooks.prestart[1]: timeout must be greater than zero`.
absl::Status ValidateHooks(const oci::Hooks& hooks);

// Runs `hooks` in order; stops at the first failure. `stage` names them in errors:
//   `hooks.createRuntime[0] /bin/x: exited with status 3: <output>`
//   `hooks.startContainer[1] /x: exec: No such file or directory` (NotFound)
//   `hooks.prestart[0] /bin/x: timed out after 2s; killed` (DeadlineExceeded)
absl::Status RunHooks(const std::vector<oci::Hook>& hooks, const HookState& state,
                      std::string_view stage, const HookTarget& target = {});

}  // namespace berth::shim::linux
