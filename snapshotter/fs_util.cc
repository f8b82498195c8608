#include "snapshotter/fs_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/base/unique_fd.h"
#include "lib/base/xattrs.h"

namespace berth::snapshot {
namespace {

namespace fs = std::filesystem;

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

UniqueFd OpenDir(int dirfd, const char* name) {
  return UniqueFd(::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
}

// The names in directory `fd` (without "." and ".."), read completely before the caller
// changes the directory.
absl::StatusOr<std::vector<std::string>> ListDir(int fd, const std::string& path) {
  int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0)
    return ErrnoError(errno, fmt::format("read directory {:?}", path));
  DIR* d = ::fdopendir(dup);
  if (d == nullptr) {
    int err = errno;
    ::close(dup);
    return ErrnoError(err, fmt::format("read directory {:?}", path));
  }
  ::rewinddir(d);
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..")
      names.push_back(std::move(n));
  }
  int err = errno;
  ::closedir(d);
  if (err != 0)
    return ErrnoError(err, fmt::format("read directory {:?}", path));
  return names;
}

bool IsMountRoot(const struct statx& stx) {
  return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
         (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

// ---- usage ----

struct UsageWalk {
  dev_t dev = 0;
  std::set<std::pair<dev_t, ino_t>> seen;
  Usage usage;

  void Count(const struct stat& st) {
    if (seen.emplace(st.st_dev, st.st_ino).second) {
      usage.inodes++;
      usage.size += static_cast<int64_t>(st.st_blocks) * 512;
    }
  }
};

absl::Status UsageOf(int fd, const std::string& path, UsageWalk& w) {
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(fd, path));
  for (const std::string& n : names) {
    struct stat st;
    if (::fstatat(fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT)
        continue;  // removed meanwhile
      return ErrnoError(errno, fmt::format("stat {:?}", Join(path, n)));
    }
    w.Count(st);
    if (!S_ISDIR(st.st_mode) || st.st_dev != w.dev)
      continue;
    UniqueFd sub = OpenDir(fd, n.c_str());
    if (!sub.valid())
      return ErrnoError(errno, fmt::format("open {:?}", Join(path, n)));
    BERTH_RETURN_IF_ERROR(UsageOf(sub.get(), Join(path, n), w));
  }
  return absl::OkStatus();
}

// ---- removal ----

absl::Status RemoveContents(int fd, const std::string& path) {
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(fd, path));
  for (const std::string& n : names) {
    struct statx stx;
    if (::statx(fd, n.c_str(), AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx) != 0) {
      if (errno == ENOENT)
        continue;
      return ErrnoError(errno, fmt::format("stat {:?}", Join(path, n)));
    }
    if (!S_ISDIR(stx.stx_mode)) {
      if (::unlinkat(fd, n.c_str(), 0) != 0 && errno != ENOENT)
        return ErrnoError(errno, fmt::format("remove {:?}", Join(path, n)));
      continue;
    }
    if (IsMountRoot(stx))
      return FailedPrecondition(
          fmt::format("remove {:?}: is a mount point; unmount it first", Join(path, n)));
    UniqueFd sub = OpenDir(fd, n.c_str());
    if (!sub.valid())
      return ErrnoError(errno, fmt::format("open {:?}", Join(path, n)));
    BERTH_RETURN_IF_ERROR(RemoveContents(sub.get(), Join(path, n)));
    if (::unlinkat(fd, n.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
      return ErrnoError(errno, fmt::format("remove {:?}", Join(path, n)));
  }
  return absl::OkStatus();
}

// ---- copy ----

struct CopyState {
  dev_t src_dev = 0;
  int dst_root = -1;
  std::map<std::pair<dev_t, ino_t>, std::string> links;  // first copy of a hardlinked inode
};

// "/proc/self/fd/<dirfd>/<name>": a path for the l*xattr calls, which have no *at form.
std::string FdPath(int dirfd, const std::string& name) {
  return fmt::format("/proc/self/fd/{}/{}", dirfd, name);
}

// Copies the xattrs of `src` to `dst`: through fds when both are >= 0, else through the
// l*xattr calls on the paths.
absl::Status CopyXattrs(int src_fd, const std::string& src_path, int dst_fd,
                        const std::string& dst_path, const std::string& what) {
  BERTH_ASSIGN_OR_RETURN(Xattrs xattrs,
                         src_fd >= 0 ? ReadXattrs(src_fd, what) : ReadXattrs(src_path, "", what));
  for (const auto& [name, value] : xattrs) {
    int rc = dst_fd >= 0
                 ? ::fsetxattr(dst_fd, name.c_str(), value.data(), value.size(), 0)
                 : ::lsetxattr(dst_path.c_str(), name.c_str(), value.data(), value.size(), 0);
    if (rc != 0 && errno != ENOTSUP)
      return ErrnoError(errno, fmt::format("write xattr {:?} of {:?}", name, what));
  }
  return absl::OkStatus();
}

// Owner, mode, xattrs and times of an open file or directory (in that order: chown clears
// setuid bits and file capabilities).
absl::Status CopyMetaFd(int src_fd, int dst_fd, const struct stat& st, const std::string& what) {
  if (::fchown(dst_fd, st.st_uid, st.st_gid) != 0)
    return ErrnoError(errno, fmt::format("chown {:?}", what));
  if (::fchmod(dst_fd, st.st_mode & 07777) != 0)
    return ErrnoError(errno, fmt::format("chmod {:?}", what));
  BERTH_RETURN_IF_ERROR(CopyXattrs(src_fd, "", dst_fd, "", what));
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::futimens(dst_fd, times) != 0)
    return ErrnoError(errno, fmt::format("set times of {:?}", what));
  return absl::OkStatus();
}

// The same for a symlink, device, fifo or socket, by name.
absl::Status CopyMetaAt(int sfd, int dfd, const std::string& name, const struct stat& st,
                        const std::string& what) {
  if (::fchownat(dfd, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
    return ErrnoError(errno, fmt::format("chown {:?}", what));
  if (!S_ISLNK(st.st_mode) && ::fchmodat(dfd, name.c_str(), st.st_mode & 07777, 0) != 0)
    return ErrnoError(errno, fmt::format("chmod {:?}", what));
  BERTH_RETURN_IF_ERROR(CopyXattrs(-1, FdPath(sfd, name), -1, FdPath(dfd, name), what));
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::utimensat(dfd, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    return ErrnoError(errno, fmt::format("set times of {:?}", what));
  return absl::OkStatus();
}

absl::Status CopyData(int in, int out, const std::string& what) {
  if (::ioctl(out, FICLONE, in) == 0)
    return absl::OkStatus();
  while (true) {
    ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
    if (n == 0)
      return absl::OkStatus();
    if (n > 0)
      continue;
    if (errno == EINTR)
      continue;
    if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
      return ErrnoError(errno, fmt::format("copy {:?}", what));
    break;
  }
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(in, buf, sizeof(buf));
    if (n == 0)
      return absl::OkStatus();
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return ErrnoError(errno, fmt::format("read {:?}", what));
    }
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out, buf + off, static_cast<size_t>(n - off));
      if (w < 0 && errno != EINTR)
        return ErrnoError(errno, fmt::format("write {:?}", what));
      off += w > 0 ? w : 0;
    }
  }
}

absl::Status CopyFile(int sfd, int dfd, const std::string& name, const struct stat& st,
                      const std::string& what) {
  UniqueFd in(::openat(sfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in.valid())
    return ErrnoError(errno, fmt::format("open {:?}", what));
  UniqueFd out(
      ::openat(dfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out.valid())
    return ErrnoError(errno, fmt::format("create copy of {:?}", what));
  BERTH_RETURN_IF_ERROR(CopyData(in.get(), out.get(), what));
  return CopyMetaFd(in.get(), out.get(), st, what);
}

absl::Status CopySymlink(int sfd, int dfd, const std::string& name, const struct stat& st,
                         const std::string& what) {
  std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
  ssize_t n = ::readlinkat(sfd, name.c_str(), target.data(), target.size());
  if (n < 0)
    return ErrnoError(errno, fmt::format("read symlink {:?}", what));
  target.resize(static_cast<size_t>(n));
  if (::symlinkat(target.c_str(), dfd, name.c_str()) != 0)
    return ErrnoError(errno, fmt::format("create symlink {:?}", what));
  return CopyMetaAt(sfd, dfd, name, st, what);
}

absl::Status CopyDir(int sfd, int dfd, const std::string& path, CopyState& state);

absl::Status CopyEntry(int sfd, int dfd, const std::string& name, const std::string& path,
                       CopyState& state) {
  const std::string what = Join(path, name);
  struct stat st;
  if (::fstatat(sfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return ErrnoError(errno, fmt::format("stat {:?}", what));
  if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
    auto [it, first] = state.links.emplace(std::make_pair(st.st_dev, st.st_ino), what);
    if (!first) {
      if (::linkat(state.dst_root, it->second.c_str(), dfd, name.c_str(), 0) != 0)
        return ErrnoError(errno, fmt::format("link {:?} to {:?}", what, it->second));
      return absl::OkStatus();
    }
  }
  switch (st.st_mode & S_IFMT) {
    case S_IFDIR: {
      if (::mkdirat(dfd, name.c_str(), 0700) != 0)
        return ErrnoError(errno, fmt::format("create directory {:?}", what));
      UniqueFd s = OpenDir(sfd, name.c_str());
      UniqueFd d = OpenDir(dfd, name.c_str());
      if (!s.valid() || !d.valid())
        return ErrnoError(errno, fmt::format("open directory {:?}", what));
      if (st.st_dev == state.src_dev)  // a mount point inside is copied as an empty directory
        BERTH_RETURN_IF_ERROR(CopyDir(s.get(), d.get(), what, state));
      return CopyMetaFd(s.get(), d.get(), st, what);
    }
    case S_IFREG:
      return CopyFile(sfd, dfd, name, st, what);
    case S_IFLNK:
      return CopySymlink(sfd, dfd, name, st, what);
    default:  // devices, fifos, sockets
      if (::mknodat(dfd, name.c_str(), st.st_mode, st.st_rdev) != 0)
        return ErrnoError(errno, fmt::format("create node {:?}", what));
      return CopyMetaAt(sfd, dfd, name, st, what);
  }
}

absl::Status CopyDir(int sfd, int dfd, const std::string& path, CopyState& state) {
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(sfd, path));
  for (const std::string& n : names) BERTH_RETURN_IF_ERROR(CopyEntry(sfd, dfd, n, path, state));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Usage> DiskUsage(const fs::path& root) {
  UsageWalk w;
  struct stat st;
  if (::lstat(root.c_str(), &st) != 0)
    return ErrnoError(errno, fmt::format("disk usage of {:?}", root.string()));
  w.dev = st.st_dev;
  w.Count(st);
  if (!S_ISDIR(st.st_mode))
    return w.usage;
  UniqueFd fd = OpenDir(AT_FDCWD, root.c_str());
  if (!fd.valid())
    return ErrnoError(errno, fmt::format("open {:?}", root.string()));
  BERTH_RETURN_IF_ERROR(UsageOf(fd.get(), root.string(), w));
  return w.usage;
}

absl::Status RemoveTree(const fs::path& path) {
  struct statx stx;
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx) != 0) {
    if (errno == ENOENT)
      return absl::OkStatus();
    return ErrnoError(errno, fmt::format("stat {:?}", path.string()));
  }
  if (!S_ISDIR(stx.stx_mode)) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      return ErrnoError(errno, fmt::format("remove {:?}", path.string()));
    return absl::OkStatus();
  }
  if (IsMountRoot(stx))
    return FailedPrecondition(
        fmt::format("remove {:?}: is a mount point; unmount it first", path.string()));
  {
    UniqueFd fd = OpenDir(AT_FDCWD, path.c_str());
    if (!fd.valid())
      return ErrnoError(errno, fmt::format("open {:?}", path.string()));
    BERTH_RETURN_IF_ERROR(RemoveContents(fd.get(), path.string()));
  }
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT)
    return ErrnoError(errno, fmt::format("remove {:?}", path.string()));
  return absl::OkStatus();
}

absl::Status CopyTree(const fs::path& src, const fs::path& dst) {
  UniqueFd s = OpenDir(AT_FDCWD, src.c_str());
  if (!s.valid())
    return ErrnoError(errno, fmt::format("open {:?}", src.string()));
  UniqueFd d = OpenDir(AT_FDCWD, dst.c_str());
  if (!d.valid())
    return ErrnoError(errno, fmt::format("open {:?}", dst.string()));
  struct stat st;
  if (::fstat(s.get(), &st) != 0)
    return ErrnoError(errno, fmt::format("stat {:?}", src.string()));
  CopyState state{.src_dev = st.st_dev, .dst_root = d.get(), .links = {}};
  BERTH_RETURN_IF_ERROR(Annotate(CopyDir(s.get(), d.get(), "", state),
                                 fmt::format("copy {:?} to {:?}", src.string(), dst.string())));
  return Annotate(CopyMetaFd(s.get(), d.get(), st, "."),
                  fmt::format("copy {:?} to {:?}", src.string(), dst.string()));
}

}  // namespace berth::snapshot
