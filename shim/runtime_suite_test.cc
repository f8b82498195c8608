// The shim suite over every runtime a task can have: the embedded one and the external OCI
// runtimes (Debian's runc and crun) named in the runc options' binary_name. The same API and
// the same behaviour, driven over the shim's socket; tests of one runtime alone are in
// shim_test.cc (embedded) and at the end of this file (external).

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <string>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "containerd/cgroups/v1/metrics.pb.h"
#include "shim/testing/shim_fixture.h"

namespace berth::shim {
namespace {

using ::berth::testing::ReadFile;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

// True when cgroup2's unified hierarchy of a v1 hybrid host has controllers enabled: crun
// 1.8.1 then refuses to run (it takes the host for a v2 one and cannot use those controllers).
bool UnifiedHierarchyHasControllers() {
  std::string c = ReadFile("/sys/fs/cgroup/unified/cgroup.controllers");
  return c.find_first_not_of(" \n") != std::string::npos;
}

// The parameter is the runtime: "" for the embedded one, else the external runtime's binary.
// An external runtime's state lives under <bundle>/runtime-state; TearDown's shutdown and
// `berth-shim delete` remove the container and its cgroup, and the state goes with the bundle.
class RuntimeTest : public ShimTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    ShimTest::SetUp();
    if (IsSkipped() || HasFatalFailure())
      return;
    runtime_binary_ = GetParam();
    if (runtime_binary_.empty())
      return;
    if (::access(runtime_binary_.c_str(), X_OK) != 0)
      GTEST_SKIP() << runtime_binary_ << " is not installed";
    if (std::filesystem::path(runtime_binary_).filename() == "crun" &&
        !std::filesystem::exists("/sys/fs/cgroup/cgroup.controllers") &&
        UnifiedHierarchyHasControllers())
      GTEST_SKIP() << "crun 1.8.1 refuses to run on this cgroup v1 hybrid host while "
                      "/sys/fs/cgroup/unified/cgroup.controllers is not empty";
  }

  bool External() const { return !runtime_binary_.empty(); }

  std::filesystem::path StateDir() { return dir_ / "runtime-state"; }

  absl::Status Exec(const std::string& exec_id, const oci::Process& p, const std::string& out) {
    v1::ExecProcessRequest req;
    req.set_id(id_);
    req.set_exec_id(exec_id);
    req.set_stdout(out);
    req.mutable_spec()->set_value(oci::ProcessToJson(p));
    google::protobuf::Empty e;
    return Rpc("Exec", req, &e);
  }

  absl::Status Call(const std::string& method, const google::protobuf::MessageLite& req) {
    google::protobuf::Empty e;
    return Rpc(method, req, &e);
  }

  // After the init's delete: no container state, cgroup or pid file is left.
  void ExpectCleanedUp() {
    EXPECT_FALSE(std::filesystem::exists(StateDir() / id_));
    EXPECT_FALSE(shim::testing::CgroupExists(cgroups_path_));
    EXPECT_FALSE(std::filesystem::exists(dir_ / "runtime-init.pid"));
  }
};

// Only the external runtimes.
class CliRuntimeTest : public RuntimeTest {};

TEST_P(RuntimeTest, OutputThroughFifosAndExitCode) {
  oci::Spec spec =
      shim::testing::BusyboxSpec(id_, "echo hello from $(hostname); echo oops >&2; exit 1");
  spec.hostname = "shimbox";
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  v1::CreateTaskRequest req;
  req.set_stdout(Fifo("stdout"));
  req.set_stderr(Fifo("stderr"));
  FifoReader out(req.stdout());
  FifoReader err(req.stderr());
  uint32_t pid = 0;
  absl::Status s = Create(req, &pid);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_GT(pid, 0u);
  if (External()) {
    EXPECT_TRUE(std::filesystem::exists(StateDir() / id_));
  }
  EXPECT_EQ(State().status(), containerd::v1::types::CREATED);
  s = Start();
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Wait(), 1);
  out.Join();
  err.Join();
  EXPECT_EQ(out.data(), "hello from shimbox\n");
  EXPECT_EQ(err.data(), "oops\n");
  EXPECT_EQ(State().status(), containerd::v1::types::STOPPED);
  EXPECT_EQ(State().exit_status(), 1u);
  EXPECT_EQ(ReadFile(dir_ / "init.pid"), std::to_string(pid));
  std::vector<std::string> topics = Topics();
  EXPECT_THAT(topics, Contains("/tasks/create"));
  EXPECT_THAT(topics, Contains("/tasks/start"));
  EXPECT_THAT(topics, Contains("/tasks/exit"));
  s = Delete();
  ASSERT_TRUE(s.ok()) << s.message();
  ExpectCleanedUp();
  EXPECT_TRUE(ShimExits()) << "the shim exits after the last delete";
}

TEST_P(RuntimeTest, ExecKillAndExitCodes) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "exec sleep 60");
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  ASSERT_TRUE(Create({}).ok());
  ASSERT_TRUE(Start().ok());
  oci::Process p = *spec.process;
  p.args = {"sh", "-c", "echo exec sees $(cat /proc/1/comm)"};
  std::string fifo = Fifo("exec-out");
  FifoReader out(fifo);
  absl::Status s = Exec("e1", p, fifo);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(State("e1").status(), containerd::v1::types::CREATED);
  EXPECT_FALSE(State().has_exited_at());  // running: no exit time, not one of 0 s
  s = Start("e1");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Wait("e1"), 0);
  out.Join();
  EXPECT_EQ(out.data(), "exec sees sleep\n");
  EXPECT_TRUE(Delete("e1").ok());
  p.args = {"sh", "-c", "exit 3"};
  ASSERT_TRUE(Exec("e2", p, "").ok());
  ASSERT_TRUE(Start("e2").ok());
  EXPECT_EQ(Wait("e2"), 3);
  EXPECT_TRUE(Delete("e2").ok());
  {
    v1::PidsRequest preq;
    v1::PidsResponse presp;
    ASSERT_TRUE(Rpc("Pids", preq, &presp).ok());
    ASSERT_EQ(presp.processes_size(), 1);
    EXPECT_EQ(presp.processes(0).pid(), State().pid());
  }
  EXPECT_EQ(Delete().code(), absl::StatusCode::kFailedPrecondition);  // still running
  ASSERT_TRUE(Kill(SIGKILL).ok());
  EXPECT_EQ(Wait(), 137);
  EXPECT_GT(State().exited_at().seconds(), 0);
  EXPECT_EQ(Kill(SIGKILL).code(), absl::StatusCode::kNotFound);
  std::vector<std::string> topics = Topics();
  EXPECT_THAT(topics, Contains("/tasks/exec-added"));
  EXPECT_THAT(topics, Contains("/tasks/exec-started"));
  ASSERT_TRUE(Delete().ok());
  ExpectCleanedUp();
}

// True while the shim holds a descriptor of `path` (a client's fifo).
bool ShimHolds(int shim_pid, const std::filesystem::path& path) {
  std::error_code ec;
  for (const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(shim_pid) + "/fd", ec)) {
    if (std::filesystem::read_symlink(e.path(), ec) == path)
      return true;
  }
  return false;
}

// A client waits for the end of an exec's output before it reports a failed start (ctr does):
// the shim must let go of the output fifos, end a pending Wait, and keep the task going.
TEST_P(RuntimeTest, AnExecThatCannotStartClosesItsOutputAndEndsItsWait) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "exec sleep 60");
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  ASSERT_TRUE(Create({}).ok());
  ASSERT_TRUE(Start().ok());
  oci::Process p = *spec.process;
  p.args = {"/bin/does-not-exist"};
  std::string fifo = Fifo("exec-out");
  FifoReader out(fifo);
  ASSERT_TRUE(Exec("e1", p, fifo).ok());
  int waited = -2;
  std::thread waiter([&] { waited = Wait("e1"); });
  absl::Status s = Start("e1");
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("does-not-exist"));
  if (ShimHolds(ShimPid(), fifo)) {
    ADD_FAILURE() << "the shim still holds the output fifo of an exec that did not start";
    (void)linux::SignalPid(ShimPid(), SIGKILL);  // lets the reader and the waiter go
    out.Join();
    waiter.join();
    return;
  }
  out.Join();
  waiter.join();
  EXPECT_EQ(waited, 127);  // the shell's code for a command that was not found
  EXPECT_EQ(State("e1").status(), containerd::v1::types::STOPPED);
  EXPECT_TRUE(Delete("e1").ok());
  EXPECT_THAT(Topics(), Not(Contains("/tasks/exec-started")));
  p.args = {"sh", "-c", "exit 3"};
  ASSERT_TRUE(Exec("e2", p, "").ok());
  ASSERT_TRUE(Start("e2").ok());
  EXPECT_EQ(Wait("e2"), 3);
  EXPECT_TRUE(Delete("e2").ok());
  ASSERT_TRUE(Kill(SIGKILL).ok());
  EXPECT_EQ(Wait(), 137);
  ASSERT_TRUE(Delete().ok());
  ExpectCleanedUp();
}

// An exec deleted before it ran ends the Wait pending on it.
TEST_P(RuntimeTest, DeletingAnExecThatNeverRanEndsItsWait) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "exec sleep 60");
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  ASSERT_TRUE(Create({}).ok());
  ASSERT_TRUE(Start().ok());
  oci::Process p = *spec.process;
  p.args = {"true"};
  ASSERT_TRUE(Exec("e1", p, "").ok());
  absl::Status waited;
  std::thread waiter([&] {
    v1::WaitRequest req;
    req.set_id(id_);
    req.set_exec_id("e1");
    v1::WaitResponse resp;
    waited = Rpc("Wait", req, &resp, absl::Seconds(30));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the Wait reaches the shim
  EXPECT_TRUE(Delete("e1").ok());
  waiter.join();
  // NotFound either way: "deleted before it exited", or no such process if the Wait came late.
  EXPECT_EQ(waited.code(), absl::StatusCode::kNotFound) << waited;
  ASSERT_TRUE(Kill(SIGKILL).ok());
  EXPECT_EQ(Wait(), 137);
  ASSERT_TRUE(Delete().ok());
}

TEST_P(RuntimeTest, PauseResumeStatsUpdateAndKillAll) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "exec sleep 60");
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  ASSERT_TRUE(Create({}).ok());
  ASSERT_TRUE(Start().ok());
  absl::Status s = Call("Pause", v1::PauseRequest());
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(State().status(), containerd::v1::types::PAUSED);
  std::string freezer = "/sys/fs/cgroup/freezer" + cgroups_path_ + "/freezer.state";
  if (std::filesystem::exists(freezer)) {
    EXPECT_EQ(ReadFile(freezer), "FROZEN\n");
  }
  EXPECT_EQ(Call("Pause", v1::PauseRequest()).code(), absl::StatusCode::kFailedPrecondition);
  // No exec into a frozen container (its process would freeze before it started, holding the
  // shim): refused, as containerd refuses it; one added before the pause starts after it.
  oci::Process p = *spec.process;
  p.args = {"true"};
  s = Exec("p1", p, "");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("is paused: cannot exec"));
  s = Call("Resume", v1::ResumeRequest());
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(State().status(), containerd::v1::types::RUNNING);
  ASSERT_TRUE(Exec("p2", p, "").ok());
  ASSERT_TRUE(Call("Pause", v1::PauseRequest()).ok());
  EXPECT_EQ(Start("p2").code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(Call("Resume", v1::ResumeRequest()).ok());
  ASSERT_TRUE(Start("p2").ok());
  EXPECT_EQ(Wait("p2"), 0);
  ASSERT_TRUE(Delete("p2").ok());
  v1::UpdateTaskRequest ureq;
  ureq.mutable_resources()->set_value(R"({"pids": {"limit": 9}})");
  s = Call("Update", ureq);
  ASSERT_TRUE(s.ok()) << s.message();
  v1::StatsResponse resp;
  ASSERT_TRUE(Rpc("Stats", v1::StatsRequest(), &resp).ok());
  io::containerd::cgroups::v1::Metrics m;
  ASSERT_TRUE(resp.stats().UnpackTo(&m));
  EXPECT_EQ(m.pids().current(), 1u);
  EXPECT_EQ(m.pids().limit(), 9u);
  EXPECT_GT(m.memory().usage().usage(), 0u);
  std::vector<std::string> topics = Topics();
  EXPECT_THAT(topics, Contains("/tasks/paused"));
  EXPECT_THAT(topics, Contains("/tasks/resumed"));
  ASSERT_TRUE(Call("Pause", v1::PauseRequest()).ok());
  ASSERT_TRUE(Kill(SIGKILL, "", true).ok());  // a paused container dies once thawed
  EXPECT_EQ(Wait(), 137);
  ASSERT_TRUE(Delete().ok());
  ExpectCleanedUp();
}

TEST_P(RuntimeTest, DeletingACreatedTaskKillsItsInit) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "echo never");
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  uint32_t pid = 0;
  ASSERT_TRUE(Create({}, &pid).ok());
  EXPECT_TRUE(shim::testing::CgroupExists(cgroups_path_));
  absl::Status s = Delete();
  ASSERT_TRUE(s.ok()) << s.message();
  ExpectCleanedUp();
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  EXPECT_TRUE(stat.empty() || stat.find(") Z ") != std::string::npos) << stat;
}

TEST_P(RuntimeTest, TerminalThroughTheConsoleSocket) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "");
  spec.process->args = {"sh"};
  spec.process->terminal = true;
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  v1::CreateTaskRequest req;
  req.set_terminal(true);
  req.set_stdin(Fifo("stdin"));
  req.set_stdout(Fifo("stdout"));
  FifoReader out(req.stdout());
  int in = ::open(req.stdin().c_str(), O_RDWR | O_CLOEXEC);  // the client's end
  ASSERT_GE(in, 0);
  absl::Cleanup close_in = [in] { ::close(in); };
  absl::Status s = Create(req);
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_TRUE(Start().ok());
  v1::ResizePtyRequest rreq;
  rreq.set_width(100);
  rreq.set_height(40);
  ASSERT_TRUE(Call("ResizePty", rreq).ok());
  std::string cmd = "test -t 0 && echo is-a-tty; stty size; echo $((6*7)); exit 7\n";
  ASSERT_EQ(::write(in, cmd.data(), cmd.size()), static_cast<ssize_t>(cmd.size()));
  EXPECT_EQ(Wait(), 7);
  EXPECT_TRUE(out.WaitFor("42"));
  EXPECT_THAT(out.data(), HasSubstr("\nis-a-tty"));
  EXPECT_THAT(out.data(), HasSubstr("40 100"));
  ASSERT_TRUE(Delete().ok());
  ExpectCleanedUp();
}

TEST_P(CliRuntimeTest, RuntimeErrorsAreReportedAndLeaveNothing) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "true");
  spec.root.path = "missing";
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  absl::Status s = Create({});
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr(runtime_binary_ + " create \"c1\""));
  EXPECT_FALSE(std::filesystem::exists(StateDir() / id_));
  EXPECT_FALSE(shim::testing::CgroupExists(cgroups_path_));
  runtime_binary_ = (dir_ / "no-such-runtime").string();
  s = Create({});
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s.message();
}

TEST_P(RuntimeTest, ExecUnderAPty) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "exec sleep 60");
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  ASSERT_TRUE(Create({}).ok());
  ASSERT_TRUE(Start().ok());
  oci::Process p = *spec.process;
  p.args = {"sh", "-c", "test -t 1 && echo exec-tty; exit 5"};
  v1::ExecProcessRequest req;
  req.set_id(id_);
  req.set_exec_id("t1");
  req.set_terminal(true);
  req.set_stdout(Fifo("exec-out"));
  FifoReader out(req.stdout());
  req.mutable_spec()->set_value(oci::ProcessToJson(p));
  google::protobuf::Empty e;
  ASSERT_TRUE(Rpc("Exec", req, &e).ok());
  absl::Status s = Start("t1");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(Wait("t1"), 5);
  EXPECT_TRUE(out.WaitFor("exec-tty"));
  EXPECT_TRUE(Delete("t1").ok());
  ASSERT_TRUE(Kill(SIGKILL).ok());
  EXPECT_EQ(Wait(), 137);
  ASSERT_TRUE(Delete().ok());
  ExpectCleanedUp();
}

TEST_P(RuntimeTest, ShutdownRemovesARunningContainer) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "exec sleep 60");
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  ASSERT_TRUE(Create({}).ok());
  ASSERT_TRUE(Start().ok());
  int init = static_cast<int>(State().pid());
  int shim = ShimPid();
  CloseEvents();
  {
    v1::ShutdownRequest req;
    req.set_now(true);  // the task's destructor deletes the container after the reaper stopped
    google::protobuf::Empty e;
    (void)Rpc("Shutdown", req, &e);
  }
  bool exited = false;  // gone, or a zombie: pid 1 here may take a while to reap the shim
  for (int i = 0; i < 500 && !exited; ++i) {
    std::string st = ReadFile("/proc/" + std::to_string(shim) + "/stat");
    exited = st.empty() || st.find(") Z ") != std::string::npos;
    if (!exited)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(exited) << "the shim exits by itself";
  ExpectCleanedUp();
  EXPECT_FALSE(std::filesystem::exists(dir_ / "runtime.json"));
  std::string stat = ReadFile("/proc/" + std::to_string(init) + "/stat");
  EXPECT_TRUE(stat.empty() || stat.find(") Z ") != std::string::npos) << stat;
  client_.reset();
}

TEST_P(RuntimeTest, DeleteCommandCleansUpAfterADeadShim) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "exec sleep 60");
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  ASSERT_TRUE(Create({}).ok());
  ASSERT_TRUE(Start().ok());
  int init = static_cast<int>(State().pid());
  ASSERT_TRUE(linux::SignalPid(ShimPid(), SIGKILL).ok());
  ASSERT_TRUE(ShimExits());
  if (External()) {
    EXPECT_TRUE(std::filesystem::exists(StateDir() / id_));
  }
  berth::testing::CommandResult r =
      berth::testing::RunCommand({berth::testing::BinPath("berth-shim"), "delete", "--id", id_,
                                  "--namespace", "berth-test", "--bundle", dir_.path().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::DeleteResponse resp;
  ASSERT_TRUE(resp.ParseFromString(r.out));
  EXPECT_EQ(static_cast<int>(resp.pid()), init);
  ExpectCleanedUp();
  EXPECT_FALSE(std::filesystem::exists(dir_ / "runtime.json"));
  // Killed: gone, or a zombie waiting for whichever ancestor it was re-parented to.
  std::string stat = ReadFile("/proc/" + std::to_string(init) + "/stat");
  EXPECT_TRUE(stat.empty() || stat.find(") Z ") != std::string::npos) << stat;
  client_.reset();
}

// Test names: the runtime's binary name, or "embedded".
std::string RuntimeName(const ::testing::TestParamInfo<std::string>& param) {
  return param.param.empty() ? "embedded" : std::filesystem::path(param.param).filename().string();
}

INSTANTIATE_TEST_SUITE_P(Runtimes, RuntimeTest,
                         ::testing::Values("", "/usr/sbin/runc", "/usr/bin/crun"), RuntimeName);
INSTANTIATE_TEST_SUITE_P(Runtimes, CliRuntimeTest,
                         ::testing::Values("/usr/sbin/runc", "/usr/bin/crun"), RuntimeName);

}  // namespace
}  // namespace berth::shim
