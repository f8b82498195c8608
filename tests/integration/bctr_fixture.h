#pragma once

// BctrFixture: a private berthd (DaemonFixture), the busybox test image
// (tests/fixtures/make-images.sh, built once per test binary) imported with Debian's ctr into a
// namespace of the test's own, and bctr pointed at both (--address, -n, --log-root in the
// test's TempDir, and a bctr.toml of its own through BERTH_CLIENT_CONFIG whose [network]
// conf_dir and state_dir and [volumes] root are in the TempDir too). TearDown kills and deletes
// whatever tasks are left, kills leftover shims of the namespace and removes its cgroups.

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

#include "tests/testing/daemon_fixture.h"
#include "tests/testing/matchers.h"

namespace berth {

class BctrFixture : public testing::DaemonFixture {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0 || !images_.empty())
      return;
    char tmpl[] = "/tmp/berth-bctr-images.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr)
      return;
    testing::CommandResult r = testing::MakeTestImages(tmpl);
    if (r.exit_code == 0)
      images_ = tmpl;
    else
      std::fprintf(stderr, "make-images.sh failed: %s\n", r.err.c_str());
  }

  static void TearDownTestSuite() {
    if (!images_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(images_, ec);
      images_.clear();
    }
  }

  void SetUp() override {
    DaemonFixture::SetUp();
    BERTH_REQUIRE_ROOT();
    BERTH_REQUIRE_CTR();
    ASSERT_EQ(::access(testing::BinPath("bctr").c_str(), X_OK), 0) << "bctr not built";
    ASSERT_FALSE(images_.empty()) << "the test images could not be built";
    static int counter = 0;
    ++counter;
    ns_ = "b" + std::to_string(counter);
    WriteConfig();
    ::setenv("BERTH_CLIENT_CONFIG", config().c_str(), 1);
    ASSERT_TRUE(StartDaemon());
    testing::CommandResult r = C({"images", "import", images_ + "/busybox.docker.tar"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    started_ = true;
  }

  void TearDown() override {
    if (started_ && DaemonRunning())
      RemoveAllTasks();
    CleanUpNamespace(ns_);
    DaemonFixture::TearDown();
    ::unsetenv("BERTH_CLIENT_CONFIG");
  }

  std::filesystem::path config() const { return dir().path() / "bctr.toml"; }

  std::filesystem::path conf_dir() const { return dir().path() / "cni-conf"; }

  std::filesystem::path state_dir() const { return dir().path() / "cni-state"; }

  std::filesystem::path volume_root() const { return dir().path() / "volumes"; }

  // bctr.toml with the private [network] dirs, plus `extra` lines in that table, and the
  // private [volumes] root.
  void WriteConfig(const std::string& extra = "") {
    std::ofstream(config()) << "[network]\nconf_dir = \"" << conf_dir().string()
                            << "\"\nstate_dir = \"" << state_dir().string() << "\"\n"
                            << extra << "\n[volumes]\nroot = \"" << volume_root().string()
                            << "\"\n";
  }

  // bctr against our berthd and namespace; stdin from /dev/null.
  testing::CommandResult Bctr(const std::vector<std::string>& args,
                              std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    std::vector<std::string> argv = {
        testing::BinPath("bctr"), "--address", socket(), "-n", ns_, "--log-root", log_root()};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunCommand(argv, timeout);
  }

  // The same through sh -c, with `input` on its stdin.
  testing::CommandResult BctrWithInput(const std::vector<std::string>& args,
                                       const std::string& input) {
    std::string cmd = "printf '%s' '" + input + "' | " + BctrCommandLine(args);
    return testing::RunCommand({"sh", "-c", cmd});
  }

  std::string BctrCommandLine(const std::vector<std::string>& args) const {
    std::string cmd = testing::BinPath("bctr") + " --address " + socket() + " -n " + ns_ +
                      " --log-root " + log_root();
    for (const std::string& a : args) cmd += " '" + a + "'";
    return cmd;
  }

  // Debian's ctr in our namespace.
  testing::CommandResult C(std::vector<std::string> args) {
    std::vector<std::string> argv = {"ctr", "--address", socket(), "-n", ns_};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunCommand(argv);
  }

  std::string log_root() const { return (dir().path() / "logs").string(); }

  // The test images (make-images.sh's OUTDIR): oci/<name>, <name>.docker.tar, ...
  static const std::string& images_dir() { return images_; }

  const std::string& ns() const { return ns_; }

  // Host path of a task's cgroup v1 controller directory (or the v2 directory).
  std::string CgroupFile(const std::string& id, const std::string& controller,
                         const std::string& file) const {
    if (std::filesystem::exists("/sys/fs/cgroup/cgroup.controllers"))
      return "/sys/fs/cgroup/" + ns_ + "/" + id + "/" + file;
    return "/sys/fs/cgroup/" + controller + "/" + ns_ + "/" + id + "/" + file;
  }

  // Keys of the active snapshots (containers' filesystems) in our namespace.
  std::vector<std::string> ActiveSnapshots() {
    std::vector<std::string> out;
    std::vector<std::string> lines = testing::Lines(C({"snapshots", "ls"}).out);
    for (size_t i = 1; i < lines.size(); ++i) {
      if (lines[i].find("Active") != std::string::npos)
        out.push_back(lines[i].substr(0, lines[i].find(' ')));
    }
    return out;
  }

  // The files below `dir` (relative paths), for "nothing is left" checks.
  static std::vector<std::string> FilesBelow(const std::filesystem::path& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
         !ec && it != std::filesystem::end(it); it.increment(ec)) {
      if (!it->is_directory())
        out.push_back(std::filesystem::relative(it->path(), dir).string());
    }
    return out;
  }

  // The containers' own /etc/hosts and /etc/resolv.conf files (they live as long as their
  // containers), relative to state_dir().
  std::vector<std::string> OwnNetworkFiles() {
    std::vector<std::string> out;
    for (const char* d : {"hosts.d", "resolv.d"}) {
      for (const std::string& f : FilesBelow(state_dir() / d))
        out.push_back(std::string(d) + "/" + f);
    }
    return out;
  }

  // Keys of the containers' init layers (committed snapshots "<id>-init") in our namespace.
  std::vector<std::string> InitLayers() {
    std::vector<std::string> out;
    for (const std::string& line : testing::Lines(C({"snapshots", "ls"}).out)) {
      std::string key = line.substr(0, line.find(' '));
      if (key.ends_with("-init"))
        out.push_back(key);
    }
    return out;
  }

  std::vector<std::string> ContainerIds() {
    return testing::Lines(C({"containers", "ls", "-q"}).out);
  }

 private:
  void RemoveAllTasks() {
    for (const std::string& id : testing::Lines(C({"tasks", "ls", "-q"}).out)) {
      (void)C({"tasks", "resume", id});
      (void)C({"tasks", "kill", "--all", "-s", "SIGKILL", id});
    }
    for (const std::string& id : testing::Lines(C({"tasks", "ls", "-q"}).out)) {
      for (int i = 0; i < 100; ++i) {
        bool stopped = false;
        for (const std::string& line : testing::Lines(C({"tasks", "ls"}).out))
          stopped =
              stopped || (line.starts_with(id + " ") && line.find("STOPPED") != std::string::npos);
        if (stopped)
          break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      (void)C({"tasks", "delete", id});
    }
    for (const std::string& id : ContainerIds()) (void)C({"containers", "rm", id});
  }

  static inline std::string images_;
  std::string ns_;
  bool started_ = false;
};

}  // namespace berth
