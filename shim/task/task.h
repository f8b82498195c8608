#pragma once

// One task: its init process, its exec processes and their stdio, on top of a Runtime. This is
// where the shim's logic lives; the gRPC service only translates. Thread-safe: one mutex
// guards all state; Wait blocks on it without holding it. Exit statuses are kept until the
// process is deleted. Events go to the EventQueue.

#include <sys/types.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "lib/base/unique_fd.h"
#include "lib/mount/mount.h"
#include "shim/event_queue.h"
#include "shim/io/process_io.h"
#include "shim/linux/cgroups/cgroup.h"
#include "shim/linux/namespaces.h"
#include "shim/task/runtime.h"
#include "shim/task/state.h"

namespace berth::shim {

struct CreateConfig {
  std::string bundle;
  IoConfig io;
  std::string runtime_binary;  // empty: the embedded runtime
  std::string runtime_root;    // state directory of an external runtime
  // Mounted on <bundle>/rootfs by Create; none: the rootfs is there already.
  std::vector<mount::Mount> rootfs = {};
};

struct ProcessStatus {
  std::string exec_id;
  pid_t pid = 0;
  State state = State::kCreated;
  IoConfig io;
  int exit_status = 0;
  absl::Time exited_at;
};

class Task {
 public:
  Task(std::string ns, std::string id, EventQueue& events);
  ~Task();

  const std::string& id() const { return id_; }

  // Errors from the spec (InvalidArgument, NotFound) or the runtime. AlreadyExists when
  // created twice.
  absl::StatusOr<pid_t> Create(const CreateConfig& config);
  absl::StatusOr<pid_t> Start(const std::string& exec_id);
  // Removes a created or stopped process and returns its exit. Deleting the init kills what
  // is left and removes the container.
  absl::StatusOr<ProcessStatus> Delete(const std::string& exec_id);
  absl::Status AddExec(const std::string& exec_id, const IoConfig& io,
                       const std::string& process_json);
  absl::Status ResizePty(const std::string& exec_id, uint32_t width, uint32_t height);
  absl::Status CloseIO(const std::string& exec_id);
  absl::StatusOr<ProcessStatus> Status(const std::string& exec_id);

  // The cgroup's processes; an exec's own process names its exec.
  struct PidInfo {
    pid_t pid = 0;
    std::string exec_id;
  };

  absl::StatusOr<std::vector<PidInfo>> Pids();
  absl::Status Pause();
  absl::Status Resume();
  absl::Status Kill(const std::string& exec_id, int sig, bool all);
  absl::Status Update(const std::string& resources_json);
  // Blocks until the process has exited and its output is flushed.
  absl::StatusOr<ProcessStatus> Wait(const std::string& exec_id);
  absl::StatusOr<linux::CgroupStats> Stats(bool* v2);
  // Namespaces made ahead (a spare shim's) for the embedded runtime's Create to use; the ones
  // it does not use are closed after it.
  void UsePreparedNamespaces(linux::PreparedNamespaces prepared);
  // Reads <bundle>/config.json ahead of Create, which then uses it (the shim does this while
  // berthd connects to it). Create reads the file itself if this failed.
  void PreloadSpec(const std::string& bundle);

  // From the reaper thread.
  void OnExit(pid_t pid, int status);

  // True once the init was deleted (or never created): the shim may exit.
  bool Gone();
  pid_t InitPid();

 private:
  struct Process {
    std::string exec_id;
    IoConfig io_config;
    std::string spec_json;
    std::shared_ptr<ProcessIo> io;  // shared with a Wait that drains the output
    pid_t pid = 0;
    State state = State::kCreated;
    int exit_status = 0;
    absl::Time exited_at;
    // The init's mount namespace, held until the shim exits (see Task::Create).
    UniqueFd mnt_ns;
  };

  Process* Find(const std::string& exec_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Process*> Get(const std::string& exec_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Precondition(const Process& p, bool ok, std::string_view action);
  // OK when an exec may join the init (it exists and runs: not paused, not stopped).
  absl::Status CanExec() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<pid_t> StartExec(Process& p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<ProcessStatus> DeleteInit(Process& p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkExited(Process& p, int status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartOomMonitor() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends OOM reporting at once; the monitor thread is joined by JoinOomMonitor (~Task, or a
  // create after a failed one), off the delete's reply path.
  void StopOomMonitor();
  void JoinOomMonitor();
  static ProcessStatus ToStatus(const Process& p);
  // A process's stdio (ProcessIo::Open) with the container's names filled in.
  absl::StatusOr<std::unique_ptr<ProcessIo>> OpenIo(IoConfig io) const;

  const std::string ns_;
  const std::string id_;
  EventQueue& events_;
  std::string bundle_;

  absl::Mutex mu_;
  std::unique_ptr<Runtime> runtime_;          // GUARDED_BY(mu_)
  linux::PreparedNamespaces prepared_;        // GUARDED_BY(mu_)
  std::string preloaded_bundle_;              // GUARDED_BY(mu_)
  std::optional<oci::Spec> preloaded_spec_;   // GUARDED_BY(mu_)
  std::map<std::string, Process> processes_;  // GUARDED_BY(mu_); "" is the init
  std::map<pid_t, int> unclaimed_exits_;      // GUARDED_BY(mu_)
  bool init_deleted_ = false;                 // GUARDED_BY(mu_)
  // The processes of a deleted init: their output threads are joined when the Task goes (the
  // shim's exit, after the delete has been answered), not on the delete's reply path.
  std::map<std::string, Process> retired_;  // GUARDED_BY(mu_)

  UniqueFd oom_stop_;
  std::atomic<bool> oom_stopped_ = false;
  std::thread oom_thread_;
};

}  // namespace berth::shim
