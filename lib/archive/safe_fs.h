#pragma once

// Filesystem calls confined to a root directory: every path is resolved by openat2 with
// RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS relative to an fd of the root, and the last
// component of a path is never followed. Internal to lib/archive.

#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "lib/base/unique_fd.h"

namespace berth::archive {

// Cleans a tar entry name into a path relative to the root: drops a leading "/" and "./",
// empty and "." components, resolves "a/.." lexically; "" is the root itself. InvalidArgument
// (naming the entry) when ".." climbs above the root, when the name is longer than PATH_MAX,
// or when it has more than kMaxPathDepth components.
absl::StatusOr<std::string> CleanEntryPath(std::string_view name);

// Splits a cleaned, non-empty path into (parent, base); parent is "" for the root.
std::pair<std::string_view, std::string_view> SplitPath(std::string_view path);

// Opens the directory `rel` (a cleaned path, "" = root) below `root_fd` for reading
// (O_RDONLY | O_DIRECTORY). With `create`, missing directories are made with mode 0755 (as
// tar and containerd do for parents that a layer does not list). Errors name `rel`:
// InvalidArgument when the path goes through a symlink leading outside the root or through a
// non-directory, NotFound when missing and !create, else the errno class.
absl::StatusOr<UniqueFd> OpenDirBeneath(int root_fd, std::string_view rel, bool create);

// Removes `name` in `dir_fd` and, for a directory, everything below it, without following
// symlinks. A missing entry is not an error.
absl::Status RemoveAllAt(int dir_fd, const std::string& name);

}  // namespace berth::archive
