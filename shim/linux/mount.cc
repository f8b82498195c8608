#include "shim/linux/mount.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
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
                   .target_is_file = false});
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
                 .target_is_file = false});
  for (const CgroupBind& b : binds) {
    out.push_back({.source = b.host_dir,
                   .target = target + "/" + b.name,
                   .fstype = "",
                   .flags = base | ro,
                   .propagation = 0,
                   .data = "",
                   .bind = true,
                   .remount_only = false,
                   .target_is_file = false});
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
                   .target_is_file = false});
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
               .target_is_file = false};
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

void MakeMountPoint(const MountOp& op, int sync) {
  if (!op.target_is_file) {
    if (!MakeDirs(op.target.c_str()))
      ChildFail(sync, errno, "mkdir", op.target.c_str());
    return;
  }
  char parent[PATH_MAX];
  size_t n = ::strnlen(op.target.c_str(), sizeof(parent) - 1);
  std::memcpy(parent, op.target.c_str(), n);
  parent[n] = '\0';
  char* slash = ::strrchr(parent, '/');
  if (slash != nullptr && slash != parent)
    *slash = '\0';
  if (!MakeDirs(parent))
    ChildFail(sync, errno, "mkdir", parent);
  int fd = ::open(op.target.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0)
    ChildFail(sync, errno, "create mount point", op.target.c_str());
  ::close(fd);
}

}  // namespace

void ApplyMount(const MountOp& op, int sync) {
  const char* target = op.target.c_str();
  if (op.remount_only) {
    if (::mount(nullptr, target, nullptr, MS_REMOUNT | op.flags, nullptr) != 0)
      ChildFail(sync, errno, "remount", target);
    return;
  }
  MakeMountPoint(op, sync);
  if (op.bind) {
    if (::mount(op.source.c_str(), target, nullptr, MS_BIND | (op.flags & MS_REC), nullptr) != 0)
      ChildFail(sync, errno, "bind mount", target);
    unsigned long extra = op.flags & ~MS_REC;
    if (extra != 0) {
      unsigned long keep = MountFlagsOf(target) & ~MS_RDONLY;
      if (::mount(nullptr, target, nullptr, MS_BIND | MS_REMOUNT | keep | extra, nullptr) != 0)
        ChildFail(sync, errno, "remount bind", target);
    }
  } else {
    const char* data = op.data.empty() ? nullptr : op.data.c_str();
    if (::mount(op.source.c_str(), target, op.fstype.c_str(), op.flags, data) != 0)
      ChildFail(sync, errno, "mount", target);
  }
  if (op.propagation != 0 && ::mount(nullptr, target, nullptr, op.propagation, nullptr) != 0)
    ChildFail(sync, errno, "set propagation", target);
}

}  // namespace berth::shim::linux
