#include "ctr/stdio.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "fmt/format.h"

#include "lib/base/status.h"

namespace berth::ctr {
namespace {

constexpr int kProxied[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0 && errno == EAGAIN) {
      pollfd pfd{fd, POLLOUT, 0};
      ::poll(&pfd, 1, 100);
      continue;
    }
    if (w <= 0)
      return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

absl::StatusOr<UniqueFd> MakeFifo(const std::string& path, int flags) {
  if (::mkfifo(path.c_str(), 0600) != 0)
    return ErrnoError(errno, fmt::format("mkfifo {}", path));
  UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0)
    return ErrnoError(errno, fmt::format("open fifo {}", path));
  return fd;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ProcessStdio>> ProcessStdio::Create(const std::string& name,
                                                                   bool with_stdin, bool tty) {
  std::error_code ec;
  std::filesystem::create_directories(kFifoRoot, ec);
  if (ec)
    return ErrnoError(ec.value(), fmt::format("create {}", kFifoRoot));
  std::string tmpl = std::string(kFifoRoot) + "/XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr)
    return ErrnoError(errno, fmt::format("create a fifo directory in {}", kFifoRoot));
  std::unique_ptr<ProcessStdio> io(new ProcessStdio());
  io->dir_ = tmpl;
  io->stop_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (io->stop_.get() < 0)
    return ErrnoError(errno, "eventfd");
  std::string base = tmpl + "/" + name.substr(0, 64);
  if (with_stdin) {
    io->stdin_path_ = base + "-stdin";
    // Read-write: opening never blocks, and the shim sees EOF once bctr closes it.
    absl::StatusOr<UniqueFd> fd = MakeFifo(io->stdin_path_, O_RDWR);
    if (!fd.ok())
      return fd.status();
    io->stdin_fifo_ = *std::move(fd);
  }
  io->stdout_path_ = base + "-stdout";
  absl::StatusOr<UniqueFd> out = MakeFifo(io->stdout_path_, O_RDONLY);
  if (!out.ok())
    return out.status();
  io->stdout_fifo_ = *std::move(out);
  if (!tty) {
    io->stderr_path_ = base + "-stderr";
    absl::StatusOr<UniqueFd> err = MakeFifo(io->stderr_path_, O_RDONLY);
    if (!err.ok())
      return err.status();
    io->stderr_fifo_ = *std::move(err);
  }
  return io;
}

ProcessStdio::~ProcessStdio() {
  if (stop_.get() >= 0) {
    uint64_t one = 1;
    (void)!::write(stop_.get(), &one, sizeof(one));
  }
  for (std::thread& t : threads_) {
    if (t.joinable())
      t.join();
  }
  for (const std::string* p : {&stdin_path_, &stdout_path_, &stderr_path_}) {
    if (!p->empty())
      ::unlink(p->c_str());
  }
  if (!dir_.empty())
    ::rmdir(dir_.c_str());
}

void ProcessStdio::StartOutput() {
  threads_.emplace_back([this] { CopyOutput(); });
}

void ProcessStdio::StartInput(std::function<void()> stdin_closed) {
  if (stdin_fifo_.get() >= 0) {
    int fl = ::fcntl(stdin_fifo_.get(), F_GETFL);
    ::fcntl(stdin_fifo_.get(), F_SETFL, fl & ~O_NONBLOCK);
    threads_.emplace_back([this, cb = std::move(stdin_closed)] { CopyInput(cb); });
  }
}

void ProcessStdio::CopyOutput() {
  // A fifo reports POLLHUP only after a writer (the shim) came and went: until then it waits.
  struct Stream {
    int fd;
    int out;
  };

  std::vector<Stream> open;
  if (stdout_fifo_.get() >= 0)
    open.push_back({stdout_fifo_.get(), STDOUT_FILENO});
  if (stderr_fifo_.get() >= 0)
    open.push_back({stderr_fifo_.get(), STDERR_FILENO});
  char buf[32768];
  while (!open.empty()) {
    std::vector<pollfd> pfds;
    for (const Stream& s : open) pfds.push_back({s.fd, POLLIN, 0});
    pfds.push_back({stop_.get(), POLLIN, 0});
    if (::poll(pfds.data(), pfds.size(), -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (pfds.back().revents != 0)
      return;
    for (size_t i = open.size(); i-- > 0;) {
      if (pfds[i].revents == 0)
        continue;
      ssize_t n = ::read(open[i].fd, buf, sizeof(buf));
      if (n > 0) {
        WriteAll(open[i].out, buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        continue;
      open.erase(open.begin() + static_cast<std::ptrdiff_t>(i));  // EOF or error
    }
  }
  output_done_ = true;
}

void ProcessStdio::CopyInput(std::function<void()> stdin_closed) {
  char buf[32768];
  for (;;) {
    pollfd pfds[2] = {{STDIN_FILENO, POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (::poll(pfds, 2, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (pfds[1].revents != 0)
      return;
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (n <= 0)
      break;
    if (!WriteAll(stdin_fifo_.get(), buf, static_cast<size_t>(n)))
      break;
  }
  stdin_fifo_.reset();
  if (stdin_closed)
    stdin_closed();
}

void ProcessStdio::WaitOutput(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!output_done_ && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

RawTerminal::RawTerminal() {
  termios t{};
  if (::isatty(STDIN_FILENO) != 1 || ::tcgetattr(STDIN_FILENO, &t) != 0)
    return;
  saved_.resize(sizeof(t));
  std::memcpy(saved_.data(), &t, sizeof(t));
  ::cfmakeraw(&t);
  active_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
}

RawTerminal::~RawTerminal() {
  Restore();
}

void RawTerminal::Restore() {
  if (!active_)
    return;
  termios t{};
  std::memcpy(&t, saved_.data(), sizeof(t));
  ::tcsetattr(STDIN_FILENO, TCSANOW, &t);
  active_ = false;
}

std::optional<std::pair<uint32_t, uint32_t>> TerminalSize() {
  winsize ws{};
  for (int fd : {STDIN_FILENO, STDOUT_FILENO}) {
    if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
      return std::make_pair(uint32_t{ws.ws_col}, uint32_t{ws.ws_row});
  }
  return std::nullopt;
}

static int g_signal_pipe = -1;  // the write end, for the handler

static void OnSignal(int sig) {
  int saved = errno;
  unsigned char b = static_cast<unsigned char>(sig);
  if (g_signal_pipe >= 0)
    (void)!::write(g_signal_pipe, &b, 1);
  errno = saved;
}

SignalProxy::SignalProxy(std::function<void(int)> on_signal) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
    return;
  read_end_ = UniqueFd(p[0]);
  write_end_ = UniqueFd(p[1]);
  g_signal_pipe = write_end_.get();

  struct sigaction sa {};

  sa.sa_handler = OnSignal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (int s : kProxied) ::sigaction(s, &sa, nullptr);
  thread_ = std::thread([this, cb = std::move(on_signal)] {
    for (;;) {
      pollfd pfd{read_end_.get(), POLLIN, 0};
      if (::poll(&pfd, 1, -1) < 0 && errno != EINTR)
        return;
      unsigned char b = 0;
      while (::read(read_end_.get(), &b, 1) == 1) {
        if (b == 0)
          return;  // the destructor's stop byte
        cb(b);
      }
    }
  });
}

SignalProxy::~SignalProxy() {
  struct sigaction sa {};

  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  for (int s : kProxied) ::sigaction(s, &sa, nullptr);
  g_signal_pipe = -1;
  if (write_end_.get() >= 0) {
    unsigned char stop = 0;
    (void)!::write(write_end_.get(), &stop, 1);
  }
  if (thread_.joinable())
    thread_.join();
}

void ExitWithCode(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(code);
}

}  // namespace berth::ctr
