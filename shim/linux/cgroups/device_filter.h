#pragma once

// The device rules of a cgroup v2 container (linux.resources.devices). v2 has no devices.allow
// file: the kernel asks an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the
// cgroup, once per device access (open, mknod) by a process in it. As runc, the rules become
// one program: the last rule that matches the access decides, none matching denies.

#include <linux/bpf.h>

#include <vector>

#include "absl/status/statusor.h"

#include "lib/base/unique_fd.h"
#include "lib/oci/spec.h"

namespace berth::shim::linux {

// The program's instructions for `rules` (InvalidArgument naming a rule with an unknown type
// or access letter).
absl::StatusOr<std::vector<struct bpf_insn>> DeviceFilterProgram(
    const std::vector<oci::DeviceRule>& rules);

// Loads the program for `rules` and attaches it to the cgroup directory `cgroup_dir`
// (BPF_F_ALLOW_MULTI: the parents' programs keep running too), then detaches `previous` (the
// program an earlier call attached, if valid). Returns the attached program, to be passed as
// `previous` when the rules change.
absl::StatusOr<UniqueFd> AttachDeviceFilter(int cgroup_dir,
                                            const std::vector<oci::DeviceRule>& rules,
                                            const UniqueFd& previous);

}  // namespace berth::shim::linux
