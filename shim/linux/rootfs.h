#pragma once

// The container's filesystem: the rootfs bind-mounted onto itself, the spec's mounts, /dev
// devices and symlinks, then pivot_root, masked paths (/dev/null over files, a read-only tmpfs
// over directories), read-only paths and the read-only root. PlanRootfs runs in the parent;
// PrepareRootfs (before pivot) and EnterRootfs (pivot and after) run in the child.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "lib/oci/spec.h"
#include "shim/linux/devices.h"
#include "shim/linux/mount.h"

namespace berth::shim::linux {

struct RootfsPlan {
  std::string rootfs;  // absolute host path
  unsigned long root_propagation = 0;
  std::vector<MountOp> mounts;
  bool setup_dev = false;  // the spec mounts /dev: create devices and symlinks
  bool console = false;    // a terminal process: its pty (fd 0 then) appears as /dev/console
  std::vector<DeviceOp> devices;
  std::vector<SymlinkOp> symlinks;
  std::vector<std::string> masked_paths;    // container paths
  std::vector<std::string> readonly_paths;  // container paths
  bool readonly_root = false;
  // The process's cwd, made (0755, as runc does) when the image lacks it, before the root
  // becomes read-only: `ctr run --cwd /new` and `docker run -w /new` work on any image.
  std::string cwd;
};

// Errors: NotFound naming root.path when the rootfs is missing; InvalidArgument for a bad
// rootfsPropagation or mount (see PlanMounts).
absl::StatusOr<RootfsPlan> PlanRootfs(const oci::Spec& spec, const std::string& bundle,
                                      const std::vector<CgroupBind>& cgroup_binds);

// Child side: ChildFail on error.
void PrepareRootfs(const RootfsPlan& plan, int sync);
// pivot_root into the rootfs, and the cwd made.
void EnterRootfs(const RootfsPlan& plan, int sync);
// Masked and read-only paths, the read-only root: after the sysctls (/proc/sys is read-only
// in the default spec), as runc orders them.
void SealRootfs(const RootfsPlan& plan, int sync);

}  // namespace berth::shim::linux
