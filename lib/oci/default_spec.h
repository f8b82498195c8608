#pragma once

// The default runtime spec and seccomp profile, as Docker and containerd generate them: Docker's
// default capability set, the standard mounts (/proc, /dev, /dev/pts, /dev/shm, /dev/mqueue,
// /sys, /sys/fs/cgroup), masked and read-only paths, the default device cgroup rules, new pid,
// ipc, uts, mount and network namespaces, and the default seccomp allowlist (everything else
// fails with EPERM). bctr and berth-cri start from here and apply their options.

#include <string>
#include <string_view>
#include <vector>

#include "lib/oci/spec.h"

namespace berth::oci {

// Docker's default capabilities (CAP_CHOWN ... CAP_AUDIT_WRITE).
std::vector<std::string> DefaultCapabilities();

// The default spec for container `id` in namespace `ns`: process `sh` as root in "/", root
// "rootfs" (relative to the bundle), cgroupsPath "/<ns>/<id>", the default seccomp profile.
Spec DefaultSpec(std::string_view ns, std::string_view id);

// Docker's default seccomp profile for the native architecture (and its 32-bit variants):
// default action SCMP_ACT_ERRNO (EPERM), an allowlist of ordinary syscalls, clone without
// namespace flags, clone3 failing with ENOSYS so that libcs fall back to clone.
Seccomp DefaultSeccompProfile();

}  // namespace berth::oci
