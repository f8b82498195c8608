#pragma once

// Spare shims: berthd keeps berth-shims started ahead of their tasks (`berth-shim start
// --spare`, shim/daemon.h), so that creating a task does not wait for a shim's exec,
// daemonizing and process setup. A task's bundle is handed to a ready spare over its
// SOCK_SEQPACKET channel; the spare then serves on <bundle>/shim.sock exactly as a shim started
// for that bundle, and answers "unix://<socket>". After each hand-over a new spare is started
// in the background, kRefillDelay later: a spare's start (exec, process setup, the container's
// namespaces made ahead) takes CPU that the task just handed over needs while it starts; by
// then that start is over, and the next task finds the spare ready unless it comes sooner. A spare
// exits as soon as its channel closes without a task (berthd stopped or died), so no spare outlives
// berthd; a spare that got its task is an ordinary shim and outlives berthd like any other.
// Thread-safe.

#include <sys/types.h>

#include <deque>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "lib/base/unique_fd.h"
#include "services/runtime/bundle.h"
#include "services/runtime/shim_task.h"

namespace berth::runtime {

class SpareShims {
 public:
  static constexpr absl::Duration kRefillDelay = absl::Milliseconds(15);

  struct Config {
    std::string shim_binary;     // berth-shim
    std::string daemon_address;  // berthd's socket, passed to the shims
    int count = 1;               // spares kept ready
  };

  explicit SpareShims(Config config);
  // Stops the refill thread and closes the channels: the spares that are left exit.
  ~SpareShims();

  // Hands `bundle` to a ready spare and waits up to `timeout` for it to serve there; returns
  // the shim (pid and pidfd). Unavailable when no spare is ready (the caller starts a shim
  // itself) or when the spare failed (its message; a spare that does not answer in time is
  // killed).
  absl::StatusOr<ShimProcess> Adopt(const Bundle& bundle, absl::Duration timeout);

  // The pids of the spares ready now (for tests and logs).
  std::vector<pid_t> ReadyPids();

 private:
  struct Spare {
    UniqueFd channel;
    pid_t pid = 0;
  };

  void RefillLoop();
  absl::StatusOr<Spare> StartOne();

  const Config config_;
  absl::Mutex mu_;
  std::deque<Spare> ready_;                          // guarded by mu_
  bool stopping_ = false;                            // guarded by mu_
  absl::Time last_handover_ = absl::InfinitePast();  // guarded by mu_
  std::thread refill_;
};

}  // namespace berth::runtime
