#pragma once

// Namespaces from the spec: new ones become clone flags; ones with a path are opened in the
// parent and joined (setns) by the child, the user namespace first. Joining a pid namespace by
// path is not supported (it needs a second fork) and is rejected as Unimplemented.

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
  std::vector<NamespaceJoin> joins;  // user first
  bool new_user = false;
  bool new_uts = false;
};

// Errors: NotFound/PermissionDenied naming the path of a namespace to join; InvalidArgument
// when the spec has no mount namespace (berth always pivots into the rootfs).
absl::StatusOr<NamespacePlan> PlanNamespaces(const oci::Linux& linux_spec);

// The flags for setns(init_pidfd, flags) that put an exec'd process into the container's
// namespaces (those the spec creates or joins).
int ExecNamespaceFlags(const oci::Linux& linux_spec);

// Child side: setns into each join; ChildFail on error.
void JoinNamespaces(const NamespacePlan& plan, int sync);

// Parent side: writes /proc/<pid>/{uid_map,gid_map} from the spec's mappings.
absl::Status WriteIdMappings(pid_t pid, const oci::Linux& linux_spec);

}  // namespace berth::shim::linux
