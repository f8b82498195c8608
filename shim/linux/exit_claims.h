#pragma once

// Children whose exit status the code that started them needs (hooks, external runtime
// commands), in a process where a reaper thread also reaps with waitpid(-1).
//
// Such children are cloned with exit signal 0, which once kept them out of waitpid(-1)
// without __WALL. On this machine's kernel (6.18) that holds only until the child execs:
// after execve, waitpid(-1, WNOHANG) reaps it (ClaimsTest.ExecdExitSignalZeroChildIsSeenByWaitpid
// shows it). The shim's reaper would then take the exit and the starter's waitid on the
// pidfd fails with ECHILD. So, in the shim:
//   - main() calls EnableExitClaims() before the reaper starts;
//   - ClaimedChild::Clone registers the pid under a lock held across clone, so the reaper can
//     never see the exit before the claim exists;
//   - the reaper offers every exit to ClaimExit() first and reports only the unclaimed ones;
//   - ClaimedChild::Wait takes the exit from the claim, or reaps the child itself through the
//     pidfd when the reaper has not (yet) done so, or no longer runs.
// Without claims (tests, `berth-shim delete`), Wait uses the pidfd alone.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"

#include "shim/linux/process.h"

namespace berth::shim::linux {

// Process-wide; call once, before the reaper thread starts.
void EnableExitClaims();

// From the reaper: true when `pid` is a claimed child (its exit is recorded for its waiter
// and must not be reported as a container process's). Thread-safe.
bool ClaimExit(pid_t pid, int status);

// A child started by Clone, owned like ChildProcess: unless waited for, the destructor
// SIGKILLs and reaps it. Move-only; one owner thread.
class ClaimedChild {
 public:
  ClaimedChild() = default;
  ClaimedChild(ClaimedChild&& o) noexcept;
  ClaimedChild& operator=(ClaimedChild&& o) noexcept;
  ~ClaimedChild();

  // Clones a child (clone3 with CLONE_PIDFD | `flags`, exit signal 0) that runs `in_child`,
  // which must only make syscalls and never return (exec or _exit). Errors name `what`.
  static absl::StatusOr<ClaimedChild> Clone(uint64_t flags, absl::FunctionRef<void()> in_child,
                                            std::string_view what);

  pid_t pid() const { return proc_.pid(); }

  int pidfd() const { return proc_.pidfd(); }

  bool valid() const { return proc_.valid(); }

  absl::Status Signal(int sig) const { return proc_.Signal(sig); }

  // Waits for the exit; returns the status (exit code, or 128+N after signal N). With a
  // timeout, DeadlineExceeded when it still runs (it stays owned).
  absl::StatusOr<int> Wait(std::optional<std::chrono::milliseconds> timeout = std::nullopt);

 private:
  void Drop();

  ChildProcess proc_;
  bool claimed_ = false;
};

}  // namespace berth::shim::linux
