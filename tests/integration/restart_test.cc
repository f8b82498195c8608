// berthd's restart monitor and the shim's log files, through Debian's ctr (containerd's own
// client): containers labelled with containerd's restart labels are restarted by the policy,
// and their output goes to the file named by --log-uri, written by the shim.

#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/integration/detached_fixture.h"
#include "tests/testing/matchers.h"

namespace berth {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

constexpr char kStatus[] = "containerd.io/restart.status";
constexpr char kPolicy[] = "containerd.io/restart.policy";
constexpr char kCount[] = "containerd.io/restart.count";

class RestartTest : public testing::DetachedFixture {
 protected:
  std::string LogPath(const std::string& name) { return (dir().path() / "logs" / name).string(); }

  // Lines of the log file that contain `text`.
  int CountLines(const std::string& path, const std::string& text) {
    int n = 0;
    for (const std::string& line : testing::Lines(testing::ReadFile(path)))
      n += line.find(text) != std::string::npos;
    return n;
  }
};

TEST_F(RestartTest, RawLogUriIsWrittenByTheShim) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  ASSERT_TRUE(ImportBusybox());
  // The directory does not exist yet: the shim makes it.
  std::string log = LogPath("raw/dir/out.log");
  testing::CommandResult r = C({"run", "-d", "--log-uri", "file://" + log, kImage, "raw", "sh",
                                "-c", "echo to-stdout; echo to-stderr >&2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitStatus("raw", "STOPPED"));
  EXPECT_EQ(testing::ReadFile(log), "to-stdout\nto-stderr\n");

  // ?format=cri: one record per line, both streams in one file.
  std::string cri = LogPath("cri.log");
  r = C({"run", "-d", "--log-uri", "file://" + cri + "?format=cri", kImage, "cri", "sh", "-c",
         "echo one; echo two >&2; printf 'no newline'"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitStatus("cri", "STOPPED"));
  // Each stream in order; the two pipes are read by two threads, so across streams the order
  // is the order in which the shim read them.
  std::vector<std::string> out, err;
  for (const std::string& line : testing::Lines(testing::ReadFile(cri)))
    (line.find(" stdout ") != std::string::npos ? out : err).push_back(line);
  const std::string ts = "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9}Z";
  ASSERT_EQ(out.size(), 2u) << testing::ReadFile(cri);
  ASSERT_EQ(err.size(), 1u) << testing::ReadFile(cri);
  EXPECT_THAT(out[0], MatchesRegex(ts + " stdout F one"));
  EXPECT_THAT(out[1], MatchesRegex(ts + " stdout P no newline"));
  EXPECT_THAT(err[0], MatchesRegex(ts + " stderr F two"));

  // A scheme the shim does not know (it writes file://, starts binary:// programs): a clear
  // error at Create.
  r = C({"run", "-d", "--log-uri", "syslog:///dev/log", kImage, "bin", "true"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("unsupported scheme \"syslog\""));
  EXPECT_EQ(Tasks().count("bin"), 0u);
}

TEST_F(RestartTest, OnFailureRestartsExactlyNTimes) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  ASSERT_TRUE(ImportBusybox());
  std::string log = LogPath("x.log");
  testing::CommandResult r =
      C({"run", "-d", "--label", std::string(kStatus) + "=running", "--label",
         std::string(kPolicy) + "=on-failure:2", "--log-uri", "file://" + log + "?format=cri",
         kImage, "fail", "sh", "-c", "echo run; exit 3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Eventually([&] { return CountLines(log, " stdout F run") == 3; }))
      << testing::ReadFile(log);
  EXPECT_TRUE(Eventually([&] { return Label("fail", kCount) == "2"; }));
  EXPECT_TRUE(WaitStatus("fail", "STOPPED"));
  // And no more: the backoff is 100 ms then 200 ms, so a third restart would be long done.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(CountLines(log, " stdout F run"), 3) << testing::ReadFile(log);
  EXPECT_EQ(Label("fail", kCount), "2");
  EXPECT_EQ(Tasks()["fail"].second, "STOPPED");
  EXPECT_THAT(DaemonLog(), HasSubstr("restarting task namespace=" + ns_ + " id=fail"));
}

TEST_F(RestartTest, OnFailureLeavesACleanExitAlone) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  ASSERT_TRUE(ImportBusybox());
  std::string log = LogPath("ok.log");
  testing::CommandResult r = C({"run", "-d", "--label", std::string(kStatus) + "=running",
                                "--label", std::string(kPolicy) + "=on-failure", "--log-uri",
                                "file://" + log, kImage, "ok", "sh", "-c", "echo run; exit 0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitStatus("ok", "STOPPED"));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(testing::ReadFile(log), "run\n");
  EXPECT_EQ(Label("ok", kCount), "");
  EXPECT_EQ(Tasks()["ok"].second, "STOPPED");
}

TEST_F(RestartTest, AlwaysBringsAKilledTaskBack) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  ASSERT_TRUE(ImportBusybox());
  std::string log = LogPath("always.log");
  testing::CommandResult r =
      C({"run", "-d", "--label", std::string(kStatus) + "=running", "--label",
         std::string(kPolicy) + "=always", "--log-uri", "file://" + log + "?format=cri", kImage,
         "web", "sh", "-c", "echo up; exec sleep 1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitStatus("web", "RUNNING"));
  int pid = Tasks()["web"].first;
  ASSERT_GT(pid, 0);
  ASSERT_EQ(C({"tasks", "kill", "-s", "SIGKILL", "web"}).exit_code, 0);
  EXPECT_TRUE(Eventually([&] {
    auto t = Tasks();
    return t["web"].second == "RUNNING" && t["web"].first != pid;
  })) << DaemonLog();
  EXPECT_EQ(Label("web", kCount), "1");
  EXPECT_TRUE(Eventually([&] { return CountLines(log, " stdout F up") == 2; }))
      << testing::ReadFile(log);

  // Marked stopped (what bctr stop does), a kill is final.
  ASSERT_EQ(C({"containers", "label", "web", std::string(kStatus) + "=stopped"}).exit_code, 0);
  ASSERT_EQ(C({"tasks", "kill", "-s", "SIGKILL", "web"}).exit_code, 0);
  ASSERT_TRUE(WaitStatus("web", "STOPPED"));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(Tasks()["web"].second, "STOPPED");
  EXPECT_EQ(Label("web", kCount), "1");
}

TEST_F(RestartTest, StoppedStatusIsNeverRestarted) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  ASSERT_TRUE(ImportBusybox());
  testing::CommandResult r =
      C({"run", "-d", "--label", std::string(kStatus) + "=stopped", "--label",
         std::string(kPolicy) + "=always", kImage, "idle", "sh", "-c", "exit 1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitStatus("idle", "STOPPED"));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(Tasks()["idle"].second, "STOPPED");
  EXPECT_EQ(Label("idle", kCount), "");
}

// `always` also holds across a restart of berthd: a task that exited while berthd was down is
// restarted by the reconcile at start-up.
TEST_F(RestartTest, AlwaysHoldsAcrossADaemonRestart) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  ASSERT_TRUE(ImportBusybox());
  testing::CommandResult r =
      C({"run", "-d", "--label", std::string(kStatus) + "=running", "--label",
         std::string(kPolicy) + "=always", kImage, "svc", "sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitStatus("svc", "RUNNING"));
  int pid = Tasks()["svc"].first;
  StopDaemon(SIGTERM);
  ::kill(pid, SIGKILL);  // the container's init, a process this test made through berthd
  ASSERT_TRUE(StartDaemon());
  EXPECT_TRUE(Eventually([&] {
    auto t = Tasks();
    return t["svc"].second == "RUNNING" && t["svc"].first != pid;
  })) << DaemonLog();
}

}  // namespace
}  // namespace berth

namespace berth {
namespace {

// The shim owns the log file: output written while berthd is down is kept, and the container
// never waits for berthd.
TEST_F(RestartTest, LogKeepsGrowingWhileBerthdIsDown) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  ASSERT_TRUE(ImportBusybox());
  std::string log = LogPath("ticks.log");
  testing::CommandResult r =
      C({"run", "-d", "--log-uri", "file://" + log + "?format=cri", kImage, "ticks", "sh", "-c",
         "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.05; done"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(Eventually([&] { return CountLines(log, " stdout F tick") > 0; }));
  StopDaemon(SIGKILL);
  int before = CountLines(log, " stdout F tick");
  std::this_thread::sleep_for(std::chrono::seconds(1));
  int during = CountLines(log, " stdout F tick");
  EXPECT_GT(during, before + 5) << "the log did not grow while berthd was down";
  ASSERT_TRUE(StartDaemon());
  EXPECT_EQ(Tasks()["ticks"].second, "RUNNING");
  EXPECT_TRUE(Eventually([&] { return CountLines(log, " stdout F tick") > during; }));
  // Every tick is there, in order, none lost.
  int want = 1;
  for (const std::string& line : testing::Lines(testing::ReadFile(log))) {
    ASSERT_THAT(line, HasSubstr(" stdout F tick " + std::to_string(want))) << line;
    ++want;
  }
}

}  // namespace
}  // namespace berth
