#include "shim/linux/cgroups/v1.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <thread>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::shim::linux {
namespace {

constexpr std::array<const char*, 8> kControllers = {"memory", "cpu",   "cpuacct", "cpuset",
                                                     "pids",   "blkio", "devices", "freezer"};

std::string DeviceLine(const oci::DeviceRule& d) {
  std::string type = d.type.empty() ? "a" : d.type;
  std::string major = d.major && *d.major >= 0 ? std::to_string(*d.major) : "*";
  std::string minor = d.minor && *d.minor >= 0 ? std::to_string(*d.minor) : "*";
  return fmt::format("{} {}:{} {}", type, major, minor, d.access.empty() ? "rwm" : d.access);
}

}  // namespace

CgroupV1::CgroupV1(std::string path, std::string root)
    : path_(std::move(path)), root_(std::move(root)) {}

absl::StatusOr<std::unique_ptr<Cgroup>> CgroupV1::Create(const std::string& path) {
  auto cg = std::make_unique<CgroupV1>(path);
  BERTH_RETURN_IF_ERROR(cg->Make());
  return std::unique_ptr<Cgroup>(std::move(cg));
}

std::string CgroupV1::File(const std::string& controller, const std::string& file) const {
  return fmt::format("{}/{}{}/{}", root_, controller, path_, file);
}

absl::Status CgroupV1::Make() {
  for (const char* c : kControllers) {
    std::string dir = fmt::format("{}/{}{}", root_, c, path_);
    if (::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST)
      continue;
    int err = errno;
    if (err == ENOENT) {  // its parent too (the namespace's cgroup, the first time)
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (!ec)
        continue;
      err = ec.value();
    }
    return ErrnoError(err, fmt::format("cgroup: mkdir {}", dir));
  }
  return InitCpuset();
}

// A new v1 cpuset starts with empty cpus and mems: each empty one takes its parent's, the parent
// first if it is empty too (up to the root, which never is).
absl::StatusOr<std::string> CgroupV1::InitCpusetFile(const std::string& dir, const char* file) {
  BERTH_ASSIGN_OR_RETURN(std::string cur, ReadCgroupFile(dir + "/" + file));
  const std::string top = root_ + "/cpuset";
  if (cur.find_first_not_of(" \n") != std::string::npos || dir.size() <= top.size())
    return cur;
  BERTH_ASSIGN_OR_RETURN(std::string want, InitCpusetFile(dir.substr(0, dir.rfind('/')), file));
  BERTH_RETURN_IF_ERROR(WriteCgroupFile(dir + "/" + file, want));
  return want;
}

absl::Status CgroupV1::InitCpuset() {
  const std::string dir = root_ + "/cpuset" + path_;
  for (const char* f : {"cpuset.cpus", "cpuset.mems"})
    BERTH_RETURN_IF_ERROR(InitCpusetFile(dir, f).status());
  return absl::OkStatus();
}

absl::Status CgroupV1::ApplyMemory(const oci::MemoryResources& m) {
  if (m.limit)
    BERTH_RETURN_IF_ERROR(
        WriteCgroupFile(File("memory", "memory.limit_in_bytes"), std::to_string(*m.limit)));
  if (m.reservation)
    BERTH_RETURN_IF_ERROR(WriteCgroupFile(File("memory", "memory.soft_limit_in_bytes"),
                                          std::to_string(*m.reservation)));
  if (m.swap)
    BERTH_RETURN_IF_ERROR(
        WriteCgroupFile(File("memory", "memory.memsw.limit_in_bytes"), std::to_string(*m.swap)));
  if (m.swappiness)
    BERTH_RETURN_IF_ERROR(
        WriteCgroupFile(File("memory", "memory.swappiness"), std::to_string(*m.swappiness)));
  if (m.disable_oom_killer && *m.disable_oom_killer)
    BERTH_RETURN_IF_ERROR(WriteCgroupFile(File("memory", "memory.oom_control"), "1"));
  return absl::OkStatus();
}

absl::Status CgroupV1::ApplyCpu(const oci::CpuResources& c) {
  if (c.shares)
    BERTH_RETURN_IF_ERROR(WriteCgroupFile(File("cpu", "cpu.shares"), std::to_string(*c.shares)));
  if (c.period)
    BERTH_RETURN_IF_ERROR(
        WriteCgroupFile(File("cpu", "cpu.cfs_period_us"), std::to_string(*c.period)));
  if (c.quota)
    BERTH_RETURN_IF_ERROR(
        WriteCgroupFile(File("cpu", "cpu.cfs_quota_us"), std::to_string(*c.quota)));
  if (!c.cpus.empty())
    BERTH_RETURN_IF_ERROR(WriteCgroupFile(File("cpuset", "cpuset.cpus"), c.cpus));
  if (!c.mems.empty())
    BERTH_RETURN_IF_ERROR(WriteCgroupFile(File("cpuset", "cpuset.mems"), c.mems));
  return absl::OkStatus();
}

// Each file opened once: a spec has a dozen rules or more.
absl::Status CgroupV1::ApplyDevices(const std::vector<oci::DeviceRule>& rules) {
  UniqueFd fds[2];  // deny, allow
  for (const oci::DeviceRule& d : rules) {
    std::string file = File("devices", d.allow ? "devices.allow" : "devices.deny");
    UniqueFd& fd = fds[d.allow ? 1 : 0];
    if (!fd.valid()) {
      fd = UniqueFd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
      if (!fd.valid())
        return ErrnoError(errno, fmt::format("open {}", file));
    }
    BERTH_RETURN_IF_ERROR(WriteCgroupFd(fd.get(), file, DeviceLine(d)));
  }
  return absl::OkStatus();
}

absl::Status CgroupV1::Apply(const oci::Resources& r) {
  if (r.memory)
    BERTH_RETURN_IF_ERROR(ApplyMemory(*r.memory));
  if (r.cpu)
    BERTH_RETURN_IF_ERROR(ApplyCpu(*r.cpu));
  if (r.pids) {
    std::string v = r.pids->limit > 0 ? std::to_string(r.pids->limit) : "max";
    BERTH_RETURN_IF_ERROR(WriteCgroupFile(File("pids", "pids.max"), v));
  }
  if (r.block_io && r.block_io->weight) {
    std::string file = File("blkio", "blkio.weight");
    if (::access(file.c_str(), F_OK) != 0)
      file = File("blkio", "blkio.bfq.weight");
    BERTH_RETURN_IF_ERROR(WriteCgroupFile(file, std::to_string(*r.block_io->weight)));
  }
  BERTH_RETURN_IF_ERROR(ApplyDevices(r.devices));
  if (!r.unified.empty())
    return InvalidArgument("linux.resources.unified: needs cgroup v2 (this host is v1)");
  return absl::OkStatus();
}

absl::StatusOr<CgroupJoin> CgroupV1::PrepareJoin() {
  CgroupJoin join;
  for (const char* c : kControllers) {
    std::string f = File(c, "tasks");
    UniqueFd fd(::open(f.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid())
      return ErrnoError(errno, fmt::format("open {}", f));
    join.tasks_files.push_back(std::move(fd));
  }
  return join;
}

absl::Status CgroupV1::SetFreezer(const std::string& state) {
  std::string file = File("freezer", "freezer.state");
  for (int i = 0; i < 500; ++i) {
    BERTH_RETURN_IF_ERROR(WriteCgroupFile(file, state));
    BERTH_ASSIGN_OR_RETURN(std::string now, ReadCgroupFile(file));
    if (now.rfind(state, 0) == 0)
      return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return absl::DeadlineExceededError(
      fmt::format("cgroup {}: freezer stuck before {}", path_, state));
}

absl::Status CgroupV1::Freeze() {
  return SetFreezer("FROZEN");
}

absl::Status CgroupV1::Thaw() {
  return SetFreezer("THAWED");
}

absl::StatusOr<std::vector<pid_t>> CgroupV1::Pids() {
  return ReadProcs(File("pids", "cgroup.procs"));
}

absl::StatusOr<CgroupStats> CgroupV1::Stats() {
  CgroupStats s;
  s.memory_usage = ReadCgroupUint(File("memory", "memory.usage_in_bytes"));
  s.memory_max_usage = ReadCgroupUint(File("memory", "memory.max_usage_in_bytes"));
  s.memory_limit = ReadCgroupUint(File("memory", "memory.limit_in_bytes"));
  s.memory_failcnt = ReadCgroupUint(File("memory", "memory.failcnt"));
  s.oom_kills = ReadKeyed(File("memory", "memory.oom_control"), "oom_kill");
  s.rss = ReadKeyed(File("memory", "memory.stat"), "total_rss");
  s.cache = ReadKeyed(File("memory", "memory.stat"), "total_cache");
  s.pids_current = ReadCgroupUint(File("pids", "pids.current"));
  s.pids_limit = ReadCgroupUint(File("pids", "pids.max"));
  s.cpu_usage_ns = ReadCgroupUint(File("cpuacct", "cpuacct.usage"));
  s.cpu_user_ns = ReadCgroupUint(File("cpuacct", "cpuacct.usage_user"));
  s.cpu_system_ns = ReadCgroupUint(File("cpuacct", "cpuacct.usage_sys"));
  s.cpu_periods = ReadKeyed(File("cpu", "cpu.stat"), "nr_periods");
  s.cpu_throttled_periods = ReadKeyed(File("cpu", "cpu.stat"), "nr_throttled");
  s.cpu_throttled_ns = ReadKeyed(File("cpu", "cpu.stat"), "throttled_time");
  if (::access(File("memory", "").c_str(), F_OK) != 0)
    return NotFoundError("cgroup", path_);
  return s;
}

absl::StatusOr<UniqueFd> CgroupV1::OomEventFd() {
  UniqueFd efd(::eventfd(0, EFD_CLOEXEC));
  if (!efd.valid())
    return ErrnoError(errno, "eventfd");
  std::string oc = File("memory", "memory.oom_control");
  UniqueFd ocfd(::open(oc.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ocfd.valid())
    return ErrnoError(errno, fmt::format("open {}", oc));
  BERTH_RETURN_IF_ERROR(WriteCgroupFile(File("memory", "cgroup.event_control"),
                                        fmt::format("{} {}", efd.get(), ocfd.get())));
  return efd;
}

uint64_t CgroupV1::OomKillCount() {
  return ReadKeyed(File("memory", "memory.oom_control"), "oom_kill");
}

std::vector<CgroupBind> CgroupV1::Binds() const {
  std::vector<CgroupBind> out;
  for (const char* c : kControllers) out.push_back({fmt::format("{}/{}{}", root_, c, path_), c});
  return out;
}

absl::Status CgroupV1::Destroy() {
  absl::Status first;
  for (const char* c : kControllers) {
    absl::Status s = RemoveCgroupDir(fmt::format("{}/{}{}", root_, c, path_));
    if (first.ok())
      first = s;
  }
  return first;
}

}  // namespace berth::shim::linux
