#pragma once

// Namespaces from the spec: new ones become clone flags; ones with a path are opened in the
// parent and joined (setns) by the child, the user namespace first. A pid namespace cannot be
// entered by the process itself (setns(CLONE_NEWPID) only places its future children): the
// parent enters it for the clone of the init (PidNamespaceForChildren) and leaves it after.
//
// New network, ipc and uts namespaces can also be made ahead of the container
// (PreparedNamespaces, by a spare shim while it waits for its task): the network namespace is by
// far the slowest to create (~0.5 ms of the clone's ~0.7 here). The init then joins them as if
// they had paths. Only without a user namespace: one that the container creates or joins must
// own its other namespaces, so then they are created by the clone as usual.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "lib/base/unique_fd.h"
#include "lib/oci/spec.h"

namespace berth::shim::linux {

// CLONE_NEW* for an OCI namespace type ("pid" -> CLONE_NEWPID); 0 when unknown.
int NamespaceFlag(const std::string& type);

struct NamespaceJoin {
  int flag = 0;
  std::string path;
  UniqueFd fd;
};

struct NamespacePlan {
  uint64_t clone_flags = 0;          // namespaces to create
  std::vector<NamespaceJoin> joins;  // user first; never pid
  NamespaceJoin pid_join;            // the pid namespace to clone the init into (fd < 0: none)
  bool new_user = false;
  bool new_uts = false;
};

// New, empty namespaces held by descriptors, owned by the caller's user namespace.
struct PreparedNamespaces {
  UniqueFd net;
  UniqueFd ipc;
  UniqueFd uts;

  // Made by a short-lived thread (unshare moves only the calling thread, so the process's own
  // threads never change namespaces). Errors: the unshare or open that failed.
  static absl::StatusOr<PreparedNamespaces> Make();
};

// Errors: NotFound/PermissionDenied naming the path of a namespace to join; InvalidArgument
// for an unknown type to join, or when the spec has no mount namespace (berth always pivots
// into the rootfs). With `prepared`, the new namespaces that it holds are taken from it (their
// descriptors move into the plan) when the spec has no user namespace.
absl::StatusOr<NamespacePlan> PlanNamespaces(const oci::Linux& linux_spec,
                                             PreparedNamespaces* prepared = nullptr);

// Parent side: while it lives, the children that the calling thread clones start in
// `plan.pid_join`'s pid namespace; the destructor puts the thread's pid_for_children back.
// Only the calling thread is affected. A no-op when the plan joins no pid namespace.
class PidNamespaceForChildren {
 public:
  // Errors: setns failures naming the namespace's path.
  static absl::StatusOr<PidNamespaceForChildren> Enter(const NamespacePlan& plan);
  PidNamespaceForChildren(PidNamespaceForChildren&&) = default;
  PidNamespaceForChildren& operator=(PidNamespaceForChildren&&) = delete;
  ~PidNamespaceForChildren();

 private:
  PidNamespaceForChildren() = default;
  UniqueFd saved_;  // the thread's own pid_for_children, restored on destruction
};

// The flags for setns(init_pidfd, flags) that put an exec'd process into the container's
// namespaces (those the spec creates or joins).
int ExecNamespaceFlags(const oci::Linux& linux_spec);

// Child side: setns into each join; ChildFail on error.
void JoinNamespaces(const NamespacePlan& plan, int sync);

// Parent side: writes /proc/<pid>/{uid_map,gid_map} from the spec's mappings.
absl::Status WriteIdMappings(pid_t pid, const oci::Linux& linux_spec);

}  // namespace berth::shim::linux
