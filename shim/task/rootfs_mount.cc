#include "shim/task/rootfs_mount.h"

#include "spdlog/spdlog.h"

namespace berth::shim {

RootfsMount::RootfsMount(std::vector<mount::Mount> mounts, std::filesystem::path target)
    : mounts_(std::move(mounts)), target_(std::move(target)) {
  if (!mounts_.empty())
    thread_ = std::thread([this] { status_ = mount::MountAll(mounts_, target_); });
}

RootfsMount::~RootfsMount() {
  bool mounted = Wait().ok() && !mounts_.empty();
  if (!mounted || keep_)
    return;
  if (absl::Status s = mount::UnmountAll(target_); !s.ok())
    spdlog::warn("unmount rootfs after a failed create: {}", s.ToString());
}

absl::Status RootfsMount::Wait() {
  if (thread_.joinable())
    thread_.join();
  return status_;
}

}  // namespace berth::shim
