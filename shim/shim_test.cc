// Root integration tests: start the real berth-shim binary on a busybox bundle and drive it
// over its socket with the generated stub. TearDown shuts the shim down (SIGKILL through a
// pidfd for the pid it wrote, if it does not exit), then runs `berth-shim delete`, so no
// process or cgroup is left even when a test fails.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "fmt/format.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "berth/shim/v1/shim.grpc.pb.h"
#include "containerd/cgroups/v1/metrics.pb.h"
#include "containerd/runc/options/oci.pb.h"
#include "lib/oci/spec_json.h"
#include "shim/linux/process.h"
#include "shim/testing/bundle.h"
#include "tests/testing/command.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::shim {
namespace {

using ::berth::testing::ReadFile;
using ::testing::Contains;
using ::testing::HasSubstr;

// Reads a fifo until EOF on a thread.
class FifoReader {
 public:
  explicit FifoReader(std::string path) : path_(std::move(path)) {
    thread_ = std::thread([this] {
      int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      char buf[4096];
      ssize_t n;
      while (fd >= 0 && (n = ::read(fd, buf, sizeof(buf))) > 0) {
        std::lock_guard<std::mutex> l(mu_);
        data_.append(buf, static_cast<size_t>(n));
      }
      if (fd >= 0)
        ::close(fd);
    });
  }

  ~FifoReader() { Join(); }

  void Join() {
    if (thread_.joinable())
      thread_.join();
  }

  std::string data() {
    std::lock_guard<std::mutex> l(mu_);
    return data_;
  }

  bool WaitFor(const std::string& text, int ms = 10000) {
    for (int i = 0; i < ms / 10; ++i) {
      if (data().find(text) != std::string::npos)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

 private:
  std::string path_;
  std::mutex mu_;
  std::string data_;
  std::thread thread_;
};

class ShimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    ASSERT_TRUE(shim::testing::MakeBusyboxRootfs(dir_.path()));
  }

  static void TearDownTestSuite() { shim::testing::RemoveTestCgroupParents(); }

  void TearDown() override {
    if (events_ctx_)
      events_ctx_->TryCancel();
    if (events_thread_.joinable())
      events_thread_.join();
    StopShim();
    if (started_) {
      berth::testing::CommandResult r = berth::testing::RunCommand(
          {berth::testing::BinPath("berth-shim"), "delete", "--id", id_, "--namespace",
           "berth-test", "--bundle", dir_.path().string()});
      EXPECT_EQ(r.exit_code, 0) << r.err;
      EXPECT_FALSE(shim::testing::CgroupExists(cgroups_path_));
    }
  }

  void StopShim() {
    int pid = ShimPid();
    if (pid <= 0 || !started_)
      return;
    if (stub_) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      v1::ShutdownRequest req;
      req.set_now(true);
      google::protobuf::Empty e;
      (void)stub_->Shutdown(&ctx, req, &e);
    }
    for (int i = 0; i < 300 && ::access(("/proc/" + std::to_string(pid)).c_str(), F_OK) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    (void)linux::SignalPid(pid, SIGKILL);
  }

  int ShimPid() {
    int pid = 0;
    std::ifstream(dir_ / "shim.pid") >> pid;
    return pid;
  }

  // Writes config.json and starts the shim; connects the stub.
  void StartShim(const oci::Spec& spec) {
    cgroups_path_ = spec.linux.cgroups_path;
    ASSERT_TRUE(oci::WriteSpec(dir_.path(), spec).ok());
    berth::testing::CommandResult r = berth::testing::RunCommand(
        {berth::testing::BinPath("berth-shim"), "start", "--id", id_, "--namespace", "berth-test",
         "--bundle", dir_.path().string(), "--address", "/run/berth/none.sock"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    started_ = true;
    ASSERT_EQ(r.out, "unix://" + (dir_ / "shim.sock").string() + "\n");
    auto channel = grpc::CreateChannel("unix:" + (dir_ / "shim.sock").string(),
                                       grpc::InsecureChannelCredentials());
    stub_ = v1::Shim::NewStub(channel);
    SubscribeEvents();
  }

  void SubscribeEvents() {
    events_ctx_ = std::make_unique<grpc::ClientContext>();
    events_thread_ = std::thread([this] {
      auto reader = stub_->Events(events_ctx_.get(), v1::EventsRequest());
      v1::Event e;
      while (reader->Read(&e)) {
        std::lock_guard<std::mutex> l(mu_);
        topics_.push_back(e.topic());
      }
    });
  }

  std::vector<std::string> Topics() {
    for (int i = 0; i < 100; ++i) {  // give the stream a moment to deliver
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::lock_guard<std::mutex> l(mu_);
    return topics_;
  }

  std::string Fifo(const std::string& name) {
    std::string p = (dir_ / name).string();
    EXPECT_EQ(::mkfifo(p.c_str(), 0600), 0);
    return p;
  }

  grpc::Status Create(v1::CreateTaskRequest req, uint32_t* pid = nullptr) {
    req.set_id(id_);
    req.set_bundle(dir_.path().string());
    if (!runtime_binary_.empty()) {
      containerd::runc::v1::Options opts;
      opts.set_binary_name(runtime_binary_);
      req.mutable_options()->PackFrom(opts);
    }
    grpc::ClientContext ctx;
    v1::CreateTaskResponse resp;
    grpc::Status s = stub_->Create(&ctx, req, &resp);
    if (pid != nullptr)
      *pid = resp.pid();
    return s;
  }

  grpc::Status Start(const std::string& exec_id = "") {
    grpc::ClientContext ctx;
    v1::StartRequest req;
    req.set_id(id_);
    req.set_exec_id(exec_id);
    v1::StartResponse resp;
    return stub_->Start(&ctx, req, &resp);
  }

  int Wait(const std::string& exec_id = "") {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::WaitRequest req;
    req.set_id(id_);
    req.set_exec_id(exec_id);
    v1::WaitResponse resp;
    grpc::Status s = stub_->Wait(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return s.ok() ? static_cast<int>(resp.exit_status()) : -1;
  }

  grpc::Status Kill(int sig, const std::string& exec_id = "", bool all = false) {
    grpc::ClientContext ctx;
    v1::KillRequest req;
    req.set_id(id_);
    req.set_exec_id(exec_id);
    req.set_signal(static_cast<uint32_t>(sig));
    req.set_all(all);
    google::protobuf::Empty e;
    return stub_->Kill(&ctx, req, &e);
  }

  v1::StateResponse State(const std::string& exec_id = "") {
    grpc::ClientContext ctx;
    v1::StateRequest req;
    req.set_id(id_);
    req.set_exec_id(exec_id);
    v1::StateResponse resp;
    EXPECT_TRUE(stub_->State(&ctx, req, &resp).ok());
    return resp;
  }

  grpc::Status Delete(const std::string& exec_id = "") {
    grpc::ClientContext ctx;
    v1::DeleteRequest req;
    req.set_id(id_);
    req.set_exec_id(exec_id);
    v1::DeleteResponse resp;
    return stub_->Delete(&ctx, req, &resp);
  }

  bool ShimExits() {
    int pid = ShimPid();
    for (int i = 0; i < 500; ++i) {
      if (::access(("/proc/" + std::to_string(pid)).c_str(), F_OK) != 0)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  berth::testing::TempDir dir_{"shim"};
  std::string id_ = "c1";
  std::string runtime_binary_;  // empty: the embedded runtime
  std::string cgroups_path_;
  bool started_ = false;
  std::unique_ptr<v1::Shim::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> events_ctx_;
  std::thread events_thread_;
  std::mutex mu_;
  std::vector<std::string> topics_;
};

TEST_F(ShimTest, RunsTheInitAndKeepsItsExitUntilDeleted) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "echo hello from $(hostname); exit 1");
  spec.hostname = "shimbox";
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  v1::CreateTaskRequest req;
  req.set_stdout(Fifo("stdout"));
  FifoReader out(req.stdout());
  uint32_t pid = 0;
  grpc::Status s = Create(req, &pid);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GT(pid, 0u);
  EXPECT_EQ(State().status(), containerd::v1::types::CREATED);
  ASSERT_TRUE(Start().ok());
  EXPECT_EQ(Wait(), 1);
  out.Join();
  EXPECT_EQ(out.data(), "hello from shimbox\n");
  EXPECT_EQ(State().status(), containerd::v1::types::STOPPED);
  EXPECT_EQ(State().exit_status(), 1u);
  EXPECT_EQ(ReadFile(dir_ / "init.pid"), std::to_string(pid));
  std::vector<std::string> topics = Topics();
  EXPECT_THAT(topics, Contains("/tasks/create"));
  EXPECT_THAT(topics, Contains("/tasks/start"));
  EXPECT_THAT(topics, Contains("/tasks/exit"));
  ASSERT_TRUE(Delete().ok());
  EXPECT_FALSE(shim::testing::CgroupExists(cgroups_path_));
  EXPECT_TRUE(ShimExits()) << "the shim exits after the last delete";
}

TEST_F(ShimTest, ExecKillAndExitCodes) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "exec sleep 60");
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  ASSERT_TRUE(Create({}).ok());
  ASSERT_TRUE(Start().ok());
  oci::Process p = *spec.process;
  p.args = {"sh", "-c", "echo exec in pid $$; test $(cat /proc/1/comm) = sleep"};
  v1::ExecProcessRequest ereq;
  ereq.set_id(id_);
  ereq.set_exec_id("e1");
  ereq.set_stdout(Fifo("exec-out"));
  FifoReader out(ereq.stdout());
  ereq.mutable_spec()->set_value(oci::ProcessToJson(p));
  grpc::ClientContext ctx;
  google::protobuf::Empty e;
  ASSERT_TRUE(stub_->Exec(&ctx, ereq, &e).ok());
  EXPECT_EQ(State("e1").status(), containerd::v1::types::CREATED);
  ASSERT_TRUE(Start("e1").ok());
  EXPECT_EQ(Wait("e1"), 0);
  out.Join();
  EXPECT_THAT(out.data(), HasSubstr("exec in pid "));
  EXPECT_TRUE(Delete("e1").ok());
  {
    grpc::ClientContext pctx;
    v1::PidsRequest preq;
    v1::PidsResponse presp;
    ASSERT_TRUE(stub_->Pids(&pctx, preq, &presp).ok());
    ASSERT_EQ(presp.processes_size(), 1);
    EXPECT_EQ(presp.processes(0).pid(), State().pid());
  }
  EXPECT_EQ(Delete().error_code(), grpc::StatusCode::FAILED_PRECONDITION);  // still running
  ASSERT_TRUE(Kill(SIGKILL).ok());
  EXPECT_EQ(Wait(), 137);
  EXPECT_EQ(Kill(SIGKILL).error_code(), grpc::StatusCode::NOT_FOUND);
  std::vector<std::string> topics = Topics();
  EXPECT_THAT(topics, Contains("/tasks/exec-added"));
  EXPECT_THAT(topics, Contains("/tasks/exec-started"));
  ASSERT_TRUE(Delete().ok());
}

TEST_F(ShimTest, PauseResumeStatsAndUpdate) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "exec sleep 60");
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  ASSERT_TRUE(Create({}).ok());
  ASSERT_TRUE(Start().ok());
  google::protobuf::Empty e;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->Pause(&ctx, v1::PauseRequest(), &e).ok());
  }
  EXPECT_EQ(State().status(), containerd::v1::types::PAUSED);
  {
    grpc::ClientContext ctx;
    EXPECT_EQ(stub_->Pause(&ctx, v1::PauseRequest(), &e).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub_->Resume(&ctx, v1::ResumeRequest(), &e).ok());
  }
  EXPECT_EQ(State().status(), containerd::v1::types::RUNNING);
  {
    grpc::ClientContext ctx;
    v1::UpdateTaskRequest req;
    req.mutable_resources()->set_value(R"({"pids": {"limit": 9}})");
    ASSERT_TRUE(stub_->Update(&ctx, req, &e).ok());
  }
  grpc::ClientContext ctx;
  v1::StatsResponse resp;
  ASSERT_TRUE(stub_->Stats(&ctx, v1::StatsRequest(), &resp).ok());
  io::containerd::cgroups::v1::Metrics m;
  ASSERT_TRUE(resp.stats().UnpackTo(&m));
  EXPECT_EQ(m.pids().current(), 1u);
  EXPECT_EQ(m.pids().limit(), 9u);
  EXPECT_GT(m.memory().usage().usage(), 0u);
  std::vector<std::string> topics = Topics();
  EXPECT_THAT(topics, Contains("/tasks/paused"));
  EXPECT_THAT(topics, Contains("/tasks/resumed"));
  ASSERT_TRUE(Kill(SIGKILL, "", true).ok());
  EXPECT_EQ(Wait(), 137);
  ASSERT_TRUE(Delete().ok());
}

TEST_F(ShimTest, TerminalUnderAPty) {
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
  ASSERT_TRUE(Create(req).ok());
  ASSERT_TRUE(Start().ok());
  grpc::ClientContext ctx;
  v1::ResizePtyRequest rreq;
  rreq.set_width(100);
  rreq.set_height(40);
  google::protobuf::Empty e;
  ASSERT_TRUE(stub_->ResizePty(&ctx, rreq, &e).ok());
  std::string cmd = "test -t 0 && echo is-a-tty; stty size; echo $((6*7)); exit 7\n";
  ASSERT_EQ(::write(in, cmd.data(), cmd.size()), static_cast<ssize_t>(cmd.size()));
  EXPECT_EQ(Wait(), 7);
  EXPECT_TRUE(out.WaitFor("42"));
  EXPECT_THAT(out.data(), HasSubstr("\nis-a-tty"));
  EXPECT_THAT(out.data(), HasSubstr("40 100"));
  ::close(in);
  ASSERT_TRUE(Delete().ok());
}

TEST_F(ShimTest, MemoryLimitGivesAnOomEvent) {
  oci::Spec spec = shim::testing::BusyboxSpec(
      id_, "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived");
  spec.linux.resources->memory = oci::MemoryResources{};
  spec.linux.resources->memory->limit = 32 << 20;
  spec.linux.resources->memory->swap = 32 << 20;
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  ASSERT_TRUE(Create({}).ok());
  ASSERT_TRUE(Start().ok());
  EXPECT_EQ(Wait(), 137);
  EXPECT_THAT(Topics(), Contains("/tasks/oom"));
  ASSERT_TRUE(Delete().ok());
}

TEST_F(ShimTest, BadSpecIsAClearErrorAndLeavesNothing) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "true");
  spec.process->capabilities->bounding.push_back("CAP_BOGUS");
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  grpc::Status s = Create({});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("unknown capability \"CAP_BOGUS\""));
  EXPECT_FALSE(shim::testing::CgroupExists(cgroups_path_));
  spec.process->capabilities->bounding.pop_back();
  spec.root.path = "missing";
  ASSERT_TRUE(oci::WriteSpec(dir_.path(), spec).ok());
  s = Create({});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("root.path"));
  EXPECT_FALSE(shim::testing::CgroupExists(cgroups_path_));
  EXPECT_FALSE(shim::testing::MountedUnder(dir_.path()));
}

TEST_F(ShimTest, DeleteCommandCleansUpAfterADeadShim) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "exec sleep 60");
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  ASSERT_TRUE(Create({}).ok());
  ASSERT_TRUE(Start().ok());
  int init = static_cast<int>(State().pid());
  ASSERT_TRUE(linux::SignalPid(ShimPid(), SIGKILL).ok());
  ASSERT_TRUE(ShimExits());
  berth::testing::CommandResult r =
      berth::testing::RunCommand({berth::testing::BinPath("berth-shim"), "delete", "--id", id_,
                                  "--namespace", "berth-test", "--bundle", dir_.path().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::DeleteResponse resp;
  ASSERT_TRUE(resp.ParseFromString(r.out));
  EXPECT_EQ(static_cast<int>(resp.pid()), init);
  EXPECT_FALSE(shim::testing::CgroupExists(cgroups_path_));
  // Killed: gone, or a zombie waiting for whichever ancestor it was re-parented to.
  std::string stat = ReadFile("/proc/" + std::to_string(init) + "/stat");
  EXPECT_TRUE(stat.empty() || stat.find(") Z ") != std::string::npos) << stat;
  stub_.reset();
}

oci::Hook HostHook(const std::string& script) {
  return oci::Hook{.path = "/bin/sh",
                   .args = {"sh", "-c", script},
                   .env = {"PATH=/usr/bin:/bin"},
                   .timeout = 10};
}

// Hooks inside the real shim, whose reaper reaps every child with waitpid(-1): each hook's
// exit must still reach the hook runner (exit claims), so Create and Start succeed and every
// hook runs exactly once.
TEST_F(ShimTest, HooksRunOnceEachInsideTheShim) {
  const std::string log = (dir_ / "hooks.log").string();
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "cat /started; exit 0");
  for (int i = 0; i < 5; ++i)
    spec.hooks.create_runtime.push_back(
        HostHook(fmt::format("echo createRuntime{} >> {}", i, log)));
  spec.hooks.create_container = {HostHook("echo createContainer >> " + log)};
  spec.hooks.start_container = {{.path = "/bin/sh",
                                 .args = {"sh", "-c", "echo startContainer > /started"},
                                 .env = {},
                                 .timeout = 10}};
  spec.hooks.poststart = {HostHook("cat > " + (dir_ / "poststart.json").string())};
  spec.hooks.poststop = {HostHook("echo poststop >> " + log)};
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  v1::CreateTaskRequest req;
  req.set_stdout(Fifo("stdout"));
  FifoReader out(req.stdout());
  uint32_t pid = 0;
  grpc::Status s = Create(req, &pid);
  ASSERT_TRUE(s.ok()) << s.error_message();
  s = Start();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Wait(), 0);
  out.Join();
  EXPECT_EQ(out.data(), "startContainer\n");
  std::string poststart = ReadFile(dir_ / "poststart.json");
  EXPECT_THAT(poststart, HasSubstr("\"status\":\"running\""));
  EXPECT_THAT(poststart, HasSubstr(fmt::format("\"pid\":{}", pid)));
  s = Delete();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(ReadFile(log),
            "createRuntime0\ncreateRuntime1\ncreateRuntime2\ncreateRuntime3\ncreateRuntime4\n"
            "createContainer\npoststop\n");
}

TEST_F(ShimTest, AFailingCreateContainerHookFailsCreateAndLeavesNothing) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "true");
  spec.hooks.create_container = {HostHook("echo no GPU here >&2; exit 3")};
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  grpc::Status s = Create({});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(),
              HasSubstr("hooks.createContainer[0] /bin/sh: exited with status 3: no GPU here"));
  EXPECT_FALSE(shim::testing::CgroupExists(cgroups_path_));
  EXPECT_FALSE(shim::testing::MountedUnder(dir_.path()));
}

// True when cgroup2's unified hierarchy of a v1 hybrid host has controllers enabled: crun
// 1.8.1 then refuses to run (it takes the host for a v2 one and cannot use those controllers).
bool UnifiedHierarchyHasControllers() {
  std::string c = ReadFile("/sys/fs/cgroup/unified/cgroup.controllers");
  return c.find_first_not_of(" \n") != std::string::npos;
}

// The shim suite through an external OCI runtime named in the runc options (binary_name).
// Its state lives under <bundle>/runtime-state; TearDown's shutdown and `berth-shim delete`
// remove the container and its cgroup, and the state goes with the bundle.
class CliRuntimeTest : public ShimTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    ShimTest::SetUp();
    if (IsSkipped() || HasFatalFailure())
      return;
    runtime_binary_ = GetParam();
    if (::access(runtime_binary_.c_str(), X_OK) != 0)
      GTEST_SKIP() << runtime_binary_ << " is not installed";
    if (std::filesystem::path(runtime_binary_).filename() == "crun" &&
        !std::filesystem::exists("/sys/fs/cgroup/cgroup.controllers") &&
        UnifiedHierarchyHasControllers())
      GTEST_SKIP() << "crun 1.8.1 refuses to run on this cgroup v1 hybrid host while "
                      "/sys/fs/cgroup/unified/cgroup.controllers is not empty";
  }

  std::filesystem::path StateDir() { return dir_ / "runtime-state"; }

  grpc::Status Exec(const std::string& exec_id, const oci::Process& p, const std::string& out) {
    v1::ExecProcessRequest req;
    req.set_id(id_);
    req.set_exec_id(exec_id);
    req.set_stdout(out);
    req.mutable_spec()->set_value(oci::ProcessToJson(p));
    grpc::ClientContext ctx;
    google::protobuf::Empty e;
    return stub_->Exec(&ctx, req, &e);
  }

  template <typename Req>
  grpc::Status Call(grpc::Status (v1::Shim::Stub::*rpc)(grpc::ClientContext*, const Req&,
                                                        google::protobuf::Empty*),
                    const Req& req) {
    grpc::ClientContext ctx;
    google::protobuf::Empty e;
    return (stub_.get()->*rpc)(&ctx, req, &e);
  }

  // After the init's delete: no container state, cgroup or pid file is left.
  void ExpectCleanedUp() {
    EXPECT_FALSE(std::filesystem::exists(StateDir() / id_));
    EXPECT_FALSE(shim::testing::CgroupExists(cgroups_path_));
    EXPECT_FALSE(std::filesystem::exists(dir_ / "runtime-init.pid"));
  }
};

TEST_P(CliRuntimeTest, OutputThroughFifosAndExitCode) {
  oci::Spec spec =
      shim::testing::BusyboxSpec(id_, "echo hello from $(hostname); echo oops >&2; exit 1");
  spec.hostname = "clibox";
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  v1::CreateTaskRequest req;
  req.set_stdout(Fifo("stdout"));
  req.set_stderr(Fifo("stderr"));
  FifoReader out(req.stdout());
  FifoReader err(req.stderr());
  uint32_t pid = 0;
  grpc::Status s = Create(req, &pid);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GT(pid, 0u);
  EXPECT_TRUE(std::filesystem::exists(StateDir() / id_));
  EXPECT_EQ(State().status(), containerd::v1::types::CREATED);
  s = Start();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Wait(), 1);
  out.Join();
  err.Join();
  EXPECT_EQ(out.data(), "hello from clibox\n");
  EXPECT_EQ(err.data(), "oops\n");
  EXPECT_EQ(State().status(), containerd::v1::types::STOPPED);
  EXPECT_EQ(ReadFile(dir_ / "init.pid"), std::to_string(pid));
  EXPECT_THAT(Topics(), Contains("/tasks/exit"));
  s = Delete();
  ASSERT_TRUE(s.ok()) << s.error_message();
  ExpectCleanedUp();
  EXPECT_TRUE(ShimExits());
}

TEST_P(CliRuntimeTest, ExecKillAndExitCodes) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "exec sleep 60");
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  ASSERT_TRUE(Create({}).ok());
  ASSERT_TRUE(Start().ok());
  oci::Process p = *spec.process;
  p.args = {"sh", "-c", "echo exec sees $(cat /proc/1/comm)"};
  std::string fifo = Fifo("exec-out");
  FifoReader out(fifo);
  grpc::Status s = Exec("e1", p, fifo);
  ASSERT_TRUE(s.ok()) << s.error_message();
  s = Start("e1");
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Wait("e1"), 0);
  out.Join();
  EXPECT_EQ(out.data(), "exec sees sleep\n");
  EXPECT_TRUE(Delete("e1").ok());
  p.args = {"sh", "-c", "exit 3"};
  ASSERT_TRUE(Exec("e2", p, "").ok());
  ASSERT_TRUE(Start("e2").ok());
  EXPECT_EQ(Wait("e2"), 3);
  EXPECT_TRUE(Delete("e2").ok());
  EXPECT_EQ(Delete().error_code(), grpc::StatusCode::FAILED_PRECONDITION);  // still running
  ASSERT_TRUE(Kill(SIGKILL).ok());
  EXPECT_EQ(Wait(), 137);
  EXPECT_EQ(Kill(SIGKILL).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(Delete().ok());
  ExpectCleanedUp();
}

TEST_P(CliRuntimeTest, PauseResumeUpdateAndKillAll) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "exec sleep 60");
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  ASSERT_TRUE(Create({}).ok());
  ASSERT_TRUE(Start().ok());
  grpc::Status s = Call(&v1::Shim::Stub::Pause, v1::PauseRequest());
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(State().status(), containerd::v1::types::PAUSED);
  std::string freezer = "/sys/fs/cgroup/freezer" + cgroups_path_ + "/freezer.state";
  if (std::filesystem::exists(freezer)) {
    EXPECT_EQ(ReadFile(freezer), "FROZEN\n");
  }
  s = Call(&v1::Shim::Stub::Resume, v1::ResumeRequest());
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(State().status(), containerd::v1::types::RUNNING);
  v1::UpdateTaskRequest ureq;
  ureq.mutable_resources()->set_value(R"({"pids": {"limit": 9}})");
  s = Call(&v1::Shim::Stub::Update, ureq);
  ASSERT_TRUE(s.ok()) << s.error_message();
  grpc::ClientContext ctx;
  v1::StatsResponse resp;
  ASSERT_TRUE(stub_->Stats(&ctx, v1::StatsRequest(), &resp).ok());
  io::containerd::cgroups::v1::Metrics m;
  ASSERT_TRUE(resp.stats().UnpackTo(&m));
  EXPECT_EQ(m.pids().current(), 1u);
  EXPECT_EQ(m.pids().limit(), 9u);
  ASSERT_TRUE(Call(&v1::Shim::Stub::Pause, v1::PauseRequest()).ok());
  ASSERT_TRUE(Kill(SIGKILL, "", true).ok());  // a paused container dies once thawed
  EXPECT_EQ(Wait(), 137);
  ASSERT_TRUE(Delete().ok());
  ExpectCleanedUp();
}

TEST_P(CliRuntimeTest, DeletingACreatedTaskKillsItsInit) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "echo never");
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  uint32_t pid = 0;
  ASSERT_TRUE(Create({}, &pid).ok());
  EXPECT_TRUE(shim::testing::CgroupExists(cgroups_path_));
  grpc::Status s = Delete();
  ASSERT_TRUE(s.ok()) << s.error_message();
  ExpectCleanedUp();
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  EXPECT_TRUE(stat.empty() || stat.find(") Z ") != std::string::npos) << stat;
}

TEST_P(CliRuntimeTest, TerminalThroughTheConsoleSocket) {
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
  grpc::Status s = Create(req);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(Start().ok());
  v1::ResizePtyRequest rreq;
  rreq.set_width(100);
  rreq.set_height(40);
  ASSERT_TRUE(Call(&v1::Shim::Stub::ResizePty, rreq).ok());
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
  grpc::Status s = Create({});
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.error_message(), HasSubstr(runtime_binary_ + " create \"c1\""));
  EXPECT_FALSE(std::filesystem::exists(StateDir() / id_));
  EXPECT_FALSE(shim::testing::CgroupExists(cgroups_path_));
  runtime_binary_ = (dir_ / "no-such-runtime").string();
  s = Create({});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
}

TEST_P(CliRuntimeTest, ExecUnderAPty) {
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
  grpc::ClientContext ctx;
  google::protobuf::Empty e;
  ASSERT_TRUE(stub_->Exec(&ctx, req, &e).ok());
  grpc::Status s = Start("t1");
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Wait("t1"), 5);
  EXPECT_TRUE(out.WaitFor("exec-tty"));
  EXPECT_TRUE(Delete("t1").ok());
  ASSERT_TRUE(Kill(SIGKILL).ok());
  EXPECT_EQ(Wait(), 137);
  ASSERT_TRUE(Delete().ok());
  ExpectCleanedUp();
}

TEST_P(CliRuntimeTest, ShutdownRemovesARunningContainer) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "exec sleep 60");
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  ASSERT_TRUE(Create({}).ok());
  ASSERT_TRUE(Start().ok());
  int init = static_cast<int>(State().pid());
  int shim = ShimPid();
  events_ctx_->TryCancel();  // as TearDown does: an open stream delays the server's shutdown
  events_thread_.join();
  {
    grpc::ClientContext ctx;
    v1::ShutdownRequest req;
    req.set_now(true);  // the task's destructor deletes the container after the reaper stopped
    google::protobuf::Empty e;
    (void)stub_->Shutdown(&ctx, req, &e);
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
  stub_.reset();
}

TEST_P(CliRuntimeTest, DeleteCommandCleansUpAfterADeadShim) {
  oci::Spec spec = shim::testing::BusyboxSpec(id_, "exec sleep 60");
  ASSERT_NO_FATAL_FAILURE(StartShim(spec));
  ASSERT_TRUE(Create({}).ok());
  ASSERT_TRUE(Start().ok());
  int init = static_cast<int>(State().pid());
  ASSERT_TRUE(linux::SignalPid(ShimPid(), SIGKILL).ok());
  ASSERT_TRUE(ShimExits());
  EXPECT_TRUE(std::filesystem::exists(StateDir() / id_));
  berth::testing::CommandResult r =
      berth::testing::RunCommand({berth::testing::BinPath("berth-shim"), "delete", "--id", id_,
                                  "--namespace", "berth-test", "--bundle", dir_.path().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectCleanedUp();
  EXPECT_FALSE(std::filesystem::exists(dir_ / "runtime.json"));
  std::string stat = ReadFile("/proc/" + std::to_string(init) + "/stat");
  EXPECT_TRUE(stat.empty() || stat.find(") Z ") != std::string::npos) << stat;
  stub_.reset();
}

INSTANTIATE_TEST_SUITE_P(Runtimes, CliRuntimeTest,
                         ::testing::Values("/usr/sbin/runc", "/usr/bin/crun"),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           return std::filesystem::path(param.param).filename().string();
                         });

}  // namespace
}  // namespace berth::shim
