#pragma once

// File-tree helpers of the local snapshotters. None of them crosses into another mount.

#include <filesystem>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "snapshotter/snapshotter.h"

namespace berth::snapshot {

// Allocated bytes (st_blocks × 512) and distinct inodes of the tree at `root`, root included;
// a hardlinked inode counts once. Does not descend into mount points.
absl::StatusOr<Usage> DiskUsage(const std::filesystem::path& root);

// Removes the tree at `path` (OK when it does not exist). Never crosses a mount point: a mount
// inside the tree makes it fail with FailedPrecondition naming the path, and the mounted data
// are left alone.
absl::Status RemoveTree(const std::filesystem::path& path);

// Copies the contents of directory `src` into the existing empty directory `dst`, and gives
// `dst` the owner, mode, xattrs and times of `src`. Keeps file types (regular, directory,
// symlink, character and block devices, fifos, sockets), modes (setuid/setgid/sticky too),
// owners, xattrs (trusted.*, security.* included; ignored where the target filesystem has no
// xattrs), hardlinks within the tree and access/modification times. Regular files are cloned
// (FICLONE) where the filesystem can, else copied with copy_file_range.
absl::Status CopyTree(const std::filesystem::path& src, const std::filesystem::path& dst);

}  // namespace berth::snapshot
