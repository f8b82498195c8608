#pragma once

// DetachedFixture: a private berthd and Debian's ctr in a namespace of the test's own, for
// tests of detached containers (restart_test.cc, bctr_logs_test.cc, and under TasksFixture
// the tasks tests). It imports the busybox
// test image once per test when asked, and its TearDown marks every container of the namespace
// `containerd.io/restart.status=stopped` (so berthd's restart monitor leaves it alone), kills
// and deletes the tasks, removes the containers, then cleans what berthd could not: shims
// that this test's berthd started and the namespace's cgroups.

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

#include "tests/testing/daemon_fixture.h"

namespace berth::testing {

class DetachedFixture : public DaemonFixture {
 protected:
  static constexpr char kImage[] = "docker.io/library/busybox:latest";

  void SetUp() override {
    DaemonFixture::SetUp();
    static int counter = 0;
    ns_ = "berth-dt-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
  }

  void TearDown() override {
    if (DaemonRunning())
      RemoveAll();
    CleanUpNamespace(ns_);
    DaemonFixture::TearDown();
  }

  // ctr --address SOCK -n NS args...
  CommandResult C(std::vector<std::string> args,
                  std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    std::vector<std::string> argv = {"ctr", "--address", socket(), "-n", ns_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, timeout);
  }

  // Imports the busybox image (tests/fixtures/make-images.sh) into the namespace.
  bool ImportBusybox() {
    std::string images = (dir().path() / "images").string();
    CommandResult r = MakeTestImages(images);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    r = C({"images", "import", images + "/busybox.docker.tar"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0;
  }

  // `ctr tasks ls` as id → {pid, status}.
  std::map<std::string, std::pair<int, std::string>> Tasks() {
    std::map<std::string, std::pair<int, std::string>> out;
    std::vector<std::string> lines = Lines(C({"tasks", "ls"}).out);
    for (size_t i = 1; i < lines.size(); ++i) {
      std::istringstream in(lines[i]);
      std::string id, status;
      int pid = 0;
      in >> id >> pid >> status;
      out[id] = {pid, status};
    }
    return out;
  }

  // Polls `pred` every 100 ms for up to `limit`.
  template <typename Pred>
  static bool Eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(15)) {
    auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (pred())
        return true;
      if (std::chrono::steady_clock::now() > until)
        return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  // Polls `ctr tasks ls` until `id` has `status`.
  bool WaitStatus(const std::string& id, const std::string& status,
                  std::chrono::milliseconds limit = std::chrono::seconds(15)) {
    return Eventually(
        [&] {
          auto t = Tasks();
          return t.count(id) != 0 && t[id].second == status;
        },
        limit);
  }

  // The value of a container label from `ctr containers info` ("" when absent).
  std::string Label(const std::string& id, const std::string& key) {
    std::string info = C({"containers", "info", id}).out;
    std::string want = "\"" + key + "\": \"";
    size_t at = info.find(want);
    if (at == std::string::npos)
      return "";
    at += want.size();
    return info.substr(at, info.find('"', at) - at);
  }

  // Kills and deletes every task of the namespace (paused ones are resumed first: a frozen
  // process dies only once thawed) and removes every container.
  void RemoveAll() {
    for (const std::string& id : Lines(C({"containers", "ls", "-q"}).out))
      (void)C({"containers", "label", id, "containerd.io/restart.status=stopped"});
    for (const std::string& id : Lines(C({"tasks", "ls", "-q"}).out)) {
      (void)C({"tasks", "resume", id});
      (void)C({"tasks", "kill", "--all", "-s", "SIGKILL", id});
    }
    for (const std::string& id : Lines(C({"tasks", "ls", "-q"}).out)) {
      (void)WaitStatus(id, "STOPPED");
      (void)C({"tasks", "delete", id});
    }
    for (const std::string& id : Lines(C({"containers", "ls", "-q"}).out))
      (void)C({"containers", "rm", id});
  }

  std::string ns_;
};

}  // namespace berth::testing
