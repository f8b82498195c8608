#pragma once

// The fixture of the shim's root tests (shim_test.cc, cli_runtime_test.cc): start the real
// berth-shim binary on a busybox bundle and drive it over its socket with the generated stub.
// TearDown shuts the shim down (SIGKILL through a pidfd for the pid it wrote, if it does not
// exit), then runs `berth-shim delete`, so no process or cgroup is left even when a test fails.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "berth/shim/v1/shim.grpc.pb.h"
#include "containerd/runc/options/oci.pb.h"
#include "lib/oci/spec_json.h"
#include "shim/linux/process.h"
#include "shim/testing/bundle.h"
#include "tests/testing/command.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::shim {

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

}  // namespace berth::shim
