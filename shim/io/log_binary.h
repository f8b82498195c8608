#pragma once

// "binary:///path/to/logger?key=value&...": a logging program that receives a process's
// output, as containerd's shim starts it (the logging plugin interface nerdctl and others
// use). The program runs with the query as arguments (key value ...), CONTAINER_ID and
// CONTAINER_NAMESPACE as its only environment, the bundle as its directory, /dev/null as its
// stdio, the read ends of the stdout and stderr pipes as fds 3 and 4 and the write end of a
// "ready" pipe as fd 5: Start returns once it wrote to or closed fd 5. It sees EOF when the
// process and the shim have closed the pipes' write ends; when the process is deleted it gets
// a moment to finish, then SIGTERM, then SIGKILL.

#include <sys/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "lib/base/unique_fd.h"
#include "shim/linux/exit_claims.h"

namespace berth::shim {

struct LogBinaryCommand {
  std::string path;               // absolute, percent-decoded
  std::vector<std::string> args;  // the query's keys and values, in order
};

// Parses "binary:///abs/path[?k=v&...]" (host empty or "localhost"). InvalidArgument naming
// the URI for a relative or empty path or a bad %-escape.
absl::StatusOr<LogBinaryCommand> ParseBinaryUri(std::string_view uri);

class LogBinary {
 public:
  // Starts the program of `uri` and waits (up to `ready_timeout`) for it to be ready.
  // Errors name the URI; a program that fails to start or to get ready is killed.
  static absl::StatusOr<std::unique_ptr<LogBinary>> Start(
      std::string_view uri, const std::string& ns, const std::string& id,
      absl::Duration ready_timeout = absl::Seconds(10));
  ~LogBinary();  // see the header comment: waits for the program, at most ~3 s

  // The write ends for the process's stdout and stderr (once each).
  UniqueFd TakeStdout() { return std::move(stdout_w_); }

  UniqueFd TakeStderr() { return std::move(stderr_w_); }

  pid_t pid() const { return child_.pid(); }

 private:
  LogBinary() = default;

  linux::ClaimedChild child_;  // its exit is claimed: never taken for a container process's
  UniqueFd stdout_w_, stderr_w_;
};

}  // namespace berth::shim
