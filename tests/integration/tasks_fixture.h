#pragma once

// The tasks tests' fixture (tasks_test.cc: ctr run and the task verbs; tasks_restore_test.cc:
// tasks across berthd restarts, dead shims and spare shims): Debian's ctr runs containers
// through a private berthd and berth-shim, on a busybox root directory (ctr run --rootfs DIR:
// no image, no rootfs mounts). Each test has its own namespace (so its cgroups are
// /<ns>/<id>), fifo dir and state dir, and kills and deletes whatever it started even when it
// fails. Also process helpers.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/integration/detached_fixture.h"
#include "tests/testing/daemon_fixture.h"
#include "tests/testing/event_watcher.h"

namespace berth::testing {

namespace fs = std::filesystem;

// True while `pid` runs: a zombie (exited, waiting for its reaper, which for a daemonized
// shim is this machine's pid 1) counts as gone.
inline bool ProcessAlive(int pid) {
  if (pid <= 0)
    return false;
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z' &&
         stat[paren + 2] != 'X';
}

inline int ParentPid(int pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos)
    return 0;
  std::istringstream in(stat.substr(paren + 2));
  std::string state;
  int ppid = 0;
  in >> state >> ppid;
  return ppid;
}

inline bool IsCgroupV2() {
  return fs::exists("/sys/fs/cgroup/cgroup.controllers");
}

// DetachedFixture (namespace, ctr, removal of what a test leaves) with what the tasks tests
// look at: a busybox rootfs for `ctr run --rootfs`, the test's bundles and shims (spare ones
// too), and the check that nothing is left.
class TasksTest : public DetachedFixture {
 protected:
  void SetUp() override {
    DetachedFixture::SetUp();
    fs::create_directories(fifo_dir());
  }

  std::string fifo_dir() const { return (dir().path() / "fifo").string(); }

  std::string bundles() const { return state() + "/tasks/" + ns_; }

  // A busybox root directory: /bin/busybox and its applet links, /etc/passwd.
  std::string Rootfs() {
    fs::path root = dir().path() / "rootfs";
    if (fs::exists(root / "bin/sh"))
      return root.string();
    for (const char* d : {"bin", "sbin", "usr/bin", "usr/sbin", "etc", "tmp", "root", "proc", "sys",
                          "dev", "mnt", "var"}) {
      fs::create_directories(root / d);
    }
    fs::copy_file("/bin/busybox", root / "bin/busybox");
    CommandResult r = RunCommand({"chroot", root.string(), "/bin/busybox", "--install", "-s"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    WriteFile(root / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    return root.string();
  }

  // ctr run [flags] --rootfs ROOTFS id args...
  CommandResult Run(const std::vector<std::string>& flags, const std::string& id,
                    const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"run", "--fifo-dir", fifo_dir()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.insert(argv.end(), {"--rootfs", Rootfs(), id});
    argv.insert(argv.end(), args.begin(), args.end());
    return C(argv);
  }

  // Polls `ctr tasks ls` until `id` has `status` (up to 10 s).
  bool WaitStatus(const std::string& id, const std::string& status) {
    return DetachedFixture::WaitStatus(id, status, std::chrono::seconds(10));
  }

  // The cgroup directory of a task (memory controller on v1).
  std::string CgroupDir(const std::string& id, const std::string& controller = "memory") const {
    if (IsCgroupV2())
      return "/sys/fs/cgroup/" + ns_ + "/" + id;
    return "/sys/fs/cgroup/" + controller + "/" + ns_ + "/" + id;
  }

  // The pid in <bundle>/shim.pid.
  int ShimPid(const std::string& id) {
    int pid = 0;
    std::ifstream(bundles() + "/" + id + "/shim.pid") >> pid;
    return pid;
  }

  // Pids of the live berth-shim processes whose command line contains `want`, or (with
  // `cwd_under`) whose cwd is below that directory.
  static std::vector<int> FindShims(const std::string& want, const std::string& cwd_under = "") {
    std::vector<int> out;
    for (const fs::directory_entry& e : fs::directory_iterator("/proc")) {
      std::string name = e.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos)
        continue;
      std::string cmdline = ReadFile(e.path() / "cmdline");
      if (cmdline.find("berth-shim") == std::string::npos || !ProcessAlive(std::stoi(name)))
        continue;
      std::error_code ec;
      std::string cwd = fs::read_symlink(e.path() / "cwd", ec).string();
      if (cmdline.find(want) != std::string::npos ||
          (!cwd_under.empty() && cwd.starts_with(cwd_under + "/")))
        out.push_back(std::stoi(name));
    }
    return out;
  }

  // Pids of the berth-shim processes serving this test's namespace: by their command line, or
  // (a spare shim that took a task and could not rename itself) by their cwd, the bundle.
  std::vector<int> ShimsOfNamespace() {
    return FindShims(std::string("--namespace") + '\0' + ns_ + '\0', bundles());
  }

  // Pids of our berthd's spare shims, not yet given a task: the daemons, not the `start`
  // process berthd ran (its child) or the one between them (their child). A process that is
  // gone by the time its parent is read (the `start` process exits once its spare is ready)
  // is none. With `starting`, the `start` processes still running (spares not ready yet).
  std::vector<int> SpareShims(std::vector<int>* starting = nullptr) {
    std::vector<int> out;
    for (int pid :
         FindShims(std::string("--spare") + '\0' + "--address" + '\0' + socket() + '\0')) {
      int parent = ParentPid(pid);
      if (parent == daemon_pid() && starting != nullptr)
        starting->push_back(pid);
      if (parent > 0 && parent != daemon_pid() &&
          ReadFile("/proc/" + std::to_string(parent) + "/cmdline").find("berth-shim") ==
              std::string::npos &&
          ProcessAlive(pid))
        out.push_back(pid);
    }
    return out;
  }

  // Polls until our berthd has a ready spare shim other than `other` (up to 10 s; ready: no
  // spare's `start` is still running): its pid, or 0.
  int WaitForSpare(int other = 0) {
    for (int i = 0; i < 200; ++i) {
      std::vector<int> starting;
      for (int pid : SpareShims(&starting)) {
        if (pid != other && starting.empty())
          return pid;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return 0;
  }

  // Polls until berthd has prepared the task of container `id` ahead of its create (its
  // bundle marked prepared, a shim serving there; up to 5 s): the shim's pid, or 0.
  int WaitPrepared(const std::string& id) {
    const fs::path bundle = fs::path(bundles()) / id;
    for (int i = 0; i < 250; ++i) {
      int pid = 0;
      std::ifstream(bundle / "shim.pid") >> pid;
      if (fs::exists(bundle / "prepared") && pid > 0 && fs::exists(bundle / "shim.sock"))
        return pid;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return 0;
  }

  // Asserts that nothing of the namespace is left: no shim, no bundle, no mount under the
  // state dir, no cgroup.
  // berthd unmounts the rootfs of a deleted task, lets its shim exit and removes its bundle
  // just after it has answered the delete: allow it a moment for that.
  void ExpectNothingLeft(const std::vector<std::string>& ids) {
    std::error_code ec;
    for (int i = 0; i < 250; ++i) {
      if (ShimsOfNamespace().empty() &&
          (!fs::exists(bundles(), ec) || fs::is_empty(bundles(), ec)) &&
          ReadFile("/proc/self/mountinfo").find(state() + "/") == std::string::npos)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_THAT(ShimsOfNamespace(), ::testing::IsEmpty());
    EXPECT_TRUE(!fs::exists(bundles(), ec) || fs::is_empty(bundles(), ec))
        << "bundles left in " << bundles();
    EXPECT_THAT(ReadFile("/proc/self/mountinfo"),
                ::testing::Not(::testing::HasSubstr(state() + "/")));
    for (const std::string& id : ids) {
      EXPECT_FALSE(fs::exists("/sys/fs/cgroup/" + ns_ + "/" + id)) << id;
      for (const fs::directory_entry& e : fs::directory_iterator("/sys/fs/cgroup", ec)) {
        fs::path cg = e.path() / ns_ / id;
        EXPECT_FALSE(fs::exists(cg)) << cg << " is left";
      }
    }
  }
};

}  // namespace berth::testing
