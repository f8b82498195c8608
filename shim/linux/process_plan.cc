#include "shim/linux/process_plan.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "fmt/format.h"

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
  for (const std::string& e : process.env) {
    if (e != "HOME=")  // runc treats an empty HOME as none
      plan->env.push_back(e);
  }
  plan->lookup_home = std::none_of(plan->env.begin(), plan->env.end(),
                                   [](const std::string& e) { return e.starts_with("HOME="); });
  for (std::string& a : plan->args) plan->argv.push_back(a.data());
  plan->argv.push_back(nullptr);
  for (std::string& e : plan->env) plan->envp.push_back(e.data());
  if (plan->lookup_home)
    plan->envp.push_back(plan->home_env.data());
  plan->envp.push_back(nullptr);
  plan->candidates = Candidates(process.args.at(0), process.env);
  plan->not_in_path = fmt::format("{:?}: executable file not found in $PATH", process.args[0]);
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

// Writes "HOME=<home>" into `out` if `line` (no newline) is the passwd entry of `uid`.
bool MatchPasswdLine(const char* line, size_t len, uid_t uid, std::array<char, 4096 + 6>& out) {
  size_t field_start[7] = {};
  size_t fields = 1;
  for (size_t i = 0; i < len && fields < 7; ++i) {
    if (line[i] == ':')
      field_start[fields++] = i + 1;
  }
  if (fields < 7)
    return false;
  uint64_t id = 0;
  size_t i = field_start[2];
  if (i + 1 >= field_start[3])
    return false;  // empty uid
  for (; i + 1 < field_start[3]; ++i) {
    if (line[i] < '0' || line[i] > '9' || id > UINT32_MAX)
      return false;
    id = id * 10 + static_cast<uint64_t>(line[i] - '0');
  }
  if (id != uid)
    return false;
  size_t home_len = field_start[6] - 1 - field_start[5];
  if (home_len + 6 > out.size())
    return false;
  std::memcpy(out.data(), "HOME=", 5);
  std::memcpy(out.data() + 5, line + field_start[5], home_len);
  out[5 + home_len] = '\0';
  return true;
}

// Child side, after the container's root is in place and before the user switch: fills
// plan.home_env from /etc/passwd without allocating (clone from a threaded shim).
void LookupHome(const ProcessPlan& plan) {
  std::array<char, 4096 + 6>& out = plan.home_env;
  std::memcpy(out.data(), "HOME=/", 7);
  int fd = ::open("/etc/passwd", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  char chunk[4096];
  char line[4096];
  size_t len = 0;
  bool too_long = false;
  bool found = false;  // MatchPasswdLine writes `out` only when it matches
  ssize_t n;
  while (!found && (n = ::read(fd, chunk, sizeof(chunk))) > 0) {
    for (ssize_t i = 0; i < n && !found; ++i) {
      if (chunk[i] != '\n') {
        if (len < sizeof(line))
          line[len++] = chunk[i];
        else
          too_long = true;
        continue;
      }
      found = !too_long && MatchPasswdLine(line, len, plan.uid, out);
      len = 0;
      too_long = false;
    }
  }
  if (!found && !too_long && len > 0)
    found = MatchPasswdLine(line, len, plan.uid, out);  // a last line without a newline
  ::close(fd);
}

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

void CheckProgram(const ProcessPlan& plan, int sync) {
  if (::chdir(plan.cwd.c_str()) != 0)  // a relative candidate is relative to the cwd
    ChildFail(sync, errno, "chdir", plan.cwd.c_str());
  int err = ENOENT;  // as the exec loop below: the first error other than ENOENT wins
  for (const std::string& c : plan.candidates) {
    struct stat st;
    int e = 0;
    if (::stat(c.c_str(), &st) != 0)
      e = errno;
    else if (S_ISDIR(st.st_mode))
      e = EACCES;
    else if (::faccessat(AT_FDCWD, c.c_str(), X_OK, AT_EACCESS) != 0)
      e = errno;
    else
      return;
    if (e != ENOENT || err == ENOENT)
      err = e;
  }
  bool searched = plan.args[0].find('/') == std::string::npos;
  ChildFail(sync, err, "exec",
            searched && err == ENOENT ? plan.not_in_path.c_str() : plan.args[0].c_str());
}

void FinalizeAndExec(const ProcessPlan& plan, int sync) {
  if (plan.lookup_home)
    LookupHome(plan);
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
