#pragma once

// cgroup v2: one directory under /sys/fs/cgroup<path>. Enables the memory, pids, cpu, cpuset
// and io controllers in the parents' cgroup.subtree_control. Device rules become an eBPF program
// attached to the directory (device_filter.h).

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

#include "shim/linux/cgroups/cgroup.h"

namespace berth::shim::linux {

class CgroupV2 : public Cgroup {
 public:
  explicit CgroupV2(std::string path, std::string root = "/sys/fs/cgroup");
  static absl::StatusOr<std::unique_ptr<Cgroup>> Create(const std::string& path);

  bool v2() const override { return true; }

  const std::string& path() const override { return path_; }

  absl::Status Apply(const oci::Resources& r) override;
  absl::StatusOr<CgroupJoin> PrepareJoin() override;
  absl::Status Freeze() override;
  absl::Status Thaw() override;
  absl::StatusOr<std::vector<pid_t>> Pids() override;
  absl::StatusOr<CgroupStats> Stats() override;
  bool Exists() const override;
  absl::StatusOr<UniqueFd> OomEventFd() override;
  uint64_t OomKillCount() override;
  std::vector<CgroupBind> Binds() const override;
  absl::Status Destroy() override;

 private:
  std::string File(const std::string& file) const { return dir_ + "/" + file; }

  absl::Status SetFrozen(bool frozen);

  std::string path_;
  std::string root_;
  std::string dir_;
  UniqueFd device_filter_;  // the program Apply attached last
};

// Appends io.stat's device lines ("8:0 rbytes=4096 wbytes=0 ...") to `out`, a DeviceStat per
// key.
void ParseIoStat(absl::string_view text, std::vector<DeviceStat>* out);

}  // namespace berth::shim::linux
