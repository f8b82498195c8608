#pragma once

// Runs a helper program and collects its output: berth-shim start|delete from berthd, CNI
// plugins from bctr. Callers may be multi-threaded, so this uses posix_spawn, never fork; the
// child starts with an empty signal mask and default signal dispositions (berthd blocks SIGTERM
// and ignores SIGPIPE, which a shim and its containers must not inherit), stdin from /dev/null
// or from `input`, and no other fd of the caller (but `pass_fd` as fd 3 when given).

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth {

struct CommandOutput {
  int exit_code = 0;  // 128+N after signal N
  std::string out;
  std::string err;
};

struct ProgramOptions {
  std::chrono::milliseconds timeout{10000};
  int pass_fd = -1;   // becomes the program's fd 3
  std::string input;  // written to the program's stdin (empty: stdin is /dev/null)
  // The program's environment (unset: the caller's).
  std::optional<std::vector<std::string>> env;
};

// The program gets stdin as above, pipes as stdout and stderr and no other descriptor of the
// caller. argv[0] is a path (no $PATH search).
// Errors: the errno of posix_spawn naming the program; DeadlineExceeded after the timeout (the
// child is then killed and reaped). A non-zero exit is not an error here.
absl::StatusOr<CommandOutput> RunProgram(const std::vector<std::string>& argv,
                                         const ProgramOptions& options);

inline absl::StatusOr<CommandOutput> RunProgram(const std::vector<std::string>& argv,
                                                std::chrono::milliseconds timeout,
                                                int pass_fd = -1) {
  ProgramOptions options;
  options.timeout = timeout;
  options.pass_fd = pass_fd;
  return RunProgram(argv, options);
}

}  // namespace berth
