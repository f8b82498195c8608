#pragma once

// The seam between a task and the OCI runtime that makes its processes: the embedded runtime
// (shim/linux) or an external binary driven through the OCI CLI (runc, crun). Calls are
// serialized by the Task. Processes are reaped by the shim's reaper, never by the runtime.

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "lib/oci/spec.h"
#include "shim/linux/cgroups/cgroup.h"
#include "shim/linux/namespaces.h"
#include "shim/linux/process_plan.h"

namespace berth::shim {

class Runtime {
 public:
  virtual ~Runtime() = default;

  // Creates the init; returns its pid. Once FinishCreate has returned too, it is set up and
  // waiting for Start. The task does its own part (output copiers, OOM monitor) in between,
  // while the embedded runtime's init is still setting itself up. After an error of either,
  // Delete removes what is left. `rootfs_ready` blocks until the rootfs is mounted (its error
  // fails the create); it is called before anything needs the rootfs.
  virtual absl::StatusOr<pid_t> Create(const linux::Stdio& stdio,
                                       const std::function<absl::Status()>& rootfs_ready) = 0;

  virtual absl::Status FinishCreate() { return absl::OkStatus(); }

  virtual absl::Status Start() = 0;
  // Creates and starts a process in the running container. `process_json` is the OCI Process
  // object that `process` was parsed from. Returns its pid (a child of the shim).
  virtual absl::StatusOr<pid_t> Exec(const std::string& exec_id, const oci::Process& process,
                                     const std::string& process_json,
                                     const linux::Stdio& stdio) = 0;
  // Sends `sig` to every process of the container.
  virtual absl::Status KillAll(int sig) = 0;
  virtual absl::Status Pause() = 0;
  virtual absl::Status Resume() = 0;
  virtual absl::Status Update(const oci::Resources& resources, const std::string& json) = 0;
  // The container's cgroup (pids, stats, OOM events); null before Create.
  virtual linux::Cgroup* cgroup() = 0;
  // Kills what is left and removes the container (cgroup, runtime state). Idempotent.
  virtual absl::Status Delete() = 0;
};

// The embedded runtime over the parsed spec of `bundle`. `prepared` (borrowed, may be null):
// namespaces made ahead that Create may take (linux/namespaces.h).
std::unique_ptr<Runtime> MakeEmbeddedRuntime(std::string id, std::string bundle, oci::Spec spec,
                                             linux::PreparedNamespaces* prepared = nullptr);

// An external OCI runtime binary (runc, crun) with its state under `root`.
std::unique_ptr<Runtime> MakeCliRuntime(std::string binary, std::string root, std::string id,
                                        std::string bundle, oci::Spec spec);

// Removes the container an external runtime left in `bundle` (recorded in
// <bundle>/runtime.json at Create) after its shim died: `delete --force`, then its state.
// OK when there is no record (the embedded runtime) or nothing is left. Errors: the runtime's.
absl::Status DeleteCliContainer(const std::string& bundle, const std::string& id);

}  // namespace berth::shim
