#include "shim/linux/cgroups/v2.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <limits>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "shim/linux/cgroups/device_filter.h"

namespace berth::shim::linux {

CgroupV2::CgroupV2(std::string path, std::string root)
    : path_(std::move(path)), root_(std::move(root)), dir_(root_ + path_) {}

absl::StatusOr<std::unique_ptr<Cgroup>> CgroupV2::Create(const std::string& path) {
  auto cg = std::make_unique<CgroupV2>(path);
  std::string dir = cg->root_;
  std::filesystem::path rel(path);
  for (const auto& part : rel.relative_path()) {
    // Enable what the parent has, so limits can be written in the child (best effort: a
    // controller busy with processes in the parent cannot be enabled).
    absl::StatusOr<std::string> have = ReadCgroupFile(dir + "/cgroup.controllers");
    if (have.ok()) {
      for (const char* c : {"memory", "pids", "cpu", "cpuset", "io"}) {
        if (have->find(c) != std::string::npos)
          (void)WriteCgroupFile(dir + "/cgroup.subtree_control", fmt::format("+{}", c));
      }
    }
    dir += "/" + part.string();
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
      return ErrnoError(errno, fmt::format("cgroup: mkdir {}", dir));
  }
  return std::unique_ptr<Cgroup>(std::move(cg));
}

absl::Status CgroupV2::Apply(const oci::Resources& r) {
  if (r.memory) {
    if (r.memory->limit)
      BERTH_RETURN_IF_ERROR(WriteCgroupFile(
          File("memory.max"), *r.memory->limit > 0 ? std::to_string(*r.memory->limit) : "max"));
    if (r.memory->reservation)
      BERTH_RETURN_IF_ERROR(
          WriteCgroupFile(File("memory.low"), std::to_string(*r.memory->reservation)));
    if (r.memory->swap && r.memory->limit && *r.memory->swap > 0)
      BERTH_RETURN_IF_ERROR(WriteCgroupFile(File("memory.swap.max"),
                                            std::to_string(*r.memory->swap - *r.memory->limit)));
  }
  if (r.cpu) {
    if (r.cpu->shares) {
      uint64_t weight = 1 + ((*r.cpu->shares - 2) * 9999) / 262142;
      BERTH_RETURN_IF_ERROR(WriteCgroupFile(File("cpu.weight"), std::to_string(weight)));
    }
    if (r.cpu->quota || r.cpu->period) {
      std::string quota = r.cpu->quota && *r.cpu->quota > 0 ? std::to_string(*r.cpu->quota) : "max";
      BERTH_RETURN_IF_ERROR(WriteCgroupFile(
          File("cpu.max"), fmt::format("{} {}", quota, r.cpu->period.value_or(100000))));
    }
    if (!r.cpu->cpus.empty())
      BERTH_RETURN_IF_ERROR(WriteCgroupFile(File("cpuset.cpus"), r.cpu->cpus));
    if (!r.cpu->mems.empty())
      BERTH_RETURN_IF_ERROR(WriteCgroupFile(File("cpuset.mems"), r.cpu->mems));
  }
  if (r.pids)
    BERTH_RETURN_IF_ERROR(WriteCgroupFile(
        File("pids.max"), r.pids->limit > 0 ? std::to_string(r.pids->limit) : "max"));
  if (r.block_io && r.block_io->weight) {
    uint64_t w = 1 + (static_cast<uint64_t>(*r.block_io->weight) - 10) * 9999 / 990;
    BERTH_RETURN_IF_ERROR(WriteCgroupFile(File("io.weight"), fmt::format("default {}", w)));
  }
  if (!r.devices.empty()) {
    UniqueFd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir.valid())
      return ErrnoError(errno, fmt::format("cgroup: open {}", dir_));
    BERTH_ASSIGN_OR_RETURN(device_filter_,
                           AttachDeviceFilter(dir.get(), r.devices, device_filter_));
  }
  for (const auto& [file, value] : r.unified) {
    if (file.find('/') != std::string::npos)
      return InvalidArgument(fmt::format("linux.resources.unified: bad file name {:?}", file));
    BERTH_RETURN_IF_ERROR(WriteCgroupFile(File(file), value));
  }
  return absl::OkStatus();
}

absl::StatusOr<CgroupJoin> CgroupV2::PrepareJoin() {
  CgroupJoin join;
  join.clone_into.reset(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!join.clone_into.valid())
    return ErrnoError(errno, fmt::format("open {}", dir_));
  return join;
}

absl::Status CgroupV2::SetFrozen(bool frozen) {
  BERTH_RETURN_IF_ERROR(WriteCgroupFile(File("cgroup.freeze"), frozen ? "1" : "0"));
  for (int i = 0; i < 500; ++i) {
    if (ReadKeyed(File("cgroup.events"), "frozen") == (frozen ? 1u : 0u))
      return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return absl::DeadlineExceededError(
      fmt::format("cgroup {}: freeze={} did not settle", path_, frozen));
}

absl::Status CgroupV2::Freeze() {
  return SetFrozen(true);
}

absl::Status CgroupV2::Thaw() {
  return SetFrozen(false);
}

absl::StatusOr<std::vector<pid_t>> CgroupV2::Pids() {
  return ReadProcs(File("cgroup.procs"));
}

bool CgroupV2::Exists() const {
  return ::access(dir_.c_str(), F_OK) == 0;
}

// What containerd's cgroups v2 package reads: memory.{current,peak,max}, memory.swap.*,
// memory.stat and memory.events, pids, cpu.stat, io.stat and hugetlb.<size>.{current,max}.
absl::StatusOr<CgroupStats> CgroupV2::Stats() {
  if (!Exists())
    return NotFoundError("cgroup", path_);
  constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();
  CgroupStats s;
  s.memory_stat = ReadKeyValues(File("memory.stat"));
  s.memory_events = ReadKeyValues(File("memory.events"));
  s.memory = {.usage = ReadCgroupUint(File("memory.current")),
              .max = ReadCgroupUint(File("memory.peak")),
              .limit = ReadCgroupUint(File("memory.max"), kUnlimited),
              .failcnt = 0};
  for (const auto& [k, v] : s.memory_events) {
    if (k == "max")
      s.memory.failcnt = v;
  }
  if (::access(File("memory.swap.current").c_str(), F_OK) == 0) {
    s.swap = MemoryCounter{.usage = ReadCgroupUint(File("memory.swap.current")),
                           .limit = ReadCgroupUint(File("memory.swap.max"), kUnlimited)};
  }
  s.pids_current = ReadCgroupUint(File("pids.current"));
  s.pids_limit = ReadCgroupUint(File("pids.max"));
  for (const auto& [k, v] : ReadKeyValues(File("cpu.stat"))) {
    if (k == "usage_usec")
      s.cpu_usage_ns = v * 1000;
    else if (k == "user_usec")
      s.cpu_user_ns = v * 1000;
    else if (k == "system_usec")
      s.cpu_system_ns = v * 1000;
    else if (k == "nr_periods")
      s.cpu_periods = v;
    else if (k == "nr_throttled")
      s.cpu_throttled_periods = v;
    else if (k == "throttled_usec")
      s.cpu_throttled_ns = v * 1000;
  }
  if (absl::StatusOr<std::string> io = ReadCgroupFile(File("io.stat")); io.ok())
    ParseIoStat(*io, &s.io);
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    std::string name = e.path().filename();
    if (!name.starts_with("hugetlb.") || !name.ends_with(".current") ||
        name.ends_with(".rsvd.current"))
      continue;
    std::string size = name.substr(8, name.size() - 8 - 8);
    s.hugetlb.push_back(
        {.pagesize = size,
         .usage = ReadCgroupUint(e.path()),
         .max = ReadCgroupUint(File(fmt::format("hugetlb.{}.max", size)), kUnlimited)});
  }
  return s;
}

void ParseIoStat(absl::string_view text, std::vector<DeviceStat>* out) {
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> w = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (w.empty())
      continue;
    std::pair<absl::string_view, absl::string_view> dev = absl::StrSplit(w[0], ':');
    uint32_t major = 0;
    uint32_t minor = 0;
    if (!absl::SimpleAtoi(dev.first, &major) || !absl::SimpleAtoi(dev.second, &minor))
      continue;
    for (size_t i = 1; i < w.size(); ++i) {
      std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(w[i], '=');
      DeviceStat d;
      d.major = major;
      d.minor = minor;
      d.key = std::string(kv.first);
      if (absl::SimpleAtoi(kv.second, &d.value))
        out->push_back(std::move(d));
    }
  }
}

absl::StatusOr<UniqueFd> CgroupV2::OomEventFd() {
  UniqueFd fd(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!fd.valid())
    return ErrnoError(errno, "inotify_init1");
  std::string f = File("memory.events");
  if (::inotify_add_watch(fd.get(), f.c_str(), IN_MODIFY) < 0)
    return ErrnoError(errno, fmt::format("inotify_add_watch {}", f));
  return fd;
}

uint64_t CgroupV2::OomKillCount() {
  return ReadKeyed(File("memory.events"), "oom_kill");
}

std::vector<CgroupBind> CgroupV2::Binds() const {
  return {{dir_, ""}};
}

absl::Status CgroupV2::Destroy() {
  return RemoveCgroupDir(dir_);
}

}  // namespace berth::shim::linux
