#include "shim/reaper.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "lib/base/status.h"

namespace berth::shim {

void Reaper::BlockSigchld() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

absl::StatusOr<std::unique_ptr<Reaper>> Reaper::Start(ExitFn fn) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  UniqueFd sigfd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd.valid())
    return ErrnoError(errno, "signalfd");
  UniqueFd stopfd(::eventfd(0, EFD_CLOEXEC));
  if (!stopfd.valid())
    return ErrnoError(errno, "eventfd");
  std::unique_ptr<Reaper> r(new Reaper(std::move(fn), std::move(sigfd), std::move(stopfd)));
  r->thread_ = std::thread([p = r.get()] { p->Loop(); });
  return r;
}

Reaper::Reaper(ExitFn fn, UniqueFd sigfd, UniqueFd stopfd)
    : fn_(std::move(fn)), sigfd_(std::move(sigfd)), stopfd_(std::move(stopfd)) {}

Reaper::~Reaper() {
  uint64_t one = 1;
  (void)!::write(stopfd_.get(), &one, sizeof(one));
  if (thread_.joinable())
    thread_.join();
}

void Reaper::ReapAll() {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0)
      return;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    fn_(pid, code);
  }
}

void Reaper::Loop() {
  struct pollfd fds[2] = {{sigfd_.get(), POLLIN, 0}, {stopfd_.get(), POLLIN, 0}};
  ReapAll();
  for (;;) {
    int r = ::poll(fds, 2, -1);
    if (r < 0 && errno != EINTR)
      return;
    if (fds[1].revents != 0)
      return;
    struct signalfd_siginfo info;
    while (::read(sigfd_.get(), &info, sizeof(info)) == sizeof(info)) {
    }
    ReapAll();
  }
}

}  // namespace berth::shim
