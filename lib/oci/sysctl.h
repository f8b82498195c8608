#pragma once

// Which sysctls a container may set (linux.sysctl), checked by bctr when it builds a spec and by
// the embedded runtime before anything runs.

#include "absl/status/status.h"

#include "lib/oci/spec.h"

namespace berth::oci {

// As runc: a sysctl is written only in a namespace of the container's own, never the host's:
// the ipc ones (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*) with an ipc namespace,
// net.* with a network namespace, kernel.hostname and kernel.domainname with a uts namespace.
// InvalidArgument naming the sysctl otherwise.
absl::Status ValidateSysctls(const Spec& spec);

}  // namespace berth::oci
