#include "lib/base/run_program.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string_view>

#include "absl/cleanup/cleanup.h"
#include "fmt/format.h"

#include "lib/base/pipe.h"
#include "lib/base/status.h"
#include "lib/base/unique_fd.h"

extern char** environ;

namespace berth {
namespace {

// Writes `input` to the program's stdin (closing it when all is written, or when the program
// closed its end) and reads both output pipes until both are at EOF or the deadline passes.
// False on timeout.
bool Exchange(UniqueFd& in_fd, std::string_view input, UniqueFd& out_fd, UniqueFd& err_fd,
              CommandOutput& result, std::chrono::steady_clock::time_point deadline) {
  while (out_fd.get() >= 0 || err_fd.get() >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return false;
    pollfd fds[3] = {
        {out_fd.get(), POLLIN, 0}, {err_fd.get(), POLLIN, 0}, {in_fd.get(), POLLOUT, 0}};
    int n = ::poll(fds, 3, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR)
      return false;
    if (n > 0 && fds[2].revents != 0) {
      ssize_t w = (fds[2].revents & POLLOUT) != 0
                      ? ::send(in_fd.get(), input.data(), input.size(), MSG_NOSIGNAL)
                      : -1;  // POLLERR: the program closed its stdin
      if (w > 0)
        input.remove_prefix(static_cast<size_t>(w));
      if (input.empty() || (w < 0 && errno != EINTR && errno != EAGAIN))
        in_fd.reset();
    }
    for (int i = 0; i < 2 && n > 0; ++i) {
      if (fds[i].revents == 0)
        continue;
      char buf[4096];
      ssize_t r = ::read(fds[i].fd, buf, sizeof(buf));
      if (r > 0) {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(r));
      } else if (r == 0 || errno != EINTR) {
        (i == 0 ? out_fd : err_fd).reset();
      }
    }
  }
  return true;
}

int WaitExit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace

absl::StatusOr<CommandOutput> RunProgram(const std::vector<std::string>& argv,
                                         const ProgramOptions& options) {
  if (argv.empty())
    return InvalidArgument("run program: no arguments");
  int pass_fd = options.pass_fd;
  UniqueFd in_r, in_w, out_r, out_w, err_r, err_w;
  if (!options.input.empty()) {
    // A socket rather than a pipe: send(MSG_NOSIGNAL) to a program that exited without reading
    // fails with EPIPE instead of raising SIGPIPE in the caller. Non-blocking, written between
    // reads of the output, so a program that writes first never deadlocks with us.
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      return ErrnoError(errno, "socketpair");
    in_r.reset(sv[0]);
    in_w.reset(sv[1]);
    ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
  }
  if (absl::Status s = MakePipe(out_r, out_w); !s.ok())
    return s;
  if (absl::Status s = MakePipe(err_r, err_w); !s.ok())
    return s;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  absl::Cleanup destroy = [&] {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  };
  if (in_r.valid())
    posix_spawn_file_actions_adddup2(&actions, in_r.get(), 0);
  else
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_w.get(), 2);
  UniqueFd pass_copy;
  if (pass_fd == 3) {  // dup2(3, 3) would leave it close-on-exec
    pass_copy.reset(::fcntl(pass_fd, F_DUPFD_CLOEXEC, 4));
    if (!pass_copy.valid())
      return ErrnoError(errno, "dup");
    pass_fd = pass_copy.get();
  }
  if (pass_fd >= 0)
    posix_spawn_file_actions_adddup2(&actions, pass_fd, 3);
  // Nothing else of berthd's: a descriptor without close-on-exec (gRPC sets it on its
  // listening socket only after creating it) would stay open in a shim that outlives berthd.
  posix_spawn_file_actions_addclosefrom_np(&actions, pass_fd >= 0 ? 4 : 3);
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  if (options.env) {
    env.reserve(options.env->size() + 1);
    for (const std::string& e : *options.env) env.push_back(const_cast<char*>(e.c_str()));
    env.push_back(nullptr);
  }
  pid_t pid = 0;
  int err = ::posix_spawn(&pid, args[0], &actions, &attr, args.data(),
                          options.env ? env.data() : environ);
  if (err != 0)
    return ErrnoError(err, fmt::format("start {}", argv[0]));
  in_r.reset();
  out_w.reset();
  err_w.reset();
  CommandOutput result;
  if (!Exchange(in_w, options.input, out_r, err_r, result,
                std::chrono::steady_clock::now() + options.timeout)) {
    ::kill(pid, SIGKILL);  // our own child, not yet reaped: the pid cannot have been reused
    WaitExit(pid);
    return absl::DeadlineExceededError(
        fmt::format("{}: no answer within {} ms", argv[0], options.timeout.count()));
  }
  result.exit_code = WaitExit(pid);
  return result;
}

}  // namespace berth
