#pragma once

// Making what is already written durable, by path: a directory's entries (names created,
// renamed or removed in it) and a file's data.

#include <filesystem>

#include "absl/status/status.h"

namespace berth {

// fsync of the directory `dir`: its entries survive a power loss.
absl::Status SyncDir(const std::filesystem::path& dir);

// fdatasync of the file at `path` (it syncs the file, whichever descriptor wrote it). OK when
// the file does not exist.
absl::Status SyncFileData(const std::filesystem::path& path);

}  // namespace berth
