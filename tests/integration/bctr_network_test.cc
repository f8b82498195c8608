// bctr's container networks (ctr/network.h) with Debian's CNI plugins (bridge, host-local,
// portmap, firewall): `--net bridge` gives the container an address on berth0 and a way out,
// `-p` publishes a port on the host's addresses, a network from the configured conf_dir is
// found by name, and everything an attachment made (address lease, NAT and port rules, the
// pinned namespace, the cached result) goes with the task, whichever client deletes it.
//
// berthd runs in a network namespace of the test's own (loopback up), so its shims, their
// hooks and the plugins make the bridge and the iptables rules there, never on the host; the
// test looks at them with nsenter into berthd's namespace. bctr.toml (BctrFixture) puts conf_dir
// and state_dir in the test's directory.

#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

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
using ::testing::Not;

class BctrNetworkTest : public BctrFixture {
 protected:
  void SetUp() override {
    if (!fs::exists("/usr/lib/cni/bridge"))
      GTEST_FAIL() << "Debian's containernetworking-plugins is missing (scripts/install-deps.sh)";
    set_launcher({"unshare", "--net", "--", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""});
    fs::create_directories(conf_dir());
    BctrFixture::SetUp();
  }

  // A command in berthd's network namespace.
  testing::CommandResult InNetns(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"nsenter",
                                     "--net=/proc/" + std::to_string(daemon_pid()) + "/ns/net"};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunCommand(argv);
  }

  // What `url` serves, asked from berthd's namespace until it answers (up to 10 s).
  std::string Fetch(const std::string& url) {
    testing::CommandResult r;
    for (int i = 0; i < 100; ++i) {
      r = InNetns({"timeout", "5", "busybox", "wget", "-q", "-O", "-", url});  // (-T crashes)
      if (r.exit_code == 0)
        return r.out;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return "wget " + url + " failed (exit " + std::to_string(r.exit_code) + "): " + r.err + r.out;
  }

  // What the host-local plugin leases and what bctr keeps of an attachment: address files
  // (named by the address) under ipam/, cached results, pinned namespaces.
  std::vector<std::string> AttachmentFiles() {
    std::vector<std::string> out;
    for (const std::string& f : FilesBelow(state_dir())) {
      if (!f.ends_with("/lock") && f.find("last_reserved_ip") == std::string::npos &&
          f != "hosts" && !f.starts_with("hosts.d/") && !f.starts_with("resolv.d/"))
        out.push_back(f);
    }
    return out;
  }

  std::vector<std::string> MountsBelow(const fs::path& dir) {
    std::vector<std::string> out;
    for (const std::string& line : testing::Lines(testing::ReadFile("/proc/self/mountinfo"))) {
      if (line.find(" " + dir.string() + "/") != std::string::npos)
        out.push_back(line);
    }
    return out;
  }
};

TEST_F(BctrNetworkTest, BridgeGivesAnAddressAndAWayToTheHost) {
  testing::CommandResult r =
      Bctr({"run", "--rm", "--net", "bridge", "--add-host", "db:10.1.2.3", "--dns", "192.0.2.53",
            "busybox", "sh", "-c",
            "ip -4 -o addr show eth0; ip route; ping -c 1 -W 5 10.89.0.1; cat /etc/resolv.conf; "
            "cat /etc/hosts; hostname"});
  ASSERT_EQ(r.exit_code, 0) << r.err << DaemonLog();
  EXPECT_THAT(r.out, ContainsRegex("eth0 +inet 10\\.89\\.[0-9]+\\.[0-9]+/16"));
  // As Docker's: /etc/hosts names the container's own address with its hostname.
  std::smatch ip, host;
  ASSERT_TRUE(std::regex_search(r.out, ip, std::regex("inet (10\\.89\\.[0-9]+\\.[0-9]+)/16")));
  ASSERT_TRUE(std::regex_search(r.out, host, std::regex("\n([0-9a-f]{12})\n$"))) << r.out;
  EXPECT_THAT(r.out, HasSubstr("127.0.0.1\tlocalhost\n"));
  EXPECT_THAT(r.out, HasSubstr("10.1.2.3\tdb\n" + ip[1].str() + "\t" + host[1].str() + "\n"))
      << "--add-host's line, then the container's own";
  EXPECT_THAT(r.out, HasSubstr("nameserver 192.0.2.53\n"));
  EXPECT_THAT(r.out, HasSubstr("default via 10.89.0.1 dev eth0"));
  EXPECT_THAT(r.out, HasSubstr("1 packets received"));
  // The bridge is in berthd's namespace, not on the host.
  EXPECT_THAT(InNetns({"ip", "-o", "link", "show", "berth0"}).out, HasSubstr("berth0"));
  EXPECT_FALSE(fs::exists("/sys/class/net/berth0"));
  // --rm deleted the task: its address lease, result and pinned namespace went with it, and
  // the container its hosts file and resolv.conf.
  EXPECT_THAT(AttachmentFiles(), IsEmpty());
  EXPECT_THAT(OwnNetworkFiles(), IsEmpty());
  EXPECT_THAT(MountsBelow(state_dir()), IsEmpty());
  // So does berthd's removal of a detached --rm container.
  r = Bctr({"run", "-d", "--rm", "--net", "bridge", "busybox", "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int i = 0; i < 100 && !ContainerIds().empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_THAT(ContainerIds(), IsEmpty());
  EXPECT_THAT(OwnNetworkFiles(), IsEmpty());
  EXPECT_THAT(AttachmentFiles(), IsEmpty());
}

TEST_F(BctrNetworkTest, PublishedPortAnswersOnTheHostAndGoesWithTheTask) {
  testing::CommandResult r = Bctr(
      {"run", "-d", "--name", "web", "-p", "18080:80", "busybox", "sh", "-c",
       "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 80 -h /www"});
  ASSERT_EQ(r.exit_code, 0) << r.err << DaemonLog();
  const std::string id = r.out.substr(0, 64);
  // -p alone means the bridge network, as in Docker; the port answers on the host's loopback
  // and on its bridge address.
  EXPECT_EQ(Fetch("http://127.0.0.1:18080/"), "hello-from-web\n")
      << Bctr({"logs", "web"}).out << Bctr({"ps", "-a"}).out;
  EXPECT_EQ(Fetch("http://10.89.0.1:18080/"), "hello-from-web\n");

  std::vector<std::string> ps = testing::Lines(Bctr({"ps"}).out);
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_THAT(ps[0], ContainsRegex("STATUS +PORTS +NAMES"));
  EXPECT_THAT(ps[1], HasSubstr("0.0.0.0:18080->80/tcp"));

  nlohmann::json inspect = nlohmann::json::parse(Bctr({"inspect", "web"}).out, nullptr, false);
  ASSERT_TRUE(inspect.is_array()) << Bctr({"inspect", "web"}).err;
  const nlohmann::json& net = inspect[0]["NetworkSettings"];
  EXPECT_THAT(net["IPAddress"].get<std::string>(), ContainsRegex("^10\\.89\\."));
  EXPECT_EQ(net["Gateway"], "10.89.0.1");
  EXPECT_EQ(net["IPPrefixLen"], 16);
  EXPECT_EQ(net["Networks"]["bridge"]["IPAddress"], net["IPAddress"]);
  EXPECT_EQ(net["Ports"]["80/tcp"][0]["HostPort"], "18080");
  EXPECT_EQ(inspect[0]["HostConfig"]["NetworkMode"], "bridge");
  std::string ip = net["IPAddress"].get<std::string>();

  // bctr port: what -p published, all of it or where one container port is reachable.
  EXPECT_EQ(Bctr({"port", "web"}).out, "80/tcp -> 0.0.0.0:18080\n");
  EXPECT_EQ(Bctr({"port", "web", "80/tcp"}).out, "0.0.0.0:18080\n");
  r = Bctr({"port", "web", "81/udp"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "bctr: port: container \"web\": no published port 81/udp\n");

  // bctr restart: the task stops (the poststop hook detaches it) and a new one starts on the
  // same rootfs, attached again: the port answers again.
  r = Bctr({"restart", "-t", "1", "web"});
  ASSERT_EQ(r.exit_code, 0) << r.err << DaemonLog();
  EXPECT_EQ(r.out, "web\n");
  EXPECT_EQ(Fetch("http://127.0.0.1:18080/"), "hello-from-web\n") << Bctr({"logs", "web"}).out;
  inspect = nlohmann::json::parse(Bctr({"inspect", "web"}).out, nullptr, false);
  ASSERT_TRUE(inspect.is_array());
  EXPECT_EQ(inspect[0]["State"]["Status"], "running");
  ip = inspect[0]["NetworkSettings"]["IPAddress"].get<std::string>();
  EXPECT_THAT(AttachmentFiles(), ::testing::Contains("ipam/bridge/" + ip));
  EXPECT_THAT(OwnNetworkFiles(), ::testing::ElementsAre("hosts.d/" + ns() + "-" + id));
  EXPECT_THAT(InNetns({"iptables-save", "-t", "nat"}).out, HasSubstr(ns() + "-" + id));

  // A second container gets an address of its own while the first runs.
  r = Bctr({"run", "--rm", "--net", "bridge", "busybox", "ip", "-4", "-o", "addr", "show", "eth0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("inet " + ip + "/")));

  // bctr rm -f deletes the task; the poststop hook undoes the attachment.
  r = Bctr({"rm", "-f", "web"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(AttachmentFiles(), IsEmpty());
  EXPECT_THAT(OwnNetworkFiles(), IsEmpty());
  EXPECT_THAT(MountsBelow(state_dir()), IsEmpty());
  EXPECT_THAT(InNetns({"iptables-save", "-t", "nat"}).out, Not(HasSubstr(id)));
  EXPECT_THAT(InNetns({"iptables-save", "-t", "filter"}).out, Not(HasSubstr(ip + "/32")));
  EXPECT_NE(InNetns({"timeout", "5", "busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:18080/"})
                .exit_code,
            0);
}

// The hooks are in the container's spec, so Debian's ctr deleting the task detaches it too.
TEST_F(BctrNetworkTest, DeletingTheTaskWithCtrReleasesTheAddress) {
  testing::CommandResult r = Bctr({"run", "-d", "--net", "bridge", "busybox", "sleep", "600"});
  ASSERT_EQ(r.exit_code, 0) << r.err << DaemonLog();
  const std::string id = r.out.substr(0, 64);
  EXPECT_THAT(AttachmentFiles(), Not(IsEmpty()));
  ASSERT_EQ(C({"tasks", "kill", "-s", "SIGKILL", id}).exit_code, 0);
  for (int i = 0; i < 100 && C({"tasks", "delete", id}).exit_code != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_THAT(AttachmentFiles(), IsEmpty());
  EXPECT_THAT(MountsBelow(state_dir()), IsEmpty());
  // bctr start attaches it again.
  r = Bctr({"start", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(AttachmentFiles(), Not(IsEmpty()));
}

// A shim killed under its running task: berthd cleans the bundle up with `berth-shim delete`,
// which runs the poststop hook the task's delete would have run.
TEST_F(BctrNetworkTest, AKilledShimDetachesItsTaskToo) {
  testing::CommandResult r = Bctr({"run", "-d", "--net", "bridge", "busybox", "sleep", "600"});
  ASSERT_EQ(r.exit_code, 0) << r.err << DaemonLog();
  const std::string id = r.out.substr(0, 64);
  ASSERT_THAT(AttachmentFiles(), Not(IsEmpty()));
  const fs::path pid_file = fs::path(state()) / "tasks" / ns() / id / "shim.pid";
  const pid_t shim = std::atoi(testing::ReadFile(pid_file).c_str());
  ASSERT_GT(shim, 0) << pid_file;
  ASSERT_EQ(::kill(shim, SIGKILL), 0);
  for (int i = 0; i < 200 && !AttachmentFiles().empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_THAT(AttachmentFiles(), IsEmpty()) << DaemonLog();
  EXPECT_THAT(MountsBelow(state_dir()), IsEmpty());
}

TEST_F(BctrNetworkTest, ANetworkFromTheConfDir) {
  std::ofstream(conf_dir() / "10-lab.conflist") << R"({
    "cniVersion": "1.0.0", "name": "lab",
    "plugins": [{"type": "bridge", "bridge": "br-lab", "isGateway": true,
                 "ipam": {"type": "host-local", "dataDir": ")"
                                                << (state_dir() / "lab-ipam").string() << R"(",
                          "ranges": [[{"subnet": "10.99.7.0/24"}]]}}]})";
  testing::CommandResult r =
      Bctr({"run", "--rm", "--net", "lab", "busybox", "ip", "-4", "-o", "addr", "show", "eth0"});
  ASSERT_EQ(r.exit_code, 0) << r.err << DaemonLog();
  EXPECT_THAT(r.out, ContainsRegex("inet 10\\.99\\.7\\.[0-9]+/24"));
  EXPECT_THAT(InNetns({"ip", "-o", "link", "show", "br-lab"}).out, HasSubstr("br-lab"));
  EXPECT_THAT(AttachmentFiles(), IsEmpty());

  // bctr network ls/inspect: the conf_dir's networks and the built-in bridge.
  std::vector<std::string> ls = testing::Lines(Bctr({"network", "ls"}).out);
  ASSERT_EQ(ls.size(), 3u) << Bctr({"network", "ls"}).err;
  EXPECT_THAT(ls[0], ContainsRegex("^NAME +PLUGINS +SOURCE$"));
  EXPECT_THAT(ls[1], ContainsRegex("^lab +bridge +.*10-lab.conflist$"));
  EXPECT_THAT(ls[2], ContainsRegex("^bridge +bridge,portmap,firewall +bctr's built-in"));
  nlohmann::json j = nlohmann::json::parse(Bctr({"network", "inspect", "lab"}).out, nullptr, false);
  ASSERT_TRUE(j.is_array());
  EXPECT_EQ(j[0]["plugins"][0]["bridge"], "br-lab");
  r = Bctr({"network", "inspect", "nosuch"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("network \"nosuch\": no CNI configuration names it"));
}

TEST_F(BctrNetworkTest, BadNetworksAndPortsAreOneClearLine) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };

  const std::vector<Case> cases = {
      {{"--net", "nosuch"},
       "network \"nosuch\": no CNI configuration names it in " + conf_dir().string()},
      {{"-p", "80"}, "-p \"80\": want [HOST_IP:]HOST_PORT:CONTAINER_PORT"},
      {{"-p", "8080:99999"}, "container port \"99999\" is not a port"},
      {{"-p", "8080:80/icmp"}, "protocol \"icmp\""},
      {{"--net", "none", "-p", "8080:80"}, "the container has no network (--net none)"},
      {{"--net", "host", "-p", "8080:80"}, "(--net host) uses the host's ports"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"run", "--rm"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    args.insert(args.end(), {"busybox", "true"});
    testing::CommandResult r = Bctr(args);
    EXPECT_EQ(r.exit_code, 1) << c.message;
    EXPECT_EQ(testing::Lines(r.err).size(), 1u) << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.message));
  }
  EXPECT_THAT(ContainerIds(), IsEmpty());

  // A create that fails after the attachment was made (the program is not there) undoes it:
  // the shim runs poststop for a container that got as far as its hooks, started or not.
  testing::CommandResult r = Bctr({"run", "--rm", "--net", "bridge", "busybox", "nosuchcmd"});
  EXPECT_EQ(r.exit_code, 127) << r.err;
  EXPECT_THAT(r.err, HasSubstr("executable file not found"));
  EXPECT_THAT(AttachmentFiles(), IsEmpty());
  EXPECT_THAT(MountsBelow(state_dir()), IsEmpty());

  // A plugin that is not there fails the task's create, naming it; nothing is left attached.
  WriteConfig("plugin_dirs = [\"" + (dir().path() / "no-plugins").string() + "\"]\n");
  r = Bctr({"run", "--rm", "--net", "bridge", "busybox", "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("network \"bridge\": plugin bridge ADD: no plugin \"bridge\""));
  EXPECT_THAT(ContainerIds(), IsEmpty());
  EXPECT_THAT(AttachmentFiles(), IsEmpty());
  EXPECT_THAT(MountsBelow(state_dir()), IsEmpty());
}

}  // namespace
}  // namespace berth
