#include "shim/io/log_binary.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "fmt/format.h"

#include "lib/base/pipe.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/base/stdio_uri.h"

namespace berth::shim {
namespace {

// Waits up to `timeout` for `fd` to be readable; false on timeout or error.
bool PollIn(int fd, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  struct pollfd p = {fd, POLLIN, 0};
  for (;;) {
    int ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    int r = ::poll(&p, 1, ms < 0 ? 0 : ms);
    if (r < 0 && errno == EINTR)
      continue;
    return r > 0;
  }
}

// A copy of `fd` numbered 10 or above, so that the child's dup2 onto 3, 4 and 5 never
// overwrites a source it still needs.
absl::StatusOr<UniqueFd> HighCopy(int fd) {
  UniqueFd c(::fcntl(fd, F_DUPFD_CLOEXEC, 10));
  if (!c.valid())
    return ErrnoError(errno, "dup");
  return c;
}

}  // namespace

absl::StatusOr<LogBinaryCommand> ParseBinaryUri(std::string_view uri) {
  BERTH_ASSIGN_OR_RETURN(StdioUri u, ParseStdioUri(uri, "binary"));
  LogBinaryCommand cmd{.path = std::move(u.path), .args = {}};
  for (auto& [key, value] : u.query) {  // as containerd: each key, then its value
    cmd.args.push_back(std::move(key));
    cmd.args.push_back(std::move(value));
  }
  return cmd;
}

absl::StatusOr<std::unique_ptr<LogBinary>> LogBinary::Start(std::string_view uri,
                                                            const std::string& ns,
                                                            const std::string& id,
                                                            absl::Duration ready_timeout) {
  BERTH_ASSIGN_OR_RETURN(LogBinaryCommand cmd, ParseBinaryUri(uri));
  auto fail = [&](absl::Status s) { return Annotate(s, fmt::format("log uri {:?}", uri)); };
  if (::access(cmd.path.c_str(), X_OK) != 0)
    return fail(ErrnoError(errno, cmd.path));
  std::unique_ptr<LogBinary> lb(new LogBinary());
  UniqueFd out_r, err_r, ready_r, ready_w, exec_r, exec_w;
  BERTH_RETURN_IF_ERROR(MakePipe(out_r, lb->stdout_w_));
  BERTH_RETURN_IF_ERROR(MakePipe(err_r, lb->stderr_w_));
  BERTH_RETURN_IF_ERROR(MakePipe(ready_r, ready_w));
  BERTH_RETURN_IF_ERROR(MakePipe(exec_r, exec_w));  // close-on-exec: EOF once the exec worked
  BERTH_ASSIGN_OR_RETURN(UniqueFd fd3, HighCopy(out_r.get()));
  BERTH_ASSIGN_OR_RETURN(UniqueFd fd4, HighCopy(err_r.get()));
  BERTH_ASSIGN_OR_RETURN(UniqueFd fd5, HighCopy(ready_w.get()));

  // Everything the child needs, made before the clone: it may only make syscalls.
  std::vector<std::string> env = {"CONTAINER_ID=" + id, "CONTAINER_NAMESPACE=" + ns};
  std::vector<char*> argv, envp;
  argv.push_back(cmd.path.data());
  for (std::string& a : cmd.args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const int from[3] = {fd3.get(), fd4.get(), fd5.get()};
  const int report = exec_w.get();
  absl::StatusOr<linux::ClaimedChild> child = linux::ClaimedChild::Clone(
      0,
      [&] {
        int null = ::open("/dev/null", O_RDWR);
        for (int target = 0; target < 3; ++target) ::dup2(null, target);
        for (int i = 0; i < 3; ++i) ::dup2(from[i], 3 + i);  // dup2 clears close-on-exec
        // The shim blocks SIGCHLD and ignores SIGPIPE: the program gets the defaults.
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGPIPE, SIG_DFL);
        ::execve(argv[0], argv.data(), envp.data());
        int err = errno;
        (void)!::write(report, &err, sizeof(err));
        ::_exit(127);
      },
      "log program");
  if (!child.ok())
    return fail(child.status());
  lb->child_ = *std::move(child);
  // Only the program holds the read ends and the ready pipe's write end now.
  fd3.reset();
  fd4.reset();
  fd5.reset();
  ready_w.reset();
  exec_w.reset();
  int err = 0;
  if (::read(exec_r.get(), &err, sizeof(err)) == sizeof(err))
    return fail(ErrnoError(err, fmt::format("exec {}", cmd.path)));
  if (!PollIn(ready_r.get(), ready_timeout)) {
    (void)lb->child_.Signal(SIGKILL);
    return fail(absl::DeadlineExceededError(fmt::format("{} did not get ready within {}", cmd.path,
                                                        absl::FormatDuration(ready_timeout))));
  }
  return lb;
}

LogBinary::~LogBinary() {
  stdout_w_.reset();
  stderr_w_.reset();
  if (!child_.valid())
    return;
  // The process's output has ended: a program that exits at EOF needs no signal. One that
  // does not gets SIGTERM, then (ClaimedChild's destructor) SIGKILL.
  if (child_.Wait(std::chrono::seconds(1)).ok())
    return;
  (void)child_.Signal(SIGTERM);
  (void)child_.Wait(std::chrono::seconds(2));
}

}  // namespace berth::shim
