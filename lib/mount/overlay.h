#pragma once

// The two ways to mount an overlay whose options do not fit into mount(2)'s data page.
// MountAll picks them itself (and applies propagation options after them); they are public
// so that tests can exercise each one.

#include <filesystem>

#include "absl/status/status.h"

#include "lib/mount/mount.h"

namespace berth::mount {

// The largest data string mount(2) takes (one page minus the terminating NUL).
size_t MaxMountDataSize();

// New mount API: fsopen("overlay"), one fsconfig "lowerdir+" per lower layer (Linux ≥ 6.8),
// fsmount, move_mount onto `target`. Unimplemented when the kernel lacks the API or
// "lowerdir+"; other errors carry the kernel's own message from the filesystem context.
absl::Status MountOverlayNewApi(const Mount& m, const std::filesystem::path& target);

// Classic mount(2) from a forked child that chdir()s to the directory the lower layers have in
// common, with each lower layer made relative to it (containerd's fallback for older kernels;
// upperdir and workdir stay absolute). InvalidArgument when even then the options do not fit.
absl::Status MountOverlayRelative(const Mount& m, const std::filesystem::path& target);

}  // namespace berth::mount
