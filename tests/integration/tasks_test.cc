// Tasks through containerd's own client: ctr run (--rm, -d, -t, with an image, through runc),
// the task verbs and their events, errors, spec flags, and 50 tasks at once (the fixture:
// tasks_fixture.h).

#include <filesystem>
#include <regex>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/integration/tasks_fixture.h"
#include "tests/testing/matchers.h"

namespace berth {
namespace {

namespace fs = std::filesystem;
using ::testing::ContainsRegex;
using testing::EventWatcher;
using ::testing::HasSubstr;
using testing::IsCgroupV2;
using ::testing::Not;
using testing::ProcessAlive;
using testing::TasksTest;

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
  testing::CommandResult r = testing::MakeTestImages(images);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = C({"images", "import", images + "/busybox.docker.tar"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string image = "docker.io/library/busybox:latest";
  EventWatcher events(socket(), dir().path() / "events.txt");
  r = C({"run", "--rm", "--fifo-dir", fifo_dir(), image, "img", "sh", "-c",
         "echo from-image; grep ' / ' /proc/mounts; exit 4"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_THAT(r.out, HasSubstr("from-image\n"));
  EXPECT_THAT(r.out, HasSubstr("overlay / overlay"));  // the snapshot, mounted by the shim
  // As containerd's, the create event names the rootfs mounts the task was given.
  EXPECT_TRUE(events.WaitFor("/tasks/delete {\"container_id\":\"img\"")) << events.Output();
  EXPECT_THAT(events.Output(),
              ContainsRegex("/tasks/create [^\n]*\"rootfs\":\\[\\{\"type\":\"overlay\""));

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

  // An exec's own process shows its exec id, as runc's shim details it.
  r = C({"tasks", "exec", "-d", "--fifo-dir", fifo_dir(), "--exec-id", "bg", "web", "sleep", "30"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = C({"tasks", "ps", "web"});
  EXPECT_THAT(r.out, HasSubstr("ExecID:bg")) << r.out;
  EXPECT_EQ(C({"tasks", "kill", "--exec-id", "bg", "-s", "SIGKILL", "web"}).exit_code, 0);

  ASSERT_EQ(C({"tasks", "pause", "web"}).exit_code, 0);
  EXPECT_EQ(Tasks()["web"].second, "PAUSED");
  // Refused, as containerd refuses it (it used to hang the shim: the exec froze).
  r = C({"tasks", "exec", "--fifo-dir", fifo_dir(), "--exec-id", "p1", "web", "true"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(r.timed_out);
  EXPECT_THAT(r.err, HasSubstr("task \"web\" is paused: cannot exec"));
  ASSERT_EQ(C({"tasks", "resume", "web"}).exit_code, 0);
  EXPECT_EQ(Tasks()["web"].second, "RUNNING");

  r = C({"tasks", "metrics", "web"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("pids.current"));
  // The sample's time to the nanosecond (Go prints the fraction), as containerd's.
  EXPECT_THAT(r.out, ContainsRegex(R"([0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+ \+0000 UTC)"));
  r = C({"tasks", "metrics", "--format", "json", "web"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"pids\""));
  // What containerd's cgroups packages fill, beyond the usage counters (ctr leaves zeros out).
  if (std::filesystem::exists("/sys/fs/cgroup/cgroup.controllers")) {
    EXPECT_THAT(r.out, HasSubstr("\"usage_limit\""));
    EXPECT_THAT(r.out, HasSubstr("\"anon\""));
  } else {
    EXPECT_THAT(r.out, HasSubstr("\"per_cpu\""));
    EXPECT_THAT(r.out, HasSubstr("\"hierarchical_memory_limit\""));
    EXPECT_THAT(r.out, HasSubstr("\"total_pg_fault\""));
    EXPECT_THAT(r.out, HasSubstr("\"memory_oom_control\""));
  }

  // A running task is neither deleted nor its container removed.
  r = C({"tasks", "delete", "web"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("must be stopped"));
  r = C({"containers", "rm", "web"});
  EXPECT_NE(r.exit_code, 0);
  // ctr prints the task's status: no exit time while it runs (Go's zero time, not 1970).
  EXPECT_THAT(r.err, HasSubstr("{running 0 0001-01-01 00:00:00 +0000 UTC}"));

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
  // As containerd's shim's, the init's /tasks/delete names no process id.
  for (const std::string& line : testing::Lines(out)) {
    if (line.find("/tasks/delete ") != std::string::npos) {
      EXPECT_THAT(line, Not(HasSubstr("\"id\":"))) << line;
    }
  }
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
  // A command that does not exist, or a cwd that is a file, fails the task's create (the
  // init checks them before it is ready, as runc does) with a message naming the task and the
  // path, and ctr's own clean-up of --rm deletes the container.
  for (int i = 0; i < 5; ++i) {
    r = Run({"--rm"}, "missing", {"/bin/does-not-exist"});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_THAT(r.err, HasSubstr("task \"missing\": init: exec /bin/does-not-exist: No such file"));
    r = Run({"--rm"}, "missing", {"does-not-exist"});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_THAT(r.err, HasSubstr("task \"missing\": init: exec \"does-not-exist\": executable "
                                 "file not found in $PATH"));
    r = Run({"--rm", "--cwd", "/etc/passwd"}, "badcwd", {"true"});
    EXPECT_NE(r.exit_code, 0);
    EXPECT_THAT(r.err, HasSubstr("chdir /etc/passwd: Not a directory"));
    EXPECT_EQ(C({"tasks", "ls", "-q"}).out, "");
    EXPECT_EQ(C({"containers", "ls", "-q"}).out, "");
  }

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
  // An exec whose command does not exist fails at its start, naming it; ctr waits for the end
  // of the exec's output before it reports that, so the shim must close its fifos. The task
  // goes on.
  r = C({"tasks", "exec", "--fifo-dir", fifo_dir(), "--exec-id", "e-missing", "cp",
         "/bin/does-not-exist"},
        std::chrono::seconds(20));
  EXPECT_FALSE(r.timed_out);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("task \"cp\": exec \"e-missing\": start: exec "
                               "/bin/does-not-exist: No such file or directory"));
  r = C({"tasks", "exec", "--fifo-dir", fifo_dir(), "--exec-id", "e-after", "cp", "sh", "-c",
         "echo still-here"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "still-here\n");
  RemoveAll();
  ExpectNothingLeft({"bad", "badmount", "missing", "cp"});
}

// `ctr run --log-uri binary:///path?k=v` (containerd's logging-program interface, which
// nerdctl uses): the shim starts the program with the container's output on fds 3 and 4, the
// query as its arguments and the container's names in its environment; it ends with the task.
TEST_F(TasksTest, LogBinaryGetsTheContainersOutput) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  const fs::path logs = dir().path() / "logs";
  fs::create_directories(logs);
  const fs::path prog = dir().path() / "logger.sh";
  testing::WriteFile(prog,
                     "#!/bin/sh\n"
                     "echo $$ > " +
                         (logs / "pid").string() +
                         "\n"
                         "exec 5>&-\n"
                         "cat <&3 > " +
                         (logs / "out").string() +
                         " &\n"
                         "cat <&4 > " +
                         (logs / "err").string() +
                         " &\n"
                         "echo \"$CONTAINER_NAMESPACE $CONTAINER_ID $*\" > " +
                         (logs / "who").string() +
                         "\n"
                         "wait\n");
  fs::permissions(prog, fs::perms::owner_all);
  testing::CommandResult r =
      Run({"-d", "--log-uri", "binary://" + prog.string() + "?tag=web"}, "logged",
          {"sh", "-c", "echo to-out; echo to-err >&2; exec sleep 60"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int i = 0; i < 100 && testing::ReadFile(logs / "err").empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(testing::ReadFile(logs / "out"), "to-out\n");
  EXPECT_EQ(testing::ReadFile(logs / "err"), "to-err\n");
  EXPECT_EQ(testing::ReadFile(logs / "who"), ns_ + " logged tag web\n");
  int pid = std::stoi(testing::ReadFile(logs / "pid"));
  EXPECT_TRUE(ProcessAlive(pid));
  ASSERT_EQ(C({"tasks", "kill", "-s", "SIGKILL", "logged"}).exit_code, 0);
  ASSERT_TRUE(WaitStatus("logged", "STOPPED"));
  EXPECT_EQ(C({"tasks", "delete", "logged"}).exit_code, 0);
  EXPECT_FALSE(ProcessAlive(pid)) << "the logging program ends with its task";
  EXPECT_EQ(C({"containers", "rm", "logged"}).exit_code, 0);

  r = Run({"--rm", "--log-uri", "binary://" + (dir().path() / "missing").string()}, "nolog",
          {"true"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("missing: No such file or directory"));
  ExpectNothingLeft({"logged", "nolog"});
}

// `ctr run --cni`: ctr runs the CNI plugins itself (Debian's containernetworking-plugins:
// bridge with host-local IPAM) on the network namespace of the pid berthd reports for the
// task, and tears the network down after the task with --rm. ctr reads only /etc/cni/net.d
// and /opt/cni/bin, so it runs in a mount and network namespace of the test's own: an overlay
// on /etc (its upper directory in the test's directory) and a tmpfs on /opt hold the
// configuration, the bridge lives in the test's network namespace and the IPAM data in the
// test's directory. Nothing on the host changes.
TEST_F(TasksTest, CniNetworkingThroughCtr) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(fs::exists("/usr/lib/cni/bridge"))
      << "Debian's containernetworking-plugins is missing (scripts/install-deps.sh)";
  ASSERT_TRUE(StartDaemon());
  const fs::path cni = dir().path() / "cni";
  for (const char* d : {"upper", "work", "ipam"}) fs::create_directories(cni / d);
  testing::WriteFile(cni / "enter.sh", R"(set -e
d=$1; shift
mount --make-rprivate /
mount -t overlay overlay -o lowerdir=/etc,upperdir=$d/upper,workdir=$d/work /etc
mkdir -p /etc/cni/net.d
cat > /etc/cni/net.d/10-berth-test.conf <<EOF
{"cniVersion": "1.0.0", "name": "berth-test", "type": "bridge", "bridge": "bt0",
 "isGateway": true, "ipMasq": false,
 "ipam": {"type": "host-local", "subnet": "10.88.77.0/24", "dataDir": "$d/ipam"}}
EOF
mount -t tmpfs tmpfs /opt
mkdir -p /opt/cni/bin
mount --bind /usr/lib/cni /opt/cni/bin
exec "$@"
)");
  std::vector<std::string> argv = {"unshare",   "-m", "-n", "sh", (cni / "enter.sh").string(),
                                   cni.string()};
  std::vector<std::string> ctr = {
      "ctr",        "--address", socket(),   "-n",
      ns_,          "run",       "--rm",     "--cni",
      "--fifo-dir", fifo_dir(),  "--rootfs", Rootfs(),
      "cni",        "sh",        "-c",       "ip -4 addr show eth0; ping -c 1 -W 5 10.88.77.1"};
  argv.insert(argv.end(), ctr.begin(), ctr.end());
  testing::CommandResult r = testing::RunCommand(argv);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("inet 10.88.77.2/24"));  // host-local's first address
  EXPECT_THAT(r.out, HasSubstr("1 packets received"));  // the bridge's gateway answers
  // With --rm, ctr released the address after the task: host-local keeps no allocation.
  std::vector<std::string> allocated;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(cni / "ipam" / "berth-test", ec)) {
    if (e.path().filename().string().starts_with("10.88.77."))
      allocated.push_back(e.path().filename());
  }
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_THAT(allocated, ::testing::IsEmpty());
  EXPECT_FALSE(fs::exists("/etc/cni/net.d/10-berth-test.conf"));  // the host's /etc is unchanged
  ExpectNothingLeft({"cni"});
}

TEST_F(TasksTest, SpecFlagsTakeEffect) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  fs::path shared = dir().path() / "shared";
  fs::create_directories(shared);
  testing::WriteFile(shared / "note", "from-host\n");
  testing::CommandResult r =
      Run({"--rm", "--env", "FOO=bar", "--cwd", "/srv/app", "--read-only", "--net-host", "--mount",
           "type=bind,src=" + shared.string() + ",dst=/mnt,options=rbind:ro"},
          "flags",
          {"sh", "-c",
           "echo foo=$FOO; echo cwd=$(pwd); cat /mnt/note; touch /x 2>/dev/null || echo ro-root; "
           "touch /mnt/y 2>/dev/null || echo ro-mount; echo net=$(hostname)"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("foo=bar\n"));
  EXPECT_THAT(r.out, HasSubstr("cwd=/srv/app\n"));  // made, as runc does, though not in the image
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
  EXPECT_EQ(testing::Lines(r.out).size(), host_ifaces.size()) << r.out;
  r = Run({"--rm"}, "net2", {"ls", "/sys/class/net"});
  EXPECT_EQ(r.out, "lo\n");

  // --memory-limit lands in the task's cgroup.
  ASSERT_EQ(Run({"-d", "--memory-limit", "67108864"}, "mem", {"sleep", "100"}).exit_code, 0);
  std::string limit = IsCgroupV2() ? testing::ReadFile(CgroupDir("mem") + "/memory.max")
                                   : testing::ReadFile(CgroupDir("mem") + "/memory.limit_in_bytes");
  EXPECT_EQ(limit, "67108864\n");

  // --privileged: every capability and every host device, those in directories of their own
  // (/dev/net/tun, /dev/cpu/0/cpuid) too.
  r = Run({"--rm", "--privileged"}, "priv",
          {"sh", "-c", "grep CapEff /proc/self/status; ls /dev/net/tun /dev/cpu/0/cpuid; true"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("CapEff:\t000001ff")) << r.out;
  for (const char* nested : {"/dev/net/tun", "/dev/cpu/0/cpuid"}) {
    if (fs::exists(nested)) {
      EXPECT_THAT(r.out, HasSubstr(std::string(nested) + "\n"));
    }
  }
  RemoveAll();
  ExpectNothingLeft({"flags", "net1", "net2", "mem", "priv"});
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
  r = C({"tasks", "exec", "--fifo-dir", fifo_dir(), "--exec-id", "e2", "rd", "/bin/does-not-exist"},
        std::chrono::seconds(20));
  EXPECT_FALSE(r.timed_out);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("does-not-exist"));
  RemoveAll();
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
  RemoveAll();
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

}  // namespace
}  // namespace berth
