#include "lib/mount/mount.h"

#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <system_error>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/mount/options.h"
#include "lib/mount/overlay.h"

namespace berth::mount {
namespace {

namespace fs = std::filesystem;

constexpr unsigned long kRemountKeep =
    MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME;

std::string Object(const Mount& m, const fs::path& target) {
  return fmt::format("mount type {:?} source {:?} on {:?}", m.type, m.source, target.string());
}

absl::Status MountOverlay(const Mount& m, const ParsedOptions& p, const fs::path& target) {
  std::string data = p.Data();
  if (data.size() <= MaxMountDataSize()) {
    const char* source = m.source.empty() ? "overlay" : m.source.c_str();
    if (::mount(source, target.c_str(), "overlay", p.flags, data.c_str()) != 0)
      return ErrnoError(errno, Object(m, target));
    return absl::OkStatus();
  }
  absl::Status s = MountOverlayNewApi(m, target);
  if (absl::IsUnimplemented(s))
    return MountOverlayRelative(m, target);
  return s;
}

absl::Status MountOne(const Mount& m, const fs::path& target) {
  if (m.type.empty())
    return InvalidArgument(fmt::format("{}: no filesystem type", Object(m, target)));
  ParsedOptions p = ParseOptions(m.options);
  if (m.type == "bind")
    p.flags |= MS_BIND;
  if (m.type == "overlay" && !(p.flags & (MS_BIND | MS_REMOUNT))) {
    if (absl::Status s = MountOverlay(m, p, target); !s.ok())
      return s;
  } else {
    std::string data = p.Data();
    if (::mount(m.source.c_str(), target.c_str(), m.type.c_str(), p.flags,
                data.empty() ? nullptr : data.c_str()) != 0)
      return ErrnoError(errno, Object(m, target));
    // The kernel ignores MS_RDONLY on a new bind mount: make it read-only with a remount.
    const bool ro_bind = (p.flags & MS_BIND) && (p.flags & MS_RDONLY) && !(p.flags & MS_REMOUNT);
    if (ro_bind &&
        ::mount("", target.c_str(), nullptr,
                MS_REMOUNT | MS_BIND | MS_RDONLY | (p.flags & kRemountKeep), nullptr) != 0) {
      absl::Status s = ErrnoError(errno, fmt::format("{}: read-only remount", Object(m, target)));
      (void)::umount2(target.c_str(), MNT_DETACH);
      return s;
    }
  }
  if (p.propagation != 0) {
    if (::mount("", target.c_str(), nullptr, p.propagation, nullptr) != 0) {
      absl::Status s = ErrnoError(errno, fmt::format("{}: set propagation", Object(m, target)));
      (void)::umount2(target.c_str(), MNT_DETACH);
      return s;
    }
  }
  return absl::OkStatus();
}

// One umount2 of the topmost mount on `target`: retries while busy, then detaches.
// Returns 0 or the errno.
int UnmountOnce(const fs::path& target) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    if (::umount2(target.c_str(), UMOUNT_NOFOLLOW) == 0)
      return 0;
    if (errno != EBUSY)
      return errno;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
    return 0;
  return errno;
}

}  // namespace

absl::Status MountAll(std::span<const Mount> mounts, const fs::path& target) {
  for (size_t i = 0; i < mounts.size(); ++i) {
    if (absl::Status s = MountOne(mounts[i], target); !s.ok()) {
      for (size_t j = 0; j < i; ++j) (void)UnmountOnce(target);
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status Unmount(const fs::path& target) {
  int err = UnmountOnce(target);
  if (err == 0 || err == EINVAL || err == ENOENT)
    return absl::OkStatus();
  return ErrnoError(err, fmt::format("unmount {:?}", target.string()));
}

namespace {

absl::Mutex background_mu;
int background_unmounts ABSL_GUARDED_BY(background_mu) = 0;

}  // namespace

void BeginBackgroundUnmount() {
  absl::MutexLock lock(&background_mu);
  ++background_unmounts;
}

void EndBackgroundUnmount() {
  absl::MutexLock lock(&background_mu);
  --background_unmounts;
}

void WaitForBackgroundUnmounts() {
  absl::MutexLock lock(&background_mu);
  auto none = []()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(background_mu) { return background_unmounts == 0; };
  background_mu.Await(absl::Condition(&none));
}

absl::Status UnmountAll(const fs::path& target) {
  // Each round removes one mount; a bound keeps a kernel surprise from looping forever.
  for (int round = 0; round < 1024; ++round) {
    int err = UnmountOnce(target);
    if (err == EINVAL || err == ENOENT)
      return absl::OkStatus();
    if (err != 0)
      return ErrnoError(err, fmt::format("unmount {:?}", target.string()));
  }
  return Internal(fmt::format("unmount {:?}: still mounted after 1024 unmounts", target.string()));
}

absl::Status WithTempMount(std::span<const Mount> mounts, const fs::path& parent,
                           absl::FunctionRef<absl::Status(const fs::path&)> fn) {
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec)
    return ErrnoError(ec.value(), fmt::format("create mount parent {:?}", parent.string()));
  std::string tmpl = (parent / "berth-mount-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    return ErrnoError(errno, fmt::format("create temporary mount point in {:?}", parent.string()));
  const fs::path dir = tmpl;
  absl::Status result = MountAll(mounts, dir);
  if (result.ok()) {
    result = fn(dir);
    absl::Status u = UnmountAll(dir);
    if (!u.ok()) {
      // Keep the directory: removing it recursively could delete the mounted data.
      return result.ok() ? u : result;
    }
  }
  if (::rmdir(dir.c_str()) != 0 && result.ok())
    return ErrnoError(errno, fmt::format("remove temporary mount point {:?}", dir.string()));
  return result;
}

}  // namespace berth::mount
