#pragma once

// The shim's reaper: a thread that waits on SIGCHLD (signalfd) and reaps every child whose
// exit signal is SIGCHLD (containers' processes, orphans re-parented to the subreaper shim)
// with waitpid(-1, WNOHANG), reporting each (pid, exit status) to a callback. Children cloned
// with exit signal 0 (hooks, exec intermediates) are left to their owners.
//
// BlockSigchld() must run in main() before any thread is created, so that every thread
// inherits the blocked mask and only the signalfd sees SIGCHLD.

#include <sys/types.h>

#include <functional>
#include <thread>

#include "absl/status/statusor.h"

#include "lib/base/unique_fd.h"

namespace berth::shim {

class Reaper {
 public:
  // status: exit code, or 128+N after signal N.
  using ExitFn = std::function<void(pid_t pid, int status)>;

  static void BlockSigchld();

  // Starts the thread. `fn` runs on the reaper thread.
  static absl::StatusOr<std::unique_ptr<Reaper>> Start(ExitFn fn);
  ~Reaper();  // stops and joins the thread

 private:
  Reaper(ExitFn fn, UniqueFd sigfd, UniqueFd stopfd);
  void Loop();
  void ReapAll();

  ExitFn fn_;
  UniqueFd sigfd_;
  UniqueFd stopfd_;
  std::thread thread_;
};

}  // namespace berth::shim
