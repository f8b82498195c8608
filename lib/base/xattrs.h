#pragma once

// Extended attributes of one filesystem entry, read whole: for the tar writers (lib/archive,
// PAX SCHILY.xattr.*) and the native snapshotter's tree copy. Sorted by name; none where the
// filesystem has no xattrs; an xattr removed between its listing and its read is left out.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace berth {

using Xattrs = std::vector<std::pair<std::string, std::string>>;

// Of the entry at `path` itself (a symlink's own, not its target's). Names that start with
// `skip_prefix` (when not empty) are left out. Errors name `what`, or else `path`.
absl::StatusOr<Xattrs> ReadXattrs(const std::string& path, std::string_view skip_prefix = "",
                                  std::string_view what = "");
// Of the open file `fd` (not an O_PATH one); `what` names it in errors.
absl::StatusOr<Xattrs> ReadXattrs(int fd, std::string_view what, std::string_view skip_prefix = "");

}  // namespace berth
