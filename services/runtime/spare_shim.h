#pragma once

// Spare shims: berthd keeps berth-shims started ahead of their tasks (`berth-shim start
// --spare`, shim/daemon.h), so that creating a task does not wait for a shim's exec,
// daemonizing and process setup. A task's bundle is handed to a ready spare over its
// SOCK_SEQPACKET channel (Begin, before the rootfs is mounted; Handover::Finish after); the
// spare then serves on <bundle>/shim.sock exactly as a shim started for that bundle, and
// answers "unix://<socket>". After each hand-over a new spare is started in the background,
// kRefillDelay later: a spare's start (exec, process setup, the container's namespaces made
// ahead) takes CPU that the task just handed over needs while it starts; by then that start is
// over, and the next task finds the spare ready unless it comes sooner. A spare exits as soon as
// its channel closes without a task (berthd stopped or died), so no spare outlives berthd; a
// spare that got its task is an ordinary shim and outlives berthd like any other.
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

  struct Spare {
    UniqueFd channel;
    pid_t pid = 0;
  };

  // A spare that has been sent its task and may not serve it yet. Finish waits for it; an
  // unfinished hand-over, when destroyed, kills the spare and waits (up to 1 s) for it to exit,
  // so that the caller can remove the bundle after a failure in between.
  class Handover {
   public:
    Handover(Handover&&) = default;
    Handover& operator=(Handover&&) = delete;
    ~Handover();

    // Waits up to `timeout` for the spare to serve on the bundle's socket; returns the shim
    // (pid and pidfd). Unavailable with the spare's message when it failed (a spare that does
    // not answer in time is killed). Once only.
    absl::StatusOr<ShimProcess> Finish(absl::Duration timeout);

   private:
    friend class SpareShims;

    Handover(Spare spare, UniqueFd pidfd, std::string id)
        : spare_(std::move(spare)), pidfd_(std::move(pidfd)), id_(std::move(id)) {}

    Spare spare_;
    UniqueFd pidfd_;
    std::string id_;
  };

  // Sends `bundle` to a ready spare and returns at once: the caller mounts the task's rootfs
  // while the spare sets itself up there. Unavailable when no spare is ready (the caller starts
  // a shim itself) or when the spare is gone.
  absl::StatusOr<Handover> Begin(const Bundle& bundle);

  // The spare of a task prepared ahead (TaskManager::Prepare) starts its task now: the next
  // spare starts kRefillDelay from now, as after a hand-over at the task's create, not in the
  // middle of that task's start.
  void PostponeRefill();

  // The pids of the spares ready now (for tests and logs).
  std::vector<pid_t> ReadyPids();
  // Whether a spare is ready now.
  bool HasReady();

 private:
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
