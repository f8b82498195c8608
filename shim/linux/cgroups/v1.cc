#include "shim/linux/cgroups/v1.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <map>
#include <span>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::shim::linux {
namespace {

constexpr std::array<const char*, 8> kControllers = {"memory", "cpu",   "cpuacct", "cpuset",
                                                     "pids",   "blkio", "devices", "freezer"};

// Hierarchies berth sets no limit in but that the container joins where the host mounts them,
// as runc does (it joins every hierarchy of /proc/self/cgroup): else its processes stay in the
// shim's cgroups there (berthd.service's, under systemd).
constexpr std::array<const char*, 7> kJoinedOnly = {"hugetlb", "net_cls", "net_prio", "perf_event",
                                                    "rdma",    "misc",    "systemd"};
// A hybrid host's cgroup v2 hierarchy, joined at clone (CLONE_INTO_CGROUP).
constexpr char kUnified[] = "unified";

std::string DeviceLine(const oci::DeviceRule& d) {
  std::string type = d.type.empty() ? "a" : d.type;
  std::string major = d.major && *d.major >= 0 ? std::to_string(*d.major) : "*";
  std::string minor = d.minor && *d.minor >= 0 ? std::to_string(*d.minor) : "*";
  return fmt::format("{} {}:{} {}", type, major, minor, d.access.empty() ? "rwm" : d.access);
}

// "/dev/sda" for 8:0, from the DEVNAME of /sys/dev/block/8:0/uevent; empty when unknown.
std::string BlockDeviceName(uint32_t major, uint32_t minor) {
  absl::StatusOr<std::string> uevent =
      ReadCgroupFile(fmt::format("/sys/dev/block/{}:{}/uevent", major, minor));
  if (!uevent.ok())
    return "";
  for (absl::string_view line : absl::StrSplit(*uevent, '\n')) {
    if (absl::ConsumePrefix(&line, "DEVNAME="))
      return absl::StrCat("/dev/", line);
  }
  return "";
}

}  // namespace

CgroupV1::CgroupV1(std::string path, std::string root)
    : path_(std::move(path)), root_(std::move(root)) {
  for (const char* h : kJoinedOnly) {
    if (::access(fmt::format("{}/{}/tasks", root_, h).c_str(), F_OK) == 0)
      joined_only_.push_back(h);
  }
  hybrid_ = ::access(fmt::format("{}/{}/cgroup.procs", root_, kUnified).c_str(), F_OK) == 0;
}

absl::StatusOr<std::unique_ptr<Cgroup>> CgroupV1::Create(const std::string& path) {
  auto cg = std::make_unique<CgroupV1>(path);
  BERTH_RETURN_IF_ERROR(cg->Make());
  return std::unique_ptr<Cgroup>(std::move(cg));
}

std::string CgroupV1::Dir(const std::string& hierarchy) const {
  return fmt::format("{}/{}{}", root_, hierarchy, path_);
}

std::string CgroupV1::File(const std::string& controller, const std::string& file) const {
  return fmt::format("{}/{}", Dir(controller), file);
}

absl::Status CgroupV1::MakeDir(const std::string& hierarchy) const {
  std::string dir = Dir(hierarchy);
  if (::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST)
    return absl::OkStatus();
  int err = errno;
  if (err == ENOENT) {  // its parent too (the namespace's cgroup, the first time)
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (!ec)
      return absl::OkStatus();
    err = ec.value();
  }
  return ErrnoError(err, fmt::format("cgroup: mkdir {}", dir));
}

absl::Status CgroupV1::Make() {
  for (const char* c : kControllers) BERTH_RETURN_IF_ERROR(MakeDir(c));
  for (const std::string& h : joined_only_) BERTH_RETURN_IF_ERROR(MakeDir(h));
  if (hybrid_)
    BERTH_RETURN_IF_ERROR(MakeDir(kUnified));
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
  const std::string dir = Dir("cpuset");
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
  auto add = [&](const std::string& hierarchy) -> absl::Status {
    std::string f = File(hierarchy, "tasks");
    UniqueFd fd(::open(f.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid())
      return ErrnoError(errno, fmt::format("open {}", f));
    join.tasks_files.push_back(std::move(fd));
    return absl::OkStatus();
  };
  for (const char* c : kControllers) BERTH_RETURN_IF_ERROR(add(c));
  for (const std::string& h : joined_only_) BERTH_RETURN_IF_ERROR(add(h));
  if (hybrid_) {
    // A process moves into a v2 cgroup only through cgroup.procs, whose write waits for an RCU
    // grace period; clone3 starts it there instead.
    std::string dir = Dir(kUnified);
    join.clone_into.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!join.clone_into.valid())
      return ErrnoError(errno, fmt::format("open {}", dir));
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

bool CgroupV1::Exists() const {
  return ::access(Dir("memory").c_str(), F_OK) == 0;
}

// What containerd's cgroups v1 package reads: the counters of memory, memory+swap, kernel and
// kernel TCP memory, memory.stat and the OOM control, cpuacct and the CFS throttling, pids and
// blkio (the CFQ/BFQ files where the kernel has them, else the throttling layer's).
absl::StatusOr<CgroupStats> CgroupV1::Stats() {
  if (!Exists())
    return NotFoundError("cgroup", path_);
  CgroupStats s;
  auto counter = [&](const std::string& prefix) {
    return MemoryCounter{.usage = ReadCgroupUint(File("memory", prefix + "usage_in_bytes")),
                         .max = ReadCgroupUint(File("memory", prefix + "max_usage_in_bytes")),
                         .limit = ReadCgroupUint(File("memory", prefix + "limit_in_bytes")),
                         .failcnt = ReadCgroupUint(File("memory", prefix + "failcnt"))};
  };
  auto optional_counter = [&](const std::string& prefix) -> std::optional<MemoryCounter> {
    if (::access(File("memory", prefix + "usage_in_bytes").c_str(), F_OK) != 0)
      return std::nullopt;  // swap accounting or kmem not in this kernel
    return counter(prefix);
  };
  s.memory = counter("memory.");
  s.swap = optional_counter("memory.memsw.");
  s.kernel = optional_counter("memory.kmem.");
  s.kernel_tcp = optional_counter("memory.kmem.tcp.");
  s.memory_stat = ReadKeyValues(File("memory", "memory.stat"));
  s.memory_events = ReadKeyValues(File("memory", "memory.oom_control"));
  s.pids_current = ReadCgroupUint(File("pids", "pids.current"));
  s.pids_limit = ReadCgroupUint(File("pids", "pids.max"));
  s.cpu_usage_ns = ReadCgroupUint(File("cpuacct", "cpuacct.usage"));
  // cpuacct.stat's user and system ticks are scaled by the kernel to add up to the usage
  // (cpuacct.usage_user and _sys are raw tick samples that need not).
  const uint64_t ns_per_tick = 1'000'000'000 / static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
  for (const auto& [k, v] : ReadKeyValues(File("cpuacct", "cpuacct.stat"))) {
    if (k == "user")
      s.cpu_user_ns = v * ns_per_tick;
    else if (k == "system")
      s.cpu_system_ns = v * ns_per_tick;
  }
  s.cpu_per_cpu_ns = ReadUints(File("cpuacct", "cpuacct.usage_percpu"));
  KeyValues cpu = ReadKeyValues(File("cpu", "cpu.stat"));
  for (const auto& [k, v] : cpu) {
    if (k == "nr_periods")
      s.cpu_periods = v;
    else if (k == "nr_throttled")
      s.cpu_throttled_periods = v;
    else if (k == "throttled_time")
      s.cpu_throttled_ns = v;
  }
  static constexpr std::array<const char*, 8> kCfq = {
      "sectors_recursive",         "io_service_bytes_recursive",
      "io_serviced_recursive",     "io_queued_recursive",
      "io_service_time_recursive", "io_wait_time_recursive",
      "io_merged_recursive",       "time_recursive"};
  static constexpr std::array<const char*, 2> kThrottle = {"throttle.io_service_bytes",
                                                           "throttle.io_serviced"};
  bool cfq = ::access(File("blkio", "blkio.io_serviced_recursive").c_str(), F_OK) == 0;
  for (const char* f :
       cfq ? std::span<const char* const>(kCfq) : std::span<const char* const>(kThrottle)) {
    absl::StatusOr<std::string> text = ReadCgroupFile(File("blkio", fmt::format("blkio.{}", f)));
    if (text.ok())
      ParseBlkio(f, *text, &s.io);
  }
  std::map<std::pair<uint32_t, uint32_t>, std::string> names;
  for (DeviceStat& d : s.io) {
    auto [it, added] = names.try_emplace({d.major, d.minor});
    if (added)
      it->second = BlockDeviceName(d.major, d.minor);
    d.device = it->second;
  }
  return s;
}

void ParseBlkio(const std::string& file, absl::string_view text, std::vector<DeviceStat>* out) {
  // "8:0 Read 4096" per device and operation, "8:0 4096" for sectors and time, "Total 4096".
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> w = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (w.size() < 2 || w.size() > 3)
      continue;
    std::pair<absl::string_view, absl::string_view> dev = absl::StrSplit(w[0], ':');
    DeviceStat d;
    d.file = file;
    if (w.size() == 3)
      d.key = std::string(w[1]);
    if (!absl::SimpleAtoi(dev.first, &d.major) || !absl::SimpleAtoi(dev.second, &d.minor) ||
        !absl::SimpleAtoi(w.back(), &d.value))
      continue;  // "Total"
    out->push_back(std::move(d));
  }
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
  for (const char* c : kControllers) out.push_back({Dir(c), c});
  for (const std::string& h : joined_only_) out.push_back({Dir(h), h});
  return out;
}

absl::Status CgroupV1::Destroy() {
  std::vector<std::string> hierarchies(kControllers.begin(), kControllers.end());
  hierarchies.insert(hierarchies.end(), joined_only_.begin(), joined_only_.end());
  if (hybrid_)
    hierarchies.push_back(kUnified);
  absl::Status first;
  for (const std::string& h : hierarchies) {
    absl::Status s = RemoveCgroupDir(Dir(h));
    if (first.ok())
      first = s;
  }
  return first;
}

}  // namespace berth::shim::linux
