#include "shim/io/process_io.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

#include "fmt/format.h"
#include "spdlog/spdlog.h"

#include "lib/base/pipe.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/base/stdio_uri.h"

namespace berth::shim {
namespace {

bool WriteAll(int fd, const char* buf, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, buf, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    buf += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Waits until `fd` is readable or one of the stop eventfds fires. Returns false on stop.
bool WaitReadable(int fd, int stop, int stop2 = -1) {
  struct pollfd fds[3] = {{fd, POLLIN, 0}, {stop, POLLIN, 0}, {stop2, POLLIN, 0}};
  for (;;) {
    int r = ::poll(fds, stop2 >= 0 ? 3 : 2, -1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return false;
    if (fds[0].revents != 0)
      return true;
    if (fds[1].revents != 0 || (stop2 >= 0 && fds[2].revents != 0))
      return false;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<ProcessIo>> ProcessIo::Open(const IoConfig& config) {
  std::unique_ptr<ProcessIo> io(new ProcessIo());
  io->stop_.reset(::eventfd(0, EFD_CLOEXEC));
  io->close_in_.reset(::eventfd(0, EFD_CLOEXEC));
  if (!io->stop_.valid() || !io->close_in_.valid())
    return ErrnoError(errno, "eventfd");
  io->terminal_ = config.terminal;
  io->ns_ = config.ns;
  io->container_id_ = config.container_id;
  if (config.terminal) {
    BERTH_RETURN_IF_ERROR(io->OpenTerminal(config));
  } else {
    BERTH_RETURN_IF_ERROR(io->OpenOutput(config.stderr_path, io->stderr_, LogStream::kStderr));
  }
  BERTH_RETURN_IF_ERROR(io->OpenOutput(config.stdout_path, io->stdout_, LogStream::kStdout));
  if (io->logger_ != nullptr) {
    // A pipe end no stream took (a terminal has no stderr) closes: the program sees its end.
    (void)io->logger_->TakeStdout();
    (void)io->logger_->TakeStderr();
  }
  BERTH_RETURN_IF_ERROR(io->OpenInput(config.stdin_path));
  return io;
}

absl::Status ProcessIo::OpenTerminal(const IoConfig& config) {
  int master = -1, slave = -1;
  struct winsize ws = {static_cast<unsigned short>(config.height),
                       static_cast<unsigned short>(config.width), 0, 0};
  if (::openpty(&master, &slave, nullptr, nullptr, &ws) != 0)
    return ErrnoError(errno, "openpty");
  console_master_.reset(master);
  console_slave_.reset(slave);
  ::fcntl(master, F_SETFD, FD_CLOEXEC);
  ::fcntl(slave, F_SETFD, FD_CLOEXEC);
  return absl::OkStatus();
}

absl::Status ProcessIo::OpenOutput(const std::string& path, Output& out, LogStream stream) {
  if (path.empty())
    return absl::OkStatus();
  if (HasScheme(path, "file"))
    return OpenLog(path, out);
  if (HasScheme(path, "binary"))
    return OpenLogBinary(path, out, stream);
  if (size_t colon = path.find("://"); colon != std::string::npos) {
    return InvalidArgument(
        fmt::format("stdio {:?}: unsupported scheme {:?} (berth-shim takes "
                    "fifo paths, file:// and binary:// URIs)",
                    path, path.substr(0, colon)));
  }
  out.fifo.reset(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!out.fifo.valid())
    return ErrnoError(errno, fmt::format("open {}", path));
  if (terminal_)
    return absl::OkStatus();  // the pty master feeds it
  return MakePipe(out.pipe, out.child);
}

absl::Status ProcessIo::OpenLog(const std::string& uri, Output& out) {
  BERTH_ASSIGN_OR_RETURN(LogTarget target, ParseLogUri(uri));
  if (target.cri) {
    // stdout and stderr into one file share its lock, so lines never interleave.
    if (stderr_.log != nullptr && stderr_.log->path() == target.path) {
      out.log = stderr_.log;
    } else {
      BERTH_ASSIGN_OR_RETURN(out.log, LogFile::Open(target.path));
    }
    if (terminal_)
      return absl::OkStatus();  // the pty master feeds it
    return MakePipe(out.pipe, out.child);
  }
  BERTH_ASSIGN_OR_RETURN(std::shared_ptr<LogFile> file, LogFile::Open(target.path));
  UniqueFd fd(::fcntl(file->fd(), F_DUPFD_CLOEXEC, 0));
  if (!fd.valid())
    return ErrnoError(errno, fmt::format("log {}: dup", target.path));
  // Raw: the process writes straight into the file; under a terminal a thread copies into it.
  (terminal_ ? out.fifo : out.child) = std::move(fd);
  return absl::OkStatus();
}

absl::Status ProcessIo::OpenLogBinary(const std::string& uri, Output& out, LogStream stream) {
  if (logger_ == nullptr) {
    BERTH_ASSIGN_OR_RETURN(logger_, LogBinary::Start(uri, ns_, container_id_));
    logger_uri_ = uri;
  } else if (uri != logger_uri_) {
    return InvalidArgument(fmt::format(
        "stdio: stdout and stderr name different logging programs ({:?}, {:?})", uri, logger_uri_));
  }
  UniqueFd w = stream == LogStream::kStdout ? logger_->TakeStdout() : logger_->TakeStderr();
  // The process writes into the program's pipe; under a terminal a thread copies the pty.
  (terminal_ ? out.fifo : out.child) = std::move(w);
  return absl::OkStatus();
}

absl::Status ProcessIo::OpenInput(const std::string& path) {
  if (path.empty())
    return absl::OkStatus();
  // Stays non-blocking: CopyIn tells "no writer" (read 0) from "nothing yet" (EAGAIN).
  stdin_fifo_.reset(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!stdin_fifo_.valid())
    return ErrnoError(errno, fmt::format("open {}", path));
  if (terminal_)
    return absl::OkStatus();
  return MakePipe(stdin_child_, stdin_pipe_);
}

ProcessIo::~ProcessIo() {
  uint64_t one = 1;
  (void)!::write(stop_.get(), &one, sizeof(one));
  for (std::thread& t : threads_) t.join();
  // The logging program ends at EOF: after the copies, and with the process's ends closed
  // (still open when Open failed half-way).
  stdout_.child.reset();
  stderr_.child.reset();
  logger_.reset();
}

linux::Stdio ProcessIo::stdio() const {
  return {.in = stdin_child_.get(),
          .out = stdout_.child.get(),
          .err = stderr_.child.get(),
          .console = console_slave_.get(),
          .console_master = console_master_.get()};
}

void ProcessIo::Started() {
  stdin_child_.reset();
  stdout_.child.reset();
  stderr_.child.reset();
  console_slave_.reset();
  StartOutput(terminal_ ? console_master_.get() : stdout_.pipe.get(), stdout_, LogStream::kStdout);
  StartOutput(stderr_.pipe.get(), stderr_, LogStream::kStderr);
  int in_to = terminal_ ? console_master_.get() : stdin_pipe_.get();
  if (stdin_fifo_.valid() && in_to >= 0)
    threads_.emplace_back([this, in_to] { CopyIn(in_to); });
}

void ProcessIo::StartOutput(int from, Output& out, LogStream stream) {
  if (from < 0 || (!out.fifo.valid() && out.log == nullptr))
    return;
  {
    absl::MutexLock lock(&outputs_mu_);
    ++outputs_running_;
  }
  if (out.fifo.valid()) {
    threads_.emplace_back([this, from, &out] { CopyOut(from, std::move(out.fifo)); });
  } else {
    threads_.emplace_back(
        [this, from, &out, stream] { CopyToLog(from, std::move(out.log), stream); });
  }
}

void ProcessIo::CopyOut(int from, UniqueFd to) {
  char buf[32768];
  while (WaitReadable(from, stop_.get())) {
    ssize_t n = ::read(from, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0 || !WriteAll(to.get(), buf, static_cast<size_t>(n)))
      break;  // EOF, or EIO once a pty's last slave is closed
  }
  to.reset();
  OutputDone();
}

void ProcessIo::CopyToLog(int from, std::shared_ptr<LogFile> log, LogStream stream) {
  CriLineWriter writer(std::move(log), stream);
  char buf[32768];
  bool failed = false;
  // Keeps reading after a write error (a full disk): the process must never block on its log.
  while (WaitReadable(from, stop_.get())) {
    ssize_t n = ::read(from, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;  // EOF, or EIO once a pty's last slave is closed
    absl::Status st = writer.Append(std::string_view(buf, static_cast<size_t>(n)));
    if (!st.ok() && !failed) {
      spdlog::error("container log write failed stream={} error={}", LogStreamName(stream),
                    st.ToString());
      failed = true;
    }
  }
  if (absl::Status st = writer.Finish(); !st.ok() && !failed)
    spdlog::error("container log write failed stream={} error={}", LogStreamName(stream),
                  st.ToString());
  OutputDone();
}

void ProcessIo::OutputDone() {
  absl::MutexLock lock(&outputs_mu_);
  --outputs_running_;
}

void ProcessIo::CopyIn(int to_fd) {
  char buf[32768];
  // A client whose input was empty may have opened and closed its end before the shim opened
  // this one (ctr does, for `< /dev/null`); poll() never reports such a writer's hang-up. So a
  // quiet moment is also a chance to look: a read that finds no writer at all is the end of
  // the input, while EAGAIN means a writer is there with nothing to say yet.
  constexpr int kQuietMs = 250;
  struct pollfd fds[3] = {
      {stdin_fifo_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}, {close_in_.get(), POLLIN, 0}};
  for (;;) {
    int r = ::poll(fds, 3, kQuietMs);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      break;
    // Readable data first; a stop or close request ends the copy once nothing is pending.
    if (r > 0 && fds[0].revents == 0)
      break;
    ssize_t n = ::read(stdin_fifo_.get(), buf, sizeof(buf));
    if (n > 0) {
      if (!WriteAll(to_fd, buf, static_cast<size_t>(n)))
        break;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      continue;
    break;  // no writer (end of input) or an error
  }
  if (!terminal_)
    stdin_pipe_.reset();
}

absl::Status ProcessIo::Resize(uint32_t width, uint32_t height) {
  if (!console_master_.valid())
    return FailedPrecondition("resize: the process has no terminal");
  struct winsize ws = {static_cast<unsigned short>(height), static_cast<unsigned short>(width), 0,
                       0};
  if (::ioctl(console_master_.get(), TIOCSWINSZ, &ws) != 0)
    return ErrnoError(errno, "ioctl TIOCSWINSZ");
  return absl::OkStatus();
}

void ProcessIo::CloseStdin() {
  if (!stdin_fifo_.valid() || threads_.empty()) {
    stdin_pipe_.reset();
    return;
  }
  uint64_t one = 1;
  (void)!::write(close_in_.get(), &one, sizeof(one));
}

void ProcessIo::WaitOutput() {
  absl::MutexLock lock(&outputs_mu_);
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(outputs_mu_) { return outputs_running_ == 0; };
  outputs_mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(2));
}

}  // namespace berth::shim
