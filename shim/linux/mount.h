#pragma once

// Mount planning (pure, in the parent) and applying (syscalls only, in the child).
// PlanMounts turns the spec's mounts into MountOps with targets resolved under the rootfs;
// option strings become flags, propagation and data; a "cgroup" mount becomes what the host
// layout needs (v1: a tmpfs with one read-only bind per controller; v2: a bind of the
// container's cgroup directory). Unknown filesystem types are rejected here, before clone.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "lib/oci/spec.h"

namespace berth::shim::linux {

struct MountOptions {
  unsigned long flags = 0;        // MS_* to set
  unsigned long propagation = 0;  // MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC)
  std::string data;               // filesystem-specific options, comma separated
  bool bind = false;
  bool recursive = false;
};

// Parses mount(8)-style options. Unknown words go to data.
MountOptions ParseMountOptions(const std::vector<std::string>& options);

struct MountOp {
  std::string source;
  std::string target;  // absolute host path under the rootfs
  std::string fstype;
  unsigned long flags = 0;
  unsigned long propagation = 0;
  std::string data;
  bool bind = false;
  bool remount_only = false;    // only change the flags of what is mounted at target
  bool target_is_file = false;  // bind of a file: create an empty file as the mount point
  // The rootfs that `target` lies in. The child resolves the target inside it (symlinks
  // included, as the container will see them) and mounts on what it found, never on a path
  // that a symlink in the image sends outside the rootfs.
  std::string root;
};

// One directory to expose under /sys/fs/cgroup: host_dir appears as <dest>/<name> (v2: name "").
struct CgroupBind {
  std::string host_dir;
  std::string name;
};

// Errors: InvalidArgument naming the mount ("mounts[2].type: unknown filesystem type \"foo\"").
absl::StatusOr<std::vector<MountOp>> PlanMounts(const oci::Spec& spec, const std::string& bundle,
                                                const std::string& rootfs,
                                                const std::vector<CgroupBind>& cgroup_binds);

// Lexically joins `path` under `root` ("/a/../b" -> root + "/b"); never escapes root.
std::string JoinUnder(const std::string& root, const std::string& path);

// --- Child side: syscalls only; on failure ChildFail(sync, ...) and _exit. ---

// mkdir -p of `path` (a NUL-terminated absolute path; at most PATH_MAX).
bool MakeDirs(const char* path);

// The rootfs that the MountOps of a container lie in, opened once for all of them.
struct MountRoot {
  int fd = -1;          // O_PATH
  size_t path_len = 0;  // of the path that fd really is at (symlinks resolved)
};

// Opens `rootfs` into `root` (closing what it held). Fails the child on error.
void OpenMountRoot(const char* rootfs, MountRoot* root, int sync);

// Opens (O_PATH) the directory `dir`, a host path: the rootfs's path as planned (prefix_len
// characters) and then a path inside it, resolving every component inside `root` as the
// container will see it and making what is missing (mkdir -p in the container). Fails the
// child on error.
int OpenDirInRoot(const char* dir, size_t prefix_len, const MountRoot& root, int sync);

// Creates the mount point, inside `root`, and mounts `op` (whose root is that rootfs).
// A mount on the rootfs itself reopens `root`, so that later mounts go on top of it.
void ApplyMount(const MountOp& op, MountRoot* root, int sync);

// MS_* flags that a bind remount of `path` must keep (locked in a user namespace).
unsigned long MountFlagsOf(const char* path);

}  // namespace berth::shim::linux
