#pragma once

// A task's bundle directory, <state>/<namespace>/<id>/ (the TaskManager's state is
// <berthd state>/tasks): config.json (the OCI spec as the container holds it), rootfs/ (where
// the rootfs mounts go, when the task has any), and what berth-shim adds: shim.sock,
// shim.pid, init.pid, shim.log. The bundle also keeps events.seen, how many shim events berthd
// has forwarded and a fingerprint of the last one: a shim replays its events (its last 1024)
// to each new subscriber, so a berthd that restarts skips those and publishes none twice.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "absl/status/statusor.h"

#include "lib/base/unique_fd.h"

namespace berth::runtime {

class Bundle {
 public:
  Bundle(const std::filesystem::path& root, std::string ns, std::string id)
      : ns_(std::move(ns)), id_(std::move(id)), path_(root / ns_ / id_) {}

  // Makes the directory (AlreadyExists when it exists: a task with that id is live or being
  // cleaned up), rootfs/ and config.json.
  absl::Status Create(const std::string& spec_json) const;

  // Unmounts rootfs/ when something is mounted there (lazily when busy), then removes the
  // directory; never follows into a mount it could not unmount. OK when it is already gone.
  absl::Status Remove() const;

  // The pid in shim.pid when that process is alive and is the berth-shim of this bundle
  // (its command line names the bundle, or it is a spare shim that runs in it); 0 otherwise.
  pid_t LiveShimPid() const;

  // True when something is mounted on rootfs/.
  bool RootfsMounted() const;

  // Marks the bundle as the remains of a deleted task (a "deleted" file), for a berthd that
  // restarts before the directory is gone: it removes it without reporting the task again.
  void MarkDeleted() const;
  bool Deleted() const;

  // Marks the bundle as prepared ahead of its task (TaskManager::Prepare: a "prepared" file)
  // until the task's create claims it (ClearPrepared); a berthd that restarts removes a
  // prepared bundle and its shim instead of reporting a task that never was.
  absl::Status MarkPrepared() const;
  void ClearPrepared() const;
  bool Prepared() const;

  struct EventMark {
    int64_t count = 0;  // events forwarded so far
    uint64_t last = 0;  // fingerprint of the last one
  };

  // What events.seen records ({0, 0} when there is none).
  EventMark EventsSeen() const;
  // events.seen opened (created) for SetEventsSeen; invalid on error.
  UniqueFd OpenEventsSeen() const;
  // Records `mark` in the events.seen open at `fd`: one fixed-width pwrite over the last mark,
  // no new file and no rename on an event's way (the ttrpc epoll thread, which the replies of
  // every shim wait for).
  static void SetEventsSeen(int fd, const EventMark& mark);

  const std::string& ns() const { return ns_; }

  const std::string& id() const { return id_; }

  const std::filesystem::path& path() const { return path_; }

  std::filesystem::path rootfs() const { return path_ / "rootfs"; }

  std::filesystem::path socket() const { return path_ / "shim.sock"; }

 private:
  std::string ns_;
  std::string id_;
  std::filesystem::path path_;
};

// True when `path` is a mount point (listed in /proc/self/mountinfo).
bool IsMountPoint(const std::filesystem::path& path);

}  // namespace berth::runtime
