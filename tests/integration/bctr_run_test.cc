// bctr run against a private berthd with the busybox test image: output and exit codes, and
// that each flag takes effect inside the container (bind mounts, env, workdir, user,
// read-only root, memory and pids limits in the task's cgroup, rlimits, capabilities, network,
// hostname, tmpfs mounts, added hosts and name servers), --rm leaving nothing behind, and a run
// that cannot get its image leaving nothing.

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <regex>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "tests/integration/bctr_fixture.h"

namespace berth {
namespace {

namespace fs = std::filesystem;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

class BctrRunTest : public BctrFixture {};

TEST_F(BctrRunTest, PrintsOutputAndReturnsTheExitCode) {
  testing::CommandResult r = Bctr({"run", "--rm", "busybox", "sh", "-c", "echo hello; exit 7"});
  EXPECT_EQ(r.exit_code, 7) << r.err << DaemonLog();
  EXPECT_EQ(r.out, "hello\n");
  r = Bctr({"run", "--rm", "busybox", "sh", "-c", "echo to-stderr >&2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "to-stderr\n");
  // The image's Cmd (/bin/sh) reads stdin with -i.
  r = BctrWithInput({"run", "--rm", "-i", "busybox"}, "echo from-stdin; exit 3\n");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.out, "from-stdin\n");
  // Hostname: the short id by default, --hostname otherwise.
  r = Bctr({"run", "--rm", "busybox", "hostname"});
  EXPECT_THAT(r.out, MatchesRegex("[0-9a-f]{12}\n"));
  r = Bctr({"run", "--rm", "--hostname", "box1", "busybox", "hostname"});
  EXPECT_EQ(r.out, "box1\n");
  // As docker: 127 for a command that is not there, 126 for one that cannot be run.
  r = Bctr({"run", "--rm", "busybox", "/bin/does-not-exist"});
  EXPECT_EQ(r.exit_code, 127) << r.err;
  EXPECT_THAT(r.err, HasSubstr("/bin/does-not-exist: No such file or directory"));
  r = Bctr({"run", "--rm", "busybox", "/etc/passwd"});
  EXPECT_EQ(r.exit_code, 126) << r.err;
  EXPECT_THAT(r.err, HasSubstr("/etc/passwd: Permission denied"));
  EXPECT_THAT(ContainerIds(), IsEmpty());
}

TEST_F(BctrRunTest, RemoveLeavesNothingBehind) {
  testing::CommandResult r = Bctr({"run", "--rm", "busybox", "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(ContainerIds(), IsEmpty());
  EXPECT_THAT(ActiveSnapshots(), IsEmpty());
  EXPECT_THAT(InitLayers(), IsEmpty());
  EXPECT_EQ(C({"tasks", "ls", "-q"}).out, "");
  // Without --rm the container stays, exited, with its snapshot and the init layer below it.
  r = Bctr({"run", "--name", "kept", "busybox", "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ContainerIds().size(), 1u);
  EXPECT_EQ(ActiveSnapshots().size(), 1u);
  EXPECT_EQ(InitLayers().size(), 1u);
  EXPECT_THAT(Bctr({"ps", "-a"}).out, HasSubstr("Exited (0)"));
  r = Bctr({"rm", "kept"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(ContainerIds(), IsEmpty());
  EXPECT_THAT(ActiveSnapshots(), IsEmpty());
  EXPECT_THAT(InitLayers(), IsEmpty());
}

// As Docker's init layer: the targets of the container's mounts that the image lacks (here
// /etc/hosts, mounted in every container not on the host's network) are in a layer of their
// own, so that diff and commit show only what the container did.
TEST_F(BctrRunTest, DiffAndCommitShowOnlyWhatTheContainerChanged) {
  const std::string fifos = (dir().path() / "fifo").string();
  ASSERT_EQ(C({"run", "--rm", "--fifo-dir", fifos, "docker.io/library/busybox:latest", "base", "ls",
               "/etc"})
                .out,
            "group\npasswd\n")
      << "the test image has no /etc/hosts of its own";
  testing::CommandResult r = Bctr(
      {"run", "--name", "changed", "busybox", "sh", "-c", "test -s /etc/hosts && echo hi > /x"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Bctr({"diff", "changed"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "A /x\n");
  r = Bctr({"commit", "changed", "localhost/changed:v1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // ctr mounts nothing on /etc/hosts: the image has none, no empty one from the commit.
  r = C({"run", "--rm", "--fifo-dir", fifos, "localhost/changed:v1", "committed", "sh", "-c",
         "test -e /etc/hosts && echo hosts; cat /x"});
  EXPECT_EQ(r.out, "hi\n") << r.err;
  EXPECT_EQ(Bctr({"rm", "changed"}).exit_code, 0);
  EXPECT_THAT(InitLayers(), IsEmpty());
}

TEST_F(BctrRunTest, BindMountsEnvWorkdirAndUser) {
  fs::path host = dir().path() / "shared";
  fs::create_directories(host);
  testing::WriteFile(host / "in.txt", "from-host\n");
  const std::string v = host.string() + ":/data";
  testing::CommandResult r =
      Bctr({"run", "--rm", "-v", v, "busybox", "sh", "-c", "cat /data/in.txt; echo out > /data/o"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "from-host\n");
  EXPECT_EQ(testing::ReadFile(host / "o"), "out\n");
  r = Bctr({"run", "--rm", "-v", v + ":ro", "busybox", "sh", "-c", "echo x > /data/o2"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("Read-only file system"));
  EXPECT_FALSE(fs::exists(host / "o2"));
  r = Bctr({"run", "--rm", "--mount", "type=bind,source=" + host.string() + ",target=/m,readonly",
            "busybox", "sh", "-c", "cat /m/in.txt && ! touch /m/x"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "from-host\n");

  testing::WriteFile(dir().path() / "env", "# comment\nFROM_FILE=1\n\nBOTH=file\n");
  r = Bctr({"run", "--rm", "-e", "A=b c", "-e", "BOTH=flag", "--env-file",
            (dir().path() / "env").string(), "busybox", "sh", "-c",
            "echo \"$A|$FROM_FILE|$BOTH|$PATH\""});
  EXPECT_EQ(r.out, "b c|1|flag|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n")
      << r.err;
  r = Bctr({"run", "--rm", "-w", "/tmp", "busybox", "pwd"});
  EXPECT_EQ(r.out, "/tmp\n") << r.err;

  r = Bctr({"run", "--rm", "-u", "nobody", "busybox", "sh", "-c", "id -u; id -g"});
  EXPECT_EQ(r.out, "65534\n65534\n") << r.err;
  r = Bctr({"run", "--rm", "-u", "1234:5678", "busybox", "sh", "-c", "id -u; id -g"});
  EXPECT_EQ(r.out, "1234\n5678\n") << r.err;
  r = Bctr({"run", "--rm", "-u", "nobody:root", "busybox", "id", "-g"});
  EXPECT_EQ(r.out, "0\n") << r.err;
  r = Bctr({"run", "--rm", "-u", "nosuchuser", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, StartsWith("bctr: run: "));
  EXPECT_THAT(r.err, HasSubstr("\"nosuchuser\": no such user"));
  EXPECT_THAT(ContainerIds(), IsEmpty()) << "a failed run leaves no container";
  EXPECT_THAT(ActiveSnapshots(), IsEmpty());
}

TEST_F(BctrRunTest, ReadOnlyRootAndCapabilities) {
  testing::CommandResult r = Bctr({"run", "--rm", "--read-only", "busybox", "touch", "/x"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("Read-only file system"));
  r = Bctr({"run", "--rm", "busybox", "sh", "-c", "touch /x && echo ok"});
  EXPECT_EQ(r.out, "ok\n") << r.err;

  // Docker's default set is 0xa80425fb; CAP_CHOWN is bit 0.
  r = Bctr({"run", "--rm", "busybox", "grep", "CapEff", "/proc/self/status"});
  EXPECT_THAT(r.out, HasSubstr("00000000a80425fb")) << r.err;
  r = Bctr({"run", "--rm", "--cap-drop", "chown", "busybox", "sh", "-c",
            "grep CapEff /proc/self/status; touch /f; chown 65534 /f"});
  EXPECT_THAT(r.out, HasSubstr("00000000a80425fa"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("Operation not permitted"));
  r = Bctr({"run", "--rm", "--cap-drop", "ALL", "--cap-add", "CAP_KILL", "busybox", "grep",
            "CapEff", "/proc/self/status"});
  EXPECT_THAT(r.out, HasSubstr("0000000000000020")) << r.err;
  r = Bctr({"run", "--rm", "--cap-add", "bogus", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--cap-add \"bogus\": unknown capability"));
}

TEST_F(BctrRunTest, ResourceLimitsLandInTheCgroup) {
  testing::CommandResult r = Bctr({"run", "-d", "--memory", "64m", "--pids-limit", "42", "--cpus",
                                   "0.5", "busybox", "sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err << DaemonLog();
  ASSERT_THAT(r.out, MatchesRegex("[0-9a-f]{64}\n"));
  const std::string id = r.out.substr(0, 64);
  bool v2 = fs::exists("/sys/fs/cgroup/cgroup.controllers");
  if (v2) {
    EXPECT_EQ(testing::ReadFile(CgroupFile(id, "", "memory.max")), "67108864\n");
    EXPECT_EQ(testing::ReadFile(CgroupFile(id, "", "pids.max")), "42\n");
    EXPECT_EQ(testing::ReadFile(CgroupFile(id, "", "cpu.max")), "50000 100000\n");
  } else {
    EXPECT_EQ(testing::ReadFile(CgroupFile(id, "memory", "memory.limit_in_bytes")), "67108864\n");
    EXPECT_EQ(testing::ReadFile(CgroupFile(id, "pids", "pids.max")), "42\n");
    EXPECT_EQ(testing::ReadFile(CgroupFile(id, "cpu", "cpu.cfs_quota_us")), "50000\n");
  }
  // bctr update: the running task's cgroup at once, the spec for the next start; a restart
  // policy as run --restart sets it.
  r = Bctr({"update", "--memory", "96m", "--pids-limit", "50", "--restart", "on-failure:3", id});
  ASSERT_EQ(r.exit_code, 0) << r.err << DaemonLog();
  EXPECT_EQ(r.out, id + "\n");
  auto limits = [&] {
    if (v2) {
      return testing::ReadFile(CgroupFile(id, "", "memory.max")) +
             testing::ReadFile(CgroupFile(id, "", "pids.max")) +
             testing::ReadFile(CgroupFile(id, "", "cpu.max"));
    }
    return testing::ReadFile(CgroupFile(id, "memory", "memory.limit_in_bytes")) +
           testing::ReadFile(CgroupFile(id, "pids", "pids.max")) +
           testing::ReadFile(CgroupFile(id, "cpu", "cpu.cfs_quota_us"));
  };
  const std::string updated =
      v2 ? "100663296\n50\n50000 100000\n" : "100663296\n50\n50000\n";  // --cpus kept
  EXPECT_EQ(limits(), updated);
  nlohmann::json j = nlohmann::json::parse(Bctr({"inspect", id}).out, nullptr, false);
  ASSERT_TRUE(j.is_array());
  EXPECT_EQ(j[0]["HostConfig"]["Memory"], 100663296);
  EXPECT_EQ(j[0]["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
  EXPECT_EQ(j[0]["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 3);
  ASSERT_EQ(Bctr({"restart", "-t", "0", id}).exit_code, 0);
  EXPECT_EQ(limits(), updated);  // the new task from the updated spec
  // Bad values change nothing, on no container.
  r = Bctr({"update", "--memory", "1k", id});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "bctr: update: --memory \"1k\": the minimum is 6m\n");
  r = Bctr({"update", "--restart", "sometimes", id});
  EXPECT_THAT(r.err, HasSubstr("--restart \"sometimes\""));
  r = Bctr({"update", id});
  EXPECT_THAT(r.err, HasSubstr("give at least one of --memory"));
  EXPECT_EQ(limits(), updated);
  r = Bctr({"rm", "-f", id});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(ContainerIds(), IsEmpty());
  r = Bctr({"run", "--rm", "--memory", "12q", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("unknown unit"));
  // --ulimit, as the container's process sees it.
  r = Bctr({"run", "--rm", "--ulimit", "nofile=512:1024", "--ulimit", "core=0", "busybox", "sh",
            "-c", "ulimit -Sn; ulimit -Hn; ulimit -c"});
  EXPECT_EQ(r.out, "512\n1024\n0\n") << r.err;
  r = Bctr({"run", "--rm", "--ulimit", "nofile=2:1", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--ulimit \"nofile=2:1\": the soft limit exceeds the hard one"));
  EXPECT_THAT(ContainerIds(), IsEmpty());
}

TEST_F(BctrRunTest, NetworkModes) {
  testing::CommandResult r =
      Bctr({"run", "--rm", "--net", "none", "busybox", "ls", "/sys/class/net"});
  EXPECT_EQ(r.out, "lo\n") << r.err;
  r = Bctr({"run", "--rm", "busybox", "ls", "/sys/class/net"});
  EXPECT_EQ(r.out, "lo\n") << r.err;
  // The image has no /etc/hosts; "localhost" resolves all the same, as in Docker.
  r = Bctr({"run", "--rm", "busybox", "sh", "-c", "cat /etc/hosts; ping -c 1 -W 5 localhost"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("127.0.0.1\tlocalhost\n"));
  EXPECT_THAT(r.out, HasSubstr("1 packets received"));
  r = Bctr({"run", "--rm", "busybox", "sh", "-c", "echo x >> /etc/hosts"});
  EXPECT_NE(r.exit_code, 0) << "the shared file is read-only in the container";
  r = Bctr({"run", "--rm", "--net", "host", "busybox", "ls", "/sys/class/net"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  size_t host_ifaces = 0;
  for (const auto& e : fs::directory_iterator("/sys/class/net")) host_ifaces += !e.path().empty();
  EXPECT_EQ(testing::Lines(r.out).size(), host_ifaces) << r.out;
  r = Bctr({"run", "--rm", "--net", "bridge2", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("network \"bridge2\": no CNI configuration names it"));
}

TEST_F(BctrRunTest, TmpfsAddHostAndDns) {
  // --tmpfs: Docker's defaults (noexec, nosuid, nodev, mode 1777), options added.
  const std::string run_script =
      "printf '#!/bin/sh\\necho ran\\n' > /scratch/s && chmod +x /scratch/s && /scratch/s";
  testing::CommandResult r =
      Bctr({"run", "--rm", "--tmpfs", "/scratch:size=1m", "busybox", "sh", "-c",
            "grep ' /scratch ' /proc/mounts; stat -c %a /scratch; " + run_script});
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, ContainsRegex("^tmpfs /scratch tmpfs rw,nosuid,nodev,noexec,[^ ]*size=1024k"));
  EXPECT_THAT(r.out, HasSubstr("\n1777\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("ran")));
  EXPECT_THAT(r.err, HasSubstr("Permission denied"));
  r = Bctr({"run", "--rm", "--tmpfs", "/scratch:exec,mode=700", "busybox", "sh", "-c",
            "stat -c %a /scratch; " + run_script});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "700\nran\n");
  r = Bctr({"run", "--rm", "--tmpfs", "/scratch:color=red", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--tmpfs \"/scratch:color=red\": unknown option \"color=red\""));

  // --add-host: a hosts file of the container's own, even without a network; the name resolves.
  r = Bctr({"run", "--rm", "--add-host", "db:10.1.2.3", "--add-host", "v6:fd00::1", "busybox", "sh",
            "-c", "cat /etc/hosts; ping -c 1 -W 1 db"});
  EXPECT_THAT(r.out, HasSubstr("127.0.0.1\tlocalhost\n"));
  EXPECT_THAT(r.out, HasSubstr("10.1.2.3\tdb\nfd00::1\tv6\n"));
  EXPECT_THAT(r.out, HasSubstr("PING db (10.1.2.3)")) << r.err;
  EXPECT_THAT(OwnNetworkFiles(), IsEmpty()) << "--rm removed it";
  r = Bctr({"run", "--rm", "--add-host", "db", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--add-host \"db\": want HOST:ADDRESS"));

  // --dns and friends on the host's network: a resolv.conf of the container's own.
  r = Bctr({"run", "-d", "--net", "host", "--dns", "192.0.2.53", "--dns-search", "example.test",
            "--dns-option", "ndots:3", "--add-host", "db:10.1.2.3", "busybox", "sleep", "1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err << DaemonLog();
  const std::string id = r.out.substr(0, 64);
  nlohmann::json inspect = nlohmann::json::parse(Bctr({"inspect", id}).out, nullptr, false);
  ASSERT_TRUE(inspect.is_array());
  EXPECT_EQ(inspect[0]["HostConfig"]["ExtraHosts"], nlohmann::json::array({"db:10.1.2.3"}));
  EXPECT_THAT(OwnNetworkFiles(), ::testing::UnorderedElementsAre("hosts.d/" + ns() + "-" + id,
                                                                 "resolv.d/" + ns() + "-" + id));
  r = Bctr({"exec", id, "sh", "-c", "cat /etc/resolv.conf; grep -c . /etc/hosts"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> nameservers;
  for (const std::string& line : testing::Lines(r.out)) {
    if (line.starts_with("nameserver"))
      nameservers.push_back(line);
  }
  EXPECT_THAT(nameservers, ::testing::ElementsAre("nameserver 192.0.2.53")) << r.out;
  EXPECT_THAT(r.out, HasSubstr("search example.test\n"));
  EXPECT_THAT(r.out, HasSubstr("options ndots:3\n"));
  // The host's /etc/hosts, and the added line.
  const size_t host_lines = [] {
    size_t n = 0;
    for (const std::string& l : testing::Lines(testing::ReadFile("/etc/hosts"))) n += !l.empty();
    return n;
  }();
  EXPECT_THAT(r.out, ::testing::EndsWith(std::to_string(host_lines + 1) + "\n"));
  r = Bctr({"exec", id, "sh", "-c", "echo x >> /etc/resolv.conf"});
  EXPECT_NE(r.exit_code, 0) << "read-only in the container";
  r = Bctr({"rm", "-f", id});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(OwnNetworkFiles(), IsEmpty()) << "bctr rm removed them";

  // Whichever client removes the container, its files go with it (berthd's containers.Delete):
  // here containerd's ctr.
  r = Bctr({"run", "-d", "--net", "host", "--dns", "192.0.2.53", "--add-host", "db:10.1.2.3",
            "busybox", "sh", "-c", "echo logged; sleep 1000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string other = r.out.substr(0, 64);
  const std::filesystem::path log = std::filesystem::path(log_root()) / ns() / (other + ".log");
  EXPECT_THAT(OwnNetworkFiles(), ::testing::SizeIs(2));
  EXPECT_TRUE(std::filesystem::exists(log));
  r = C({"tasks", "delete", "-f", other});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = C({"containers", "rm", other});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(OwnNetworkFiles(), IsEmpty()) << "ctr containers rm removed them";
  EXPECT_FALSE(std::filesystem::exists(log));

  r = Bctr({"run", "--rm", "--net", "none", "--dns", "192.0.2.53", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--dns: the container has no network (--net none)"));
  r = Bctr({"run", "--rm", "--net", "host", "--dns", "resolver.example", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--dns \"resolver.example\": not an IP address"));
  EXPECT_THAT(ContainerIds(), IsEmpty());
  EXPECT_THAT(OwnNetworkFiles(), IsEmpty());
}

TEST_F(BctrRunTest, SysctlShmSizeDevicesAndGroups) {
  testing::CommandResult r = Bctr({"run", "--rm", "--sysctl", "net.ipv4.ip_forward=1", "--sysctl",
                                   "kernel.shmmax=4096000", "--shm-size", "128m", "--group-add",
                                   "1234", "--group-add", "nogroup", "busybox", "sh", "-c",
                                   "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax; "
                                   "grep ' /dev/shm ' /proc/mounts; id -G"});
  ASSERT_EQ(r.exit_code, 0) << r.err << DaemonLog();
  std::vector<std::string> lines = testing::Lines(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines[0], "1");
  EXPECT_EQ(lines[1], "4096000");
  EXPECT_THAT(lines[2], HasSubstr("size=131072k"));
  EXPECT_EQ(lines[3], "0 1234 65534");
  r = Bctr({"run", "--rm", "--sysctl", "vm.swappiness=10", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--sysctl: linux.sysctl: \"vm.swappiness\" is not in a separate "
                               "kernel namespace"));
  r = Bctr(
      {"run", "--rm", "--net", "host", "--sysctl", "net.ipv4.ip_forward=1", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("is not allowed in the host's network namespace"));
  r = Bctr({"run", "--rm", "--group-add", "staff", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--group-add \"staff\": no such group in the image's /etc/group"));

  // --device: the node is made where asked, and the device cgroup lets only the given access
  // through: a node with no driver behind it (240 is a major for local use) answers an allowed
  // open with ENXIO from the kernel, a refused one with EPERM from the cgroup.
  const std::string fake = (dir().path() / "fake-device").string();
  ASSERT_EQ(::mknod(fake.c_str(), S_IFCHR | 0666, makedev(240, 7)), 0) << std::strerror(errno);
  r = Bctr({"run", "--rm", "--device", fake + ":/dev/fake:r", "busybox", "sh", "-c",
            "stat -c '%F %t:%T' /dev/fake; cat /dev/fake; echo x > /dev/fake"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "character special file f0:7\n") << r.err;
  EXPECT_THAT(r.err, HasSubstr("cat: can't open '/dev/fake': No such device or address"));
  EXPECT_THAT(r.err, HasSubstr("can't create /dev/fake: Operation not permitted"));
  r = Bctr({"run", "--rm", "busybox", "sh", "-c", "mknod /dev/fake c 240 7 && cat /dev/fake"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("Operation not permitted")) << "without --device: refused";
  // inspect shows them.
  r = Bctr({"create", "--tmpfs", "/scratch:size=1m", "--shm-size", "128m", "--sysctl",
            "net.ipv4.ip_forward=1", "--ulimit", "core=0:unlimited", "--device",
            fake + ":/dev/fake:rw", "busybox", "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string id = r.out.substr(0, 64);
  nlohmann::json inspect = nlohmann::json::parse(Bctr({"inspect", id}).out, nullptr, false);
  ASSERT_TRUE(inspect.is_array());
  const nlohmann::json& host = inspect[0]["HostConfig"];
  EXPECT_EQ(host["Tmpfs"]["/scratch"], "noexec,nosuid,nodev,mode=1777,size=1m") << host.dump();
  EXPECT_EQ(host["ShmSize"], 128 << 20);
  EXPECT_EQ(host["Sysctls"]["net.ipv4.ip_forward"], "1");
  EXPECT_THAT(host["Ulimits"].dump(), HasSubstr(R"({"Hard":-1,"Name":"core","Soft":0})"));
  EXPECT_EQ(host["Devices"].back()["PathInContainer"], "/dev/fake");
  EXPECT_EQ(host["Devices"].back()["CgroupPermissions"], "rw");
  EXPECT_EQ(Bctr({"rm", id}).exit_code, 0);

  r = Bctr({"run", "--rm", "--device", "/etc/passwd", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("/etc/passwd is not a character or block device"));
  EXPECT_THAT(ContainerIds(), IsEmpty());
}

TEST_F(BctrRunTest, EntrypointAndRestartLabels) {
  testing::CommandResult r = Bctr({"run", "--rm", "--entrypoint", "echo", "busybox", "a", "b"});
  EXPECT_EQ(r.out, "a b\n") << r.err;
  r = Bctr({"create", "--name", "pol", "--restart", "on-failure:2", "busybox", "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Bctr({"inspect", "pol"});
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_array()) << r.out;
  EXPECT_EQ(j[0]["Labels"]["containerd.io/restart.policy"], "on-failure:2");
  EXPECT_EQ(j[0]["Labels"]["containerd.io/restart.status"], "running");
  EXPECT_THAT(j[0]["Labels"]["containerd.io/restart.loguri"].get<std::string>(),
              StartsWith("file://" + log_root()));
  EXPECT_EQ(j[0]["State"]["Status"], "created");
  r = Bctr({"run", "--rm", "--restart", "always", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--restart and --rm cannot be used together"));
  r = Bctr({"run", "--restart", "sometimes", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("--restart \"sometimes\""));
}

TEST_F(BctrRunTest, AnImageThatCannotBePulledLeavesNothing) {
  testing::CommandResult r = Bctr({"run", "--rm", "127.0.0.1:1/nosuch:latest", "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 2) << r.err;  // "Unable to find…"
  EXPECT_THAT(r.err, HasSubstr("bctr: run: "));
  EXPECT_THAT(ContainerIds(), IsEmpty());
  EXPECT_THAT(ActiveSnapshots(), IsEmpty());
  EXPECT_EQ(C({"images", "ls", "-q"}).out, "docker.io/library/busybox:latest\n");
  r = Bctr({"run", "--rm", "busybox"});  // no -i: sh reads EOF and exits 0
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Bctr({"run", "--rm", "BAD::ref", "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, StartsWith("bctr: run: "));
}

}  // namespace
}  // namespace berth
