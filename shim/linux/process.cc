#include "shim/linux/process.h"

#include <poll.h>
#include <sys/wait.h>

#include <csignal>
#include <utility>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "shim/linux/syscalls.h"

namespace berth::shim::linux {

int ExitStatusFromWait(int code, int status) {
  if (code == CLD_EXITED)
    return status;
  return 128 + status;
}

absl::Status SignalPid(pid_t pid, int sig) {
  UniqueFd fd(PidfdOpen(pid));
  if (!fd.valid())
    return ErrnoError(errno, fmt::format("pidfd_open {}", pid));
  if (PidfdSendSignal(fd.get(), sig) != 0)
    return ErrnoError(errno, fmt::format("signal {} to pid {}", sig, pid));
  return absl::OkStatus();
}

absl::Status SignalProcessGroup(pid_t pgid, int sig) {
  if (pgid <= 1)
    return InvalidArgument(fmt::format("process group {}: not a group this runtime started", pgid));
  if (::kill(-pgid, sig) != 0)
    return ErrnoError(errno, fmt::format("signal {} to process group {}", sig, pgid));
  return absl::OkStatus();
}

ChildProcess::ChildProcess(ChildProcess&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)), pidfd_(std::move(o.pidfd_)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  if (this != &o) {
    KillAndReap();
    pid_ = std::exchange(o.pid_, -1);
    pidfd_ = std::move(o.pidfd_);
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  KillAndReap();
}

absl::StatusOr<ChildProcess> ChildProcess::Adopt(pid_t pid) {
  int fd = PidfdOpen(pid);
  if (fd < 0)
    return ErrnoError(errno, fmt::format("pidfd_open {}", pid));
  return ChildProcess(pid, UniqueFd(fd));
}

absl::Status ChildProcess::Signal(int sig) const {
  if (!pidfd_.valid())
    return FailedPrecondition("process: not started");
  if (PidfdSendSignal(pidfd_.get(), sig) != 0)
    return ErrnoError(errno, fmt::format("signal {} to pid {}", sig, pid_));
  return absl::OkStatus();
}

absl::StatusOr<int> ChildProcess::Wait(std::optional<std::chrono::milliseconds> timeout) {
  if (!pidfd_.valid())
    return FailedPrecondition("process: not started");
  if (timeout) {
    struct pollfd pfd = {pidfd_.get(), POLLIN, 0};
    int r;
    do {
      r = ::poll(&pfd, 1, static_cast<int>(timeout->count()));
    } while (r < 0 && errno == EINTR);
    if (r == 0)
      return absl::DeadlineExceededError(fmt::format("pid {} still running", pid_));
  }
  siginfo_t info = {};
  int r;
  do {
    r = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &info,
                 WEXITED | __WALL);
  } while (r < 0 && errno == EINTR);
  if (r != 0)
    return ErrnoError(errno, fmt::format("wait for pid {}", pid_));
  pid_ = -1;
  pidfd_.reset();
  return ExitStatusFromWait(info.si_code, info.si_status);
}

pid_t ChildProcess::Release() {
  pidfd_.reset();
  return std::exchange(pid_, -1);
}

void ChildProcess::KillAndReap() {
  if (!pidfd_.valid())
    return;
  PidfdSendSignal(pidfd_.get(), SIGKILL);
  siginfo_t info = {};
  while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &info,
                  WEXITED | __WALL) < 0 &&
         errno == EINTR) {
  }
  pidfd_.reset();
  pid_ = -1;
}

}  // namespace berth::shim::linux
