// Tasks through containerd's own client: Debian's ctr runs containers through a private berthd
// and berth-shim, on a busybox root directory (ctr run --rootfs DIR: no image, no rootfs
// mounts). Each test has its own namespace (so its cgroups are /<ns>/<id>), fifo dir and state
// dir, and kills and deletes whatever it started even when it fails.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"

#include "containerd/services/tasks/v1/tasks.grpc.pb.h"
#include "tests/testing/daemon_fixture.h"
#include "tests/testing/matchers.h"

extern char** environ;

namespace berth {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty())
      out.push_back(line);
  }
  return out;
}

// True while `pid` runs: a zombie (exited, waiting for its reaper, which for a daemonized
// shim is this machine's pid 1) counts as gone.
bool ProcessAlive(int pid) {
  if (pid <= 0)
    return false;
  std::string stat = testing::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z' &&
         stat[paren + 2] != 'X';
}

int ParentPid(int pid) {
  std::string stat = testing::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos)
    return 0;
  std::istringstream in(stat.substr(paren + 2));
  std::string state;
  int ppid = 0;
  in >> state >> ppid;
  return ppid;
}

bool IsCgroupV2() {
  return fs::exists("/sys/fs/cgroup/cgroup.controllers");
}

// `ctr events` running in the background, its output going to a file, until destroyed (then
// it gets SIGKILL: a process this test started). The constructor returns once the watcher is
// subscribed: it creates probe namespaces until one's /namespaces/create shows in the output.
class EventWatcher {
 public:
  EventWatcher(const std::string& socket, const fs::path& out) : out_(out) {
    std::vector<std::string> argv = {"/usr/bin/ctr", "--address", socket, "events"};
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (::posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ) != 0)
      pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; pid_ > 0 && i < 50; ++i) {
      std::string probe =
          "berth-events-probe-" + std::to_string(::getpid()) + "-" + std::to_string(i);
      testing::RunCommand({"ctr", "--address", socket, "namespaces", "create", probe});
      bool seen = WaitFor("\"name\":\"" + probe + "\"", std::chrono::milliseconds(200));
      testing::RunCommand({"ctr", "--address", socket, "namespaces", "remove", probe});
      if (seen)
        return;
    }
    ADD_FAILURE() << "ctr events did not subscribe: " << Output();
  }

  ~EventWatcher() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  std::string Output() const { return testing::ReadFile(out_); }

  // Polls the output until it contains `text`.
  bool WaitFor(const std::string& text,
               std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (Output().find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() >= deadline)
        return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }

 private:
  fs::path out_;
  pid_t pid_ = -1;
};

class TasksTest : public testing::DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    static int counter = 0;
    ns_ = "berth-it-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
    fs::create_directories(fifo_dir());
  }

  void TearDown() override {
    if (DaemonRunning())
      RemoveAllTasks();
    CleanUpLeftoverShims();
    RemoveNamespaceCgroups();
    DaemonFixture::TearDown();
  }

  // The shims make /<ns> as the parent of the tasks' cgroups (ctr's cgroupsPath is
  // /<ns>/<id>); remove the test's own, now empty, parent from every hierarchy.
  void RemoveNamespaceCgroups() {
    std::error_code ec;
    ::rmdir(("/sys/fs/cgroup/" + ns_).c_str());
    for (const fs::directory_entry& e : fs::directory_iterator("/sys/fs/cgroup", ec))
      ::rmdir((e.path() / ns_).c_str());
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
    testing::CommandResult r =
        testing::RunCommand({"chroot", root.string(), "/bin/busybox", "--install", "-s"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    testing::WriteFile(root / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
    return root.string();
  }

  testing::CommandResult C(std::vector<std::string> args,
                           std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    std::vector<std::string> argv = {"ctr", "--address", socket(), "-n", ns_};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunCommand(argv, timeout);
  }

  // ctr run [flags] --rootfs ROOTFS id args...
  testing::CommandResult Run(const std::vector<std::string>& flags, const std::string& id,
                             const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"run", "--fifo-dir", fifo_dir()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.insert(argv.end(), {"--rootfs", Rootfs(), id});
    argv.insert(argv.end(), args.begin(), args.end());
    return C(argv);
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

  // Polls `ctr tasks ls` until `id` has `status` (up to 10 s).
  bool WaitStatus(const std::string& id, const std::string& status) {
    for (int i = 0; i < 200; ++i) {
      auto tasks = Tasks();
      if (tasks.count(id) != 0 && tasks[id].second == status)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
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

  // Kills and deletes every task and container of the test's namespace through ctr.
  void RemoveAllTasks() {
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

  // What the daemon could not clean (a failed test, a killed berthd): `berth-shim delete`
  // kills the container's processes and removes its cgroup; the shim itself (whose pid the
  // bundle records, and which we started through berthd) gets SIGKILL.
  void CleanUpLeftoverShims() {
    std::error_code ec;
    if (!fs::exists(bundles(), ec))
      return;
    for (const fs::directory_entry& e : fs::directory_iterator(bundles(), ec)) {
      std::string id = e.path().filename();
      int pid = ShimPid(id);
      std::string cmdline = testing::ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
      if (pid > 0 && cmdline.find("berth-shim") != std::string::npos)
        ::kill(pid, SIGKILL);
      (void)testing::RunCommand({testing::BinPath("berth-shim"), "delete", "--id", id,
                                 "--namespace", ns_, "--bundle", e.path().string()});
    }
  }

  // Pids of the live berth-shim processes whose command line contains `want`, or (with
  // `cwd_under`) whose cwd is below that directory.
  static std::vector<int> FindShims(const std::string& want, const std::string& cwd_under = "") {
    std::vector<int> out;
    for (const fs::directory_entry& e : fs::directory_iterator("/proc")) {
      std::string name = e.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos)
        continue;
      std::string cmdline = testing::ReadFile(e.path() / "cmdline");
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
  // process berthd ran (its child) or the one between them (their child).
  std::vector<int> SpareShims() {
    std::vector<int> out;
    for (int pid :
         FindShims(std::string("--spare") + '\0' + "--address" + '\0' + socket() + '\0')) {
      int parent = ParentPid(pid);
      if (parent != daemon_pid() &&
          testing::ReadFile("/proc/" + std::to_string(parent) + "/cmdline").find("berth-shim") ==
              std::string::npos)
        out.push_back(pid);
    }
    return out;
  }

  // Polls until our berthd has a spare shim other than `other` (up to 10 s): its pid, or 0.
  int WaitForSpare(int other = 0) {
    for (int i = 0; i < 200; ++i) {
      for (int pid : SpareShims()) {
        if (pid != other)
          return pid;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
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
          testing::ReadFile("/proc/self/mountinfo").find(state() + "/") == std::string::npos)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_THAT(ShimsOfNamespace(), ::testing::IsEmpty());
    EXPECT_TRUE(!fs::exists(bundles(), ec) || fs::is_empty(bundles(), ec))
        << "bundles left in " << bundles();
    EXPECT_THAT(testing::ReadFile("/proc/self/mountinfo"), Not(HasSubstr(state() + "/")));
    for (const std::string& id : ids) {
      EXPECT_FALSE(fs::exists("/sys/fs/cgroup/" + ns_ + "/" + id)) << id;
      for (const fs::directory_entry& e : fs::directory_iterator("/sys/fs/cgroup", ec)) {
        fs::path cg = e.path() / ns_ / id;
        EXPECT_FALSE(fs::exists(cg)) << cg << " is left";
      }
    }
  }

  std::string ns_;
};

TEST_F(TasksTest, RunRmPrintsOutputAndPassesTheExitCode) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  testing::CommandResult r = Run({"--rm"}, "hello", {"echo", "hello"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello\n");
  r = Run({"--rm"}, "three", {"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.out, "out\n");
  EXPECT_THAT(r.err, HasSubstr("err\n"));
  // Empty input (ctr's stdin is /dev/null here): ctr closes its end of the stdin fifo before
  // the shim opens it, and cat must still see the end of its input.
  r = Run({"--rm"}, "cat", {"cat"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(r.timed_out);
  // The same id again at once: the bundle of the last one may still be being removed.
  for (int i = 0; i < 3; ++i) {
    r = Run({"--rm"}, "again", {"echo", std::to_string(i)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, std::to_string(i) + "\n");
  }
  EXPECT_EQ(C({"tasks", "ls", "-q"}).out, "");
  EXPECT_EQ(C({"containers", "ls", "-q"}).out, "");
  ExpectNothingLeft({"hello", "three", "cat", "again"});
}

TEST_F(TasksTest, RunAnImageMountsItsSnapshotAndCleansUp) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  std::string images = (dir().path() / "images").string();
  testing::CommandResult r = testing::RunCommand(
      {"bash", testing::SourceDir() + "/tests/fixtures/make-images.sh", images});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = C({"images", "import", images + "/busybox.docker.tar"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string image = "docker.io/library/busybox:latest";
  r = C({"run", "--rm", "--fifo-dir", fifo_dir(), image, "img", "sh", "-c",
         "echo from-image; grep ' / ' /proc/mounts; exit 4"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_THAT(r.out, HasSubstr("from-image\n"));
  EXPECT_THAT(r.out, HasSubstr("overlay / overlay"));  // the snapshot, mounted by berthd

  r = C({"run", "-d", "--fifo-dir", fifo_dir(), image, "imgd", "sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(testing::ReadFile("/proc/self/mountinfo"), HasSubstr(bundles() + "/imgd/rootfs"));
  EXPECT_EQ(Tasks()["imgd"].second, "RUNNING");
  // The container is a GC root for its snapshot: removing the image (with a synchronous
  // collection) keeps the running container's snapshot and the layer under it.
  r = C({"images", "rm", "--sync", image});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = C({"snapshots", "ls"});
  EXPECT_THAT(r.out, HasSubstr("imgd")) << r.out;
  EXPECT_THAT(r.out, HasSubstr("Committed")) << r.out;
  r = C({"tasks", "exec", "--fifo-dir", fifo_dir(), "--exec-id", "e1", "imgd", "cat",
         "/bin/busybox"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_GT(r.out.size(), 100000u);  // the layer's files are all still there
  ASSERT_EQ(C({"tasks", "kill", "-s", "SIGKILL", "imgd"}).exit_code, 0);
  ASSERT_TRUE(WaitStatus("imgd", "STOPPED"));
  EXPECT_EQ(C({"tasks", "delete", "imgd"}).exit_code, 0);
  EXPECT_EQ(C({"containers", "rm", "imgd"}).exit_code, 0);
  // With the container gone, nothing holds the snapshots any more.
  r = C({"snapshots", "ls"});
  EXPECT_THAT(r.out, Not(HasSubstr("Active"))) << r.out;
  ExpectNothingLeft({"img", "imgd"});
}

TEST_F(TasksTest, DetachedTaskLifecycleWithEvents) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  EventWatcher events(socket(), dir().path() / "events.txt");
  testing::CommandResult r =
      Run({"-d"}, "web", {"sh", "-c", "trap 'exit 7' TERM; while true; do sleep 0.1; done"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto tasks = Tasks();
  ASSERT_EQ(tasks.count("web"), 1u);
  int pid = tasks["web"].first;
  EXPECT_EQ(tasks["web"].second, "RUNNING");
  EXPECT_EQ(ShimsOfNamespace(), std::vector<int>{ShimPid("web")});  // one shim per task
  EXPECT_TRUE(ProcessAlive(pid));

  r = C({"tasks", "ps", "web"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(std::to_string(pid)));

  r = C({"tasks", "exec", "--fifo-dir", fifo_dir(), "--exec-id", "e1", "web", "sh", "-c",
         "echo in-exec; exit 5"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(r.out, "in-exec\n");

  ASSERT_EQ(C({"tasks", "pause", "web"}).exit_code, 0);
  EXPECT_EQ(Tasks()["web"].second, "PAUSED");
  ASSERT_EQ(C({"tasks", "resume", "web"}).exit_code, 0);
  EXPECT_EQ(Tasks()["web"].second, "RUNNING");

  r = C({"tasks", "metrics", "web"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("pids.current"));
  r = C({"tasks", "metrics", "--format", "json", "web"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"pids\""));

  // A running task is neither deleted nor its container removed.
  r = C({"tasks", "delete", "web"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("must be stopped"));
  EXPECT_NE(C({"containers", "rm", "web"}).exit_code, 0);

  ASSERT_EQ(C({"tasks", "kill", "-s", "SIGTERM", "web"}).exit_code, 0);
  ASSERT_TRUE(WaitStatus("web", "STOPPED"));
  EXPECT_FALSE(ProcessAlive(pid));
  r = C({"tasks", "delete", "web"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("task web exit with non-zero exit code 7"));
  EXPECT_EQ(C({"tasks", "ls", "-q"}).out, "");
  EXPECT_EQ(C({"containers", "rm", "web"}).exit_code, 0);
  // The shim's events (here /tasks/delete) reach berthd on their own stream, so they may
  // come after the reply, and after later events of berthd's own (as with containerd).
  EXPECT_TRUE(events.WaitFor("/containers/delete {\"id\":\"web\"}")) << events.Output();
  EXPECT_TRUE(events.WaitFor("/tasks/delete {\"container_id\":\"web\"")) << events.Output();
  std::string out = events.Output();
  for (const char* topic : {"/tasks/create", "/tasks/start", "/tasks/exec-added",
                            "/tasks/exec-started", "/tasks/paused", "/tasks/resumed"}) {
    EXPECT_THAT(out, HasSubstr(ns_ + " " + topic + " {\"container_id\":\"web\"")) << topic;
  }
  EXPECT_THAT(out, HasSubstr("/tasks/exit {\"container_id\":\"web\",\"id\":\"e1\""));
  EXPECT_THAT(out,
              HasSubstr("\"id\":\"web\",\"pid\":" + std::to_string(pid) + ",\"exit_status\":7"));
  ExpectNothingLeft({"web"});
}

TEST_F(TasksTest, ErrorsNameTheTask) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  testing::CommandResult r = C({"tasks", "start", "nope"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("not found"));
  r = C({"tasks", "kill", "nope"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("not found"));
  r = Run({"--rm", "--runtime", "io.containerd.nope.v1"}, "bad", {"true"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("runtime \"io.containerd.nope.v1\" is not supported"));
  // A bind mount of a missing source fails Create with the shim's message, and berthd
  // leaves nothing behind: no shim, no bundle, no task.
  r = Run({"--rm", "--mount", "type=bind,src=/nonexistent-berth-src,dst=/mnt,options=rbind"},
          "badmount", {"true"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("/nonexistent-berth-src"));
  EXPECT_EQ(C({"tasks", "ls", "-q"}).out, "");
  EXPECT_FALSE(fs::exists(bundles() + "/badmount"));
  EXPECT_THAT(ShimsOfNamespace(), ::testing::IsEmpty());
  // A command that does not exist fails at Start (the embedded runtime execs then) with a
  // message naming it; the task ends up stopped and can be deleted.
  r = Run({"--rm"}, "missing", {"/bin/does-not-exist"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("does-not-exist"));
  if (Tasks().count("missing") != 0) {  // ctr's own delete can come before the exit is reaped
    EXPECT_TRUE(WaitStatus("missing", "STOPPED"));
    EXPECT_EQ(C({"tasks", "delete", "missing"}).exit_code, 0);
  }
  EXPECT_EQ(C({"tasks", "ls", "-q"}).out, "");

  ASSERT_EQ(Run({"-d"}, "cp", {"sleep", "100"}).exit_code, 0);
  r = C({"tasks", "checkpoint", "cp"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("checkpoint task \"cp\": not supported"));
  r = Run({"-d"}, "cp", {"sleep", "100"});  // the container is taken
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("already exists"));
  r = C({"tasks", "exec", "--fifo-dir", fifo_dir(), "--exec-id", "bad/id", "cp", "true"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("bad/id"));
  RemoveAllTasks();
  ExpectNothingLeft({"bad", "badmount", "missing", "cp"});
}

TEST_F(TasksTest, SpecFlagsTakeEffect) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  fs::path shared = dir().path() / "shared";
  fs::create_directories(shared);
  testing::WriteFile(shared / "note", "from-host\n");
  testing::CommandResult r =
      Run({"--rm", "--env", "FOO=bar", "--cwd", "/tmp", "--read-only", "--net-host", "--mount",
           "type=bind,src=" + shared.string() + ",dst=/mnt,options=rbind:ro"},
          "flags",
          {"sh", "-c",
           "echo foo=$FOO; echo cwd=$(pwd); cat /mnt/note; touch /x 2>/dev/null || echo ro-root; "
           "touch /mnt/y 2>/dev/null || echo ro-mount; echo net=$(hostname)"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("foo=bar\n"));
  EXPECT_THAT(r.out, HasSubstr("cwd=/tmp\n"));
  EXPECT_THAT(r.out, HasSubstr("from-host\n"));
  EXPECT_THAT(r.out, HasSubstr("ro-root\n"));
  EXPECT_THAT(r.out, HasSubstr("ro-mount\n"));
  EXPECT_FALSE(fs::exists(shared / "y"));

  // --net-host: the container sees the host's interfaces; without it, only lo.
  std::set<std::string> host_ifaces;
  for (const auto& e : fs::directory_iterator("/sys/class/net"))
    host_ifaces.insert(e.path().filename());
  r = Run({"--rm", "--net-host"}, "net1", {"ls", "/sys/class/net"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out).size(), host_ifaces.size()) << r.out;
  r = Run({"--rm"}, "net2", {"ls", "/sys/class/net"});
  EXPECT_EQ(r.out, "lo\n");

  // --memory-limit lands in the task's cgroup.
  ASSERT_EQ(Run({"-d", "--memory-limit", "67108864"}, "mem", {"sleep", "100"}).exit_code, 0);
  std::string limit = IsCgroupV2() ? testing::ReadFile(CgroupDir("mem") + "/memory.max")
                                   : testing::ReadFile(CgroupDir("mem") + "/memory.limit_in_bytes");
  EXPECT_EQ(limit, "67108864\n");
  RemoveAllTasks();
  ExpectNothingLeft({"flags", "net1", "net2", "mem"});
}

TEST_F(TasksTest, RuncBinaryRunsTheContainerThroughRunc) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  if (!fs::exists("/usr/sbin/runc"))
    GTEST_SKIP() << "runc (Debian package runc) is not installed";
  ASSERT_TRUE(StartDaemon());
  // No image config, so no PATH: name the program.
  testing::CommandResult r = Run({"--rm", "--runc-binary", "/usr/sbin/runc"}, "viarunc",
                                 {"/bin/sh", "-c", "echo via-runc; exit 4"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_EQ(r.out, "via-runc\n");
  ASSERT_EQ(Run({"-d", "--runc-binary", "/usr/sbin/runc"}, "rd", {"/bin/sleep", "100"}).exit_code,
            0);
  // runc keeps its state under the shim's runtime root; the container is runc's.
  std::string runtime_json = testing::ReadFile(bundles() + "/rd/runtime.json");
  EXPECT_THAT(runtime_json, HasSubstr("/usr/sbin/runc"));
  EXPECT_EQ(Tasks()["rd"].second, "RUNNING");
  r = C({"tasks", "exec", "--fifo-dir", fifo_dir(), "--exec-id", "e1", "rd", "/bin/sh", "-c",
         "echo exec-in-runc"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "exec-in-runc\n");
  RemoveAllTasks();
  ExpectNothingLeft({"viarunc", "rd"});
}

// Runs `command` under a private tmux server and returns it; the caller types with SendKeys.
class Tmux {
 public:
  Tmux(const std::string& name, const std::string& command) : name_(name) {
    testing::RunCommand({"tmux", "-L", name_, "new-session", "-d", "-s", "t", "-x", "100", "-y",
                         "30", command + "; echo CTR-EXIT=$?; sleep 60"});
  }

  ~Tmux() { testing::RunCommand({"tmux", "-L", name_, "kill-server"}); }

  void SendKeys(const std::string& keys) {
    testing::RunCommand({"tmux", "-L", name_, "send-keys", "-t", "t", keys, "Enter"});
  }

  void Resize(int width, int height) {
    testing::RunCommand({"tmux", "-L", name_, "resize-window", "-t", "t", "-x",
                         std::to_string(width), "-y", std::to_string(height)});
  }

  std::string Screen() {
    return testing::RunCommand({"tmux", "-L", name_, "capture-pane", "-p", "-t", "t"}).out;
  }

  // Polls the screen until it contains `text` (up to 10 s).
  bool WaitFor(const std::string& text) {
    for (int i = 0; i < 100; ++i) {
      if (Screen().find(text) != std::string::npos)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

 private:
  std::string name_;
};

TEST_F(TasksTest, TerminalRunAndExecUnderTmux) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  if (!testing::HaveProgram("tmux"))
    GTEST_SKIP() << "tmux is not installed";
  ASSERT_TRUE(StartDaemon());
  std::string ctr = "ctr --address " + socket() + " -n " + ns_;
  {
    Tmux tmux(ns_ + "-run",
              ctr + " run -t --rm --fifo-dir " + fifo_dir() + " --rootfs " + Rootfs() + " tty1 sh");
    ASSERT_TRUE(tmux.WaitFor("/ #")) << tmux.Screen();
    tmux.SendKeys("echo answer=$((6*7)); stty size");
    EXPECT_TRUE(tmux.WaitFor("answer=42")) << tmux.Screen();
    EXPECT_TRUE(tmux.WaitFor("30 100")) << tmux.Screen();
    tmux.SendKeys("exit 9");
    EXPECT_TRUE(tmux.WaitFor("CTR-EXIT=9")) << tmux.Screen();
  }
  ASSERT_EQ(Run({"-d"}, "box", {"sleep", "1000"}).exit_code, 0);
  {
    Tmux tmux(ns_ + "-exec",
              ctr + " tasks exec -t --fifo-dir " + fifo_dir() + " --exec-id sh1 box sh");
    ASSERT_TRUE(tmux.WaitFor("/ #")) << tmux.Screen();
    tmux.SendKeys("echo exec=$((6*7)); stty size");
    EXPECT_TRUE(tmux.WaitFor("exec=42")) << tmux.Screen();
    EXPECT_TRUE(tmux.WaitFor("30 100")) << tmux.Screen();
    tmux.Resize(70, 20);  // ctr forwards SIGWINCH as ResizePty
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    tmux.SendKeys("stty size; exit 2");
    EXPECT_TRUE(tmux.WaitFor("20 70")) << tmux.Screen();
    EXPECT_TRUE(tmux.WaitFor("CTR-EXIT=2")) << tmux.Screen();
  }
  RemoveAllTasks();
  ExpectNothingLeft({"tty1", "box"});
}

TEST_F(TasksTest, FiftyTasksAtOnceLeaveNothingBehind) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  constexpr int kTasks = 50;
  std::vector<std::string> ids;
  std::vector<int> shims;
  for (int i = 0; i < kTasks; ++i) {
    ids.push_back("t" + std::to_string(i));
    testing::CommandResult r = Run({"-d"}, ids.back(), {"sleep", "1000"});
    ASSERT_EQ(r.exit_code, 0) << ids.back() << ": " << r.err;
    shims.push_back(ShimPid(ids.back()));
  }
  auto tasks = Tasks();
  ASSERT_EQ(tasks.size(), static_cast<size_t>(kTasks));
  std::vector<int> pids;
  for (const auto& [id, t] : tasks) {
    EXPECT_EQ(t.second, "RUNNING") << id;
    pids.push_back(t.first);
  }
  for (const std::string& id : ids)
    EXPECT_EQ(C({"tasks", "kill", "-s", "SIGKILL", id}).exit_code, 0) << id;
  for (const std::string& id : ids) {
    ASSERT_TRUE(WaitStatus(id, "STOPPED")) << id;
    testing::CommandResult r = C({"tasks", "delete", id});
    EXPECT_EQ(r.exit_code, 0) << id << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("exit code 137")) << id;
    EXPECT_EQ(C({"containers", "rm", id}).exit_code, 0) << id;
  }
  EXPECT_EQ(C({"tasks", "ls", "-q"}).out, "");
  for (int pid : pids) EXPECT_FALSE(ProcessAlive(pid)) << "task pid " << pid;
  ExpectNothingLeft(ids);
  for (int pid : shims) EXPECT_FALSE(ProcessAlive(pid)) << "shim pid " << pid;
}

TEST_F(TasksTest, AShimThatDiesIsCleanedUpAndReportedAsExited) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  ASSERT_EQ(Run({"-d"}, "doomed", {"sleep", "1000"}).exit_code, 0);
  ASSERT_EQ(Run({"-d"}, "bystander", {"sleep", "1000"}).exit_code, 0);
  int pid = Tasks()["doomed"].first;
  int shim = ShimPid("doomed");
  ASSERT_GT(shim, 0);
  ASSERT_NE(testing::ReadFile("/proc/" + std::to_string(shim) + "/cmdline").find("berth-shim"),
            std::string::npos);
  EventWatcher events(socket(), dir().path() / "events.txt");
  ::kill(shim, SIGKILL);  // a shim we started (through berthd) and whose pid the bundle holds
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = Tasks().count("doomed") == 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(gone) << C({"tasks", "ls"}).out;
  EXPECT_FALSE(ProcessAlive(pid));
  EXPECT_FALSE(fs::exists(bundles() + "/doomed"));
  EXPECT_TRUE(events.WaitFor(ns_ + " /tasks/exit {\"container_id\":\"doomed\",\"id\":" +
                             "\"doomed\",\"pid\":" + std::to_string(pid) + ",\"exit_status\":137"))
      << events.Output();
  EXPECT_EQ(Tasks()["bystander"].second, "RUNNING");
  EXPECT_EQ(C({"containers", "rm", "doomed"}).exit_code, 0);
  RemoveAllTasks();
  ExpectNothingLeft({"doomed", "bystander"});
}

// A shim replays only its last 1024 events to a new subscriber. After more than that, a
// restarted berthd must still find where it left off: nothing is published twice, and the
// next event is published once.
TEST_F(TasksTest, RestartAfterMoreEventsThanTheShimKeepsRepublishesNothing) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  ASSERT_EQ(Run({"-d"}, "busy", {"sleep", "1000"}).exit_code, 0);
  auto stub = ::containerd::services::tasks::v1::Tasks::NewStub(
      grpc::CreateChannel("unix:" + socket(), grpc::InsecureChannelCredentials()));
  auto call = [&](bool pause) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("containerd-namespace", ns_);
    google::protobuf::Empty out;
    if (pause) {
      ::containerd::services::tasks::v1::PauseTaskRequest req;
      req.set_container_id("busy");
      return stub->Pause(&ctx, req, &out);
    }
    ::containerd::services::tasks::v1::ResumeTaskRequest req;
    req.set_container_id("busy");
    return stub->Resume(&ctx, req, &out);
  };
  for (int i = 0; i < 520; ++i) {  // 1040 events, plus /tasks/create and /tasks/start
    ASSERT_TRUE(call(true).ok()) << i;
    ASSERT_TRUE(call(false).ok()) << i;
  }
  auto seen = [&] {
    std::istringstream in(testing::ReadFile(bundles() + "/busy/events.seen"));
    int64_t count = 0;
    in >> count;
    return count;
  };
  for (int i = 0; i < 100 && seen() < 1042; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(seen(), 1042);

  ASSERT_EQ(StopDaemon(SIGKILL), 128 + SIGKILL);
  ASSERT_TRUE(StartDaemon());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(seen(), 1042);  // the replayed 1024 were all recognised as forwarded
  EventWatcher events(socket(), dir().path() / "events.txt");
  ASSERT_EQ(C({"tasks", "pause", "busy"}).exit_code, 0);
  EXPECT_TRUE(events.WaitFor(ns_ + " /tasks/paused {\"container_id\":\"busy\"}"))
      << events.Output();
  for (int i = 0; i < 100 && seen() < 1043; ++i)  // written just after the event is published
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(seen(), 1043);
  RemoveAllTasks();
  ExpectNothingLeft({"busy"});
}

TEST_F(TasksTest, TasksSurviveABerthdKillAndAreRestored) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  std::vector<std::string> ids;
  for (int i = 0; i < 9; ++i) {
    ids.push_back("live" + std::to_string(i));
    ASSERT_EQ(Run({"-d"}, ids.back(), {"sleep", "1000"}).exit_code, 0);
  }
  // Exits while berthd is down, its shim keeping the status.
  ASSERT_EQ(Run({"-d"}, "quits", {"sh", "-c", "while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 6"})
                .exit_code,
            0);
  // Its shim dies while berthd is down.
  ASSERT_EQ(Run({"-d"}, "orphan", {"sleep", "1000"}).exit_code, 0);
  auto before = Tasks();
  ASSERT_EQ(before.size(), 11u);
  int orphan_pid = before["orphan"].first;

  ASSERT_EQ(StopDaemon(SIGKILL), 128 + SIGKILL);
  testing::WriteFile(Rootfs() + "/tmp/go", "");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_FALSE(ProcessAlive(before["quits"].first));
  for (const std::string& id : ids) EXPECT_TRUE(ProcessAlive(before[id].first)) << id;
  int orphan_shim = ShimPid("orphan");
  ASSERT_GT(orphan_shim, 0);
  ASSERT_NE(
      testing::ReadFile("/proc/" + std::to_string(orphan_shim) + "/cmdline").find("berth-shim"),
      std::string::npos);
  ::kill(orphan_shim, SIGKILL);

  auto restart = std::chrono::steady_clock::now();
  ASSERT_TRUE(StartDaemon());
  auto restart_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - restart)
                        .count();
  std::printf("berthd restart with 10 live tasks and a dead shim: %lld ms\n",
              static_cast<long long>(restart_ms));
  EXPECT_LT(restart_ms, 5000);
  EXPECT_THAT(DaemonLog(), HasSubstr("task manager ready tasks=10"));
  auto after = Tasks();
  for (const std::string& id : ids) {
    ASSERT_EQ(after.count(id), 1u) << id;
    EXPECT_EQ(after[id].second, "RUNNING") << id;
    EXPECT_EQ(after[id].first, before[id].first) << id;  // the same process
  }
  ASSERT_EQ(after.count("quits"), 1u);
  EXPECT_EQ(after["quits"].second, "STOPPED");
  testing::CommandResult r = C({"tasks", "delete", "quits"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("task quits exit with non-zero exit code 6"));  // kept by the shim
  // The orphan was cleaned up at start: its processes killed, its bundle gone.
  EXPECT_EQ(after.count("orphan"), 0u);
  EXPECT_FALSE(ProcessAlive(orphan_pid));
  EXPECT_FALSE(fs::exists(bundles() + "/orphan"));
  EXPECT_THAT(DaemonLog(),
              HasSubstr("shim of task is gone, cleaning up namespace=" + ns_ + " id=orphan"));

  // The restored tasks are fully usable.
  r = C({"tasks", "exec", "--fifo-dir", fifo_dir(), "--exec-id", "after", "live0", "echo",
         "still-here"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "still-here\n");
  RemoveAllTasks();
  EXPECT_EQ(C({"tasks", "ls", "-q"}).out, "");
  for (const std::string& id : ids) EXPECT_FALSE(ProcessAlive(before[id].first)) << id;
  ids.insert(ids.end(), {"quits", "orphan"});
  ExpectNothingLeft(ids);
}

}  // namespace
}  // namespace berth

namespace berth {
namespace {

// A bundle marked deleted (berthd stopped between answering a delete and removing it) is
// removed at the next start without the task being reported again.
TEST_F(TasksTest, ABundleMarkedDeletedIsRemovedQuietlyOnRestart) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  ASSERT_EQ(Run({"-d"}, "live", {"sleep", "1000"}).exit_code, 0);
  ASSERT_EQ(StopDaemon(SIGKILL), 128 + SIGKILL);
  fs::create_directories(bundles() + "/ghost/rootfs");
  testing::WriteFile(bundles() + "/ghost/config.json", "{}");
  testing::WriteFile(bundles() + "/ghost/deleted", "");
  ASSERT_TRUE(StartDaemon());
  EXPECT_THAT(DaemonLog(), HasSubstr("task manager ready tasks=1"));
  EXPECT_FALSE(fs::exists(bundles() + "/ghost"));
  EXPECT_THAT(DaemonLog(), Not(HasSubstr("id=ghost")));
  auto tasks = Tasks();
  EXPECT_EQ(tasks.count("ghost"), 0u);
  EXPECT_EQ(tasks["live"].second, "RUNNING");
  RemoveAllTasks();
  ExpectNothingLeft({"live"});
}

TEST_F(TasksTest, ASpareShimTakesTheNextTaskAndNoSpareOutlivesBerthd) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  int spare = WaitForSpare();
  ASSERT_GT(spare, 0) << "berthd started no spare shim";
  ASSERT_EQ(Run({"-d"}, "first", {"sleep", "1000"}).exit_code, 0);
  EXPECT_EQ(ShimPid("first"), spare);
  // It now reads as a shim started for its task (ps, pgrep).
  EXPECT_THAT(testing::ReadFile("/proc/" + std::to_string(spare) + "/cmdline"),
              HasSubstr(std::string("--id") + '\0' + "first" + '\0' + "--namespace" + '\0' + ns_));
  int next = WaitForSpare(spare);
  ASSERT_GT(next, 0) << "no new spare after the first was taken";

  // berthd dies: its spare goes with it, the task's shim stays and is found again.
  ASSERT_EQ(StopDaemon(SIGKILL), 128 + SIGKILL);
  for (int i = 0; i < 100 && ProcessAlive(next); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(ProcessAlive(next)) << "spare shim " << next << " outlived berthd";
  EXPECT_TRUE(ProcessAlive(spare));
  ASSERT_TRUE(StartDaemon());
  EXPECT_THAT(DaemonLog(), HasSubstr("task manager ready tasks=1"));
  EXPECT_EQ(Tasks()["first"].second, "RUNNING");
  testing::CommandResult r =
      C({"tasks", "exec", "--fifo-dir", fifo_dir(), "--exec-id", "e1", "first", "echo", "ok"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ok\n");
  RemoveAllTasks();
  ExpectNothingLeft({"first"});

  // A berthd that stops takes its spare along too.
  int spare_now = WaitForSpare();
  ASSERT_GT(spare_now, 0);
  ASSERT_EQ(StopDaemon(SIGTERM), 0);
  for (int i = 0; i < 100 && ProcessAlive(spare_now); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(ProcessAlive(spare_now));

  // spare_shims = 0: none, and tasks start their own shim.
  fs::path cfg = dir().path() / "no-spares.toml";
  testing::WriteFile(cfg, "[plugins.\"io.containerd.runtime.v2.task\"]\nspare_shims = 0\n");
  ASSERT_TRUE(StartDaemon({"--config", cfg.string()}));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_THAT(SpareShims(), ::testing::IsEmpty());
  r = Run({"--rm"}, "own", {"echo", "own shim"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "own shim\n");
  EXPECT_THAT(SpareShims(), ::testing::IsEmpty());
  ExpectNothingLeft({"first", "own"});
}

}  // namespace
}  // namespace berth
