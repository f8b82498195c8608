#include "lib/base/fs_sync.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/unique_fd.h"

namespace berth {

absl::Status SyncDir(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || ::fsync(fd.get()) != 0)
    return ErrnoError(errno, fmt::format("sync directory {:?}", dir.string()));
  return absl::OkStatus();
}

absl::Status SyncFileData(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid() && errno == ENOENT)
    return absl::OkStatus();
  if (!fd.valid() || ::fdatasync(fd.get()) != 0)
    return ErrnoError(errno, fmt::format("sync {:?}", path.string()));
  return absl::OkStatus();
}

}  // namespace berth
