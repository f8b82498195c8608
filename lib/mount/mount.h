#pragma once

// Mounts as containerd describes them (types.Mount) and the calls that apply and remove them.
//
// Options follow mount(8) and containerd: words such as "ro", "rw", "bind", "rbind", "nosuid",
// "nodev", "noexec", "remount", "noatime" … become mount(2) flags; "private", "rprivate",
// "shared", "rshared", "slave", "rslave", "unbindable", "runbindable" change the propagation
// after mounting; everything else ("lowerdir=…", "upperdir=…", "index=off", "mode=755" …) is
// filesystem data. A read-only bind mount is made with a bind followed by a read-only remount.
//
// Overlay mounts whose data do not fit into mount(2)'s one page (e.g. 128 lower layers with
// absolute paths) are made with the new mount API (fsopen/fsconfig "lowerdir+" per layer,
// Linux ≥ 6.8), or else from a child process that chdir()s to the layers' common directory and
// passes relative paths.
//
// Errors name the target, the type and the cause; codes follow the errno (ENOENT → NotFound,
// EINVAL → InvalidArgument, EPERM → PermissionDenied, EBUSY → FailedPrecondition).
// All functions are thread-safe (they only make syscalls on the given paths).

#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace berth::mount {

// containerd's types.Mount: what a snapshotter returns.
struct Mount {
  std::string type;  // "bind", "overlay", "tmpfs" …
  std::string source;
  std::vector<std::string> options;

  bool operator==(const Mount&) const = default;
};

// Mounts every element of `mounts`, in order, on `target` (a directory that exists). On failure
// the mounts already made by this call are removed again.
absl::Status MountAll(std::span<const Mount> mounts, const std::filesystem::path& target);

// Unmounts the topmost mount on `target`. Retries briefly while busy, then detaches lazily
// (MNT_DETACH). A target that is not a mount point (EINVAL) or does not exist is OK.
absl::Status Unmount(const std::filesystem::path& target);

// Unmounts `target` until nothing is mounted there any more.
absl::Status UnmountAll(const std::filesystem::path& target);

// Unmounts this process runs in the background (a deleted task's rootfs, once the delete has
// answered): Begin before handing one off, End when it is done. WaitForBackgroundUnmounts
// returns once none is pending; a snapshotter calls it before it removes a snapshot's
// directories, which such a mount may still be using.
void BeginBackgroundUnmount();
void EndBackgroundUnmount();
void WaitForBackgroundUnmounts();

// Mounts `mounts` on a fresh directory under `parent` (created when missing), calls fn(dir),
// then always unmounts and removes the directory (rmdir only: never a recursive delete, so a
// mount that could not be removed keeps its data). Returns fn's error first, else the mount or
// unmount error.
absl::Status WithTempMount(std::span<const Mount> mounts, const std::filesystem::path& parent,
                           absl::FunctionRef<absl::Status(const std::filesystem::path&)> fn);

}  // namespace berth::mount
