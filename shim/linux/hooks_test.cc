// Hooks in the runtime's namespaces and exit claims, without root: real processes, real
// pipes. The container-namespace hooks (createContainer, startContainer) are root tests in
// container_test.cc.

#include "shim/linux/hooks.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "shim/linux/exit_claims.h"
#include "shim/linux/syscalls.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::shim::linux {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::ReadFile;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

oci::Hook Sh(const std::string& script, std::optional<int> timeout = std::nullopt) {
  return oci::Hook{.path = "/bin/sh",
                   .args = {"sh", "-c", script},
                   .env = {"PATH=/usr/bin:/bin", "HOOKVAR=set"},
                   .timeout = timeout};
}

HookState TestState() {
  return HookState{
      .id = "c1", .status = "creating", .pid = 4242, .bundle = "/b", .annotations = {{"a", "b"}}};
}

bool Gone(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  return stat.empty() || stat.find(") Z ") != std::string::npos;
}

// The kernel fact behind exit claims: a child cloned with exit signal 0 is invisible to
// waitpid(-1) without __WALL only until it execs; afterwards waitpid(-1) reaps it.
TEST(ExitClaimsTest, ExecdExitSignalZeroChildIsSeenByWaitpid) {
  int pidfd = -1;
  pid_t pid = Clone3(CLONE_PIDFD, 0, &pidfd);
  ASSERT_GE(pid, 0);
  if (pid == 0)
    ::_exit(3);
  struct pollfd pfd = {pidfd, POLLIN, 0};
  ASSERT_EQ(::poll(&pfd, 1, 10000), 1);
  int status = 0;
  EXPECT_EQ(::waitpid(-1, &status, WNOHANG), -1) << "not exec'd: only __WALL sees it";
  EXPECT_EQ(::waitpid(pid, &status, __WALL), pid);
  ::close(pidfd);

  pid = Clone3(CLONE_PIDFD, 0, &pidfd);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    char* argv[] = {const_cast<char*>("true"), nullptr};
    ::execve("/bin/true", argv, nullptr);
    ::_exit(127);
  }
  pfd.fd = pidfd;
  ASSERT_EQ(::poll(&pfd, 1, 10000), 1);
  pid_t got = ::waitpid(-1, &status, WNOHANG);
  if (got != pid)
    (void)::waitpid(pid, &status, __WALL);
  ::close(pidfd);
  // If this starts failing, the kernel went back to the documented behaviour: claims are then
  // unnecessary but harmless.
  EXPECT_EQ(got, pid) << "after execve, waitpid(-1) without __WALL reaps the child";
}

TEST(HooksTest, StateJsonIsTheRuntimeSpecState) {
  nlohmann::json j = nlohmann::json::parse(StateJson(TestState()));
  EXPECT_EQ(j["ociVersion"], "1.1.0");
  EXPECT_EQ(j["id"], "c1");
  EXPECT_EQ(j["status"], "creating");
  EXPECT_EQ(j["pid"], 4242);
  EXPECT_EQ(j["bundle"], "/b");
  EXPECT_EQ(j["annotations"]["a"], "b");
}

TEST(HooksTest, ValidateRejectsRelativePathsAndBadTimeouts) {
  oci::Hooks h;
  EXPECT_THAT(ValidateHooks(h), IsOk());
  h.poststop.push_back({.path = "bin/x", .args = {}, .env = {}, .timeout = {}});
  EXPECT_THAT(ValidateHooks(h), StatusIs(absl::StatusCode::kInvalidArgument,
                                         "hooks.poststop[0]: path \"bin/x\" is not absolute"));
  h.poststop[0].path = "/bin/x";
  h.poststop[0].timeout = 0;
  EXPECT_THAT(ValidateHooks(h), StatusIs(absl::StatusCode::kInvalidArgument,
                                         "hooks.poststop[0] /bin/x: timeout must be greater"));
}

TEST(HooksTest, HookGetsStateOnStdinItsArgsAndOnlyItsEnv) {
  berth::testing::TempDir dir("hooks");
  std::string out = (dir / "out").string();
  std::vector<oci::Hook> hooks = {
      Sh("cat > " + out + ".json; echo \"$0 $HOOKVAR ${HOME:-nohome}\" > " + out),
      Sh("echo second >> " + out)};
  ASSERT_THAT(RunHooks(hooks, TestState(), "prestart"), IsOk());
  nlohmann::json j = nlohmann::json::parse(ReadFile(out + ".json"));
  EXPECT_EQ(j["id"], "c1");
  EXPECT_EQ(j["pid"], 4242);
  EXPECT_EQ(ReadFile(out), "sh set nohome\nsecond\n");
}

TEST(HooksTest, FailuresNameTheHookAndStopTheList) {
  berth::testing::TempDir dir("hooks");
  std::string marker = (dir / "ran").string();
  std::vector<oci::Hook> hooks = {Sh("true"), Sh("echo bad things >&2; exit 3"),
                                  Sh("touch " + marker)};
  absl::Status s = RunHooks(hooks, TestState(), "createRuntime");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition,
                          "hooks.createRuntime[1] /bin/sh: exited with status 3: bad things"));
  EXPECT_FALSE(std::filesystem::exists(marker)) << "hooks after a failure do not run";
  hooks = {{.path = (dir / "missing").string(), .args = {}, .env = {}, .timeout = {}}};
  EXPECT_THAT(
      RunHooks(hooks, TestState(), "poststop"),
      StatusIs(absl::StatusCode::kNotFound, "hooks.poststop[0] " + (dir / "missing").string() +
                                                ": exec: No such file or directory"));
}

TEST(HooksTest, AHangingHookIsKilledWithItsChildrenAtItsTimeout) {
  berth::testing::TempDir dir("hooks");
  std::string pidfile = (dir / "bg").string();
  std::vector<oci::Hook> hooks = {Sh("sleep 100 & echo $! > " + pidfile + "; sleep 100", 1)};
  auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(RunHooks(hooks, TestState(), "prestart"),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       "hooks.prestart[0] /bin/sh: timed out after 1s; killed"));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(900));
  EXPECT_LT(took, std::chrono::seconds(5));
  pid_t bg = std::stoi(ReadFile(pidfile));
  for (int i = 0; i < 200 && !Gone(bg); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(Gone(bg)) << "the hook's background child dies with it";
}

// The shim's situation: a reaper thread reaps every child with waitpid(-1). With claims, it
// hands the hooks' exits over and each hook's status still arrives.
TEST(HooksTest, HookExitsSurviveAReaperThreadWithClaims) {
  EnableExitClaims();
  std::atomic<bool> stop = false;
  std::atomic<int> unclaimed = 0, claimed = 0;
  std::thread reaper([&] {
    while (!stop) {
      int status = 0;
      pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid > 0) {
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        ++(ClaimExit(pid, code) ? claimed : unclaimed);
        continue;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  for (int i = 0; i < 30; ++i) {
    ASSERT_THAT(RunHooks({Sh("exit 0")}, TestState(), "poststart"), IsOk()) << "round " << i;
    ASSERT_THAT(RunHooks({Sh("exit 4")}, TestState(), "poststart"),
                StatusIs(absl::StatusCode::kFailedPrecondition, "exited with status 4"))
        << "round " << i;
  }
  stop = true;
  reaper.join();
  EXPECT_EQ(unclaimed, 0);
  // Without claims, each of these would have been "wait for pid N: No child processes".
  EXPECT_GT(claimed, 0) << "the reaper took hook exits, as the shim's does";
}

}  // namespace
}  // namespace berth::shim::linux
