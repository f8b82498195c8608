#include "lib/base/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/unique_fd.h"

namespace berth {
namespace {

// All of `content` into `fd`; errors name `path`.
absl::Status WriteAll(int fd, std::string_view content, const std::filesystem::path& path) {
  for (std::string_view left = content; !left.empty();) {
    ssize_t n = ::write(fd, left.data(), left.size());
    if (n > 0)
      left.remove_prefix(static_cast<size_t>(n));
    else if (n < 0 && errno != EINTR)
      return ErrnoError(errno, fmt::format("write {}", path.string()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ReadWholeFile(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid())
    return ErrnoError(errno, fmt::format("read {}", path.string()));
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n == 0)
      return out;
    if (n < 0 && errno != EINTR)
      return ErrnoError(errno, fmt::format("read {}", path.string()));
    if (n > 0)
      out.append(buf, static_cast<size_t>(n));
  }
}

absl::Status ReplaceFile(const std::filesystem::path& path, std::string_view content, mode_t mode,
                         Durability durability) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  std::filesystem::path tmp = path;
  tmp += fmt::format(".tmp{}", ::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd.valid())
    return ErrnoError(errno, fmt::format("write {}", tmp.string()));
  absl::Status s = WriteAll(fd.get(), content, tmp);
  if (s.ok() && ::fchmod(fd.get(), mode) != 0)
    s = ErrnoError(errno, fmt::format("chmod {}", tmp.string()));
  if (s.ok() && durability == Durability::kSynced && ::fsync(fd.get()) != 0)
    s = ErrnoError(errno, fmt::format("sync {}", tmp.string()));
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
    s = ErrnoError(errno, fmt::format("rename {} to {}", tmp.string(), path.string()));
  if (!s.ok())
    std::filesystem::remove(tmp, ec);
  return s;
}

absl::Status RewriteFile(const std::filesystem::path& path, std::string_view content) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid())
    return ErrnoError(errno, fmt::format("open {}", path.string()));
  return WriteAll(fd.get(), content, path);
}

}  // namespace berth
