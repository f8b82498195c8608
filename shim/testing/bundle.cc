#include "shim/testing/bundle.h"

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "fmt/format.h"

#include "lib/oci/default_spec.h"

namespace berth::shim::testing {

bool MakeBusyboxRootfs(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path root = dir / "rootfs";
  for (const char* d : {"bin", "proc", "sys", "dev", "tmp", "etc", "root"})
    fs::create_directories(root / d, ec);
  fs::copy_file("/bin/busybox", root / "bin/busybox", fs::copy_options::overwrite_existing, ec);
  if (ec) {
    std::cerr << "copy /bin/busybox: " << ec.message() << "\n";
    return false;
  }
  for (const char* applet :
       {"sh",       "cat",   "echo", "sleep", "id",  "hostname", "mkdir", "ls", "head", "tr",
        "true",     "false", "grep", "stat",  "env", "pwd",      "touch", "wc", "dd",   "kill",
        "readlink", "ps",    "stty", "seq",   "yes", "nproc",    "uname", "rm", "test", "["}) {
    fs::create_symlink("busybox", root / "bin" / applet, ec);
  }
  std::ofstream(root / "etc/passwd") << "root:x:0:0:root:/root:/bin/sh\n";
  std::ofstream(root / "etc/group") << "root:x:0:\n";
  return true;
}

oci::Spec BusyboxSpec(const std::string& id, const std::string& script) {
  oci::Spec s = oci::DefaultSpec("berth-test", id);
  s.process->args = {"sh", "-c", script};
  s.process->env.push_back("HOME=/root");
  s.linux.seccomp.reset();
  s.linux.cgroups_path = fmt::format("/berth-test/{}-{}", id, ::getpid());
  return s;
}

bool CgroupExists(const std::string& cgroups_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  // unified and systemd: runc also makes the cgroup there on a v1 hybrid host.
  for (const char* c : {"memory", "pids", "cpu", "freezer", "devices", "unified", "systemd", ""}) {
    fs::path p = fs::path("/sys/fs/cgroup") / c;
    if (fs::exists(p.string() + cgroups_path, ec))
      return true;
  }
  return false;
}

void RemoveTestCgroupParents() {
  for (const char* c : {"memory", "cpu", "cpuacct", "cpuset", "pids", "blkio", "devices", "freezer",
                        "unified", "systemd", ""}) {
    std::string dir = fmt::format("/sys/fs/cgroup/{}/berth-test", c);
    ::rmdir(dir.c_str());
  }
}

bool MountedUnder(const std::filesystem::path& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str().find(path.string()) != std::string::npos;
}

}  // namespace berth::shim::testing
