#pragma once

// The stdio of one container process, owned by the shim (containerd's runc shim semantics):
//  - fifo paths (as ctr creates them): stdout/stderr are opened O_RDWR so that opening never
//    blocks and writes never fail while the client is late or gone; the process writes into a
//    pipe and a thread copies it to the fifo, closing the fifo at EOF. stdin is opened
//    O_RDONLY|O_NONBLOCK, then made blocking; a thread waits for the client (poll) and copies
//    into the process's stdin pipe until EOF or CloseStdin.
//  - "file:///path[?format=cri|raw]" (shim/io/log_file.h): the shim opens the log file itself
//    (creating its directory). Raw without a terminal: the file is handed to the process
//    directly. CRI: the process writes into a pipe and a thread turns each line into a CRI
//    record; stdout and stderr naming the same file share it. With a terminal the pty master
//    is copied into the file (as stdout).
//  - "binary:///path?k=v" (shim/io/log_binary.h): a logging program, started here, reads the
//    process's stdout and stderr pipes (with a terminal, the pty's output on its stdout).
//    Other schemes are InvalidArgument.
//  - terminal: a pty; the master stays in the shim (copied to the stdout fifo and from the
//    stdin fifo), the slave becomes the process's controlling terminal; Resize sets its size.
// Thread-safe: Resize and CloseStdin may race with the copy threads.

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "lib/base/unique_fd.h"
#include "shim/io/log_binary.h"
#include "shim/io/log_file.h"
#include "shim/linux/process_plan.h"

namespace berth::shim {

struct IoConfig {
  std::string stdin_path;
  std::string stdout_path;
  std::string stderr_path;
  bool terminal = false;
  uint32_t width = 0;
  uint32_t height = 0;
  // For a binary:// logging program's environment.
  std::string ns;
  std::string container_id;
};

class ProcessIo {
 public:
  // Opens everything. Errors name the path.
  static absl::StatusOr<std::unique_ptr<ProcessIo>> Open(const IoConfig& config);
  ~ProcessIo();  // stops the copies and joins the threads

  // The fds for the child (valid until Started()).
  linux::Stdio stdio() const;

  // Call once the process runs: closes the shim's copies of the child's ends, starts copying.
  void Started();

  absl::Status Resize(uint32_t width, uint32_t height);

  // Closes the process's stdin once the pending input is copied.
  void CloseStdin();

  // Waits (up to 2 s) for the output copies to reach EOF, after the process exited.
  void WaitOutput();

 private:
  ProcessIo() = default;

  // One output stream: `fifo` is where a copy thread writes (a fifo, or a raw log file under
  // a terminal), `log` a CRI log file.
  struct Output {
    UniqueFd child, pipe, fifo;
    std::shared_ptr<LogFile> log;
  };

  absl::Status OpenOutput(const std::string& path, Output& out, LogStream stream);
  absl::Status OpenLog(const std::string& uri, Output& out);
  absl::Status OpenLogBinary(const std::string& uri, Output& out, LogStream stream);
  void StartOutput(int from, Output& out, LogStream stream);
  absl::Status OpenInput(const std::string& path);
  absl::Status OpenTerminal(const IoConfig& config);
  void CopyOut(int from, UniqueFd to);
  void CopyToLog(int from, std::shared_ptr<LogFile> log, LogStream stream);
  void CopyIn(int to_fd);
  void OutputDone();

  bool terminal_ = false;
  std::string ns_, container_id_;
  std::unique_ptr<LogBinary> logger_;  // binary:// output, shared by stdout and stderr
  std::string logger_uri_;
  UniqueFd stop_;      // eventfd: stops every copy (destructor)
  UniqueFd close_in_;  // eventfd: CloseStdin
  UniqueFd console_master_, console_slave_;
  UniqueFd stdin_fifo_, stdin_child_, stdin_pipe_;
  Output stdout_, stderr_;
  absl::Mutex outputs_mu_;
  int outputs_running_ ABSL_GUARDED_BY(outputs_mu_) = 0;  // output copies not at EOF yet
  std::vector<std::thread> threads_;
};

}  // namespace berth::shim
