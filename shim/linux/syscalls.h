#pragma once

// Thin wrappers over the syscalls glibc 2.36 does not wrap (clone3, pidfd_*, pivot_root). They
// are plain syscalls: safe between clone and exec. They return -1 and set errno on failure.

#include <linux/sched.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>

namespace berth::shim::linux {

// fork-like clone3: returns the child's pid in the parent, 0 in the child. `flags` may hold
// CLONE_NEW* and CLONE_PIDFD (then *pidfd receives the pidfd). `exit_signal` 0 makes a child
// that waitpid(-1) without __WALL does not see (the shim's reaper leaves it alone).
// `cgroup_fd` >= 0: the child starts in that cgroup v2 directory (CLONE_INTO_CGROUP).
inline pid_t Clone3(uint64_t flags, int exit_signal, int* pidfd, int cgroup_fd = -1) {
  struct clone_args args = {};
  args.flags = flags;
  args.pidfd = reinterpret_cast<uint64_t>(pidfd);
  args.exit_signal = static_cast<uint64_t>(exit_signal);
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
  }
  return static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof(args)));
}

inline int PidfdOpen(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

inline int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

inline int PivotRoot(const char* new_root, const char* put_old) {
  return static_cast<int>(::syscall(SYS_pivot_root, new_root, put_old));
}

inline int CloseRangeCloexec(unsigned first) {
  constexpr unsigned kCloseRangeCloexec = 1U << 2;
  return static_cast<int>(::syscall(SYS_close_range, first, ~0U, kCloseRangeCloexec));
}

}  // namespace berth::shim::linux
