#include "shim/linux/mount.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <set>
#include <utility>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "shim/linux/sync.h"

namespace berth::shim::linux {
namespace {

struct FlagWord {
  const char* name;
  bool clear;
  unsigned long flag;
};

constexpr FlagWord kFlagWords[] = {
    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},
    {"nosuid", false, MS_NOSUID},
    {"suid", true, MS_NOSUID},
    {"nodev", false, MS_NODEV},
    {"dev", true, MS_NODEV},
    {"noexec", false, MS_NOEXEC},
    {"exec", true, MS_NOEXEC},
    {"sync", false, MS_SYNCHRONOUS},
    {"async", true, MS_SYNCHRONOUS},
    {"dirsync", false, MS_DIRSYNC},
    {"remount", false, MS_REMOUNT},
    {"mand", false, MS_MANDLOCK},
    {"nomand", true, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},
    {"atime", true, MS_NOATIME},
    {"nodiratime", false, MS_NODIRATIME},
    {"diratime", true, MS_NODIRATIME},
    {"relatime", false, MS_RELATIME},
    {"norelatime", true, MS_RELATIME},
    {"strictatime", false, MS_STRICTATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"silent", false, MS_SILENT},
    {"loud", true, MS_SILENT},
};

constexpr std::pair<const char*, unsigned long> kPropagationWords[] = {
    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

std::set<std::string> KnownFilesystems() {
  std::set<std::string> out;
  std::ifstream in("/proc/filesystems");
  std::string line;
  while (std::getline(in, line)) {
    size_t tab = line.rfind('\t');
    out.insert(tab == std::string::npos ? line : line.substr(tab + 1));
  }
  return out;
}

bool IsFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
}

// v1: tmpfs, a bind per controller, then the tmpfs remounted with the requested flags.
void ExpandCgroupMount(const oci::Mount& m, const MountOptions& o, const std::string& target,
                       const std::vector<CgroupBind>& binds, std::vector<MountOp>& out) {
  unsigned long ro = o.flags & MS_RDONLY;
  unsigned long base = o.flags & ~MS_RDONLY;
  if (binds.size() == 1 && binds[0].name.empty()) {
    out.push_back({.source = binds[0].host_dir,
                   .target = target,
                   .fstype = "",
                   .flags = o.flags,
                   .propagation = 0,
                   .data = "",
                   .bind = true,
                   .remount_only = false,
                   .target_is_file = false,
                   .root = ""});
    return;
  }
  out.push_back({.source = "tmpfs",
                 .target = target,
                 .fstype = "tmpfs",
                 .flags = base,
                 .propagation = 0,
                 .data = "mode=755",
                 .bind = false,
                 .remount_only = false,
                 .target_is_file = false,
                 .root = ""});
  for (const CgroupBind& b : binds) {
    out.push_back({.source = b.host_dir,
                   .target = target + "/" + b.name,
                   .fstype = "",
                   .flags = base | ro,
                   .propagation = 0,
                   .data = "",
                   .bind = true,
                   .remount_only = false,
                   .target_is_file = false,
                   .root = ""});
  }
  if (ro != 0) {
    out.push_back({.source = "",
                   .target = target,
                   .fstype = "",
                   .flags = base | ro,
                   .propagation = 0,
                   .data = "",
                   .bind = false,
                   .remount_only = true,
                   .target_is_file = false,
                   .root = ""});
  }
  (void)m;
}

}  // namespace

MountOptions ParseMountOptions(const std::vector<std::string>& options) {
  MountOptions o;
  for (const std::string& w : options) {
    bool known = false;
    for (const FlagWord& f : kFlagWords) {
      if (w == f.name) {
        o.flags = f.clear ? (o.flags & ~f.flag) : (o.flags | f.flag);
        known = true;
      }
    }
    for (const auto& [name, flag] : kPropagationWords) {
      if (w == name) {
        o.propagation = flag;
        known = true;
      }
    }
    if (w == "bind" || w == "rbind") {
      o.bind = true;
      o.recursive = o.recursive || w == "rbind";
      known = true;
    }
    if (w == "defaults")
      known = true;
    if (!known)
      o.data += (o.data.empty() ? "" : ",") + w;
  }
  return o;
}

std::string JoinUnder(const std::string& root, const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos)
      j = path.size();
    std::string part = path.substr(i, j - i);
    if (part == "..") {
      if (!parts.empty())
        parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(std::move(part));
    }
    i = j + 1;
  }
  std::string out = root;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  for (const std::string& p : parts) out += "/" + p;
  return out;
}

absl::StatusOr<std::vector<MountOp>> PlanMounts(const oci::Spec& spec, const std::string& bundle,
                                                const std::string& rootfs,
                                                const std::vector<CgroupBind>& cgroup_binds) {
  std::set<std::string> known = KnownFilesystems();
  std::vector<MountOp> out;
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    const oci::Mount& m = spec.mounts[i];
    MountOptions o = ParseMountOptions(m.options);
    bool bind = o.bind || m.type == "bind" || m.type == "rbind";
    std::string target = JoinUnder(rootfs, m.destination);
    if (m.type == "cgroup" && !bind) {
      ExpandCgroupMount(m, o, target, cgroup_binds, out);
      continue;
    }
    if (!bind && known.count(m.type) == 0) {
      return InvalidArgument(fmt::format("mounts[{}].type: unknown filesystem type {:?} (for {})",
                                         i, m.type, m.destination));
    }
    MountOp op{.source = m.source,
               .target = target,
               .fstype = bind ? "" : m.type,
               .flags = o.flags,
               .propagation = o.propagation,
               .data = o.data,
               .bind = bind,
               .remount_only = false,
               .target_is_file = false,
               .root = ""};
    if (bind) {
      if (!op.source.empty() && op.source[0] != '/')
        op.source = bundle + "/" + op.source;
      if (::access(op.source.c_str(), F_OK) != 0) {
        return ErrnoError(errno, fmt::format("mounts[{}].source: bind source {}", i, op.source));
      }
      op.flags |= o.recursive ? MS_REC : 0;
      op.target_is_file = IsFile(op.source);
    }
    out.push_back(std::move(op));
  }
  for (MountOp& op : out) op.root = rootfs;
  return out;
}

bool MakeDirs(const char* path) {
  char buf[PATH_MAX];
  size_t n = ::strnlen(path, sizeof(buf));
  if (n == sizeof(buf))
    return false;
  std::memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; ++i) {
    if (buf[i] != '/' && buf[i] != '\0')
      continue;
    char saved = buf[i];
    buf[i] = '\0';
    if (::mkdir(buf, 0755) != 0 && errno != EEXIST)
      return false;
    buf[i] = saved;
  }
  return true;
}

unsigned long MountFlagsOf(const char* path) {
  struct statfs st;
  if (::statfs(path, &st) != 0)
    return 0;
  unsigned long keep = 0;
  constexpr std::pair<unsigned long, unsigned long> kMap[] = {
      {ST_RDONLY, MS_RDONLY},    {ST_NOSUID, MS_NOSUID},   {ST_NODEV, MS_NODEV},
      {ST_NOEXEC, MS_NOEXEC},    {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME},
      {ST_RELATIME, MS_RELATIME}};
  for (const auto& [st_flag, ms_flag] : kMap) {
    if ((static_cast<unsigned long>(st.f_flags) & st_flag) != 0)
      keep |= ms_flag;
  }
  return keep;
}

namespace {

long OpenAt2(int dir, const char* path, uint64_t flags, uint64_t resolve) {
  struct open_how how {};

  how.flags = flags;
  how.resolve = resolve;
  long fd;
  do {
    fd = ::syscall(SYS_openat2, dir, path, &how, sizeof(how));
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// Copies the pieces into `out` (NUL-terminated); false when they do not fit.
bool Concat(char (&out)[PATH_MAX], std::initializer_list<const char*> parts) {
  size_t len = 0;
  for (const char* p : parts) {
    size_t n = std::strlen(p);
    if (len + n + 1 > sizeof(out))
      return false;
    std::memcpy(out + len, p, n);
    len += n;
  }
  out[len] = '\0';
  return true;
}

// Opens op.target (O_PATH) with every component, symlinks included, resolved inside `root`,
// as the container will see the path; when `create`, makes the missing directories and, for a
// file bind, the file, following dangling symlinks inside the root as mkdir -p would in the
// container. Fails the child on error. Allocation-free: it runs in the cloned child.
// `target` is the rootfs path (prefix_len characters, as the plan knew it) and then the path
// inside it.
int OpenInRoot(const char* target, size_t prefix_len, bool target_is_file,
               const MountRoot& mount_root, bool create, int sync) {
  const int root = mount_root.fd;
  const auto root_len = static_cast<ssize_t>(mount_root.path_len);
  char fd_link[64];
  char path[PATH_MAX];  // what is left to resolve, relative to the root
  if (!Concat(path, {target + prefix_len}))
    ChildFail(sync, ENAMETOOLONG, "mount point", target);
  constexpr uint64_t kResolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  for (int links = 0;; ++links) {
    if (links > 40)
      ChildFail(sync, ELOOP, "resolve mount point inside the rootfs", target);
    char prefix[PATH_MAX];
    size_t len = 0;
    int parent = ::dup(root);
    const char* rel = path;
    bool restarted = false;
    while (!restarted) {
      while (*rel == '/') ++rel;
      const char* end = rel;
      while (*end != '\0' && *end != '/') ++end;
      if (end == rel)
        break;
      size_t n = static_cast<size_t>(end - rel);
      if (len + n + 2 >= sizeof(prefix) || n > NAME_MAX)
        ChildFail(sync, ENAMETOOLONG, "mount point", target);
      if (len > 0)
        prefix[len++] = '/';
      std::memcpy(prefix + len, rel, n);
      len += n;
      prefix[len] = '\0';
      char name[NAME_MAX + 1];
      std::memcpy(name, rel, n);
      name[n] = '\0';
      const bool last = end[std::strspn(end, "/")] == '\0';
      long fd = OpenAt2(root, prefix, O_PATH | O_CLOEXEC, kResolve);
      if (fd < 0 && errno == ENOENT && create) {
        struct stat st;
        if (::fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
          // A dangling link: continue at its target, inside the root.
          char link[PATH_MAX];
          ssize_t ln = ::readlinkat(parent, name, link, sizeof(link) - 1);
          if (ln < 0)
            ChildFail(sync, errno, "readlink in mount point", target);
          link[ln] = '\0';
          char parent_path[PATH_MAX];
          std::snprintf(fd_link, sizeof(fd_link), "/proc/self/fd/%d", parent);
          ssize_t pn = ::readlink(fd_link, parent_path, sizeof(parent_path) - 1);
          if (pn < root_len)
            ChildFail(sync, pn < 0 ? errno : EXDEV, "resolve mount point", target);
          parent_path[pn] = '\0';
          char next[PATH_MAX];
          bool fits = link[0] == '/' ? Concat(next, {link, "/", end})
                                     : Concat(next, {parent_path + root_len, "/", link, "/", end});
          if (!fits)
            ChildFail(sync, ENAMETOOLONG, "mount point", target);
          std::memcpy(path, next, sizeof(path));
          restarted = true;
          continue;
        }
        if (last && target_is_file) {
          int f =
              ::openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
          if (f < 0 && errno != EEXIST)
            ChildFail(sync, errno, "create mount point", target);
          if (f >= 0)
            ::close(f);
        } else if (::mkdirat(parent, name, 0755) != 0 && errno != EEXIST) {
          ChildFail(sync, errno, "mkdir", target);
        }
        fd = OpenAt2(root, prefix, O_PATH | O_CLOEXEC, kResolve);
      }
      if (fd < 0)
        ChildFail(sync, errno, "resolve mount point inside the rootfs", target);
      ::close(parent);
      parent = static_cast<int>(fd);
      rel = end;
    }
    if (!restarted)
      return parent;
    ::close(parent);
  }
}

int OpenMountPoint(const MountOp& op, const MountRoot& mount_root, bool create, int sync) {
  // PlanMounts made target = root + "/..."
  return OpenInRoot(op.target.c_str(), op.root.size(), op.target_is_file, mount_root, create, sync);
}

// "/proc/self/fd/<fd>": mount(2) follows it to the very inode that was resolved.
void FdPath(int fd, char (&buf)[64]) {
  std::snprintf(buf, sizeof(buf), "/proc/self/fd/%d", fd);
}

}  // namespace

void OpenMountRoot(const char* rootfs, MountRoot* root, int sync) {
  if (root->fd >= 0)
    ::close(root->fd);
  root->fd = ::open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root->fd < 0)
    ChildFail(sync, errno, "open rootfs", rootfs);
  char fd_link[64];
  char path[PATH_MAX];
  FdPath(root->fd, fd_link);
  ssize_t n = ::readlink(fd_link, path, sizeof(path));
  if (n < 0)
    ChildFail(sync, errno, "readlink rootfs", rootfs);
  root->path_len = static_cast<size_t>(n);
}

int OpenDirInRoot(const char* dir, size_t prefix_len, const MountRoot& root, int sync) {
  return OpenInRoot(dir, prefix_len, /*target_is_file=*/false, root, /*create=*/true, sync);
}

void ApplyMount(const MountOp& op, MountRoot* root, int sync) {
  char target[64];
  int fd = OpenMountPoint(op, *root, /*create=*/!op.remount_only, sync);
  FdPath(fd, target);
  if (op.remount_only) {
    if (::mount(nullptr, target, nullptr, MS_REMOUNT | op.flags, nullptr) != 0)
      ChildFail(sync, errno, "remount", op.target.c_str());
    ::close(fd);
    return;
  }
  if (op.bind) {
    if (::mount(op.source.c_str(), target, nullptr, MS_BIND | (op.flags & MS_REC), nullptr) != 0)
      ChildFail(sync, errno, "bind mount", op.target.c_str());
  } else {
    const char* data = op.data.empty() ? nullptr : op.data.c_str();
    if (::mount(op.source.c_str(), target, op.fstype.c_str(), op.flags, data) != 0)
      ChildFail(sync, errno, "mount", op.target.c_str());
  }
  ::close(fd);
  if (op.target.find_first_not_of('/', op.root.size()) == std::string::npos)
    OpenMountRoot(op.root.c_str(), root, sync);
  const unsigned long extra = op.flags & ~MS_REC;
  const bool remount = op.bind && extra != 0;
  if (!remount && op.propagation == 0)
    return;
  // Later changes go to the new mount, so resolve the target again.
  fd = OpenMountPoint(op, *root, /*create=*/false, sync);
  FdPath(fd, target);
  if (remount) {
    unsigned long keep = MountFlagsOf(target) & ~MS_RDONLY;
    if (::mount(nullptr, target, nullptr, MS_BIND | MS_REMOUNT | keep | extra, nullptr) != 0)
      ChildFail(sync, errno, "remount bind", op.target.c_str());
  }
  if (op.propagation != 0 && ::mount(nullptr, target, nullptr, op.propagation, nullptr) != 0)
    ChildFail(sync, errno, "set propagation", op.target.c_str());
  ::close(fd);
}

}  // namespace berth::shim::linux
