#pragma once

// DaemonFixture runs a private berthd for one test: its own root, state and socket in a
// TempDir, started from the build's bin/ directory. It drives it with Debian's `ctr` (the
// real containerd client) and, later, bctr. TearDown kills only the pid it started (SIGKILL
// if SIGTERM did not stop it) and the TempDir unmounts and removes everything below it.

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "gtest/gtest.h"

#include "tests/testing/command.h"
#include "tests/testing/temp_dir.h"

namespace berth::testing {

class DaemonFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts berthd with the private dirs plus `extra` flags and waits until the socket answers.
  // Fails the test (and returns false) if it exits or does not answer within 10 s.
  bool StartDaemon(const std::vector<std::string>& extra = {});
  // Sends `sig` to our berthd and waits for it (up to 10 s). Returns its exit code (128+N on
  // a signal).
  int StopDaemon(int sig);

  // Commands that StartDaemon puts before berthd's; they must exec it, so that its pid is the one
  // started (e.g. `unshare --net --` for a network namespace of its own).
  void set_launcher(std::vector<std::string> launcher) { launcher_ = std::move(launcher); }

  bool DaemonRunning() const { return pid_ > 0; }

  pid_t daemon_pid() const { return pid_; }

  // `ctr --address SOCK <args>`; the namespace flag is up to the caller.
  CommandResult Ctr(const std::vector<std::string>& args);
  // Runs a garbage collection now (a lease created and removed with --sync) and fails the test
  // if it cannot. None is pending after it: the one that a pull or an import schedules when its
  // lease ends would otherwise take the lease-less snapshots a test makes right after (as
  // containerd's would).
  void CollectGarbage();
  // Runs berthd in the foreground with the given arguments (for start-up failures).
  CommandResult RunBerthd(const std::vector<std::string>& args,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // What berthd wrote to stderr so far (the log).
  std::string DaemonLog() const;

  // Cleans up what berthd could not stop in namespace `ns` (after a failed test): SIGKILLs the
  // shim whose pid each bundle records (when it still is a berth-shim), runs `berth-shim
  // delete` on each bundle (it kills the container and removes its cgroup), then removes the
  // namespace's cgroup directories.
  void CleanUpNamespace(const std::string& ns);

  std::string root() const { return (dir_ / "root").string(); }

  std::string state() const { return (dir_ / "state").string(); }

  std::string socket() const { return (dir_ / "berthd.sock").string(); }

  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_{"it"};
  std::vector<std::string> launcher_;
  pid_t pid_ = -1;
};

// Skips the test unless Debian's ctr is installed.
#define BERTH_REQUIRE_CTR()                                               \
  do {                                                                    \
    if (!::berth::testing::HaveProgram("ctr"))                            \
      GTEST_SKIP() << "ctr (Debian package containerd) is not installed"; \
  } while (false)

}  // namespace berth::testing
