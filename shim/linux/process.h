#pragma once

// ChildProcess owns a process this runtime started: its pid and a pidfd. Signals go through
// pidfd_send_signal, so a recycled pid is never hit. Unless Release()d, the destructor sends
// SIGKILL and reaps it. Move-only; not thread-safe (one owner).
//
// Waiting uses waitid(P_PIDFD, __WALL), so it works for children with any exit signal. In the
// shim, the reaper collects children started with SIGCHLD as their exit signal; Wait() then
// returns ECHILD, and the reaper's record is the one that counts.

#include <sys/types.h>

#include <chrono>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "lib/base/unique_fd.h"

namespace berth::shim::linux {

// The exit status as the shell reports it: the exit code, or 128+N after signal N.
int ExitStatusFromWait(int code, int status);

// Signals `pid` through a pidfd opened for the call (no bare kill()). NotFound when gone.
absl::Status SignalPid(pid_t pid, int sig);

// Signals every member of process group `pgid` (kill(-pgid)). Only for a group whose leader
// the caller started and has not reaped (then the id cannot have been reused). NotFound when
// the group is empty.
absl::Status SignalProcessGroup(pid_t pgid, int sig);

class ChildProcess {
 public:
  ChildProcess() = default;

  ChildProcess(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}

  ChildProcess(ChildProcess&& o) noexcept;
  ChildProcess& operator=(ChildProcess&& o) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  // Adopts a child by pid (opens its pidfd). NotFound when it is gone.
  static absl::StatusOr<ChildProcess> Adopt(pid_t pid);

  pid_t pid() const { return pid_; }

  int pidfd() const { return pidfd_.get(); }

  bool valid() const { return pid_ > 0; }

  // Sends `sig`. NotFound (ESRCH) when the process has exited.
  absl::Status Signal(int sig) const;

  // Blocks until the process exits and reaps it; returns the exit status (ExitStatusFromWait).
  // With a timeout, DeadlineExceeded when it is still running (it stays owned).
  absl::StatusOr<int> Wait(std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  // Gives up ownership: the destructor will neither kill nor reap. Returns the pid.
  pid_t Release();

 private:
  void KillAndReap();

  pid_t pid_ = -1;
  UniqueFd pidfd_;
};

}  // namespace berth::shim::linux
