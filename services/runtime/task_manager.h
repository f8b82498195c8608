#pragma once

// TaskManager is berthd's runtime (containerd's io.containerd.runtime.v2.task): it owns the
// task bundles under <berthd state>/tasks/<namespace>/<id>/, starts one berth-shim per task
// and keeps a ShimTask (client + event forwarding) for each. berthd is not the shims'
// parent: tasks outlive berthd, and Restore() reconnects to them when berthd starts again. A
// task's shim is a spare started ahead of it when one is ready (spare_shim.h); a created
// container's task is handed to that spare ahead of its create (Prepare).
//
// Runtime names io.containerd.runc.v2, io.containerd.runc.v1 and io.containerd.berth.v1 are
// all berth-shim; the runc options' binary_name (ctr run --runc-binary) makes the shim drive
// that OCI runtime instead of its embedded one. A shim that exits without its task having been
// deleted (it crashed, or was killed) is noticed when its event stream ends: its task is
// cleaned up as after a restart (`berth-shim delete`, /tasks/exit) and disappears from the
// list. Thread-safe.

#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/any.pb.h"

#include "lib/mount/mount.h"
#include "services/events/exchange.h"
#include "services/plugin/plugin.h"
#include "services/plugin/registry.h"
#include "services/runtime/bundle.h"
#include "services/runtime/shim_task.h"
#include "services/runtime/spare_shim.h"

namespace berth::runtime {

struct CreateTaskOptions {
  std::string ns;
  std::string id;
  std::string runtime_name;
  std::string spec_json;             // the container's OCI spec, written as config.json
  std::vector<mount::Mount> rootfs;  // mounted on <bundle>/rootfs; empty when the spec's root
                                     // path is a ready directory (ctr run --rootfs)
  TaskIo io;
  std::optional<google::protobuf::Any> options;  // containerd.runc.v1.Options
};

class TaskManager : public plugin::Plugin {
 public:
  struct Config {
    std::filesystem::path state;  // bundles go to <state>/<namespace>/<id>
    std::string shim_binary;      // berth-shim
    std::string daemon_address;   // berthd's socket, passed to the shims
    int spare_shims = 1;          // shims started ahead of their tasks (spare_shim.h); 0: none
  };

  TaskManager(Config config, events::Exchange& exchange);

  // Stops forwarding events; the shims and their tasks keep running.
  ~TaskManager() override;

  // Scans the state directory: reconnects to every shim that answers and cleans up each
  // bundle whose shim is gone (`berth-shim delete`, then /tasks/exit with the status it
  // reports, and /tasks/delete). Returns the number of tasks reconnected.
  absl::StatusOr<int> Restore();

  // The pids of the spare shims ready now.
  std::vector<pid_t> SparePids() { return spares_ ? spares_->ReadyPids() : std::vector<pid_t>{}; }

  // Writes the bundle, starts the shim, which mounts the rootfs and creates the init process
  // (stopped until Start). Errors: AlreadyExists (a task with that id is there),
  // InvalidArgument/NotFound (an unknown runtime, a bad spec: the shim's message; a bad
  // mount: lib/mount's), Unavailable (the shim did not start). On error nothing is left
  // behind: no shim, mount, cgroup or bundle.
  absl::StatusOr<std::shared_ptr<ShimTask>> Create(CreateTaskOptions opts);

  // Prepares the task of a container that was just created, ahead of its Create: the bundle
  // with `spec_json` as config.json, and a spare shim serving on it that has read the spec. A
  // Create of that id with the same runtime and spec claims it; the rest of the create (the
  // rootfs mount, the cgroup, the init) happens there as always, and so do all of the task's
  // events. Does nothing unless a spare is ready, the runtime is berth-shim's and no task or
  // bundle of that id is there. A prepared task that no Create claims within
  // kPreparedLifetime is discarded (shim stopped, bundle removed), as is one whose container is
  // deleted or changed (Unprepare). Blocks for the hand-over (about a millisecond): call it off
  // any reply's path.
  void Prepare(const std::string& ns, const std::string& id, const std::string& runtime_name,
               const std::string& spec_json);
  // Discards the prepared task of that id, if there is one.
  void Unprepare(const std::string& ns, const std::string& id);

  static constexpr absl::Duration kPreparedLifetime = absl::Seconds(10);

  // NotFound `task "<id>": not found`.
  absl::StatusOr<std::shared_ptr<ShimTask>> Get(const std::string& ns, const std::string& id);
  // The tasks of `ns`, by id.
  std::vector<std::shared_ptr<ShimTask>> List(const std::string& ns);

  // Deletes the (stopped) init process and unmounts the rootfs; returns the init's exit. The
  // shim's exit and the bundle's removal follow in the background (a Create of the same id
  // waits for them). A shim that is gone is cleaned up with `berth-shim delete`. Errors:
  // NotFound, FailedPrecondition (still running: the shim's message).
  absl::StatusOr<shimapi::DeleteResponse> Delete(const std::string& ns, const std::string& id);

 private:
  // Forwards the task's events; a lost shim is queued for the janitor.
  void Watch(const std::shared_ptr<ShimTask>& task);
  // The janitor thread: cleans up after shims that are gone.
  void JanitorLoop();
  // The cleaner thread: lets the shims of deleted tasks exit and removes their bundles.
  void CleanerLoop();
  void CleanUpLostShim(const std::shared_ptr<ShimTask>& task);
  // The task, marked as being deleted: FailedPrecondition when it already is.
  absl::StatusOr<std::shared_ptr<ShimTask>> Claim(const std::string& ns, const std::string& id);
  // A spare shim told the bundle (Begin), when one is ready.
  std::optional<SpareShims::Handover> BeginHandover(const Bundle& bundle);
  // The spare of `handover` once it serves, else a shim started for the bundle.
  absl::StatusOr<std::shared_ptr<ShimTask>> StartShim(const Bundle& bundle,
                                                      const std::string& runtime,
                                                      std::optional<SpareShims::Handover> handover);
  // A client of the bundle's shim when it runs and answers; a shim that runs but does not
  // answer is killed. Unavailable otherwise.
  absl::StatusOr<std::unique_ptr<ShimTask>> Reconnect(const Bundle& bundle);
  // `berth-shim delete` on a bundle whose shim is gone, the exit and delete events, and the
  // bundle's removal.
  absl::StatusOr<shimapi::DeleteResponse> CleanupDeadShim(const Bundle& bundle);
  // Shutdown, wait for the shim to exit (SIGKILL if it does not), stop its events.
  void StopShim(ShimTask& task, bool now);

  // A task prepared ahead of its Create (Prepare).
  struct Prepared {
    std::string runtime_name;
    std::string spec_json;
    std::shared_ptr<ShimTask> task;  // null while being prepared
    absl::Time expires = absl::InfiniteFuture();
    bool discard = false;  // Unprepare came while it was being prepared
  };

  // The prepared task of that id, taken out of prepared_ (waited for while it is being
  // prepared); nullopt when there is none.
  std::optional<Prepared> TakePrepared(const std::pair<std::string, std::string>& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stops a prepared task's shim and removes its bundle.
  void Discard(const std::shared_ptr<ShimTask>& task);
  // Takes the prepared tasks whose lifetime is over (all: every one) out of prepared_.
  std::vector<std::shared_ptr<ShimTask>> TakeExpired(bool all) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Bundle MakeBundle(const std::string& ns, const std::string& id) const {
    return Bundle(config_.state, ns, id);
  }

  const Config config_;
  events::Exchange& exchange_;
  absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<ShimTask>> tasks_;  // by ns, id
  std::set<std::pair<std::string, std::string>> deleting_;
  std::set<std::pair<std::string, std::string>> creating_;  // guarded by mu_: in Create
  std::deque<std::weak_ptr<ShimTask>> lost_;  // guarded by mu_: shims whose stream ended
  bool stopping_ = false;                     // guarded by mu_
  std::thread janitor_;
  std::set<std::pair<std::string, std::string>> cleaning_;  // guarded by mu_: deleted, not yet
                                                            // cleaned up
  std::deque<std::shared_ptr<ShimTask>> to_clean_;          // guarded by mu_
  bool cleaner_stopping_ = false;                           // guarded by mu_
  bool prepared_added_ = false;  // guarded by mu_: wakes the cleaner to expire prepared tasks
  std::thread cleaner_;
  // Tasks prepared ahead of their Create (Prepare), by ns, id; guarded by mu_.
  std::map<std::pair<std::string, std::string>, Prepared> prepared_;
  std::unique_ptr<SpareShims> spares_;  // null when config_.spare_shims is 0
};

// True for the runtime names berth-shim serves.
bool IsShimRuntime(const std::string& name);

void RegisterPlugin(plugin::Registry& registry);

}  // namespace berth::runtime
