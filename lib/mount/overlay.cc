#include "lib/mount/overlay.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/unique_fd.h"
#include "lib/mount/options.h"

namespace berth::mount {
namespace {

namespace fs = std::filesystem;

// The non-empty parts of a colon-separated list of directories.
std::vector<std::string> SplitLayers(const std::string& list) {
  return absl::StrSplit(list, ':', absl::SkipEmpty());
}

std::string Object(const fs::path& target) {
  return fmt::format("mount type \"overlay\" on {:?}", target.string());
}

// The kernel's messages about a failed fsconfig/fsmount, read from the context fd.
std::string ContextLog(int fd) {
  std::string log;
  char buf[512];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
      break;
    if (!log.empty())
      log += "; ";
    log.append(buf, static_cast<size_t>(n));
    while (!log.empty() && log.back() == '\n') log.pop_back();
  }
  return log;
}

absl::Status ContextError(int err, int fd, const std::string& op, const fs::path& target) {
  std::string log = ContextLog(fd);
  absl::Status s = ErrnoError(err, fmt::format("{}: {}", Object(target), op));
  if (log.empty())
    return s;
  return absl::Status(s.code(), fmt::format("{} ({})", std::string(s.message()), log));
}

unsigned int MountAttrs(unsigned long flags) {
  unsigned int attrs = 0;
  if (flags & MS_RDONLY)
    attrs |= MOUNT_ATTR_RDONLY;
  if (flags & MS_NOSUID)
    attrs |= MOUNT_ATTR_NOSUID;
  if (flags & MS_NODEV)
    attrs |= MOUNT_ATTR_NODEV;
  if (flags & MS_NOEXEC)
    attrs |= MOUNT_ATTR_NOEXEC;
  if (flags & MS_NOATIME)
    attrs |= MOUNT_ATTR_NOATIME;
  else if (flags & MS_STRICTATIME)
    attrs |= MOUNT_ATTR_STRICTATIME;
  if (flags & MS_NODIRATIME)
    attrs |= MOUNT_ATTR_NODIRATIME;
  return attrs;
}

// Sets one "key=value" or flag option on the context. "lowerdir" becomes one "lowerdir+" per
// layer; when the kernel refuses the first one, the result is Unimplemented.
absl::Status ConfigOption(int fd, const std::string& option, const fs::path& target) {
  size_t eq = option.find('=');
  if (eq == std::string::npos) {
    if (::fsconfig(fd, FSCONFIG_SET_FLAG, option.c_str(), nullptr, 0) != 0)
      return ContextError(errno, fd, fmt::format("option {:?}", option), target);
    return absl::OkStatus();
  }
  std::string key = option.substr(0, eq);
  std::string value = option.substr(eq + 1);
  if (key != "lowerdir") {
    if (::fsconfig(fd, FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0) != 0)
      return ContextError(errno, fd, fmt::format("option {:?}", key), target);
    return absl::OkStatus();
  }
  bool first = true;
  for (const std::string& layer : SplitLayers(value)) {
    if (::fsconfig(fd, FSCONFIG_SET_STRING, "lowerdir+", layer.c_str(), 0) != 0) {
      int err = errno;
      if (first && err == EINVAL) {
        std::string log = ContextLog(fd);
        if (absl::StrContains(log, "lowerdir+") || absl::StrContains(log, "nknown"))
          return Unimplemented(fmt::format("{}: the kernel has no \"lowerdir+\"", Object(target)));
        return InvalidArgument(fmt::format("{}: lower layer {:?}: {}", Object(target), layer, log));
      }
      return ContextError(err, fd, fmt::format("lower layer {:?}", layer), target);
    }
    first = false;
  }
  return absl::OkStatus();
}

// The deepest directory that contains every path in `paths` (all absolute).
fs::path CommonDir(const std::vector<fs::path>& paths) {
  fs::path common = paths.front().parent_path();
  for (const fs::path& p : paths) {
    while (!common.empty() && common != common.root_path()) {
      auto [ci, pi] = std::mismatch(common.begin(), common.end(), p.begin(), p.end());
      if (ci == common.end() && pi != p.end())
        break;
      common = common.parent_path();
    }
  }
  return common;
}

// Rewrites the lower layers relative to their common directory (upperdir and workdir stay
// absolute); returns that directory ("" when no rewrite is possible, e.g. a layer path is
// already relative).
fs::path RelativeData(std::vector<std::string>& data) {
  const std::string key = "lowerdir=";
  std::vector<fs::path> all;
  for (const std::string& o : data) {
    if (!o.starts_with(key))
      continue;
    for (const std::string& p : SplitLayers(o.substr(key.size()))) {
      if (p[0] != '/')
        return {};
      all.emplace_back(fs::path(p).lexically_normal());
    }
  }
  if (all.empty())
    return {};
  fs::path common = CommonDir(all);
  for (std::string& o : data) {
    if (!o.starts_with(key))
      continue;
    std::string out = key;
    for (const std::string& p : SplitLayers(o.substr(key.size()))) {
      if (out.size() > key.size())
        out += ':';
      out += fs::path(p).lexically_normal().lexically_relative(common).string();
    }
    o = out;
  }
  return common;
}

}  // namespace

size_t MaxMountDataSize() {
  long page = ::sysconf(_SC_PAGESIZE);
  return static_cast<size_t>(page > 0 ? page : 4096) - 1;
}

absl::Status MountOverlayNewApi(const Mount& m, const fs::path& target) {
  ParsedOptions p = ParseOptions(m.options);
  UniqueFd fsfd(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fsfd.valid()) {
    int err = errno;
    if (err == ENOSYS)
      return Unimplemented(fmt::format("{}: the kernel has no fsopen()", Object(target)));
    return ErrnoError(err, fmt::format("{}: fsopen", Object(target)));
  }
  if (!m.source.empty() &&
      ::fsconfig(fsfd.get(), FSCONFIG_SET_STRING, "source", m.source.c_str(), 0) != 0)
    return ContextError(errno, fsfd.get(), "source", target);
  for (const std::string& o : p.data) {
    if (absl::Status s = ConfigOption(fsfd.get(), o, target); !s.ok())
      return s;
  }
  if (::fsconfig(fsfd.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    return ContextError(errno, fsfd.get(), "create", target);
  UniqueFd mfd(::fsmount(fsfd.get(), FSMOUNT_CLOEXEC, MountAttrs(p.flags)));
  if (!mfd.valid())
    return ContextError(errno, fsfd.get(), "fsmount", target);
  if (::move_mount(mfd.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    return ErrnoError(errno, fmt::format("{}: move_mount", Object(target)));
  return absl::OkStatus();
}

absl::Status MountOverlayRelative(const Mount& m, const fs::path& target) {
  ParsedOptions p = ParseOptions(m.options);
  fs::path common = RelativeData(p.data);
  if (common.empty())
    return InvalidArgument(
        fmt::format("{}: layers need absolute paths to be shortened", Object(target)));
  std::string data = p.Data();
  if (data.size() > MaxMountDataSize())
    return InvalidArgument(fmt::format("{}: options are {} bytes even relative to {:?}; at most {}",
                                       Object(target), data.size(), common.string(),
                                       MaxMountDataSize()));
  std::string abs_target = fs::absolute(target).string();
  std::string source = m.source.empty() ? "overlay" : m.source;
  unsigned long flags = p.flags;
  // Between fork and _exit only syscalls over the data prepared above.
  pid_t pid = ::fork();
  if (pid < 0)
    return ErrnoError(errno, fmt::format("{}: fork", Object(target)));
  if (pid == 0) {
    if (::chdir(common.c_str()) != 0)
      ::_exit(errno);
    if (::mount(source.c_str(), abs_target.c_str(), "overlay", flags, data.c_str()) != 0)
      ::_exit(errno);
    ::_exit(0);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return ErrnoError(errno, fmt::format("{}: wait for the mounting child", Object(target)));
  }
  if (!WIFEXITED(status))
    return Internal(fmt::format("{}: the mounting child died", Object(target)));
  if (int err = WEXITSTATUS(status); err != 0)
    return ErrnoError(err, fmt::format("{} (relative to {:?})", Object(target), common.string()));
  return absl::OkStatus();
}

}  // namespace berth::mount
