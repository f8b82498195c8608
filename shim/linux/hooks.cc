#include "shim/linux/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/base/unique_fd.h"
#include "shim/linux/exit_claims.h"
#include "shim/linux/process.h"
#include "shim/linux/syscalls.h"

namespace berth::shim::linux {

std::string StateJson(const HookState& state) {
  nlohmann::json j = {{"ociVersion", "1.1.0"},  {"id", state.id},
                      {"status", state.status}, {"pid", state.pid},
                      {"bundle", state.bundle}, {"annotations", state.annotations}};
  return j.dump();
}

absl::Status ValidateHooks(const oci::Hooks& hooks) {
  const std::pair<const char*, const std::vector<oci::Hook>*> stages[] = {
      {"prestart", &hooks.prestart},
      {"createRuntime", &hooks.create_runtime},
      {"createContainer", &hooks.create_container},
      {"startContainer", &hooks.start_container},
      {"poststart", &hooks.poststart},
      {"poststop", &hooks.poststop}};
  for (const auto& [stage, list] : stages) {
    for (size_t i = 0; i < list->size(); ++i) {
      const oci::Hook& h = (*list)[i];
      if (h.path.empty() || h.path[0] != '/')
        return InvalidArgument(
            fmt::format("hooks.{}[{}]: path {:?} is not absolute", stage, i, h.path));
      if (h.timeout && *h.timeout <= 0)
        return InvalidArgument(
            fmt::format("hooks.{}[{}] {}: timeout must be greater than zero", stage, i, h.path));
    }
  }
  return absl::OkStatus();
}

namespace {

constexpr size_t kMaxOutput = 1024;

// What the hook's child reports on its error pipe when it fails before exec.
enum class HookStep : int32_t { kStdio = 1, kSetns, kClone, kExec };

struct HookError {
  HookStep step;
  int32_t err;
};

const char* StepName(HookStep s) {
  switch (s) {
    case HookStep::kStdio:
      return "set up stdio";
    case HookStep::kSetns:
      return "join the container's namespaces";
    case HookStep::kClone:
      return "clone";
    case HookStep::kExec:
      return "exec";
  }
  return "start";
}

// Everything the child needs, prepared before clone.
struct HookSpawn {
  std::string path;
  std::vector<std::string> args, env;
  std::vector<char*> argv, envp;
  int state_fd = -1;  // memfd holding the state JSON
  int out_fd = -1;    // write end of the output pipe
  int err_fd = -1;    // write end of the error pipe (CLOEXEC: closed by a successful exec)
  HookTarget target;
  sigset_t empty_mask;
};

[[noreturn]] void Fail(const HookSpawn& s, HookStep step, int err) {
  HookError e{step, err};
  (void)!::write(s.err_fd, &e, sizeof(e));
  ::_exit(step == HookStep::kExec && err == ENOENT ? 127 : 126);
}

[[noreturn]] void ExecHook(const HookSpawn& s) {
  ::execve(s.path.c_str(), s.argv.data(), s.envp.data());
  Fail(s, HookStep::kExec, errno);
}

// The intermediate's copy: the hook it started (a process group of its own).
volatile pid_t g_hook_pid = 0;

// SIGTERM to the intermediate (the timeout): kill the hook's group. The intermediate stays
// to reap the hook: were it killed first, the hook would be re-parented out of its pid
// namespace and, unreaped, keep the container's init from dying.
void KillHookGroup(int) {
  pid_t pid = g_hook_pid;
  if (pid > 0 && ::kill(-pid, SIGKILL) != 0)
    (void)::kill(pid, SIGKILL);
}

// The child: own process group (so a timeout kills everything the hook started), stdio,
// default signals; in the container's namespaces through a grandchild whose status it relays.
[[noreturn]] void HookChild(const HookSpawn& s) {
  (void)::setpgid(0, 0);
  if (::dup2(s.state_fd, 0) < 0 || ::dup2(s.out_fd, 1) < 0 || ::dup2(s.out_fd, 2) < 0)
    Fail(s, HookStep::kStdio, errno);
  (void)CloseRangeCloexec(3);
  ::sigprocmask(SIG_SETMASK, &s.empty_mask, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  if (s.target.init_pidfd < 0)
    ExecHook(s);
  if (::setns(s.target.init_pidfd, s.target.ns_flags) != 0)
    Fail(s, HookStep::kSetns, errno);
  struct sigaction sa = {};
  sa.sa_handler = KillHookGroup;  // no SA_RESTART: waitpid returns EINTR and loops
  ::sigaction(SIGTERM, &sa, nullptr);
  pid_t pid = Clone3(0, SIGCHLD, nullptr);
  if (pid < 0)
    Fail(s, HookStep::kClone, errno);
  if (pid == 0) {
    ::signal(SIGTERM, SIG_DFL);
    (void)::setpgid(0, 0);
    ExecHook(s);
  }
  g_hook_pid = pid;
  ::close(s.err_fd);  // only the hook's copy reports now
  int status = 0;
  while (::waitpid(pid, &status, __WALL) < 0) {
    if (errno != EINTR)
      ::_exit(126);
  }
  ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

absl::Status PrepareSpawn(const oci::Hook& hook, const std::string& state, const HookTarget& t,
                          HookSpawn& s, UniqueFd& state_fd, UniqueFd& out_rd, UniqueFd& out_wr,
                          UniqueFd& err_rd, UniqueFd& err_wr) {
  s.path = hook.path;
  s.args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  s.env = hook.env;
  for (std::string& a : s.args) s.argv.push_back(a.data());
  s.argv.push_back(nullptr);
  for (std::string& e : s.env) s.envp.push_back(e.data());
  s.envp.push_back(nullptr);
  s.target = t;
  sigemptyset(&s.empty_mask);
  state_fd.reset(::memfd_create("hook-state", MFD_CLOEXEC));
  if (!state_fd.valid())
    return ErrnoError(errno, "memfd_create");
  if (::write(state_fd.get(), state.data(), state.size()) != static_cast<ssize_t>(state.size()) ||
      ::lseek(state_fd.get(), 0, SEEK_SET) != 0)
    return ErrnoError(errno, "write the state");
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0)
    return ErrnoError(errno, "pipe");
  out_rd.reset(p[0]);
  out_wr.reset(p[1]);
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
    return ErrnoError(errno, "pipe");
  err_rd.reset(p[0]);
  err_wr.reset(p[1]);
  if (::fcntl(out_rd.get(), F_SETFL, O_NONBLOCK) != 0)
    return ErrnoError(errno, "fcntl");
  s.state_fd = state_fd.get();
  s.out_fd = out_wr.get();
  s.err_fd = err_wr.get();
  return absl::OkStatus();
}

// Reads what is available into `out` (up to kMaxOutput; the rest is dropped). False at EOF.
bool Drain(int fd, std::string& out) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      out.append(buf,
                 std::min(static_cast<size_t>(n), kMaxOutput - std::min(out.size(), kMaxOutput)));
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    return n < 0 && errno == EAGAIN;
  }
}

// Collects output until the hook exits or the deadline passes. False on timeout.
bool Supervise(ClaimedChild& child, int out_fd, std::optional<int> timeout_s, std::string& out) {
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> deadline;
  if (timeout_s)
    deadline = Clock::now() + std::chrono::seconds(*timeout_s);
  bool out_open = true;
  for (;;) {
    int wait_ms = -1;
    if (deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
      if (left.count() <= 0)
        return false;
      wait_ms = static_cast<int>(left.count()) + 1;
    }
    struct pollfd fds[2] = {{child.pidfd(), POLLIN, 0}, {out_open ? out_fd : -1, POLLIN, 0}};
    int r = ::poll(fds, 2, wait_ms);
    if (r < 0 && errno != EINTR)
      return true;  // cannot poll: fall back to waiting
    if (fds[1].revents != 0)
      out_open = Drain(out_fd, out);
    if (fds[0].revents != 0) {
      if (out_open)
        (void)Drain(out_fd, out);  // what is there; a daemon the hook left may keep it open
      return true;
    }
  }
}

std::string OutputSuffix(std::string out) {
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out.empty() ? "" : ": " + out;
}

absl::Status RunHook(const oci::Hook& hook, const std::string& state, const std::string& name,
                     const HookTarget& target) {
  HookSpawn s;
  UniqueFd state_fd, out_rd, out_wr, err_rd, err_wr;
  BERTH_RETURN_IF_ERROR(Annotate(
      PrepareSpawn(hook, state, target, s, state_fd, out_rd, out_wr, err_rd, err_wr), name));
  BERTH_ASSIGN_OR_RETURN(ClaimedChild child, ClaimedChild::Clone(
                                                 0, [&s] { HookChild(s); }, name));
  out_wr.reset();
  err_wr.reset();
  std::string out;
  if (!Supervise(child, out_rd.get(), hook.timeout, out)) {
    // In the container's namespaces the intermediate kills the hook's group and reaps it;
    // give it a moment before killing it too.
    if (target.init_pidfd >= 0 && child.Signal(SIGTERM).ok())
      (void)child.Wait(std::chrono::seconds(2));
    if (child.valid()) {
      (void)SignalProcessGroup(child.pid(), SIGKILL);
      (void)child.Signal(SIGKILL);
      (void)child.Wait();
    }
    return absl::DeadlineExceededError(
        fmt::format("{}: timed out after {}s; killed", name, *hook.timeout));
  }
  absl::StatusOr<int> status = child.Wait();
  if (!status.ok())
    return Annotate(status.status(), name);
  HookError e{};
  if (::read(err_rd.get(), &e, sizeof(e)) == static_cast<ssize_t>(sizeof(e)))
    return ErrnoError(e.err, fmt::format("{}: {}", name, StepName(e.step)));
  if (*status != 0)
    return FailedPrecondition(
        fmt::format("{}: exited with status {}{}", name, *status, OutputSuffix(out)));
  return absl::OkStatus();
}

}  // namespace

absl::Status RunHooks(const std::vector<oci::Hook>& hooks, const HookState& state,
                      std::string_view stage, const HookTarget& target) {
  if (hooks.empty())
    return absl::OkStatus();
  std::string json = StateJson(state);
  for (size_t i = 0; i < hooks.size(); ++i) {
    std::string name = fmt::format("hooks.{}[{}] {}", stage, i, hooks[i].path);
    BERTH_RETURN_IF_ERROR(RunHook(hooks[i], json, name, target));
  }
  return absl::OkStatus();
}

}  // namespace berth::shim::linux
