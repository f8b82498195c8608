#include "lib/archive/safe_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "fmt/format.h"

#include "lib/archive/layer.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::archive {
namespace {

// A name for error messages: quoted, and cut short when absurdly long.
std::string Quote(std::string_view name) {
  constexpr size_t kMax = 120;
  if (name.size() <= kMax)
    return fmt::format("{:?}", name);
  return fmt::format("{:?}... ({} bytes)", name.substr(0, kMax), name.size());
}

int OpenAt2(int dir_fd, const std::string& path, uint64_t flags) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (int attempt = 0;; ++attempt) {
    long fd = ::syscall(SYS_openat2, dir_fd, path.c_str(), &how, sizeof(how));
    if (fd >= 0 || (errno != EAGAIN && errno != EINTR) || attempt == 16)
      return static_cast<int>(fd);
  }
}

absl::Status OpenError(int err, std::string_view rel) {
  std::string what = fmt::format("directory {}", Quote(rel));
  switch (err) {
    case EXDEV:
      return InvalidArgument(
          fmt::format("{}: path goes through a symlink that leads outside the root", what));
    case ELOOP:
      return InvalidArgument(fmt::format("{}: too many levels of symlinks", what));
    case ENOTDIR:
      return InvalidArgument(fmt::format("{}: a component of the path is not a directory", what));
    case ENOSYS:
      return Unimplemented("openat2 is not supported by this kernel (Linux 5.6 or later needed)");
    default:
      return ErrnoError(err, fmt::format("open {}", what));
  }
}

}  // namespace

absl::StatusOr<std::string> CleanEntryPath(std::string_view name) {
  if (name.size() > PATH_MAX)
    return InvalidArgument(
        fmt::format("entry {}: name is longer than PATH_MAX ({} bytes)", Quote(name), PATH_MAX));
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos <= name.size()) {
    size_t end = name.find('/', pos);
    if (end == std::string_view::npos)
      end = name.size();
    std::string_view part = name.substr(pos, end - pos);
    pos = end + 1;
    if (part.empty() || part == ".")
      continue;
    if (part == "..") {
      if (parts.empty())
        return InvalidArgument(
            fmt::format("entry {}: \"..\" escapes the root of the layer", Quote(name)));
      parts.pop_back();
      continue;
    }
    parts.push_back(part);
    if (parts.size() > static_cast<size_t>(kMaxPathDepth))
      return InvalidArgument(
          fmt::format("entry {}: path is deeper than {} components", Quote(name), kMaxPathDepth));
  }
  std::string out;
  out.reserve(name.size());
  for (std::string_view p : parts) {
    if (!out.empty())
      out.push_back('/');
    out.append(p);
  }
  return out;
}

std::pair<std::string_view, std::string_view> SplitPath(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos)
    return {std::string_view(), path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

absl::StatusOr<UniqueFd> OpenDirBeneath(int root_fd, std::string_view rel, bool create) {
  std::string path = rel.empty() ? std::string(".") : std::string(rel);
  int fd = OpenAt2(root_fd, path, O_RDONLY | O_DIRECTORY);
  if (fd >= 0)
    return UniqueFd(fd);
  if (errno != ENOENT || !create || rel.empty()) {
    if (errno == ENOENT)
      return NotFoundError("directory", rel);
    return OpenError(errno, rel);
  }
  // Make the missing parent chain, one level at a time, each relative to its own parent.
  auto [parent, base] = SplitPath(rel);
  BERTH_ASSIGN_OR_RETURN(UniqueFd parent_fd, OpenDirBeneath(root_fd, parent, create));
  std::string base_str(base);
  if (::mkdirat(parent_fd.get(), base_str.c_str(), 0755) != 0 && errno != EEXIST)
    return ErrnoError(errno, fmt::format("mkdir {}", Quote(rel)));
  fd = OpenAt2(parent_fd.get(), base_str, O_RDONLY | O_DIRECTORY);
  if (fd < 0)
    return OpenError(errno, rel);
  return UniqueFd(fd);
}

absl::Status RemoveAllAt(int dir_fd, const std::string& name) {
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT)
      return absl::OkStatus();
    return ErrnoError(errno, fmt::format("stat {}", Quote(name)));
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dir_fd, name.c_str(), 0) != 0 && errno != ENOENT)
      return ErrnoError(errno, fmt::format("remove {}", Quote(name)));
    return absl::OkStatus();
  }
  int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return ErrnoError(errno, fmt::format("open {}", Quote(name)));
  DIR* d = ::fdopendir(fd);
  if (d == nullptr) {
    int err = errno;
    ::close(fd);
    return ErrnoError(err, fmt::format("read directory {}", Quote(name)));
  }
  std::vector<std::string> children;
  while (dirent* e = ::readdir(d)) {  // NOLINT(concurrency-mt-unsafe): own DIR*
    std::string_view n(e->d_name);
    if (n != "." && n != "..")
      children.emplace_back(n);
  }
  absl::Status st_all;
  for (const std::string& c : children) {
    st_all = RemoveAllAt(::dirfd(d), c);
    if (!st_all.ok())
      break;
  }
  ::closedir(d);
  BERTH_RETURN_IF_ERROR(st_all);
  if (::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    return ErrnoError(errno, fmt::format("remove directory {}", Quote(name)));
  return absl::OkStatus();
}

}  // namespace berth::archive
