// Root tests of the embedded runtime's namespaces on a busybox rootfs: new ones, prepared
// ones (a spare shim's), joined ones, user and cgroup namespaces, and what is set inside them
// (sysctls, the loopback). The fixture: container_fixture.h.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <sstream>
#include <thread>

#include "fmt/format.h"

#include "shim/linux/container_fixture.h"

namespace berth::shim::linux {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::ReadFile;
using ::testing::HasSubstr;

TEST_F(ContainerTest, RunsAsPid1InNewNamespaces) {
  oci::Spec spec = shim::testing::BusyboxSpec(
      "ns",
      "echo pid=$$; readlink /proc/self/ns/net /proc/self/ns/mnt /proc/self/ns/uts; "
      "hostname; echo FOO=$FOO; pwd; id -u; id -G");
  spec.hostname = "berthbox";
  spec.process->env.push_back("FOO=bar");
  spec.process->cwd = "/tmp";
  spec.process->user = {
      .uid = 1000, .gid = 1000, .umask = {}, .additional_gids = {10, 20}, .username = ""};
  std::string out;
  ASSERT_EQ(Run(spec, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("pid=1\n"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr(Readlink("/proc/self/ns/net"))));
  EXPECT_THAT(out, ::testing::Not(HasSubstr(Readlink("/proc/self/ns/mnt"))));
  EXPECT_THAT(out, HasSubstr("berthbox\nFOO=bar\n/tmp\n1000\n1000 10 20\n"));
}

// runc leaves the loopback of a new network namespace down; berth.io/loopback=up (bctr's)
// sets it up, as Docker's containers have it.
TEST_F(ContainerTest, LoopbackIsUpOnlyWhenTheSpecAsksForIt) {
  oci::Spec spec =
      shim::testing::BusyboxSpec("lo", "cat /sys/class/net/lo/operstate /sys/class/net/lo/flags");
  ASSERT_NE(spec.linux.FindNamespace("network"), nullptr);
  std::string out;
  ASSERT_EQ(Run(spec, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("down\n0x8\n"));
  spec.annotations[oci::kLoopbackAnnotation] = "up";
  out.clear();
  ASSERT_EQ(Run(spec, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("unknown\n0x9\n")) << "IFF_UP | IFF_LOOPBACK";
}

// Sysctls are written in the container's own namespaces only, as runc allows them; one that
// would change the host is refused at Create, naming it.
TEST_F(ContainerTest, SysctlsOnlyInTheContainersOwnNamespaces) {
  oci::Spec spec = shim::testing::BusyboxSpec(
      "sysctl", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni");
  spec.linux.sysctl = {{"net.ipv4.ip_forward", "1"}, {"kernel.shmmni", "1234"}};
  std::string out;
  ASSERT_EQ(Run(spec, &out), 0) << out;
  EXPECT_EQ(out, "1\n1234\n");

  spec.linux.sysctl = {{"vm.swappiness", "10"}};
  absl::StatusOr<std::unique_ptr<Container>> c = Create(spec);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("\"vm.swappiness\" is not in a separate kernel"));
  spec.linux.sysctl = {{"net.ipv4.ip_forward", "1"}};
  std::erase_if(spec.linux.namespaces, [](const oci::Namespace& n) { return n.type == "network"; });
  c = Create(spec);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("not allowed in the host's network namespace"));
  EXPECT_FALSE(shim::testing::CgroupExists(spec.linux.cgroups_path));
}

// A new cgroup namespace is rooted at the container's cgroups in every hierarchy (on v1 the init
// joins them after its clone, so it makes the namespace itself then), as runc's.
TEST_F(ContainerTest, ACgroupNamespaceIsRootedAtTheContainersCgroups) {
  // Every hierarchy of a /proc/self/cgroup reads "/".
  auto expect_rooted = [](const std::string& cgroup_file, const char* who) {
    std::istringstream in(cgroup_file);
    int lines = 0;
    for (std::string line; std::getline(in, line); ++lines)
      EXPECT_TRUE(line.ends_with(":/")) << who << ": " << line << "\n" << cgroup_file;
    EXPECT_GE(lines, Cgroup::IsV2Host() ? 1 : 8) << who << ": " << cgroup_file;
  };
  oci::Spec spec = shim::testing::BusyboxSpec("cgns", "cat /proc/self/cgroup");
  spec.linux.namespaces.push_back({.type = "cgroup", .path = ""});
  std::string out;
  ASSERT_EQ(Run(spec, &out), 0) << out;
  expect_rooted(out, "init");

  // An exec'd process joins that namespace, and reads the same.
  ASSERT_EQ(::ftruncate(out_.get(), 0), 0);
  ASSERT_EQ(::lseek(out_.get(), 0, SEEK_SET), 0);
  spec = shim::testing::BusyboxSpec("cgns-exec", "sleep 60");
  spec.linux.namespaces.push_back({.type = "cgroup", .path = ""});
  absl::StatusOr<std::unique_ptr<Container>> c = Create(spec);
  ASSERT_THAT(c, IsOk());
  ASSERT_THAT((*c)->Start(), IsOk());
  oci::Process p = *spec.process;
  p.args = {"cat", "/proc/self/cgroup"};
  absl::StatusOr<ChildProcess> e =
      (*c)->Exec(p, {.in = -1, .out = out_.get(), .err = -1, .console = -1});
  ASSERT_THAT(e, IsOk());
  ASSERT_THAT(e->Wait(std::chrono::seconds(10)), IsOk());
  expect_rooted(ReadFile(dir_ / "out"), "exec");
  ASSERT_THAT((*c)->KillAll(SIGKILL), IsOk());
  ASSERT_THAT((*c)->init().Wait(std::chrono::seconds(10)), IsOk());
  EXPECT_THAT((*c)->Destroy(), IsOk());
}

// What a spare shim does: the container's new network, ipc and uts namespaces are the ones
// made ahead, and the hostname still goes to the container's own uts namespace.
TEST_F(ContainerTest, TakesPreparedNamespaces) {
  absl::StatusOr<PreparedNamespaces> prepared = PreparedNamespaces::Make();
  ASSERT_THAT(prepared, IsOk());
  auto link = [](const UniqueFd& fd) {
    return Readlink(fmt::format("/proc/self/fd/{}", fd.get()));
  };
  const std::string net = link(prepared->net), ipc = link(prepared->ipc), uts = link(prepared->uts);
  EXPECT_NE(net, Readlink("/proc/self/ns/net"));
  oci::Spec spec = shim::testing::BusyboxSpec(
      "prepared",
      "for n in net ipc uts; do readlink /proc/self/ns/$n; done; hostname; "
      "grep -c . /proc/net/dev");
  spec.hostname = "preparedbox";
  absl::StatusOr<std::unique_ptr<Container>> c =
      Container::Create({.id = "t",
                         .bundle = dir_.path(),
                         .stdio = {.in = -1, .out = out_.get(), .err = out_.get(), .console = -1},
                         .prepared = &*prepared},
                        spec);
  ASSERT_THAT(c, IsOk());
  EXPECT_FALSE(prepared->net.valid()) << "taken by the container";
  ASSERT_THAT((*c)->Start(), IsOk());
  absl::StatusOr<int> st = (*c)->init().Wait(std::chrono::seconds(30));
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(*st, 0);
  EXPECT_THAT((*c)->Destroy(), IsOk());
  // Only lo in the fresh network namespace (two header lines and one device).
  EXPECT_EQ(ReadFile(dir_ / "out"), net + "\n" + ipc + "\n" + uts + "\npreparedbox\n3\n");
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  EXPECT_NE(std::string(host), "preparedbox");
}

// A second container joins the first's network, pid, ipc and uts namespaces by path: it sees
// the first's processes and the interface added to the first's network namespace.
TEST_F(ContainerTest, JoinsAnotherContainersNamespacesByPath) {
  oci::Spec first = shim::testing::BusyboxSpec("first", "exec sleep 60");
  first.hostname = "firstbox";
  absl::StatusOr<std::unique_ptr<Container>> a = Create(first);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT((*a)->Start(), IsOk());
  const pid_t pid = (*a)->pid();
  berth::testing::CommandResult ip = berth::testing::RunCommand(
      {"/usr/bin/nsenter", fmt::format("--net=/proc/{}/ns/net", pid), "/usr/sbin/ip", "link", "add",
       "berthj0", "type", "veth", "peer", "name", "berthj1"});
  ASSERT_EQ(ip.exit_code, 0) << ip.err;

  berth::testing::TempDir dir2("ctr2");
  ASSERT_TRUE(shim::testing::MakeBusyboxRootfs(dir2.path()));
  oci::Spec second = shim::testing::BusyboxSpec(
      "second",
      "echo pid=$$; tr '\\0' ' ' </proc/1/cmdline; echo; hostname; "
      "for n in net pid ipc; do readlink /proc/self/ns/$n; done; grep -o berthj. "
      "/proc/net/dev");
  for (oci::Namespace& ns : second.linux.namespaces) {
    if (ns.type == "network" || ns.type == "pid" || ns.type == "ipc" || ns.type == "uts")
      ns.path = fmt::format("/proc/{}/ns/{}", pid, ns.type == "network" ? "net" : ns.type);
  }
  second.hostname.clear();  // the uts namespace is the first's
  std::string out;
  {
    UniqueFd out2(::open((dir2 / "out").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    absl::StatusOr<std::unique_ptr<Container>> b = Container::Create(
        {.id = "second",
         .bundle = dir2.path(),
         .stdio = {.in = -1, .out = out2.get(), .err = out2.get(), .console = -1}},
        second);
    ASSERT_THAT(b, IsOk());
    ASSERT_THAT((*b)->Start(), IsOk());
    absl::StatusOr<int> st = (*b)->init().Wait(std::chrono::seconds(30));
    ASSERT_THAT(st, IsOk());
    EXPECT_EQ(*st, 0);
    EXPECT_THAT((*b)->Destroy(), IsOk());
    out = ReadFile(dir2 / "out");
  }
  EXPECT_THAT(out, ::testing::Not(HasSubstr("pid=1\n"))) << "the first's sleep is pid 1";
  EXPECT_THAT(out, HasSubstr("sleep 60 \nfirstbox\n"));
  EXPECT_THAT(out, HasSubstr(Readlink(fmt::format("/proc/{}/ns/net", pid)) + "\n" +
                             Readlink(fmt::format("/proc/{}/ns/pid", pid)) + "\n" +
                             Readlink(fmt::format("/proc/{}/ns/ipc", pid)) + "\n"));
  EXPECT_THAT(out, HasSubstr("berthj0\n"));
  EXPECT_THAT(out, HasSubstr("berthj1\n"));
  EXPECT_EQ(Readlink("/proc/thread-self/ns/pid_for_children"), Readlink("/proc/self/ns/pid"))
      << "the creating thread is back in its own pid namespace";
  EXPECT_FALSE(shim::testing::CgroupExists(second.linux.cgroups_path));
  EXPECT_THAT((*a)->Destroy(), IsOk());
}

// Changes the owner of `root` and everything under it by `shift` (lchown: links stay links).
void ShiftOwner(const std::filesystem::path& root, uid_t shift) {
  auto chown_one = [shift](const std::filesystem::path& p) {
    struct stat st;
    ASSERT_EQ(::lstat(p.c_str(), &st), 0) << p;
    ASSERT_EQ(::lchown(p.c_str(), st.st_uid + shift, st.st_gid + shift), 0) << p;
  };
  chown_one(root);
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) chown_one(e.path());
}

// A user namespace with container root = host uid/gid 100000 (65536 ids), on a rootfs owned by
// 100000: the process is root inside, 100000 outside, and can write its own rootfs.
TEST_F(ContainerTest, UserNamespaceMapsContainerRootToAnUnprivilegedHostUid) {
  ShiftOwner(dir_ / "rootfs", 100000);
  // The init sets up the rootfs as the mapped root (host 100000), which must be able to reach
  // it, as with runc: the test's 0700 temp dir would refuse it (EACCES on "bind rootfs").
  std::filesystem::permissions(dir_.path(), std::filesystem::perms::others_exec,
                               std::filesystem::perm_options::add);
  oci::Spec spec = shim::testing::BusyboxSpec(
      "userns",
      "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; touch /tmp/mine && echo "
      "wrote; grep -E '^(CapEff|Uid)' /proc/self/status; ls /dev/null /dev/pts/ptmx; echo ready; "
      "exec sleep 60");
  spec.linux.namespaces.push_back({"user", ""});
  spec.linux.uid_mappings = {{.container_id = 0, .host_id = 100000, .size = 65536}};
  spec.linux.gid_mappings = {{.container_id = 0, .host_id = 100000, .size = 65536}};
  absl::StatusOr<std::unique_ptr<Container>> c = Create(spec);
  ASSERT_THAT(c, IsOk());
  ASSERT_THAT((*c)->Start(), IsOk());
  for (int i = 0; i < 500 && ReadFile(dir_ / "out").find("ready") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::string out = ReadFile(dir_ / "out");
  EXPECT_THAT(out, ::testing::ContainsRegex("^ +0 +100000 +65536\n +0 +100000 +65536\n0\n0\n"));
  EXPECT_THAT(out, HasSubstr("wrote\n"));
  EXPECT_THAT(out, HasSubstr("/dev/null\n/dev/pts/ptmx\nready\n")) << out;
  // A process exec'd into the container lands in the same user namespace, as its root.
  oci::Process p = *spec.process;
  p.args = {"sh", "-c",
            "echo exec $(id -u) $(cat /proc/self/uid_map); grep ^Uid /proc/self/status"};
  absl::StatusOr<ChildProcess> e =
      (*c)->Exec(p, {.in = -1, .out = out_.get(), .err = out_.get(), .console = -1});
  ASSERT_THAT(e, IsOk());
  absl::StatusOr<int> est = e->Wait(std::chrono::seconds(10));
  ASSERT_THAT(est, IsOk());
  EXPECT_EQ(*est, 0);
  EXPECT_THAT(ReadFile(dir_ / "out"),
              ::testing::ContainsRegex("exec 0 0 +100000 +65536\nUid:\t0\t"));
  // The host's view of the same process: uid and gid 100000, its file owned by 100000.
  std::string status = ReadFile(fmt::format("/proc/{}/status", (*c)->pid()));
  EXPECT_THAT(status, HasSubstr("Uid:\t100000\t100000\t100000\t100000\n"));
  EXPECT_THAT(status, HasSubstr("Gid:\t100000\t100000\t100000\t100000\n"));
  struct stat st;
  ASSERT_EQ(::stat((dir_ / "rootfs/tmp/mine").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 100000u);
  EXPECT_NE(Readlink(fmt::format("/proc/{}/ns/user", (*c)->pid())), Readlink("/proc/self/ns/user"));
  EXPECT_THAT((*c)->Destroy(), IsOk());
  EXPECT_FALSE(shim::testing::CgroupExists(spec.linux.cgroups_path));
}

}  // namespace
}  // namespace berth::shim::linux
