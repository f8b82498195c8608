#pragma once

// Runs one command of an external OCI runtime (runc, crun) and waits for it. The processes it
// leaves behind (the container's init, detached execs) are re-parented to the shim, a child
// subreaper, and reaped by its reaper as usual.
//
// The runtime itself is cloned with exit signal 0, but on this machine's kernel waitpid(-1)
// without __WALL reaps such children too, so inside the shim the reaper would steal the
// runtime's exit from its pidfd. The shim therefore enables exit claims: its reaper offers
// every exit to ClaimRuntimeExit first, and RunOciCommand waits for the exit it is handed.
// Without claims (`berth-shim delete`, tests), RunOciCommand waits on the pidfd.

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "lib/base/unique_fd.h"
#include "shim/linux/process_plan.h"

namespace berth::shim {

struct OciCommand {
  std::vector<std::string> args = {};  // argv; args[0] is the absolute path of the binary
  // The runtime's stdin/stdout/stderr (borrowed; -1: /dev/null). runc create and exec pass
  // them on to the container's process. Ignored for a stream that is captured or fed.
  linux::Stdio stdio = {};
  bool capture_output = false;  // stdout into OciResult::out, stderr into OciResult::err
  std::string input = {};       // written to the runtime's stdin when not empty
  // When set, a socket is listening at this path for the duration of the command and the
  // pty master the runtime sends over it (SCM_RIGHTS) lands in OciResult::console.
  std::string console_socket = {};
};

struct OciResult {
  int status = 0;  // exit code, or 128+N after signal N
  std::string out;
  std::string err;
  UniqueFd console;
};

// Errors: errno errors naming the binary when it cannot be started; a non-zero exit is not an
// error here (see status).
absl::StatusOr<OciResult> RunOciCommand(const OciCommand& cmd);

// Call once, before the reaper starts, in a process whose reaper calls ClaimRuntimeExit.
void EnableRuntimeExitClaims();

// From the reaper's callback: true when `pid` is a runtime command that RunOciCommand waits
// for (the exit is consumed; do not report it as a container process's). Thread-safe.
bool ClaimRuntimeExit(pid_t pid, int status);

}  // namespace berth::shim
