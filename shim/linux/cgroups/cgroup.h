#pragma once

// A container's cgroup, on cgroup v1 (one directory per controller: memory, cpu, cpuacct,
// cpuset, pids, blkio, devices, freezer) or v2 (one directory in the unified hierarchy).
// Detected once: v2 when /sys/fs/cgroup/cgroup.controllers exists. Paths are the spec's
// linux.cgroupsPath, relative to each hierarchy's root. Not thread-safe: one owner.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

#include "lib/base/unique_fd.h"
#include "lib/oci/spec.h"
#include "shim/linux/mount.h"

namespace berth::shim::linux {

// "key value" pairs in the kernel's order and spelling (memory.stat, memory.events, ...).
using KeyValues = std::vector<std::pair<std::string, uint64_t>>;

// One memory counter set: v1 memory[.memsw|.kmem|.kmem.tcp].{usage_in_bytes, max_usage_in_bytes,
// limit_in_bytes, failcnt}; v2 memory.{current, peak, max} (no limit: UINT64_MAX, as
// containerd) and memory.events' "max" as the fail count, or memory.swap.{current, max}.
struct MemoryCounter {
  uint64_t usage = 0;
  uint64_t max = 0;
  uint64_t limit = 0;
  uint64_t failcnt = 0;
};

// One block device's counter. v1: `file` is the blkio file without its "blkio." prefix
// ("io_service_bytes_recursive", "throttle.io_serviced", ...), `key` the operation ("Read",
// "Write", "Sync", "Async", "Discard", "Total"; empty for sectors and time). v2: `file` is
// empty and `key` an io.stat key ("rbytes", "wbytes", "rios", "wios", ...).
struct DeviceStat {
  std::string file;
  std::string device;  // v1: "/dev/<name>" when /sys/dev/block knows the device
  uint32_t major = 0;
  uint32_t minor = 0;
  std::string key;
  uint64_t value = 0;
};

// v2 hugetlb.<pagesize>.{current, max}; `pagesize` as the kernel names it ("2MB", "1GB").
struct HugetlbStat {
  std::string pagesize;
  uint64_t usage = 0;
  uint64_t max = 0;
};

// What Stats reads back, from either version (0 or empty when a file is missing).
struct CgroupStats {
  MemoryCounter memory;
  std::optional<MemoryCounter> swap;        // v1 memory.memsw.*, v2 memory.swap.*
  std::optional<MemoryCounter> kernel;      // v1 memory.kmem.*
  std::optional<MemoryCounter> kernel_tcp;  // v1 memory.kmem.tcp.*
  KeyValues memory_stat;                    // memory.stat
  KeyValues memory_events;                  // v1 memory.oom_control, v2 memory.events
  uint64_t pids_current = 0;
  uint64_t pids_limit = 0;  // 0: max
  uint64_t cpu_usage_ns = 0;
  uint64_t cpu_user_ns = 0;
  uint64_t cpu_system_ns = 0;
  std::vector<uint64_t> cpu_per_cpu_ns;  // v1 cpuacct.usage_percpu
  uint64_t cpu_periods = 0;
  uint64_t cpu_throttled_periods = 0;
  uint64_t cpu_throttled_ns = 0;
  std::vector<DeviceStat> io;  // v1 blkio.*, v2 io.stat
  std::vector<HugetlbStat> hugetlb;
};

// How a process the shim starts for the container (the init, an exec's intermediate) joins
// the cgroup without a write to cgroup.procs. That write takes cgroup_threadgroup_rwsem for
// writing: the first one after a quiet spell waits a whole RCU grace period (6–19 ms measured)
// holding cgroup_mutex, which also stalls every cgroup mkdir on the host meanwhile.
struct CgroupJoin {
  // v2: the cgroup's directory, for clone3's CLONE_INTO_CGROUP: the child starts inside.
  UniqueFd clone_into;
  // v1: every hierarchy's "tasks" file, opened for writing. The child, still single-threaded,
  // writes "0" to each (JoinCgroupTasks): moving the calling thread takes no global lock.
  std::vector<UniqueFd> tasks_files;
};

// In the child, async-signal-safe: writes "0" to each of `join.tasks_files`. False (errno
// set) on the first failure.
bool JoinCgroupTasks(const CgroupJoin& join);

class Cgroup {
 public:
  virtual ~Cgroup() = default;

  // Creates the cgroup (mkdir -p under every controller). An existing one is reused.
  static absl::StatusOr<std::unique_ptr<Cgroup>> Create(const std::string& path);
  // Opens an existing cgroup without creating it (delete, stats of another runtime's cgroup).
  static std::unique_ptr<Cgroup> Open(const std::string& path);
  static bool IsV2Host();

  virtual bool v2() const = 0;
  virtual const std::string& path() const = 0;

  // Writes the limits that are set in `r`. Errors name the file and value.
  virtual absl::Status Apply(const oci::Resources& r) = 0;
  // What a new child needs to join the cgroup (see CgroupJoin).
  virtual absl::StatusOr<CgroupJoin> PrepareJoin() = 0;
  virtual absl::Status Freeze() = 0;
  virtual absl::Status Thaw() = 0;
  virtual absl::StatusOr<std::vector<pid_t>> Pids() = 0;
  // NotFound when the cgroup is gone.
  virtual absl::StatusOr<CgroupStats> Stats() = 0;
  virtual bool Exists() const = 0;
  // An fd that becomes readable on an OOM event (v1: eventfd on memory.oom_control; v2:
  // inotify on memory.events). After it fires, OomKilled() tells a kill from other changes.
  virtual absl::StatusOr<UniqueFd> OomEventFd() = 0;
  virtual uint64_t OomKillCount() = 0;
  // What to show under the container's /sys/fs/cgroup.
  virtual std::vector<CgroupBind> Binds() const = 0;
  // Removes the directories (retrying while the last processes exit). OK if already gone.
  virtual absl::Status Destroy() = 0;
};

// Small file helpers shared by v1 and v2.
absl::Status WriteCgroupFile(const std::string& file, const std::string& value);
// The same to a cgroup file already open for writing; `file` names it in errors.
absl::Status WriteCgroupFd(int fd, const std::string& file, const std::string& value);
absl::StatusOr<std::string> ReadCgroupFile(const std::string& file);
// The file's first word as a number: 0 when missing, `if_max` when "max".
uint64_t ReadCgroupUint(const std::string& file, uint64_t if_max = 0);
// "key value" lines (memory.stat, cpu.stat, memory.events): value of `key`, 0 if absent.
uint64_t ReadKeyed(const std::string& file, const std::string& key);
// All of a file's "key value" lines, in order; other lines are skipped. Empty when missing.
KeyValues ReadKeyValues(const std::string& file);
// Whitespace-separated numbers (cpuacct.usage_percpu). Empty when missing.
std::vector<uint64_t> ReadUints(const std::string& file);
absl::StatusOr<std::vector<pid_t>> ReadProcs(const std::string& file);
// rmdir with retries on EBUSY; OK when missing.
absl::Status RemoveCgroupDir(const std::string& dir);

}  // namespace berth::shim::linux
