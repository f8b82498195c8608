#pragma once

// The task's rootfs mounts (containerd's CreateTaskRequest.rootfs), made by the shim as
// containerd's runc shim does. The mount (overlayfs: ~0.5 ms, most of it the filesystem's own
// checks) runs on a thread of its own while the create reads the spec, opens the stdio and
// makes the cgroup; the init is cloned only after Wait().

#include <filesystem>
#include <thread>
#include <vector>

#include "absl/status/status.h"

#include "lib/mount/mount.h"

namespace berth::shim {

class RootfsMount {
 public:
  // Starts mounting `mounts` on `target` (an existing directory); none: nothing to do.
  RootfsMount(std::vector<mount::Mount> mounts, std::filesystem::path target);
  // Waits for the mount; unmounts what it mounted unless Keep() was called.
  ~RootfsMount();
  RootfsMount(const RootfsMount&) = delete;
  RootfsMount& operator=(const RootfsMount&) = delete;

  // Blocks until the mounts are made. Errors: the mount's, naming the target.
  absl::Status Wait();

  // The task owns the mounts now: they stay when this object goes (the task's delete, or
  // berthd's clean-up of the bundle, unmounts them).
  void Keep() { keep_ = true; }

 private:
  std::vector<mount::Mount> mounts_;
  std::filesystem::path target_;
  absl::Status status_;
  std::thread thread_;
  bool keep_ = false;
};

}  // namespace berth::shim
