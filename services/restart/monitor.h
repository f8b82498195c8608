#pragma once

// RestartMonitor is berthd's io.containerd.internal.v1.restart plugin: it keeps the tasks of
// containers labelled containerd.io/restart.status=running running, by the labels of
// services/restart/policy.h, as containerd's restart monitor does, so a restart policy holds
// after the client that set it has exited. It also removes the containers labelled
// berth.io/auto-remove=true once their task has exited (Docker's `run -d --rm`): the task,
// the container, its snapshot and its berth.io/log-uri log file.
//
// When it looks:
//  - on every /tasks/exit of a container's init process (an exchange subscription);
//  - at start-up and every `interval` (default 10 s): every namespace, every container with
//    the status label (a lost exit event, a task lost with the machine, berthd restarted).
//    A container without any task is only restarted when it was last updated more than
//    `interval` ago, so the monitor never races a client between Containers.Create and
//    Tasks.Create.
// How it restarts: deletes the stopped task, bumps containerd.io/restart.count, creates a task
// with the container's spec, runtime and options, its snapshot's mounts and
// containerd.io/restart.loguri as stdout and stderr (else the file:// URI the stopped task
// wrote to; no I/O without either), and starts it.
// Backoff: a task that exits less than 10 s after the monitor started it waits before the next
// restart: 100 ms, then twice as long each time, up to `max_backoff` (default 10 s, containerd's
// check interval); a task that ran 10 s or longer resets the delay. A crash-looping `always`
// container thus costs at most one start per 10 s.
// Thread-safe: one thread of its own does all the work; the destructor stops it.

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"

#include "services/events/exchange.h"
#include "services/metadata/container_store.h"
#include "services/metadata/namespace_store.h"
#include "services/plugin/registry.h"
#include "services/runtime/task_manager.h"
#include "services/snapshots/stores.h"

namespace berth::restart {

class RestartMonitor : public plugin::Plugin {
 public:
  struct Config {
    std::chrono::milliseconds interval{std::chrono::seconds(10)};
    std::chrono::milliseconds min_backoff{100};
    std::chrono::milliseconds max_backoff{std::chrono::seconds(10)};
  };

  // `snapshots` may be null (no snapshotter loaded: only containers without a snapshot key
  // can be restarted). Starts the thread, whose first act is a reconcile.
  RestartMonitor(Config config, metadata::NamespaceStore& namespaces,
                 metadata::ContainerStore& containers, snapshots::SnapshotStores* snapshots,
                 runtime::TaskManager& tasks, events::Exchange& exchange);
  ~RestartMonitor() override;

  // Looks at one container now, without backoff (the thread does this on its own). `event_exit`
  // is the exit status a /tasks/exit event gave, used when the task is gone already. Returns
  // whether it restarted the task; errors name the container.
  absl::StatusOr<bool> Check(const std::string& ns, const std::string& id,
                             std::optional<uint32_t> event_exit = std::nullopt);

 private:
  using Key = std::pair<std::string, std::string>;  // namespace, container id
  using Clock = std::chrono::steady_clock;

  struct Backoff {
    std::chrono::milliseconds delay{0};
    Clock::time_point started{};     // when the monitor last started the task
    Clock::time_point not_before{};  // no restart before this
  };

  void Loop();
  void TakeEvents();
  void ReconcileAll();
  // Check plus the backoff: a container whose next restart is not due yet is queued for then;
  // errors are logged and retried later.
  void CheckLogged(const Key& key, std::optional<uint32_t> event_exit);

  // How the container's task ended; nullopt while it is created, running or paused, or when
  // it has none and the container changed within `interval` (a client may be about to create
  // it).
  struct Ended {
    bool had_task = false;
    std::optional<uint32_t> exit_status;
    std::string stdout_uri;
  };

  absl::StatusOr<std::optional<Ended>> TaskEnded(const std::string& ns,
                                                 const metadata::Container& c,
                                                 std::optional<uint32_t> event_exit);
  absl::Status Restart(const std::string& ns, const metadata::Container& c, bool had_task,
                       const std::string& previous_stdout);
  absl::Status Remove(const std::string& ns, const metadata::Container& c, bool had_task);

  const Config config_;
  metadata::NamespaceStore& namespaces_;
  metadata::ContainerStore& containers_;
  snapshots::SnapshotStores* snapshots_;
  runtime::TaskManager& tasks_;
  events::Exchange& exchange_;
  std::shared_ptr<events::Subscription> exits_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;                     // guarded by mu_: events are waiting
  bool stopping_ = false;                 // guarded by mu_
  std::map<Key, Clock::time_point> due_;  // guarded by mu_: checks queued for later
  std::map<Key, Backoff> backoff_;        // used by the thread only
  std::thread thread_;
};

// The restart delay after `delay` (0 for the first): min_backoff, then doubled, capped.
std::chrono::milliseconds NextBackoff(std::chrono::milliseconds delay,
                                      std::chrono::milliseconds min_backoff,
                                      std::chrono::milliseconds max_backoff);

// "10s", "500ms", "2m" → a duration; InvalidArgument naming the value otherwise.
absl::StatusOr<std::chrono::milliseconds> ParseDuration(const std::string& s);

void RegisterPlugin(plugin::Registry& registry);

}  // namespace berth::restart
