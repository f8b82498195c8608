#pragma once

// The client side of a container process's stdio, as containerd's cio does it for ctr: fifos
// that bctr creates in a private directory and hands to Tasks.Create / Tasks.Exec; copies
// between them and bctr's own stdin/stdout/stderr; the client terminal in raw mode for -t
// (restored on every way out); and a signal thread that turns SIGWINCH into ResizePty and
// forwards SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to the process (docker's sig-proxy).

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

#include "lib/base/unique_fd.h"

namespace berth::ctr {

// Where fifo directories are made (one per process, removed afterwards).
inline constexpr char kFifoRoot[] = "/run/berth/fifo";

class ProcessStdio {
 public:
  // Makes <kFifoRoot>/<random>/<name>-{stdin,stdout,stderr} (stdin only when `with_stdin`,
  // stderr only without `tty`) and opens bctr's ends without blocking.
  static absl::StatusOr<std::unique_ptr<ProcessStdio>> Create(const std::string& name,
                                                              bool with_stdin, bool tty);
  ~ProcessStdio();  // stops the copies, closes the fifos, removes the directory

  ProcessStdio(const ProcessStdio&) = delete;
  ProcessStdio& operator=(const ProcessStdio&) = delete;

  const std::string& stdin_path() const { return stdin_path_; }

  const std::string& stdout_path() const { return stdout_path_; }

  const std::string& stderr_path() const { return stderr_path_; }

  // Starts copying the fifos' output to fds 1 and 2.
  void StartOutput();

  // Starts copying fd 0 into the stdin fifo; call once the process runs (the shim drops a
  // CloseIO that comes before its copy started). When fd 0 reaches EOF the fifo is closed and
  // `stdin_closed` runs (on the copy thread).
  void StartInput(std::function<void()> stdin_closed);

  // Waits until the output fifos reached EOF (the shim closes them when the process and its
  // children closed their ends), at most `timeout`.
  void WaitOutput(std::chrono::milliseconds timeout);

 private:
  ProcessStdio() = default;
  void CopyOutput();
  void CopyInput(std::function<void()> stdin_closed);

  std::string dir_;
  std::string stdin_path_, stdout_path_, stderr_path_;
  UniqueFd stdin_fifo_, stdout_fifo_, stderr_fifo_;
  UniqueFd stop_;  // eventfd
  std::atomic<bool> output_done_{false};
  std::vector<std::thread> threads_;
};

// Puts the terminal on fd 0 into raw mode; the destructor restores it. Does nothing when fd 0
// is not a terminal.
class RawTerminal {
 public:
  RawTerminal();
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

  // Restores now (idempotent).
  void Restore();

 private:
  bool active_ = false;
  std::vector<unsigned char> saved_;  // struct termios
};

// The size of the terminal on fd 0 (or 1): {width, height}, nullopt when neither is one.
std::optional<std::pair<uint32_t, uint32_t>> TerminalSize();

// While it lives, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH are caught
// (by a handler that writes to a pipe, whichever thread the kernel picks) and passed to
// `on_signal` on the proxy's own thread. The destructor restores the default actions.
// One at a time.
class SignalProxy {
 public:
  explicit SignalProxy(std::function<void(int)> on_signal);
  ~SignalProxy();
  SignalProxy(const SignalProxy&) = delete;
  SignalProxy& operator=(const SignalProxy&) = delete;

 private:
  UniqueFd read_end_;
  UniqueFd write_end_;
  std::thread thread_;
};

// Flushes stdio and ends bctr with `code` at once (the container's exit code for run, start -a
// and exec); nothing after it runs.
[[noreturn]] void ExitWithCode(int code);

}  // namespace berth::ctr
