#include "services/runtime/cgroup_warm.h"

#include <atomic>
#include <fstream>
#include <string>
#include <thread>

namespace berth::runtime {
namespace {

// cgroup.procs of this process's own cgroup: on v2 the unified one ("0::/path"), on v1 the
// memory hierarchy's ("N:memory:/path"; any hierarchy would do: the lock is global). Empty
// when /proc/self/cgroup has neither.
std::string OwnProcsFile() {
  bool v2 = std::ifstream("/sys/fs/cgroup/cgroup.controllers").good();
  std::ifstream in("/proc/self/cgroup");
  for (std::string line; std::getline(in, line);) {
    size_t a = line.find(':');
    size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos)
      continue;
    std::string controllers = line.substr(a + 1, b - a - 1);
    if (v2 ? controllers.empty() : controllers == "memory")
      return std::string(v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory") + line.substr(b + 1) +
             "/cgroup.procs";
  }
  return "";
}

std::atomic<bool> g_running = false;

}  // namespace

void WarmCgroupMigration() {
  if (g_running.exchange(true))
    return;
  std::thread([] {
    static const std::string* procs = new std::string(OwnProcsFile());  // never freed
    if (!procs->empty())
      std::ofstream(*procs) << "0";  // "0": the writing process, which is already there
    g_running = false;
  }).detach();
}

}  // namespace berth::runtime
