#pragma once

// A container's root filesystem seen from bctr (which runs as root on the daemon's host): the
// container's record, its snapshot's mounts, and a directory fd of its root for diff, cp,
// export and commit. Paths inside a container are resolved with openat2(RESOLVE_IN_ROOT), so a
// symlink in the container (/x → /etc) stays inside it.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"

#include "ctr/connection.h"
#include "lib/base/unique_fd.h"
#include "lib/mount/mount.h"

namespace berth::ctr {

struct ContainerRef {
  std::string id;
  std::string image;
  std::string snapshotter;
  std::string snapshot_key;
};

// The container `id` names (an id, a name or a unique id prefix: FindContainer); NotFound
// names it; FailedPrecondition when it has no snapshot.
absl::StatusOr<ContainerRef> LookupContainer(Connection& conn, const std::string& id);

struct TaskState {
  uint32_t pid = 0;  // the init process, when the task is running or paused
  bool paused = false;
};

// The state of the container's task; pid 0 when there is none or it stopped.
absl::StatusOr<TaskState> GetTaskState(Connection& conn, const std::string& id);

absl::StatusOr<std::vector<mount::Mount>> SnapshotMounts(Connection& conn,
                                                         const std::string& snapshotter,
                                                         const std::string& key);

// The same tree, mounted read-only without touching the snapshot's upper or work directory: an
// overlay's upperdir becomes its top lowerdir (so a second, private mount never shares them
// with the container's own), a bind gets "ro".
std::vector<mount::Mount> ReadOnlyView(std::vector<mount::Mount> mounts);

enum class Access { kRead, kWrite };

// Calls fn with an O_PATH directory fd of the container's root: the running task's root
// (/proc/<pid>/root, so writes land in the live filesystem) or, with no running task, the
// snapshot mounted in a private temporary directory (read-only for kRead), unmounted after.
absl::Status WithContainerRoot(Connection& conn, const ContainerRef& c, Access access,
                               absl::FunctionRef<absl::Status(int root_fd)> fn);

// Opens `path` (absolute or relative, inside the container) below `root_fd` as an O_PATH fd,
// resolving every symlink as if `root_fd` were "/". The last component is followed only when
// `follow_last`. Errors name `path`: NotFound, or the errno class.
absl::StatusOr<UniqueFd> OpenInRoot(int root_fd, const std::string& path, bool follow_last);

// Makes `path` (inside the container, resolved as OpenInRoot does) below `root_fd` when nothing
// is there yet: an empty file (`file`) or a directory, and its missing parents (0755). A path
// that exists, as anything (a dangling symlink too), is left as it is.
absl::Status MakeInRoot(int root_fd, const std::string& path, bool file);

// Tars between trees (cp, and a new volume's first contents).
// An unlinked temporary file (O_TMPFILE in the temporary directory) to hold one.
absl::StatusOr<UniqueFd> TempFile();
// write(2) and read(2) to the end, EINTR retried; errors name the call.
absl::Status WriteFd(int fd, std::string_view b);
absl::StatusOr<size_t> ReadFd(int fd, char* buf, size_t len);
// A tar of the entry `src_fd` (an O_PATH fd) named `name` (archive::TarWriter::AddTree: ""
// writes only what is below a directory), into `out_fd`.
absl::Status TarEntryTo(int src_fd, const std::string& name, int out_fd);
// Unpacks the tar in `tar_fd` (from its start) into the directory `dir_fd`.
absl::Status Extract(int tar_fd, int dir_fd);
// Copies everything below the directory `src_dir_fd` into the directory `dst_dir_fd`, with
// modes, owners, times, xattrs, symlinks and hard links kept, through a temporary tar.
absl::Status CopyTreeContents(int src_dir_fd, int dst_dir_fd);

}  // namespace berth::ctr
