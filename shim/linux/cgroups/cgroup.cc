#include "shim/linux/cgroups/cgroup.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/unique_fd.h"
#include "shim/linux/cgroups/v1.h"
#include "shim/linux/cgroups/v2.h"

namespace berth::shim::linux {

bool Cgroup::IsV2Host() {
  return ::access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
}

absl::StatusOr<std::unique_ptr<Cgroup>> Cgroup::Create(const std::string& path) {
  if (path.empty() || path[0] != '/')
    return InvalidArgument(fmt::format("linux.cgroupsPath: {:?} is not an absolute path", path));
  if (IsV2Host())
    return CgroupV2::Create(path);
  return CgroupV1::Create(path);
}

bool JoinCgroupTasks(const CgroupJoin& join) {
  for (const UniqueFd& fd : join.tasks_files) {
    if (::write(fd.get(), "0", 1) != 1)
      return false;
  }
  return true;
}

std::unique_ptr<Cgroup> Cgroup::Open(const std::string& path) {
  if (IsV2Host())
    return std::make_unique<CgroupV2>(path);
  return std::make_unique<CgroupV1>(path);
}

// Plain open/write/close: a container's create writes some twenty of these files.
absl::Status WriteCgroupFile(const std::string& file, const std::string& value) {
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid())
    return ErrnoError(errno, fmt::format("open {}", file));
  return WriteCgroupFd(fd.get(), file, value);
}

absl::Status WriteCgroupFd(int fd, const std::string& file, const std::string& value) {
  // A cgroup file takes one value per write(2); a short write is an error.
  ssize_t n = ::write(fd, value.data(), value.size());
  if (n != static_cast<ssize_t>(value.size()))
    return ErrnoError(n < 0 ? errno : EIO, fmt::format("write {:?} to {}", value, file));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadCgroupFile(const std::string& file) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid())
    return ErrnoError(errno, fmt::format("open {}", file));
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return ErrnoError(errno, fmt::format("read {}", file));
    if (n == 0)
      return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

uint64_t ReadCgroupUint(const std::string& file, uint64_t if_max) {
  std::ifstream in(file);
  std::string word;
  in >> word;
  if (word == "max")
    return if_max;
  return word.empty() ? 0 : std::strtoull(word.c_str(), nullptr, 10);
}

uint64_t ReadKeyed(const std::string& file, const std::string& key) {
  for (const auto& [k, v] : ReadKeyValues(file)) {
    if (k == key)
      return v;
  }
  return 0;
}

KeyValues ReadKeyValues(const std::string& file) {
  KeyValues out;
  absl::StatusOr<std::string> text = ReadCgroupFile(file);
  if (!text.ok())
    return out;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> kv = absl::StrSplit(line, ' ', absl::SkipEmpty());
    uint64_t v = 0;
    if (kv.size() == 2 && absl::SimpleAtoi(kv[1], &v))
      out.emplace_back(kv[0], v);
  }
  return out;
}

std::vector<uint64_t> ReadUints(const std::string& file) {
  std::vector<uint64_t> out;
  absl::StatusOr<std::string> text = ReadCgroupFile(file);
  if (!text.ok())
    return out;
  for (absl::string_view word : absl::StrSplit(*text, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    uint64_t v = 0;
    if (absl::SimpleAtoi(word, &v))
      out.push_back(v);
  }
  return out;
}

absl::StatusOr<std::vector<pid_t>> ReadProcs(const std::string& file) {
  absl::StatusOr<std::string> text = ReadCgroupFile(file);
  if (!text.ok())
    return text.status();
  std::vector<pid_t> pids;
  const char* p = text->c_str();
  char* end = nullptr;
  for (long v = std::strtol(p, &end, 10); end != p; v = std::strtol(p, &end, 10)) {
    pids.push_back(static_cast<pid_t>(v));
    p = end;
  }
  return pids;
}

absl::Status RemoveCgroupDir(const std::string& dir) {
  for (int i = 0; i < 50; ++i) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT)
      return absl::OkStatus();
    if (errno != EBUSY)
      return ErrnoError(errno, fmt::format("rmdir {}", dir));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ErrnoError(EBUSY, fmt::format("rmdir {}", dir));
}

}  // namespace berth::shim::linux
