#pragma once

// The extended attributes that berth's tar writers carry (PAX SCHILY.xattr.*, as Docker's and
// containerd's): every one of an entry but overlayfs's own (trusted.overlay.*, which describe
// the layer, not the file), sorted by name. A filesystem without xattrs has none.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::archive {

using Xattrs = std::vector<std::pair<std::string, std::string>>;

// Of the entry at `path` itself (a symlink's own, not its target's).
absl::StatusOr<Xattrs> ReadXattrs(const std::string& path);
// Of the open file `fd` (not an O_PATH one); `name` is for errors.
absl::StatusOr<Xattrs> ReadXattrs(int fd, std::string_view name);

}  // namespace berth::archive
