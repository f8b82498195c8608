#include "shim/linux/process_plan.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "lib/base/status_macros.h"
#include "shim/linux/sync.h"
#include "shim/linux/syscalls.h"

namespace berth::shim::linux {
namespace {

std::vector<std::string> Candidates(const std::string& program,
                                    const std::vector<std::string>& env) {
  if (program.find('/') != std::string::npos)
    return {program};
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const std::string& e : env) {
    if (e.rfind("PATH=", 0) == 0)
      path = e.substr(5);
  }
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find(':', i);
    if (j == std::string::npos)
      j = path.size();
    std::string dir = path.substr(i, j - i);
    out.push_back((dir.empty() ? std::string(".") : dir) + "/" + program);
    i = j + 1;
  }
  return out;
}

void Dup(int from, int to, int sync) {
  if (from == to) {
    int flags = ::fcntl(to, F_GETFD);
    if (flags < 0 || ::fcntl(to, F_SETFD, flags & ~FD_CLOEXEC) != 0)
      ChildFail(sync, errno, "stdio", "clear cloexec");
    return;
  }
  if (::dup2(from, to) < 0)
    ChildFail(sync, errno, "stdio", "dup2");
}

}  // namespace

absl::StatusOr<std::unique_ptr<ProcessPlan>> PlanProcess(const oci::Process& process,
                                                         const std::optional<oci::Seccomp>& seccomp,
                                                         const Stdio& stdio) {
  auto plan = std::make_unique<ProcessPlan>();
  plan->args = process.args;
  plan->env = process.env;
  for (std::string& a : plan->args) plan->argv.push_back(a.data());
  plan->argv.push_back(nullptr);
  for (std::string& e : plan->env) plan->envp.push_back(e.data());
  plan->envp.push_back(nullptr);
  plan->candidates = Candidates(process.args.at(0), process.env);
  plan->cwd = process.cwd;
  plan->uid = process.user.uid;
  plan->gid = process.user.gid;
  plan->groups.assign(process.user.additional_gids.begin(), process.user.additional_gids.end());
  if (process.user.umask)
    plan->umask = static_cast<mode_t>(*process.user.umask);
  plan->rlimits = process.rlimits;
  plan->caps = PlanCapabilities(process.capabilities);
  plan->no_new_privs = process.no_new_privileges;
  if (seccomp) {
    BERTH_ASSIGN_OR_RETURN(SeccompProgram prog, CompileSeccomp(*seccomp));
    plan->seccomp = std::move(prog);
  }
  plan->stdio = stdio;
  return plan;
}

void SetupStdio(const ProcessPlan& plan, int sync) {
  if (::setsid() < 0)
    ChildFail(sync, errno, "setsid", nullptr);
  const Stdio& s = plan.stdio;
  if (s.console >= 0) {
    if (::ioctl(s.console, TIOCSCTTY, 0) != 0)
      ChildFail(sync, errno, "ioctl TIOCSCTTY", nullptr);
    for (int fd = 0; fd < 3; ++fd) Dup(s.console, fd, sync);
    return;
  }
  int null_fd = -1;
  const int fds[3] = {s.in, s.out, s.err};
  for (int fd = 0; fd < 3; ++fd) {
    if (fds[fd] >= 0) {
      Dup(fds[fd], fd, sync);
      continue;
    }
    if (null_fd < 0 && (null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
      ChildFail(sync, errno, "open", "/dev/null");
    Dup(null_fd, fd, sync);
  }
}

namespace {

// Raw syscalls: glibc's wrappers broadcast to every thread it believes exists (setxid), and
// after clone from a multi-threaded shim those threads are gone: the wrapper would hang.
void SwitchUser(const ProcessPlan& plan, int sync) {
  if (plan.set_groups && ::syscall(SYS_setgroups, plan.groups.size(),
                                   plan.groups.empty() ? nullptr : plan.groups.data()) != 0)
    ChildFail(sync, errno, "setgroups", nullptr);
  if (::syscall(SYS_setresgid, plan.gid, plan.gid, plan.gid) != 0)
    ChildFail(sync, errno, "setresgid", nullptr);
  if (::syscall(SYS_setresuid, plan.uid, plan.uid, plan.uid) != 0)
    ChildFail(sync, errno, "setresuid", nullptr);
}

}  // namespace

void FinalizeAndExec(const ProcessPlan& plan, int sync) {
  for (const oci::Rlimit& r : plan.rlimits) {
    struct rlimit rl = {r.soft, r.hard};
    if (::setrlimit(static_cast<__rlimit_resource>(r.resource), &rl) != 0)
      ChildFail(sync, errno, "setrlimit", r.type.c_str());
  }
  if (::chdir(plan.cwd.c_str()) != 0)
    ChildFail(sync, errno, "chdir", plan.cwd.c_str());
  DropBoundingSet(plan.caps, sync);
  if (plan.seccomp && !plan.no_new_privs)
    LoadSeccomp(*plan.seccomp, sync);
  SwitchUser(plan, sync);
  ApplyCapabilities(plan.caps, sync);
  if (plan.umask)
    ::umask(*plan.umask);
  if (plan.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    ChildFail(sync, errno, "prctl", "PR_SET_NO_NEW_PRIVS");
  CloseRangeCloexec(3);
  // The shim blocks SIGCHLD (for its signalfd) and ignores SIGPIPE: give the process defaults.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  if (plan.seccomp && plan.no_new_privs)
    LoadSeccomp(*plan.seccomp, sync);
  int err = ENOENT;
  for (const std::string& c : plan.candidates) {
    ::execve(c.c_str(), plan.argv.data(), plan.envp.data());
    if (errno != ENOENT || err == ENOENT)
      err = errno;
  }
  ChildFail(sync, err, "exec", plan.args[0].c_str());
}

}  // namespace berth::shim::linux
