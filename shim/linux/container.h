#pragma once

// The embedded OCI runtime's container: created from a parsed spec, its init set up and
// waiting (Create), then released to exec its process (Start). Owns the init process and the
// cgroup: the destructor kills what is left and removes the cgroup (Destroy does the same and
// reports errors). Not thread-safe: the shim serializes calls.
//
// Create plans everything in the parent (mounts, devices, seccomp, argv/envp, capabilities),
// then clones the init with the namespace flags; a failure in the child comes back as an error
// naming the step, path and errno ("init: mount /x/rootfs/proc: No such device"), never a hang.

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

#include "lib/oci/spec.h"
#include "shim/linux/cgroups/cgroup.h"
#include "shim/linux/hooks.h"
#include "shim/linux/namespaces.h"
#include "shim/linux/process.h"
#include "shim/linux/process_plan.h"

namespace berth::shim::linux {

struct ContainerConfig {
  std::string id;
  std::string bundle;  // absolute; relative root.path and bind sources resolve against it
  Stdio stdio;         // borrowed; only needed until Create returns
  // Borrowed, may be null: new namespaces made ahead (namespaces.h); Create takes the ones
  // the container can use.
  PreparedNamespaces* prepared = nullptr;
  // Null, or blocks until the rootfs is mounted: called before the init is cloned, after the
  // cgroup and the plans are made. Its error fails the create.
  std::function<absl::Status()> rootfs_ready = nullptr;
};

class Container {
 public:
  // Runs the prestart, createRuntime and createContainer hooks (hooks.h) before pivot_root.
  // Errors: InvalidArgument (bad spec: mount type, seccomp, namespaces, hooks), NotFound
  // (rootfs), a failing hook (named by its stage, index and path), or the child's failing
  // step. On error nothing is left behind: no process, no cgroup, no mount.
  static absl::StatusOr<std::unique_ptr<Container>> Create(const ContainerConfig& config,
                                                           oci::Spec spec);
  // Create in two halves, for a caller with work of its own to do while the init sets itself
  // up: Begin returns once the init runs (its pid is known), Finish once it is set up and
  // waiting for Start (the hooks run then). After a failed Finish, Destroy (or the destructor)
  // removes what is left.
  static absl::StatusOr<std::unique_ptr<Container>> Begin(const ContainerConfig& config,
                                                          oci::Spec spec);
  absl::Status Finish();
  ~Container();
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;

  // Runs the startContainer hooks, then lets the init exec its process; returns the exec
  // error if it fails (e.g. NotFound for a missing program). Then runs the poststart hooks
  // (a failure is logged, not returned). When a startContainer hook fails, the container is
  // stopped (its processes SIGKILLed) and the hook's error returned. FailedPrecondition when
  // already started.
  absl::Status Start();

  // Starts `process` inside the running container. The returned child has SIGCHLD as exit
  // signal and is re-parented to the caller, which must be a child subreaper.
  absl::StatusOr<ChildProcess> Exec(const oci::Process& process, const Stdio& stdio);

  // Sends `sig` to every process in the container's cgroup.
  absl::Status KillAll(int sig);

  // Kills every process, reaps the init if still owned, removes the cgroup, runs poststop
  // hooks once the container was started (a failing one is logged). Idempotent.
  absl::Status Destroy();

  pid_t pid() const { return pid_; }

  // The init; invalid after Release (the shim's reaper takes over reaping).
  ChildProcess& init() { return init_; }

  Cgroup& cgroup() { return *cgroup_; }

  const oci::Spec& spec() const { return spec_; }

  const std::string& id() const { return id_; }

 private:
  Container(std::string id, std::string bundle, oci::Spec spec);
  absl::Status Setup(const ContainerConfig& config);
  absl::Status SendGo(int sync);  // id mappings and oom_score_adj, then the init may go on
  HookState State(const char* status) const;
  HookTarget InContainer() const;  // the init's namespaces, for createContainer/startContainer

  std::string id_;
  std::string bundle_;
  oci::Spec spec_;
  std::unique_ptr<Cgroup> cgroup_;
  ChildProcess init_;
  pid_t pid_ = 0;
  UniqueFd sync_;
  bool ready_ = false;  // Finish has seen the init set up
  bool started_ = false;
  bool hooks_began_ = false;  // the init asked for the creation hooks
  bool destroyed_ = false;
};

}  // namespace berth::shim::linux
