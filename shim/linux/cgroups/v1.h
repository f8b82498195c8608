#pragma once

// cgroup v1: one directory per controller under /sys/fs/cgroup/<controller><path>.
// Supports memory (limit, reservation, swap, swappiness, oom killer), cpu (shares, quota,
// period), cpuset, pids, blkio weight, devices and the freezer. The container also joins the
// other hierarchies the host mounts (hugetlb, net_cls, ..., systemd's, and a hybrid host's v2
// one), without limits there, as runc does.

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

#include "shim/linux/cgroups/cgroup.h"

namespace berth::shim::linux {

class CgroupV1 : public Cgroup {
 public:
  // Only reads which hierarchies the host mounts; creates nothing (see Create).
  explicit CgroupV1(std::string path, std::string root = "/sys/fs/cgroup");
  static absl::StatusOr<std::unique_ptr<Cgroup>> Create(const std::string& path);

  bool v2() const override { return false; }

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

  // <root>/<hierarchy><path>
  std::string Dir(const std::string& hierarchy) const;
  // <root>/<controller><path>/<file>
  std::string File(const std::string& controller, const std::string& file) const;

 private:
  absl::Status Make();
  absl::Status MakeDir(const std::string& hierarchy) const;
  absl::Status InitCpuset();
  absl::StatusOr<std::string> InitCpusetFile(const std::string& dir, const char* file);
  absl::Status ApplyMemory(const oci::MemoryResources& m);
  absl::Status ApplyCpu(const oci::CpuResources& c);
  absl::Status ApplyDevices(const std::vector<oci::DeviceRule>& rules);
  absl::Status SetFreezer(const std::string& state);

  std::string path_;
  std::string root_;
  std::vector<std::string> joined_only_;  // those of kJoinedOnly that the host mounts
  bool hybrid_ = false;                   // the host also mounts cgroup v2 (<root>/unified)
};

// Appends the device lines of the blkio file `file` (its name without "blkio.") to `out`.
void ParseBlkio(const std::string& file, absl::string_view text, std::vector<DeviceStat>* out);

}  // namespace berth::shim::linux
