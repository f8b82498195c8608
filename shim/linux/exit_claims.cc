#include "shim/linux/exit_claims.h"

#include <poll.h>
#include <sys/wait.h>

#include <csignal>
#include <map>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "fmt/format.h"

#include "lib/base/status.h"
#include "shim/linux/syscalls.h"

namespace berth::shim::linux {
namespace {

struct Claims {
  absl::Mutex mu;
  bool enabled = false;                         // GUARDED_BY(mu)
  std::map<pid_t, std::optional<int>> pending;  // GUARDED_BY(mu); the exit once reaped
};

Claims& GetClaims() {
  static auto* claims = new Claims();  // never destroyed: the reaper may outlive statics
  return *claims;
}

// waitid on the pidfd without blocking: the status when this call reaped the child.
std::optional<int> TryReap(int pidfd, pid_t pid) {
  siginfo_t info = {};
  if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info,
               WEXITED | WNOHANG | __WALL) == 0 &&
      info.si_pid == pid)
    return ExitStatusFromWait(info.si_code, info.si_status);
  return std::nullopt;
}

}  // namespace

void EnableExitClaims() {
  absl::MutexLock lock(&GetClaims().mu);
  GetClaims().enabled = true;
}

bool ClaimExit(pid_t pid, int status) {
  Claims& c = GetClaims();
  absl::MutexLock lock(&c.mu);
  auto it = c.pending.find(pid);
  if (it == c.pending.end())
    return false;
  it->second = status;
  return true;
}

ClaimedChild::ClaimedChild(ClaimedChild&& o) noexcept
    : proc_(std::move(o.proc_)), claimed_(std::exchange(o.claimed_, false)) {}

ClaimedChild& ClaimedChild::operator=(ClaimedChild&& o) noexcept {
  if (this != &o) {
    Drop();
    proc_ = std::move(o.proc_);
    claimed_ = std::exchange(o.claimed_, false);
  }
  return *this;
}

ClaimedChild::~ClaimedChild() {
  Drop();
}

void ClaimedChild::Drop() {
  pid_t pid = proc_.pid();
  proc_ = ChildProcess();  // SIGKILL and reap (ECHILD when the reaper got there first)
  if (claimed_) {
    Claims& c = GetClaims();
    absl::MutexLock lock(&c.mu);
    c.pending.erase(pid);
  }
  claimed_ = false;
}

absl::StatusOr<ClaimedChild> ClaimedChild::Clone(uint64_t flags, absl::FunctionRef<void()> in_child,
                                                 std::string_view what) {
  Claims& c = GetClaims();
  int pidfd = -1;
  pid_t pid = -1;
  bool claimed = false;
  {
    // Held across clone: the reaper cannot see the exit before the claim exists.
    absl::MutexLock lock(&c.mu);
    pid = Clone3(flags | CLONE_PIDFD, 0, &pidfd);
    if (pid == 0) {
      in_child();  // never returns; the child never touches its copy of the lock
      ::_exit(127);
    }
    claimed = pid > 0 && c.enabled;
    if (claimed)
      c.pending[pid];
  }
  if (pid < 0)
    return ErrnoError(errno, fmt::format("{}: clone", what));
  ClaimedChild child;
  child.proc_ = ChildProcess(pid, UniqueFd(pidfd));
  child.claimed_ = claimed;
  return child;
}

absl::StatusOr<int> ClaimedChild::Wait(std::optional<std::chrono::milliseconds> timeout) {
  if (!proc_.valid())
    return FailedPrecondition("process: not started");
  if (!claimed_)
    return proc_.Wait(timeout);
  if (timeout) {
    // The pidfd is readable once the process has exited, reaped or not.
    struct pollfd pfd = {proc_.pidfd(), POLLIN, 0};
    int r;
    do {
      r = ::poll(&pfd, 1, static_cast<int>(timeout->count()));
    } while (r < 0 && errno == EINTR);
    if (r == 0)
      return absl::DeadlineExceededError(fmt::format("pid {} still running", proc_.pid()));
  }
  Claims& c = GetClaims();
  pid_t pid = proc_.pid();
  std::optional<int> status;
  {
    absl::MutexLock lock(&c.mu);
    auto exited = [&c, pid]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(c.mu) { return c.pending[pid].has_value(); };
    // Every 50 ms, reap it ourselves if the reaper has not: it may be busy or stopped.
    while (!c.mu.AwaitWithTimeout(absl::Condition(&exited), absl::Milliseconds(50))) {
      if ((status = TryReap(proc_.pidfd(), pid)))
        break;
    }
    if (!status)
      status = *c.pending[pid];
    c.pending.erase(pid);
  }
  claimed_ = false;
  (void)proc_.Release();  // reaped, by the reaper or by TryReap
  return *status;
}

}  // namespace berth::shim::linux
