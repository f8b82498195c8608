// Root tests of the embedded runtime on a busybox rootfs: each test creates a container from a
// spec, runs a script that prints what it sees into a file, and checks it (the fixture:
// container_fixture.h; the hooks' tests: container_hooks_test.cc; namespaces:
// container_namespaces_test.cc).

#include <pty.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "fmt/format.h"

#include "lib/oci/default_spec.h"
#include "shim/linux/container_fixture.h"

namespace berth::shim::linux {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::ReadFile;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

TEST_F(ContainerTest, HomeComesFromPasswdWhenTheEnvHasNoneAsInRunc) {
  std::ofstream(dir_ / "rootfs/etc/passwd", std::ios::app)
      << "app:x:1000:1000:App:/home/app:/bin/sh\nodd:x:1001:1001::/srv/odd dir:/bin/sh";

  struct Case {
    uid_t uid;
    std::string env_home;  // "" for none; "HOME=" for an empty one
    std::string want;
  };

  for (const Case& c : {Case{0, "", "HOME=/root|"}, Case{1000, "", "HOME=/home/app|"},
                        Case{1001, "HOME=", "HOME=/srv/odd dir|"}, Case{4242, "", "HOME=/|"},
                        Case{1000, "HOME=/mine", "HOME=/mine|"}}) {
    SCOPED_TRACE(c.uid);
    ASSERT_EQ(::ftruncate(out_.get(), 0), 0);
    ASSERT_EQ(::lseek(out_.get(), 0, SEEK_SET), 0);
    oci::Spec spec = shim::testing::BusyboxSpec("home", "echo \"HOME=$HOME|\"");
    std::erase_if(spec.process->env, [](const std::string& e) { return e.starts_with("HOME="); });
    if (!c.env_home.empty())
      spec.process->env.push_back(c.env_home);
    spec.process->user.uid = c.uid;
    std::string out;
    ASSERT_EQ(Run(spec, &out), 0) << out;
    EXPECT_EQ(out, c.want + "\n");
  }
}

TEST_F(ContainerTest, SecurityAndReadOnlySettingsApply) {
  oci::Spec spec = shim::testing::BusyboxSpec(
      "sec",
      "grep -E 'CapEff|NoNewPrivs' /proc/self/status; mkdir /tmp/x 2>&1; echo mk=$?; "
      "touch /f 2>&1; echo ro=$?; echo masked=$(cat /etc/passwd; ls /root); "
      "echo x 2>&1 >/proc/sys/kernel/domainname; ls /sys/fs/cgroup");
  spec.root.readonly = true;
  spec.mounts.push_back({"/tmp", "tmpfs", "tmpfs", {"nosuid"}});
  spec.linux.masked_paths.push_back("/etc/passwd");
  std::filesystem::create_directories(dir_ / "rootfs/root/secret");
  spec.linux.masked_paths.push_back("/root");
  spec.process->capabilities->effective = {"CAP_KILL", "CAP_CHOWN"};
  spec.process->capabilities->permitted = {"CAP_KILL", "CAP_CHOWN"};
  oci::Seccomp sc;
  sc.default_action = "SCMP_ACT_ALLOW";
  sc.syscalls.push_back(
      {.names = {"mkdir", "mkdirat"}, .action = "SCMP_ACT_ERRNO", .errno_ret = 13, .args = {}});
  spec.linux.seccomp = sc;
  std::string out;
  ASSERT_EQ(Run(spec, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("CapEff:\t0000000000000021\n"));  // CAP_CHOWN | CAP_KILL
  EXPECT_THAT(out, HasSubstr("NoNewPrivs:\t1\n"));
  EXPECT_THAT(out, HasSubstr("Permission denied\nmk=1\n"));  // errno 13 from the filter
  EXPECT_THAT(out, HasSubstr("Read-only file system\nro=1\n"));
  EXPECT_THAT(out, HasSubstr("\nmasked=\n"));  // a masked file and a masked directory
  EXPECT_THAT(out, HasSubstr("domainname: Read-only file system"));  // /proc/sys is read-only
  EXPECT_THAT(out, HasSubstr("memory"));
}

// Mount destinations go through the image's symlinks as the container sees them: inside the
// rootfs. A link that points at a host path (absolute, or relative with enough "..") must not
// make berth create directories or mount anything outside the rootfs.
TEST_F(ContainerTest, MountTargetsThroughSymlinksStayInsideTheRootfs) {
  const std::filesystem::path outside = dir_ / "outside";
  std::filesystem::create_directories(outside);
  std::filesystem::create_symlink(outside, dir_ / "rootfs/abs");
  std::filesystem::create_symlink("../../../../../../../../.." + outside.string(),
                                  dir_ / "rootfs/rel");
  berth::testing::WriteFile(dir_ / "hostfile", "from the host\n");
  oci::Spec spec = shim::testing::BusyboxSpec(
      "links", "cat /rel/file; grep -c ' " + outside.string() + "/sub ' /proc/mounts");
  spec.mounts.push_back({"/abs/sub", "tmpfs", "tmpfs", {"nosuid"}});
  spec.mounts.push_back({"/rel/file", "bind", (dir_ / "hostfile").string(), {"bind", "ro"}});
  std::string out;
  ASSERT_EQ(Run(spec, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("from the host\n1\n")) << "both mounts are where the links lead";
  EXPECT_TRUE(std::filesystem::is_empty(outside)) << "nothing was created outside the rootfs";
  EXPECT_TRUE(std::filesystem::is_directory(dir_ / ("rootfs" + outside.string() + "/sub")));
}

// `ctr run --rootfs-propagation shared|rshared`: pivot_root refuses a shared new root, so the
// root is made private first, as runc makes it; the container's mounts stay in its namespace.
TEST_F(ContainerTest, SharedRootPropagationStillPivotsAndLeaksNoMount) {
  std::string before;  // the runs share the output file
  for (const char* prop : {"shared", "rshared", "private", "rslave"}) {
    oci::Spec spec =
        shim::testing::BusyboxSpec("prop",
                                   "awk '$5 == \"/\" { print $7 }' /proc/self/mountinfo; "
                                   "grep -c ' /proc ' /proc/self/mountinfo");
    spec.linux.rootfs_propagation = prop;
    std::string out;
    ASSERT_EQ(Run(spec, &out), 0) << prop << ": " << out;
    EXPECT_EQ(out.substr(before.size()), "-\n1\n") << prop;  // "/" private, proc mounted once
    before = out;
    EXPECT_THAT(berth::testing::ReadFile("/proc/self/mountinfo"),
                Not(HasSubstr((dir_ / "rootfs").string())))
        << prop << ": a container mount reached the host";
  }
}

// A cwd the image lacks is made (0755), as runc makes it, also under a read-only root, through
// the image's links as the container sees them: a link to a host path dangles inside the
// container and fails the create; nothing is ever made on the host.
TEST_F(ContainerTest, AMissingCwdIsMadeInsideTheRootfs) {
  std::filesystem::create_directories(dir_ / "rootfs/srv");
  std::filesystem::create_symlink("/srv", dir_ / "rootfs/inside");
  oci::Spec spec = shim::testing::BusyboxSpec("cwd", "pwd; stat -c %a .");
  spec.process->cwd = "/inside/new/dir";
  spec.root.readonly = true;
  std::string out;
  ASSERT_EQ(Run(spec, &out), 0) << out;
  EXPECT_EQ(out, "/srv/new/dir\n755\n");  // busybox pwd prints the resolved path
  EXPECT_TRUE(std::filesystem::is_directory(dir_ / "rootfs/srv/new/dir"));

  const std::filesystem::path outside = dir_ / "outside-cwd";
  std::filesystem::create_directories(outside);
  std::filesystem::create_symlink(outside, dir_ / "rootfs/host");
  spec.process->cwd = "/host/new";
  absl::StatusOr<std::unique_ptr<Container>> c = Create(spec);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound) << c.status();
  EXPECT_THAT(c.status().message(), HasSubstr("create cwd /host/new"));
  EXPECT_TRUE(std::filesystem::is_empty(outside)) << "nothing was created outside the rootfs";
  EXPECT_FALSE(shim::testing::CgroupExists(spec.linux.cgroups_path));
}

// Device nodes go where their paths lead inside the rootfs, their directories made as needed
// (ctr run --privileged passes every host device, /dev/cpu/0/cpuid among them); a directory
// that the image links to a host path does not take a node outside the rootfs.
TEST_F(ContainerTest, DevicesInNestedDirectoriesStayInsideTheRootfs) {
  const std::filesystem::path outside = dir_ / "outside";
  std::filesystem::create_directories(outside);
  std::filesystem::create_symlink(outside, dir_ / "rootfs/devlink");
  oci::Spec spec =
      shim::testing::BusyboxSpec("devs", "ls -l /dev/berth/nested/zero /devlink/null2 | cut -c1-4");
  oci::Device zero;
  zero.type = "c";
  zero.path = "/dev/berth/nested/zero";
  zero.major = 1;
  zero.minor = 5;
  zero.file_mode = 0640;
  oci::Device null2 = zero;
  null2.path = "/devlink/null2";
  null2.minor = 3;
  spec.linux.devices = {zero, null2};
  std::string out;
  ASSERT_EQ(Run(spec, &out), 0) << out;
  EXPECT_EQ(out, "crw-\ncrw-\n");
  EXPECT_TRUE(std::filesystem::is_empty(outside)) << "nothing was created outside the rootfs";
  EXPECT_TRUE(std::filesystem::is_character_file(dir_ / ("rootfs" + outside.string() + "/null2")));
}

// /dev has runc's links (fd, stdin, stdout, stderr, ptmx, and core where the kernel has
// /proc/kcore), and none of them dangles.
TEST_F(ContainerTest, DevLinksAreRuncsAndNoneDangles) {
  oci::Spec spec = shim::testing::BusyboxSpec(
      "links",
      "(for f in /dev/*; do [ -L \"$f\" ] && echo \"${f#/dev/} $([ -e \"$f\" ] || echo dangles)\"; "
      "done; true) < /dev/null 2>&1");
  std::string out;
  ASSERT_EQ(Run(spec, &out), 0) << out;
  std::string want = "core \nfd \nptmx \nstderr \nstdin \nstdout \n";
  if (::access("/proc/kcore", F_OK) != 0)
    want = want.substr(std::string("core \n").size());
  EXPECT_EQ(out, want);
}

// The child opens the rootfs once for all mounts; one on the rootfs itself must still take
// the mounts that follow (as when each mount resolved the rootfs anew).
TEST_F(ContainerTest, AMountOnTheRootfsItselfTakesTheMountsAfterIt) {
  const std::filesystem::path other = dir_ / "other";
  ASSERT_TRUE(shim::testing::MakeBusyboxRootfs(other));
  berth::testing::WriteFile(other / "rootfs/marker", "the other root\n");
  oci::Spec spec = shim::testing::BusyboxSpec(
      "onroot", "cat /marker; test -r /proc/self/status && echo proc=yes");
  spec.mounts.insert(spec.mounts.begin(), {"/", "bind", (other / "rootfs").string(), {"rbind"}});
  std::string out;
  ASSERT_EQ(Run(spec, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("the other root\nproc=yes\n"));
}

TEST_F(ContainerTest, TerminalIsTheControllingTtyAndDevConsole) {
  int master = -1, slave = -1;
  ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  UniqueFd m(master), s(slave);
  oci::Spec spec = shim::testing::BusyboxSpec(
      "tty", "test -c /dev/console && echo console=yes; test -t 0 && echo tty=yes");
  spec.process->terminal = true;
  auto c = Container::Create({.id = "t",
                              .bundle = dir_.path(),
                              .stdio = {.in = -1, .out = -1, .err = -1, .console = s.get()}},
                             spec);
  ASSERT_THAT(c, IsOk());
  s.reset();
  ASSERT_THAT((*c)->Start(), IsOk());
  absl::StatusOr<int> st = (*c)->init().Wait(std::chrono::seconds(30));
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(*st, 0);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(m.get(), buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  EXPECT_THAT(out, HasSubstr("console=yes"));
  EXPECT_THAT(out, HasSubstr("tty=yes"));
  EXPECT_THAT((*c)->Destroy(), IsOk());
}

TEST_F(ContainerTest, PidsLimitStopsAForkBomb) {
  oci::Spec spec = shim::testing::BusyboxSpec(
      "pids", "(for i in $(seq 1 40); do sleep 30 & done); echo spawned; exec sleep 30");
  spec.linux.resources->pids = oci::PidsResources{.limit = 16};
  absl::StatusOr<std::unique_ptr<Container>> c = Create(spec);
  ASSERT_THAT(c, IsOk());
  ASSERT_THAT((*c)->Start(), IsOk());
  for (int i = 0; i < 500 && ReadFile(dir_ / "out").find("spawned") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_THAT(ReadFile(dir_ / "out"), HasSubstr("spawned"));
  absl::StatusOr<CgroupStats> st = (*c)->cgroup().Stats();
  ASSERT_THAT(st, IsOk());
  // The subshell died on the 16th fork; what it started lives on (15 with the exec'd sleep).
  EXPECT_THAT(ReadFile(dir_ / "out"), HasSubstr("can't fork"));
  EXPECT_GE(st->pids_current, 14u);
  EXPECT_LE(st->pids_current, 16u);
  EXPECT_EQ(st->pids_limit, 16u);
  EXPECT_THAT((*c)->Destroy(), IsOk());
  EXPECT_FALSE(shim::testing::CgroupExists(spec.linux.cgroups_path));
}

TEST_F(ContainerTest, MemoryLimitIsWrittenAndEnforced) {
  oci::Spec spec = shim::testing::BusyboxSpec(
      "mem",
      "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; x=$(head -c 100000000 /dev/zero "
      "| tr '\\0' a); echo survived");
  spec.linux.resources->memory = oci::MemoryResources{};
  spec.linux.resources->memory->limit = 32 << 20;
  spec.linux.resources->memory->swap = 32 << 20;
  absl::StatusOr<std::unique_ptr<Container>> c = Create(spec);
  ASSERT_THAT(c, IsOk());
  absl::StatusOr<UniqueFd> oom = (*c)->cgroup().OomEventFd();
  ASSERT_THAT(oom, IsOk());
  ASSERT_THAT((*c)->Start(), IsOk());
  absl::StatusOr<int> st = (*c)->init().Wait(std::chrono::seconds(30));
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(*st, 137);
  EXPECT_GE((*c)->cgroup().OomKillCount(), 1u);
  uint64_t events = 0;
  EXPECT_EQ(::read(oom->get(), &events, sizeof(events)), 8);
  EXPECT_THAT(ReadFile(dir_ / "out"), HasSubstr("33554432\n"));
  EXPECT_THAT(ReadFile(dir_ / "out"), ::testing::Not(HasSubstr("survived")));
}

TEST_F(ContainerTest, ExecJoinsTheRunningContainer) {
  oci::Spec spec = shim::testing::BusyboxSpec("exec", "echo ready; sleep 60");
  spec.hostname = "execbox";
  absl::StatusOr<std::unique_ptr<Container>> c = Create(spec);
  ASSERT_THAT(c, IsOk());
  ASSERT_THAT((*c)->Start(), IsOk());
  oci::Process p = *spec.process;
  p.args = {"sh", "-c", "hostname; tr '\\0' ' ' </proc/1/cmdline; echo; exit 3"};
  absl::StatusOr<ChildProcess> e =
      (*c)->Exec(p, {.in = -1, .out = out_.get(), .err = -1, .console = -1});
  ASSERT_THAT(e, IsOk());
  absl::StatusOr<int> st = e->Wait(std::chrono::seconds(10));
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(*st, 3);
  EXPECT_THAT(ReadFile(dir_ / "out"), HasSubstr("execbox\nsleep 60 \n"));
  p.args = {"sh", "-c", "echo \"home=$HOME\""};
  std::erase_if(p.env, [](const std::string& v) { return v.starts_with("HOME="); });
  e = (*c)->Exec(p, {.in = -1, .out = out_.get(), .err = -1, .console = -1});
  ASSERT_THAT(e, IsOk());
  ASSERT_THAT(e->Wait(std::chrono::seconds(10)), IsOk());
  EXPECT_THAT(ReadFile(dir_ / "out"), HasSubstr("home=/root\n"));
  ASSERT_THAT((*c)->KillAll(SIGKILL), IsOk());
  st = (*c)->init().Wait(std::chrono::seconds(10));
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(*st, 137);
}

// The lines of /proc/PID/cgroup: every hierarchy the process is in.
std::vector<std::string> CgroupLines(pid_t pid) {
  std::vector<std::string> lines;
  std::istringstream in(ReadFile(fmt::format("/proc/{}/cgroup", pid)));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The init and an exec'd process join the cgroup without a cgroup.procs write (v1: each moves
// itself through the "tasks" files; v2, and a hybrid host's v2 hierarchy: clone3 starts it
// inside), in every hierarchy the host mounts, as runc: on v1 also those berth sets no limit in
// (systemd's among them). All go at the end.
TEST_F(ContainerTest, InitAndExecProcessesAreInTheCgroupEverywhere) {
  oci::Spec spec = shim::testing::BusyboxSpec("join", "sleep 60");
  absl::StatusOr<std::unique_ptr<Container>> c = Create(spec);
  ASSERT_THAT(c, IsOk());
  ASSERT_THAT((*c)->Start(), IsOk());
  oci::Process p = *spec.process;
  p.args = {"sleep", "60"};
  absl::StatusOr<ChildProcess> e =
      (*c)->Exec(p, {.in = -1, .out = out_.get(), .err = -1, .console = -1});
  ASSERT_THAT(e, IsOk());
  for (pid_t pid : {(*c)->pid(), e->pid()}) {
    std::vector<std::string> lines = CgroupLines(pid);
    EXPECT_GE(lines.size(), Cgroup::IsV2Host() ? 1u : 8u)
        << ReadFile(fmt::format("/proc/{}/cgroup", pid));
    for (const std::string& line : lines)
      EXPECT_TRUE(line.ends_with(":" + spec.linux.cgroups_path)) << "pid " << pid << ": " << line;
  }
  ASSERT_THAT((*c)->KillAll(SIGKILL), IsOk());
  (void)e->Wait(std::chrono::seconds(10));
  ASSERT_THAT((*c)->init().Wait(std::chrono::seconds(10)), IsOk());
  EXPECT_THAT((*c)->Destroy(), IsOk());
  std::error_code ec;
  for (const auto& h : std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
    EXPECT_FALSE(std::filesystem::exists(h.path().string() + spec.linux.cgroups_path, ec))
        << h.path().string() + spec.linux.cgroups_path;
  }
  EXPECT_FALSE(std::filesystem::exists("/sys/fs/cgroup" + spec.linux.cgroups_path, ec));
}

TEST_F(ContainerTest, PauseAndResumeWithTheFreezer) {
  oci::Spec spec = shim::testing::BusyboxSpec("frz", "sleep 60");
  absl::StatusOr<std::unique_ptr<Container>> c = Create(spec);
  ASSERT_THAT(c, IsOk());
  ASSERT_THAT((*c)->Start(), IsOk());
  ASSERT_THAT((*c)->cgroup().Freeze(), IsOk());
  std::string state = ReadFile("/proc/" + std::to_string((*c)->pid()) + "/status");
  ASSERT_THAT((*c)->cgroup().Thaw(), IsOk());
  absl::StatusOr<std::vector<pid_t>> pids = (*c)->cgroup().Pids();
  ASSERT_THAT(pids, IsOk());
  EXPECT_THAT(*pids, ::testing::ElementsAre((*c)->pid()));
  std::string path = spec.linux.cgroups_path;
  (*c).reset();  // the destructor kills and removes everything
  EXPECT_FALSE(shim::testing::CgroupExists(path));
}

struct BadSpec {
  std::string name;
  std::function<void(oci::Spec&)> edit;
  absl::StatusCode code;
  std::string message;
};

class BadSpecTest : public ContainerTest, public ::testing::WithParamInterface<BadSpec> {};

TEST_P(BadSpecTest, FailsClearlyAndLeavesNothing) {
  oci::Spec spec = shim::testing::BusyboxSpec("bad", "true");
  GetParam().edit(spec);
  EXPECT_THAT(Create(spec), StatusIs(GetParam().code, GetParam().message));
  EXPECT_FALSE(shim::testing::CgroupExists(spec.linux.cgroups_path));
  EXPECT_FALSE(shim::testing::MountedUnder(dir_.path()));
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadSpecTest,
    ::testing::Values(
        BadSpec{"MissingRootfs", [](oci::Spec& s) { s.root.path = "nope"; },
                absl::StatusCode::kNotFound, "root.path"},
        BadSpec{"BadMountType",
                [](oci::Spec& s) {
                  s.mounts.push_back({"/x", "nosuchfs", "x", {}});
                },
                absl::StatusCode::kInvalidArgument, "unknown filesystem type \"nosuchfs\""},
        BadSpec{"UnknownSyscall",
                [](oci::Spec& s) {
                  s.linux.seccomp = oci::DefaultSeccompProfile();
                  s.linux.seccomp->syscalls[0].names.push_back("frobnicate");
                },
                absl::StatusCode::kInvalidArgument, "unknown syscall \"frobnicate\""},
        BadSpec{"MountFailsInTheChild",
                [](oci::Spec& s) {
                  s.mounts.push_back({"/t", "tmpfs", "t", {"size=abc"}});
                },
                absl::StatusCode::kInvalidArgument, "init: mount "},
        // A missing program fails the create, as with runc, not the start.
        BadSpec{"MissingProgram", [](oci::Spec& s) { s.process->args = {"/no/such/program"}; },
                absl::StatusCode::kNotFound, "init: exec /no/such/program: No such file"},
        BadSpec{"ProgramOnNoPathDirectory",
                [](oci::Spec& s) { s.process->args = {"nosuchprogram"}; },
                absl::StatusCode::kNotFound,
                R"(init: exec "nosuchprogram": executable file not found in $PATH)"},
        BadSpec{"ProgramIsADirectory", [](oci::Spec& s) { s.process->args = {"/bin"}; },
                absl::StatusCode::kPermissionDenied, "init: exec /bin"},
        BadSpec{"OomKilledDuringSetup",
                [](oci::Spec& s) {
                  s.linux.resources->memory = oci::MemoryResources{};
                  s.linux.resources->memory->limit = 4096;
                },
                absl::StatusCode::kResourceExhausted,
                "init: killed by the OOM killer during setup"}),
    [](const ::testing::TestParamInfo<BadSpec>& i) { return i.param.name; });

TEST_F(ContainerTest, ExecFailureOnStartIsAClearError) {
  // The create's check passes (a file with an execute bit), the exec itself fails.
  const std::filesystem::path prog = dir_ / "rootfs" / "prog";
  { std::ofstream(prog) << "neither ELF nor a script\n"; }
  std::filesystem::permissions(prog, std::filesystem::perms::owner_all);
  oci::Spec spec = shim::testing::BusyboxSpec("noexe", "");
  spec.process->args = {"/prog"};
  absl::StatusOr<std::unique_ptr<Container>> c = Create(spec);
  ASSERT_THAT(c, IsOk());
  EXPECT_THAT((*c)->Start(),
              StatusIs(absl::StatusCode::kUnknown, "start: exec /prog: Exec format error"));
}

TEST_F(ContainerTest, AProgramIsFoundOnThePathRelativeToTheCwd) {
  // PATH with a relative entry: the create's check looks where the exec will, from the cwd.
  std::filesystem::create_directories(dir_ / "rootfs" / "work" / "tools");
  std::filesystem::create_symlink("/bin/busybox", dir_ / "rootfs" / "work" / "tools" / "hello");
  oci::Spec spec = shim::testing::BusyboxSpec("relpath", "");
  spec.process->args = {"hello"};
  spec.process->env = {"PATH=tools"};
  spec.process->cwd = "/work";
  absl::StatusOr<std::unique_ptr<Container>> c = Create(spec);
  ASSERT_THAT(c, IsOk());
  EXPECT_THAT((*c)->Start(), IsOk());
  absl::StatusOr<int> st = (*c)->init().Wait(std::chrono::seconds(30));
  ASSERT_THAT(st, IsOk());
  // busybox run as "hello" is no applet: it says so and exits 127, after a successful exec.
  EXPECT_EQ(*st, 127);
  EXPECT_THAT(ReadFile(dir_ / "out"), HasSubstr("hello: applet not found"));
}

TEST_F(ContainerTest, NegativeOomScoreAdjNeedsCapSysResource) {
  oci::Spec spec = shim::testing::BusyboxSpec("oom", "true");
  spec.process->oom_score_adj = -500;
  absl::StatusOr<std::unique_ptr<Container>> c = Create(spec);
  if (c.ok())
    GTEST_SKIP() << "this machine allows negative oom_score_adj";
  EXPECT_THAT(c, StatusIs(absl::StatusCode::kPermissionDenied, "process.oomScoreAdj -500"));
  EXPECT_FALSE(shim::testing::CgroupExists(spec.linux.cgroups_path));
}

}  // namespace
}  // namespace berth::shim::linux
