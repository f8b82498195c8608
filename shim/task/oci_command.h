#pragma once

// Runs one command of an external OCI runtime (runc, crun) and waits for it. The processes it
// leaves behind (the container's init, detached execs) are re-parented to the shim, a child
// subreaper, and reaped by its reaper as usual.
//
// The runtime itself is a linux::ClaimedChild (shim/linux/exit_claims.h): inside the shim the
// reaper hands its exit over instead of reporting it as a container process's.

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

}  // namespace berth::shim
