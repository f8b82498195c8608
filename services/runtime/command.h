#pragma once

// Runs a helper program from berthd (berth-shim start|delete) and collects its output. berthd
// is multi-threaded, so this uses posix_spawn, never fork; the child starts with an empty
// signal mask and default signal dispositions (berthd blocks SIGTERM and ignores SIGPIPE, which
// a shim and its containers must not inherit), stdin from /dev/null and no other fd of berthd
// (but `pass_fd` as fd 3 when given).

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::runtime {

struct CommandOutput {
  int exit_code = 0;  // 128+N after signal N
  std::string out;
  std::string err;
};

// The program gets /dev/null as stdin, pipes as stdout and stderr, `pass_fd` (when not -1) as
// fd 3 and no other descriptor of the caller.
// Errors: the errno of posix_spawn naming the program; DeadlineExceeded after `timeout` (the
// child is then killed and reaped). A non-zero exit is not an error here.
absl::StatusOr<CommandOutput> RunProgram(const std::vector<std::string>& argv,
                                         std::chrono::milliseconds timeout, int pass_fd = -1);

}  // namespace berth::runtime
