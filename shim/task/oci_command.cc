#include "shim/task/oci_command.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include "fmt/format.h"

#include "lib/base/pipe.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "shim/linux/exit_claims.h"
#include "shim/linux/process.h"
#include "shim/linux/syscalls.h"

extern char** environ;  // NOLINT(readability-identifier-naming): POSIX

namespace berth::shim {
namespace {

// What the child needs, prepared before clone: the child only makes syscalls.
struct Spawn {
  std::vector<std::string> args;
  std::vector<char*> argv;
  int fds[3] = {-1, -1, -1};
  sigset_t empty_mask;
};

[[noreturn]] void ChildExec(const Spawn& s) {
  int high[3];
  for (int i = 0; i < 3; ++i) {
    high[i] = ::fcntl(s.fds[i], F_DUPFD_CLOEXEC, 10);
    if (high[i] < 0)
      ::_exit(126);
  }
  for (int i = 0; i < 3; ++i) {
    if (::dup2(high[i], i) < 0)
      ::_exit(126);
  }
  (void)linux::CloseRangeCloexec(3);
  ::sigprocmask(SIG_SETMASK, &s.empty_mask, nullptr);  // the shim blocks SIGCHLD
  ::execve(s.argv[0], s.argv.data(), environ);
  ::_exit(127);
}

absl::StatusOr<UniqueFd> ListenUnix(const std::string& path) {
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path))
    return InvalidArgument(fmt::format("console socket {:?}: path too long", path));
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid())
    return ErrnoError(errno, "console socket");
  ::unlink(path.c_str());
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd.get(), 1) != 0)
    return ErrnoError(errno, fmt::format("console socket {}", path));
  return fd;
}

// Receives one fd (SCM_RIGHTS) from a connection accepted on `listener`.
absl::StatusOr<UniqueFd> ReceiveFd(int listener) {
  UniqueFd conn(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn.valid())
    return ErrnoError(errno, "console socket: accept");
  char data[256];
  struct iovec iov = {data, sizeof(data)};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  if (::recvmsg(conn.get(), &msg, MSG_CMSG_CLOEXEC) < 0)
    return ErrnoError(errno, "console socket: recvmsg");
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (c == nullptr || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
    return Internal("console socket: no file descriptor received");
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(c), sizeof(fd));
  return UniqueFd(fd);
}

// Waits for the console connection while the runtime runs; an empty fd when it exited first.
absl::StatusOr<UniqueFd> AwaitConsole(int listener, int pidfd) {
  struct pollfd fds[2] = {{listener, POLLIN, 0}, {pidfd, POLLIN, 0}};
  while (true) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      return ErrnoError(errno, "console socket: poll");
    }
    if (fds[0].revents != 0)
      return ReceiveFd(listener);
    return UniqueFd();
  }
}

// Reads both pipes to EOF.
void ReadOutputs(UniqueFd out, UniqueFd err, OciResult& result) {
  struct pollfd fds[2] = {{out.get(), POLLIN, 0}, {err.get(), POLLIN, 0}};
  std::string* bufs[2] = {&result.out, &result.err};
  int open = 2;
  while (open > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      return;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0)
        continue;
      char buf[4096];
      ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        bufs[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;
        --open;
      }
    }
  }
}

// The parent's ends of the runtime's stdio: pipes for input and captured output, /dev/null.
struct ParentEnds {
  UniqueFd null, in_rd, in_wr, out_rd, out_wr, err_rd, err_wr;
};

absl::Status PrepareSpawn(const OciCommand& cmd, Spawn& s, ParentEnds& e) {
  s.args = cmd.args;
  for (std::string& a : s.args) s.argv.push_back(a.data());
  s.argv.push_back(nullptr);
  sigemptyset(&s.empty_mask);
  e.null.reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!e.null.valid())
    return ErrnoError(errno, "open /dev/null");
  auto pick = [&](int fd) { return fd >= 0 ? fd : e.null.get(); };
  s.fds[0] = pick(cmd.stdio.in);
  s.fds[1] = pick(cmd.stdio.out);
  s.fds[2] = pick(cmd.stdio.err);
  if (!cmd.input.empty()) {
    BERTH_RETURN_IF_ERROR(MakePipe(e.in_rd, e.in_wr));
    s.fds[0] = e.in_rd.get();
  }
  if (cmd.capture_output) {
    BERTH_RETURN_IF_ERROR(MakePipe(e.out_rd, e.out_wr));
    BERTH_RETURN_IF_ERROR(MakePipe(e.err_rd, e.err_wr));
    s.fds[1] = e.out_wr.get();
    s.fds[2] = e.err_wr.get();
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<OciResult> RunOciCommand(const OciCommand& cmd) {
  Spawn s;
  ParentEnds e;
  BERTH_RETURN_IF_ERROR(PrepareSpawn(cmd, s, e));
  UniqueFd listener;
  if (!cmd.console_socket.empty()) {
    BERTH_ASSIGN_OR_RETURN(listener, ListenUnix(cmd.console_socket));
  }
  // Killed on an early return (the destructor); its claim is dropped.
  BERTH_ASSIGN_OR_RETURN(linux::ClaimedChild child, linux::ClaimedChild::Clone(
                                                        0, [&s] { ChildExec(s); }, s.args[0]));
  e.in_rd.reset();
  e.out_wr.reset();
  e.err_wr.reset();
  if (e.in_wr.valid()) {
    (void)!::write(e.in_wr.get(), cmd.input.data(), cmd.input.size());  // small: fits the pipe
    e.in_wr.reset();
  }
  OciResult result;
  if (listener.valid()) {
    absl::StatusOr<UniqueFd> console = AwaitConsole(listener.get(), child.pidfd());
    listener.reset();
    ::unlink(cmd.console_socket.c_str());
    BERTH_RETURN_IF_ERROR(console.status());
    result.console = std::move(*console);
  }
  if (cmd.capture_output)
    ReadOutputs(std::move(e.out_rd), std::move(e.err_rd), result);
  BERTH_ASSIGN_OR_RETURN(result.status, child.Wait());
  if (result.status == 127)
    return NotFoundError("runtime binary", cmd.args[0]);
  return result;
}

}  // namespace berth::shim
