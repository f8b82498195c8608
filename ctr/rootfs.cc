#include "ctr/rootfs.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "fmt/format.h"

#include "ctr/containers.h"
#include "lib/archive/layer.h"
#include "lib/archive/tar.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/mount/proto.h"

namespace berth::ctr {

namespace fs = std::filesystem;

absl::StatusOr<ContainerRef> LookupContainer(Connection& conn, const std::string& id) {
  BERTH_ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(conn, id));
  ContainerRef out{c.id(), c.image(), c.snapshotter(), c.snapshot_key()};
  if (out.snapshot_key.empty())
    return FailedPrecondition(
        fmt::format("container {:?}: has no snapshot (made with --rootfs?)", id));
  if (out.snapshotter.empty())
    out.snapshotter = "overlayfs";
  return out;
}

absl::StatusOr<TaskState> GetTaskState(Connection& conn, const std::string& id) {
  BERTH_ASSIGN_OR_RETURN(TaskInfo t, GetTaskInfo(conn, id));
  if (t.status != "running" && t.status != "paused" && t.status != "pausing")
    return TaskState{};
  return TaskState{t.pid, t.status != "running"};
}

absl::StatusOr<std::vector<mount::Mount>> SnapshotMounts(Connection& conn,
                                                         const std::string& snapshotter,
                                                         const std::string& key) {
  snapshots_api::MountsRequest req;
  req.set_snapshotter(snapshotter);
  req.set_key(key);
  snapshots_api::MountsResponse resp;
  auto ctx = conn.Context();
  BERTH_RETURN_IF_ERROR(Annotate(conn.Check(conn.snapshots().Mounts(ctx.get(), req, &resp)),
                                 fmt::format("snapshot {:?}", key)));
  return mount::MountsFromProto(resp.mounts());
}

std::vector<mount::Mount> ReadOnlyView(std::vector<mount::Mount> mounts) {
  for (mount::Mount& m : mounts) {
    std::vector<std::string> opts;
    std::string upper, lower;
    for (const std::string& o : m.options) {
      if (o.starts_with("upperdir="))
        upper = o.substr(9);
      else if (o.starts_with("lowerdir="))
        lower = o.substr(9);
      else if (!o.starts_with("workdir=") && o != "rw")
        opts.push_back(o);
    }
    if (m.type == "overlay" && !upper.empty()) {
      opts.push_back("lowerdir=" + (lower.empty() ? upper : upper + ":" + lower));
    } else if (!lower.empty()) {
      opts.push_back("lowerdir=" + lower);
    }
    opts.push_back("ro");
    m.options = std::move(opts);
  }
  return mounts;
}

absl::StatusOr<UniqueFd> OpenInRoot(int root_fd, const std::string& path, bool follow_last) {
  std::string rel = path;
  while (rel.starts_with("/")) rel.erase(0, 1);
  while (rel.size() > 1 && rel.ends_with("/")) rel.pop_back();
  if (rel.empty())
    rel = ".";
  struct open_how how = {};
  how.flags = O_PATH | O_CLOEXEC | (follow_last ? 0 : O_NOFOLLOW);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  long fd;
  do {
    fd = ::syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof(how));
  } while (fd < 0 && (errno == EAGAIN || errno == EINTR));
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT)
      return absl::NotFoundError(fmt::format("{:?}: no such file or directory", path));
    return ErrnoError(err, fmt::format("open {:?}", path));
  }
  return UniqueFd(static_cast<int>(fd));
}

absl::Status MakeInRoot(int root_fd, const std::string& path, bool file) {
  fs::path p = fs::path("/") / path;
  p = p.lexically_normal();
  if (OpenInRoot(root_fd, p.string(), /*follow_last=*/false).ok() || p == p.root_path())
    return absl::OkStatus();
  BERTH_RETURN_IF_ERROR(MakeInRoot(root_fd, p.parent_path().string(), /*file=*/false));
  BERTH_ASSIGN_OR_RETURN(UniqueFd parent,
                         OpenInRoot(root_fd, p.parent_path().string(), /*follow_last=*/true));
  const std::string name = p.filename().string();
  int r;
  if (file) {
    r = ::openat(parent.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                 0644);
    if (r >= 0)
      ::close(r);
  } else {
    r = ::mkdirat(parent.get(), name.c_str(), 0755);
  }
  if (r < 0 && errno != EEXIST)
    return ErrnoError(errno, fmt::format("make {:?}", p.string()));
  return absl::OkStatus();
}

absl::Status WithContainerRoot(Connection& conn, const ContainerRef& c, Access access,
                               absl::FunctionRef<absl::Status(int root_fd)> fn) {
  BERTH_ASSIGN_OR_RETURN(TaskState task, GetTaskState(conn, c.id));
  if (task.pid != 0) {
    std::string root = fmt::format("/proc/{}/root", task.pid);
    UniqueFd fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid())
      return ErrnoError(errno, fmt::format("container {:?}: open its root {}", c.id, root));
    return fn(fd.get());
  }
  BERTH_ASSIGN_OR_RETURN(std::vector<mount::Mount> mounts,
                         SnapshotMounts(conn, c.snapshotter, c.snapshot_key));
  if (access == Access::kRead)
    mounts = ReadOnlyView(std::move(mounts));
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::temp_directory_path(ec) / "bctr-rootfs";
  return mount::WithTempMount(mounts, parent,
                              [&](const std::filesystem::path& dir) -> absl::Status {
                                UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
                                if (!fd.valid())
                                  return ErrnoError(errno, fmt::format("open {}", dir.string()));
                                return fn(fd.get());
                              });
}

absl::StatusOr<UniqueFd> TempFile() {
  std::error_code ec;
  fs::path dir = fs::temp_directory_path(ec);
  UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!fd.valid())
    return ErrnoError(errno, fmt::format("create a temporary file in {}", dir.string()));
  return fd;
}

absl::Status WriteFd(int fd, std::string_view b) {
  while (!b.empty()) {
    ssize_t n = ::write(fd, b.data(), b.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return ErrnoError(errno, "write");
    b.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<size_t> ReadFd(int fd, char* buf, size_t len) {
  while (true) {
    ssize_t n = ::read(fd, buf, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return ErrnoError(errno, "read");
    return static_cast<size_t>(n);
  }
}

absl::Status TarEntryTo(int src_fd, const std::string& name, int out_fd) {
  auto write = [&](std::string_view b) { return WriteFd(out_fd, b); };
  archive::TarWriter tar(write);
  BERTH_RETURN_IF_ERROR(tar.AddTree(src_fd, "", name));
  return tar.Close();
}

absl::Status Extract(int tar_fd, int dir_fd) {
  if (::lseek(tar_fd, 0, SEEK_SET) != 0)
    return ErrnoError(errno, "rewind the temporary tar");
  archive::ApplyOptions opts;
  return archive::ApplyLayer(
             fmt::format("/proc/self/fd/{}", dir_fd),
             [&](char* buf, size_t len) { return ReadFd(tar_fd, buf, len); }, opts)
      .status();
}

absl::Status CopyTreeContents(int src_dir_fd, int dst_dir_fd) {
  BERTH_ASSIGN_OR_RETURN(UniqueFd tar, TempFile());
  BERTH_RETURN_IF_ERROR(TarEntryTo(src_dir_fd, "", tar.get()));
  return Extract(tar.get(), dst_dir_fd);
}

}  // namespace berth::ctr
