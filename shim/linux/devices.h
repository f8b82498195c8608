#pragma once

// Device nodes in the container's /dev: the OCI default set (null, zero, full, random, urandom,
// tty) plus linux.devices, and the standard /dev symlinks (fd, stdin, stdout, stderr, ptmx,
// core). Planned in the parent, created in the child (mknod; a bind mount of the host node
// when mknod is refused, as in a user namespace).

#include <sys/types.h>

#include <string>
#include <vector>

#include "lib/oci/spec.h"
#include "shim/linux/mount.h"

namespace berth::shim::linux {

struct DeviceOp {
  std::string target;     // host path under the rootfs
  std::string dir = {};   // its directory (made if missing, inside the rootfs: /dev/cpu/0)
  std::string name = {};  // its last component
  size_t prefix_len = 0;  // of the rootfs's path, which target and dir begin with
  std::string host_path;  // the same device on the host, for the bind fallback
  mode_t mode = 0;        // S_IFCHR/S_IFBLK/S_IFIFO | permissions
  dev_t dev = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

struct SymlinkOp {
  std::string target;    // what the link points to
  std::string linkpath;  // host path under the rootfs
};

// Default devices first; a spec device with the same path replaces the default.
std::vector<DeviceOp> PlanDevices(const oci::Spec& spec, const std::string& rootfs);

std::vector<SymlinkOp> PlanDevSymlinks(const std::string& rootfs);

// Child side. The nodes go where their paths lead inside `root` (the rootfs, with its mounts),
// parent directories made as needed.
void CreateDevices(const std::vector<DeviceOp>& devices, const MountRoot& root, int sync);
void CreateSymlinks(const std::vector<SymlinkOp>& links, int sync);

}  // namespace berth::shim::linux
