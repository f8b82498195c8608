#include "shim/linux/hooks.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <csignal>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

#include "lib/base/status.h"
#include "lib/base/unique_fd.h"
#include "shim/linux/process.h"
#include "shim/linux/syscalls.h"

namespace berth::shim::linux {

std::string StateJson(const HookState& state) {
  nlohmann::json j = {{"ociVersion", "1.1.0"},  {"id", state.id},
                      {"status", state.status}, {"pid", state.pid},
                      {"bundle", state.bundle}, {"annotations", state.annotations}};
  return j.dump();
}

namespace {

absl::Status RunHook(const oci::Hook& hook, const std::string& state, const std::string& name) {
  std::vector<std::string> args =
      hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  std::vector<std::string> env = hook.env;
  std::vector<char*> argv, envp;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0)
    return ErrnoError(errno, fmt::format("{}: pipe", name));
  UniqueFd rd(p[0]), wr(p[1]);
  int pidfd = -1;
  pid_t pid = Clone3(CLONE_PIDFD, 0, &pidfd);
  if (pid < 0)
    return ErrnoError(errno, fmt::format("{}: clone", name));
  if (pid == 0) {
    if (::dup2(rd.get(), 0) < 0)
      ::_exit(126);
    ::execve(hook.path.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  ChildProcess child(pid, UniqueFd(pidfd));
  rd.reset();
  (void)!::write(wr.get(), state.data(), state.size());
  wr.reset();
  std::optional<std::chrono::milliseconds> timeout;
  if (hook.timeout)
    timeout = std::chrono::seconds(*hook.timeout);
  absl::StatusOr<int> status = child.Wait(timeout);
  if (absl::IsDeadlineExceeded(status.status()))
    return absl::DeadlineExceededError(
        fmt::format("{}: timed out after {}s", name, hook.timeout.value_or(0)));
  if (!status.ok())
    return Annotate(status.status(), name);
  if (*status == 127)
    return FailedPrecondition(fmt::format("{}: could not be executed", name));
  if (*status != 0)
    return FailedPrecondition(fmt::format("{}: exited with status {}", name, *status));
  return absl::OkStatus();
}

}  // namespace

absl::Status RunHooks(const std::vector<oci::Hook>& hooks, const HookState& state,
                      std::string_view stage) {
  if (hooks.empty())
    return absl::OkStatus();
  std::string json = StateJson(state);
  for (size_t i = 0; i < hooks.size(); ++i) {
    std::string name = fmt::format("hooks.{}[{}] {}", stage, i, hooks[i].path);
    if (absl::Status s = RunHook(hooks[i], json, name); !s.ok())
      return s;
  }
  return absl::OkStatus();
}

}  // namespace berth::shim::linux
