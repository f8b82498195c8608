#include "shim/linux/rootfs.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "shim/linux/sync.h"
#include "shim/linux/syscalls.h"

namespace berth::shim::linux {
namespace {

absl::StatusOr<unsigned long> RootPropagation(const std::string& name) {
  if (name.empty())
    return MS_SLAVE | MS_REC;
  MountOptions o = ParseMountOptions({name});
  if (o.propagation == 0)
    return InvalidArgument(fmt::format("linux.rootfsPropagation: unknown propagation {:?}", name));
  return o.propagation;
}

}  // namespace

absl::StatusOr<RootfsPlan> PlanRootfs(const oci::Spec& spec, const std::string& bundle,
                                      const std::vector<CgroupBind>& cgroup_binds) {
  RootfsPlan plan;
  std::filesystem::path root(spec.root.path);
  if (root.is_relative())
    root = std::filesystem::path(bundle) / root;
  std::error_code ec;
  std::filesystem::path canon = std::filesystem::canonical(root, ec);
  if (ec || !std::filesystem::is_directory(canon, ec))
    return NotFoundError("root.path", root.string());
  plan.rootfs = canon.string();
  absl::StatusOr<unsigned long> prop = RootPropagation(spec.linux.rootfs_propagation);
  if (!prop.ok())
    return prop.status();
  plan.root_propagation = *prop;
  absl::StatusOr<std::vector<MountOp>> mounts = PlanMounts(spec, bundle, plan.rootfs, cgroup_binds);
  if (!mounts.ok())
    return mounts.status();
  plan.mounts = std::move(*mounts);
  for (const oci::Mount& m : spec.mounts)
    plan.setup_dev = plan.setup_dev || m.destination == "/dev";
  plan.devices = PlanDevices(spec, plan.rootfs);
  if (plan.setup_dev)
    plan.symlinks = PlanDevSymlinks(plan.rootfs);
  plan.masked_paths = spec.linux.masked_paths;
  plan.readonly_paths = spec.linux.readonly_paths;
  plan.readonly_root = spec.root.readonly;
  if (spec.process.has_value())
    plan.cwd = spec.process->cwd;
  plan.console = plan.setup_dev && spec.process.has_value() && spec.process->terminal;
  return plan;
}

namespace {

// As runc: the process's terminal (the pty slave, already on fd 0) bind-mounted on
// /dev/console, which the spec's fresh /dev tmpfs lacks.
void BindConsole(const std::string& rootfs, int sync) {
  char path[PATH_MAX];
  if (std::snprintf(path, sizeof(path), "%s/dev/console", rootfs.c_str()) >=
      static_cast<int>(sizeof(path)))
    ChildFail(sync, ENAMETOOLONG, "console", rootfs.c_str());
  int fd = ::open(path, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    ChildFail(sync, errno, "create", path);
  ::close(fd);
  // By name: the descriptor's mount belongs to the parent's mount namespace, where bind(2)
  // refuses it; the same /dev/pts/N in this namespace is ours.
  char pty[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/fd/0", pty, sizeof(pty) - 1);
  if (n < 0)
    ChildFail(sync, errno, "readlink", "/proc/self/fd/0");
  pty[n] = '\0';
  if (::mount(pty, path, nullptr, MS_BIND, nullptr) != 0)
    ChildFail(sync, errno, "bind the terminal on", path);
}

}  // namespace

void PrepareRootfs(const RootfsPlan& plan, int sync) {
  if (::mount(nullptr, "/", nullptr, plan.root_propagation, nullptr) != 0)
    ChildFail(sync, errno, "set root propagation", "/");
  const char* rootfs = plan.rootfs.c_str();
  if (::mount(rootfs, rootfs, nullptr, MS_BIND | MS_REC, nullptr) != 0)
    ChildFail(sync, errno, "bind rootfs", rootfs);
  if (plan.root_propagation & MS_SHARED) {
    // pivot_root refuses a new root whose mount or parent mount is shared. As with runc, the
    // container's root is private: the first bind made so, a second one on it has a private
    // parent (and the container's mounts under it reach no other namespace).
    if (::mount(nullptr, rootfs, nullptr, MS_PRIVATE, nullptr) != 0)
      ChildFail(sync, errno, "make rootfs private", rootfs);
    if (::mount(rootfs, rootfs, nullptr, MS_BIND | MS_REC, nullptr) != 0)
      ChildFail(sync, errno, "bind rootfs", rootfs);
  }
  MountRoot root;
  OpenMountRoot(rootfs, &root, sync);
  for (const MountOp& op : plan.mounts) ApplyMount(op, &root, sync);
  CreateDevices(plan.devices, root, sync);
  ::close(root.fd);
  CreateSymlinks(plan.symlinks, sync);
  if (plan.console)
    BindConsole(plan.rootfs, sync);
}

namespace {

void PivotRootfs(const char* rootfs, int sync) {
  int old_root = ::open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (old_root < 0)
    ChildFail(sync, errno, "open", "/");
  if (::chdir(rootfs) != 0)
    ChildFail(sync, errno, "chdir", rootfs);
  if (PivotRoot(".", ".") != 0)
    ChildFail(sync, errno, "pivot_root", rootfs);
  // The old root is now mounted on top of "."; make it private and detach it.
  if (::fchdir(old_root) != 0)
    ChildFail(sync, errno, "fchdir", "old root");
  if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0)
    ChildFail(sync, errno, "make old root slave", "/");
  if (::umount2(".", MNT_DETACH) != 0)
    ChildFail(sync, errno, "detach old root", "/");
  ::close(old_root);
  if (::chdir("/") != 0)
    ChildFail(sync, errno, "chdir", "/");
}

// mkdir -p inside the new root, without allocating. Symlinks on the way resolve inside it.
void MakeCwd(const std::string& cwd, int sync) {
  if (cwd.empty() || ::access(cwd.c_str(), F_OK) == 0)
    return;
  char path[PATH_MAX];
  if (cwd.size() >= sizeof(path))
    ChildFail(sync, ENAMETOOLONG, "create cwd", cwd.c_str());
  std::memcpy(path, cwd.c_str(), cwd.size() + 1);
  for (size_t i = 1; i <= cwd.size(); ++i) {
    if (path[i] != '/' && path[i] != '\0')
      continue;
    char c = path[i];
    path[i] = '\0';
    if (::mkdir(path, 0755) != 0 && errno != EEXIST)
      ChildFail(sync, errno, "create cwd", cwd.c_str());
    path[i] = c;
  }
}

void MaskPath(const char* path, int sync) {
  struct stat st;
  if (::stat(path, &st) != 0) {
    if (errno == ENOENT)
      return;
    ChildFail(sync, errno, "stat masked path", path);
  }
  int r = S_ISDIR(st.st_mode) ? ::mount("tmpfs", path, "tmpfs", MS_RDONLY, nullptr)
                              : ::mount("/dev/null", path, nullptr, MS_BIND, nullptr);
  if (r != 0)
    ChildFail(sync, errno, "mask", path);
}

void ReadonlyPath(const char* path, int sync) {
  if (::mount(path, path, nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    if (errno == ENOENT)
      return;
    ChildFail(sync, errno, "bind read-only path", path);
  }
  unsigned long keep = MountFlagsOf(path);
  if (::mount(nullptr, path, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, nullptr) != 0)
    ChildFail(sync, errno, "remount read-only", path);
}

}  // namespace

void EnterRootfs(const RootfsPlan& plan, int sync) {
  PivotRootfs(plan.rootfs.c_str(), sync);
  MakeCwd(plan.cwd, sync);
}

void SealRootfs(const RootfsPlan& plan, int sync) {
  for (const std::string& p : plan.masked_paths) MaskPath(p.c_str(), sync);
  for (const std::string& p : plan.readonly_paths) ReadonlyPath(p.c_str(), sync);
  if (plan.readonly_root) {
    unsigned long keep = MountFlagsOf("/");
    if (::mount(nullptr, "/", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, nullptr) != 0)
      ChildFail(sync, errno, "remount read-only", "/");
  }
}

}  // namespace berth::shim::linux
