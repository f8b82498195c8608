#include "services/runtime/bundle.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "fmt/format.h"
#include "spdlog/spdlog.h"

#include "lib/base/status.h"
#include "lib/mount/mount.h"

namespace berth::runtime {
namespace fs = std::filesystem;

namespace {

// Undoes the octal escapes of mountinfo (\040 for a space …).
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8)));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

absl::Status WriteFile(const fs::path& path, const std::string& content) {
  std::ofstream f(path, std::ios::trunc);
  f << content;
  f.close();
  if (!f)
    return Internal(fmt::format("write {}: failed", path.string()));
  return absl::OkStatus();
}

}  // namespace

bool IsMountPoint(const fs::path& path) {
  std::ifstream f("/proc/self/mountinfo");
  std::string line;
  const std::string want = path.lexically_normal().string();
  while (std::getline(f, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    if (Unescape(mount_point) == want)
      return true;
  }
  return false;
}

absl::Status Bundle::Create(const std::string& spec_json) const {
  std::error_code ec;
  fs::create_directories(path_.parent_path(), ec);
  if (ec)
    return ErrnoError(ec.value(), fmt::format("create {}", path_.parent_path().string()));
  if (::mkdir(path_.c_str(), 0711) != 0) {
    if (errno == EEXIST)
      return AlreadyExistsError("task", id_);
    return ErrnoError(errno, fmt::format("create bundle {}", path_.string()));
  }
  if (::mkdir(rootfs().c_str(), 0711) != 0)
    return ErrnoError(errno, fmt::format("create {}", rootfs().string()));
  return WriteFile(path_ / "config.json", spec_json);
}

pid_t Bundle::LiveShimPid() const {
  pid_t pid = 0;
  std::ifstream(path_ / "shim.pid") >> pid;
  if (pid <= 0)
    return 0;
  std::string proc = "/proc/" + std::to_string(pid);
  std::ifstream cmdline_file(proc + "/cmdline");
  std::string cmdline((std::istreambuf_iterator<char>(cmdline_file)),
                      std::istreambuf_iterator<char>());
  if (cmdline.find("berth-shim") == std::string::npos)
    return 0;
  // Its command line names the bundle, or (a spare that took this task) it runs in it.
  std::error_code ec;
  if (cmdline.find(std::string(1, '\0') + path_.string() + '\0') == std::string::npos &&
      !fs::equivalent(proc + "/cwd", path_, ec))
    return 0;
  std::ifstream stat_file(proc + "/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] == 'Z')
    return 0;  // exited, waiting to be reaped
  return pid;
}

void Bundle::MarkDeleted() const {
  std::ofstream(path_ / "deleted").flush();
}

bool Bundle::Deleted() const {
  std::error_code ec;
  return fs::exists(path_ / "deleted", ec);
}

absl::Status Bundle::MarkPrepared() const {
  return WriteFile(path_ / "prepared", "");
}

void Bundle::ClearPrepared() const {
  ::unlink((path_ / "prepared").c_str());
}

bool Bundle::Prepared() const {
  return ::access((path_ / "prepared").c_str(), F_OK) == 0;
}

bool Bundle::RootfsMounted() const {
  return IsMountPoint(rootfs());
}

absl::Status Bundle::Remove() const {
  std::error_code ec;
  if (!fs::exists(path_, ec))
    return absl::OkStatus();
  if (absl::Status s = mount::UnmountAll(rootfs()); !s.ok())
    return Annotate(s, fmt::format("task {:?}", id_));
  if (RootfsMounted())
    return FailedPrecondition(
        fmt::format("task {:?}: {} is still mounted", id_, rootfs().string()));
  fs::remove_all(path_, ec);
  if (ec)
    return ErrnoError(ec.value(), fmt::format("remove bundle {}", path_.string()));
  return absl::OkStatus();
}

Bundle::EventMark Bundle::EventsSeen() const {
  EventMark mark;
  std::ifstream(path_ / "events.seen") >> mark.count >> mark.last;
  return mark;
}

UniqueFd Bundle::OpenEventsSeen() const {
  return UniqueFd(::open((path_ / "events.seen").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
}

void Bundle::SetEventsSeen(int fd, const EventMark& mark) {
  // Fixed width (leading zeros read back as decimal), so each mark covers the last one whole.
  const std::string line = fmt::format("{:020} {:020}\n", mark.count, mark.last);
  if (fd >= 0 && ::pwrite(fd, line.data(), line.size(), 0) != static_cast<ssize_t>(line.size()))
    spdlog::debug("write events.seen: {}", std::strerror(errno));
}

}  // namespace berth::runtime
