#pragma once

// The fixture of the shim's root tests (shim_test.cc, runtime_suite_test.cc): start the real
// berth-shim binary on a busybox bundle and drive it over its socket with a ttrpc client (as berthd
// does). TearDown shuts the shim down (SIGKILL through a pidfd for the pid it wrote, if it does not
// exit), then runs `berth-shim delete`, so no process or cgroup is left even when a test fails.

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "absl/synchronization/notification.h"
#include "google/protobuf/empty.pb.h"
#include "gtest/gtest.h"

#include "berth/shim/v1/shim.pb.h"
#include "containerd/runc/options/oci.pb.h"
#include "lib/oci/spec_json.h"
#include "lib/ttrpc/client.h"
#include "shim/linux/process.h"
#include "shim/testing/bundle.h"
#include "tests/testing/command.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::shim {

// Reads a fifo until EOF on a thread. The read end is open when the constructor returns, so a
// writer that comes and goes at once (an exec that fails at start) is still seen: the reader
// polls until the fifo has data or its writers are gone (POLLHUP comes only after a writer).
class FifoReader {
 public:
  explicit FifoReader(std::string path)
      : path_(std::move(path)), fd_(::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)) {
    thread_ = std::thread([this] {
      char buf[4096];
      struct pollfd p = {fd_, POLLIN, 0};
      while (fd_ >= 0 && ::poll(&p, 1, -1) >= 0) {
        ssize_t n = ::read(fd_, buf, sizeof(buf));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
          continue;
        if (n <= 0)
          break;
        std::lock_guard<std::mutex> l(mu_);
        data_.append(buf, static_cast<size_t>(n));
      }
      if (fd_ >= 0)
        ::close(fd_);
      std::lock_guard<std::mutex> l(mu_);
      done_ = true;
      done_cv_.notify_all();
    });
  }

  ~FifoReader() { Join(); }

  // Waits for EOF. A writer that never came (the shim failed before it opened the fifo) would
  // leave the reader waiting for ever: after 10 s the test's own write end lets it go, and the
  // test fails rather than hangs.
  void Join() {
    if (!thread_.joinable())
      return;
    {
      std::unique_lock<std::mutex> l(mu_);
      if (!done_cv_.wait_for(l, std::chrono::seconds(10), [this] { return done_; })) {
        ADD_FAILURE() << "no writer ever closed " << path_;
        int fd = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0)
          ::close(fd);
      }
    }
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
  int fd_;  // the read end, closed by the thread
  std::mutex mu_;
  std::condition_variable done_cv_;
  bool done_ = false;  // guarded by mu_
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
    if (client_) {
      v1::ShutdownRequest req;
      req.set_now(true);
      google::protobuf::Empty e;
      (void)Rpc("Shutdown", req, &e, absl::Seconds(5));
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
    absl::StatusOr<std::unique_ptr<ttrpc::Client>> c =
        ttrpc::Client::Dial((dir_ / "shim.sock").string(), absl::Seconds(5));
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = std::move(*c);
    SubscribeEvents();
  }

  void SubscribeEvents() {
    events_stream_ = client_->OpenStream(
        "berth.shim.v1.Shim", "Events", v1::EventsRequest().SerializeAsString(),
        [this](std::string bytes) {
          v1::Event e;
          if (!e.ParseFromString(bytes))
            return;
          std::lock_guard<std::mutex> l(mu_);
          topics_.push_back(e.topic());
        },
        [this](absl::Status) { events_done_.Notify(); });
  }

  // Ends the event stream on our side (the shim sees it when the connection closes).
  void CloseEvents() {
    if (client_)
      client_->CloseStream(events_stream_);
  }

  // One call of berth.shim.v1.Shim; the shim's error as it sent it.
  absl::Status Rpc(const std::string& method, const google::protobuf::MessageLite& req,
                   google::protobuf::MessageLite* resp,
                   absl::Duration timeout = absl::Seconds(60)) {
    absl::StatusOr<std::string> r =
        client_->Call("berth.shim.v1.Shim", method, req.SerializeAsString(), timeout);
    if (!r.ok())
      return r.status();
    if (!resp->ParseFromString(*r))
      return absl::InternalError(method + ": reply does not parse");
    return absl::OkStatus();
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

  absl::Status Create(v1::CreateTaskRequest req, uint32_t* pid = nullptr) {
    req.set_id(id_);
    req.set_bundle(dir_.path().string());
    if (!runtime_binary_.empty()) {
      containerd::runc::v1::Options opts;
      opts.set_binary_name(runtime_binary_);
      req.mutable_options()->PackFrom(opts);
    }
    v1::CreateTaskResponse resp;
    absl::Status s = Rpc("Create", req, &resp);
    if (pid != nullptr)
      *pid = resp.pid();
    return s;
  }

  absl::Status Start(const std::string& exec_id = "") {
    v1::StartRequest req;
    req.set_id(id_);
    req.set_exec_id(exec_id);
    v1::StartResponse resp;
    return Rpc("Start", req, &resp);
  }

  int Wait(const std::string& exec_id = "") {
    v1::WaitRequest req;
    req.set_id(id_);
    req.set_exec_id(exec_id);
    v1::WaitResponse resp;
    absl::Status s = Rpc("Wait", req, &resp, absl::Seconds(30));
    EXPECT_TRUE(s.ok()) << s;
    return s.ok() ? static_cast<int>(resp.exit_status()) : -1;
  }

  absl::Status Kill(int sig, const std::string& exec_id = "", bool all = false) {
    v1::KillRequest req;
    req.set_id(id_);
    req.set_exec_id(exec_id);
    req.set_signal(static_cast<uint32_t>(sig));
    req.set_all(all);
    google::protobuf::Empty e;
    return Rpc("Kill", req, &e);
  }

  v1::StateResponse State(const std::string& exec_id = "") {
    v1::StateRequest req;
    req.set_id(id_);
    req.set_exec_id(exec_id);
    v1::StateResponse resp;
    EXPECT_TRUE(Rpc("State", req, &resp).ok());
    return resp;
  }

  absl::Status Delete(const std::string& exec_id = "") {
    v1::DeleteRequest req;
    req.set_id(id_);
    req.set_exec_id(exec_id);
    v1::DeleteResponse resp;
    return Rpc("Delete", req, &resp);
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
  std::unique_ptr<ttrpc::Client> client_;
  uint32_t events_stream_ = 0;
  absl::Notification events_done_;
  std::mutex mu_;
  std::vector<std::string> topics_;
};

}  // namespace berth::shim
