#pragma once

// Small files read and written whole: bctr's and lib/cni's state (a cached CNI result, the
// containers' shared hosts file), lib/registry's credentials.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

#include "lib/base/durability.h"

namespace berth {

// The file's whole content. The errno of the open or the read, naming the path (NotFound when
// it does not exist).
absl::StatusOr<std::string> ReadWholeFile(const std::filesystem::path& path);

// Writes `content` to a temporary file beside `path` with `mode` (whatever the umask) and renames
// it over `path`, making the parent directories first: a reader sees the old file or the new
// one, never a part. kDeferred: no fsync, for state that can be made again; kSynced: the file
// is synced before the rename (registry credentials).
absl::Status ReplaceFile(const std::filesystem::path& path, std::string_view content,
                         mode_t mode = 0644, Durability durability = Durability::kDeferred);

// Writes `content` over the existing file at `path` in place (truncated first; a symlink is not
// followed): for a file whose inode others hold (a bind mount's source), which ReplaceFile's
// rename would leave behind. Readers may see it part-written.
absl::Status RewriteFile(const std::filesystem::path& path, std::string_view content);

}  // namespace berth
