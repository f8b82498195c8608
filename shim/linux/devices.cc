#include "shim/linux/devices.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "shim/linux/mount.h"
#include "shim/linux/sync.h"

namespace berth::shim::linux {

std::vector<DeviceOp> PlanDevices(const oci::Spec& spec, const std::string& rootfs) {
  struct Default {
    const char* path;
    unsigned major, minor;
  };

  constexpr Default kDefaults[] = {{"/dev/null", 1, 3},    {"/dev/zero", 1, 5},
                                   {"/dev/full", 1, 7},    {"/dev/random", 1, 8},
                                   {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};
  std::vector<DeviceOp> out;
  auto add = [&](DeviceOp op) {
    const size_t slash = op.target.rfind('/');
    op.dir = op.target.substr(0, slash);
    op.name = op.target.substr(slash + 1);
    op.prefix_len = rootfs.size();
    for (DeviceOp& d : out) {
      if (d.target == op.target) {
        d = std::move(op);
        return;
      }
    }
    out.push_back(std::move(op));
  };
  for (const Default& d : kDefaults) {
    add({.target = JoinUnder(rootfs, d.path),
         .host_path = d.path,
         .mode = S_IFCHR | 0666,
         .dev = makedev(d.major, d.minor),
         .uid = 0,
         .gid = 0});
  }
  for (const oci::Device& d : spec.linux.devices) {
    mode_t type = d.type == "b" ? S_IFBLK : d.type == "p" ? S_IFIFO : S_IFCHR;
    add({.target = JoinUnder(rootfs, d.path),
         .host_path = d.path,
         .mode = type | (d.file_mode.value_or(0666) & 07777),
         .dev = makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor)),
         .uid = d.uid.value_or(0),
         .gid = d.gid.value_or(0)});
  }
  return out;
}

std::vector<SymlinkOp> PlanDevSymlinks(const std::string& rootfs) {
  std::vector<SymlinkOp> links = {{"/proc/self/fd", JoinUnder(rootfs, "/dev/fd")},
                                  {"/proc/self/fd/0", JoinUnder(rootfs, "/dev/stdin")},
                                  {"/proc/self/fd/1", JoinUnder(rootfs, "/dev/stdout")},
                                  {"/proc/self/fd/2", JoinUnder(rootfs, "/dev/stderr")},
                                  {"pts/ptmx", JoinUnder(rootfs, "/dev/ptmx")}};
  // Only where the kernel has /proc/kcore (CONFIG_PROC_KCORE), as runc: else it would dangle.
  if (::access("/proc/kcore", F_OK) == 0)
    links.push_back({"/proc/kcore", JoinUnder(rootfs, "/dev/core")});
  return links;
}

namespace {

// A mknod refused (in a user namespace): an empty file bound over by the host's node.
void BindHostDevice(const DeviceOp& d, int dir, int sync) {
  int fd = ::openat(dir, d.name.c_str(), O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0)
    ChildFail(sync, errno, "create device mount point", d.target.c_str());
  char at[64];
  std::snprintf(at, sizeof(at), "/proc/self/fd/%d", fd);
  if (::mount(d.host_path.c_str(), at, nullptr, MS_BIND, nullptr) != 0)
    ChildFail(sync, errno, "bind device", d.target.c_str());
  ::close(fd);
}

}  // namespace

void CreateDevices(const std::vector<DeviceOp>& devices, const MountRoot& root, int sync) {
  int dir = -1;  // resolved once for a run of devices in the same directory (/dev)
  const std::string* dir_path = nullptr;
  for (const DeviceOp& d : devices) {
    if (dir_path == nullptr || *dir_path != d.dir) {
      if (dir >= 0)
        ::close(dir);
      dir = OpenDirInRoot(d.dir.c_str(), d.prefix_len, root, sync);
      dir_path = &d.dir;
    }
    const char* name = d.name.c_str();
    ::unlinkat(dir, name, 0);
    if (::mknodat(dir, name, d.mode, d.dev) != 0) {
      if (errno != EPERM)
        ChildFail(sync, errno, "mknod", d.target.c_str());
      BindHostDevice(d, dir, sync);
      continue;
    }
    if (::fchmodat(dir, name, d.mode & 07777, 0) != 0)
      ChildFail(sync, errno, "chmod device", d.target.c_str());
    if (::fchownat(dir, name, d.uid, d.gid, AT_SYMLINK_NOFOLLOW) != 0)
      ChildFail(sync, errno, "chown device", d.target.c_str());
  }
  if (dir >= 0)
    ::close(dir);
}

void CreateSymlinks(const std::vector<SymlinkOp>& links, int sync) {
  for (const SymlinkOp& l : links) {
    if (::symlink(l.target.c_str(), l.linkpath.c_str()) != 0 && errno != EEXIST)
      ChildFail(sync, errno, "symlink", l.linkpath.c_str());
  }
}

}  // namespace berth::shim::linux
