#pragma once

// A container's cgroup, on cgroup v1 (one directory per controller: memory, cpu, cpuacct,
// cpuset, pids, blkio, devices, freezer) or v2 (one directory in the unified hierarchy).
// Detected once: v2 when /sys/fs/cgroup/cgroup.controllers exists. Paths are the spec's
// linux.cgroupsPath, relative to each hierarchy's root. Not thread-safe: one owner.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "lib/base/unique_fd.h"
#include "lib/oci/spec.h"
#include "shim/linux/mount.h"

namespace berth::shim::linux {

// What Stats reads back, from either version (0 when the file is missing).
struct CgroupStats {
  uint64_t memory_usage = 0;
  uint64_t memory_max_usage = 0;
  uint64_t memory_limit = 0;
  uint64_t memory_failcnt = 0;
  uint64_t oom_kills = 0;
  uint64_t rss = 0;
  uint64_t cache = 0;
  uint64_t pids_current = 0;
  uint64_t pids_limit = 0;  // 0: max
  uint64_t cpu_usage_ns = 0;
  uint64_t cpu_user_ns = 0;
  uint64_t cpu_system_ns = 0;
  uint64_t cpu_periods = 0;
  uint64_t cpu_throttled_periods = 0;
  uint64_t cpu_throttled_ns = 0;
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
  virtual absl::StatusOr<CgroupStats> Stats() = 0;
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
uint64_t ReadCgroupUint(const std::string& file);
// "key value" lines (memory.stat, cpu.stat, memory.events): value of `key`, 0 if absent.
uint64_t ReadKeyed(const std::string& file, const std::string& key);
absl::StatusOr<std::vector<pid_t>> ReadProcs(const std::string& file);
// rmdir with retries on EBUSY; OK when missing.
absl::Status RemoveCgroupDir(const std::string& dir);

}  // namespace berth::shim::linux
