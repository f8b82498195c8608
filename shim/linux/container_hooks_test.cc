// Root tests of the runtime-spec hooks in the embedded runtime: where and when each of the six
// runs, what a failing or hanging one does (the fixture: container_fixture.h).

#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

#include "shim/linux/container_fixture.h"

namespace berth::shim::linux {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::ReadFile;
using ::berth::testing::StatusIs;

oci::Hook HostSh(const std::string& script, std::optional<int> timeout = std::nullopt) {
  return oci::Hook{.path = "/bin/sh",
                   .args = {"sh", "-c", script},
                   .env = {"PATH=/usr/bin:/bin"},
                   .timeout = timeout};
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

nlohmann::json ParseJson(const std::string& text) {
  return nlohmann::json::parse(text.empty() ? "null" : text, nullptr, false);
}

bool Gone(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  return stat.empty() || stat.find(") Z ") != std::string::npos;
}

// Each hook appends "<stage> <mnt ns> <pid ns>" to one log and saves the state it read. The
// runtime-namespace hooks and createContainer (before pivot_root) see host paths; the
// startContainer hook and the process see the container's root, where the log is /log.
TEST_F(ContainerTest, AllSixHooksRunOnceEachWhereAndWhenTheSpecSays) {
  const std::string log = (dir_ / "rootfs/log").string();
  auto host_hook = [&](const std::string& stage) {
    return HostSh(
        fmt::format("echo {0} $(readlink /proc/self/ns/mnt) $(readlink /proc/self/ns/pid) >> {1}; "
                    "cat > {2}/{0}.json",
                    stage, log, dir_.path().string()));
  };
  oci::Spec spec = shim::testing::BusyboxSpec("hooks", "echo process >> /log; exec sleep 60");
  spec.hooks.prestart = {host_hook("prestart")};
  spec.hooks.create_runtime = {host_hook("createRuntime")};
  spec.hooks.create_container = {host_hook("createContainer")};
  spec.hooks.start_container = {{.path = "/bin/sh",  // the container's busybox
                                 .args = {"sh", "-c",
                                          "echo startContainer $(readlink /proc/self/ns/mnt) "
                                          "$(readlink /proc/self/ns/pid) >> /log; "
                                          "cat > /startContainer.json"},
                                 .env = {"PATH=/bin"},
                                 .timeout = 10}};
  spec.hooks.poststart = {host_hook("poststart")};
  spec.hooks.poststop = {host_hook("poststop")};
  absl::StatusOr<std::unique_ptr<Container>> c = Create(spec);
  ASSERT_THAT(c, IsOk());
  const pid_t pid = (*c)->pid();
  const std::string host_mnt = Readlink("/proc/self/ns/mnt");
  const std::string ctr_mnt = Readlink(fmt::format("/proc/{}/ns/mnt", pid));
  const std::string ctr_pid = Readlink(fmt::format("/proc/{}/ns/pid", pid));
  const std::string host_pid = Readlink("/proc/self/ns/pid");
  ASSERT_NE(host_mnt, ctr_mnt);
  std::vector<std::string> lines = Lines(ReadFile(log));
  ASSERT_EQ(lines.size(), 3u) << ReadFile(log);
  EXPECT_EQ(lines[0], "prestart " + host_mnt + " " + host_pid);
  EXPECT_EQ(lines[1], "createRuntime " + host_mnt + " " + host_pid);
  EXPECT_EQ(lines[2], "createContainer " + ctr_mnt + " " + ctr_pid);

  ASSERT_THAT((*c)->Start(), IsOk());
  for (int i = 0; i < 500 && ReadFile(log).find("process") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  lines = Lines(ReadFile(log));
  ASSERT_EQ(lines.size(), 6u) << ReadFile(log);
  EXPECT_EQ(lines[3], "startContainer " + ctr_mnt + " " + ctr_pid);
  // poststart runs once the process is started: its line and the process's may come in
  // either order.
  EXPECT_THAT(std::vector<std::string>(lines.begin() + 4, lines.end()),
              ::testing::UnorderedElementsAre("process", "poststart " + host_mnt + " " + host_pid));
  ASSERT_THAT((*c)->KillAll(SIGKILL), IsOk());
  ASSERT_THAT((*c)->init().Wait(std::chrono::seconds(10)), IsOk());
  ASSERT_THAT((*c)->Destroy(), IsOk());
  ASSERT_THAT((*c)->Destroy(), IsOk());  // idempotent: poststop runs once
  lines = Lines(ReadFile(log));
  ASSERT_EQ(lines.size(), 7u) << ReadFile(log);
  EXPECT_EQ(lines[6], "poststop " + host_mnt + " " + host_pid);

  const std::pair<const char*, const char*> want[] = {
      {"prestart", "creating"},        {"createRuntime", "creating"},
      {"createContainer", "creating"}, {"rootfs/startContainer", "created"},
      {"poststart", "running"},        {"poststop", "stopped"}};
  for (const auto& [stage, status] : want) {
    nlohmann::json j = ParseJson(ReadFile(dir_ / (std::string(stage) + ".json")));
    EXPECT_EQ(j.value("id", ""), "t") << stage;
    EXPECT_EQ(j.value("pid", 0), pid) << stage;
    EXPECT_EQ(j.value("status", ""), status) << stage;
    EXPECT_EQ(j.value("bundle", ""), dir_.path().string()) << stage;
  }
  EXPECT_FALSE(shim::testing::CgroupExists(spec.linux.cgroups_path));
}

TEST_F(ContainerTest, FailingPoststartAndPoststopHooksAreOnlyWarnings) {
  oci::Spec spec = shim::testing::BusyboxSpec("hookwarn", "exit 0");
  spec.hooks.poststart = {HostSh("exit 1")};
  spec.hooks.poststop = {HostSh("exit 2")};
  std::string out;
  EXPECT_EQ(Run(spec, &out), 0) << out;  // Start and Destroy succeed
}

struct FailingHook {
  std::string stage;
  bool on_start;  // fails Start, not Create
};

class FailingHookTest : public ContainerTest, public ::testing::WithParamInterface<FailingHook> {};

// The hook saves the state (for the init's pid), then fails. Create (or Start) fails naming
// the hook; nothing is left: no init, no cgroup, no mount; the poststop hook has run (as runc,
// for a container that was never started too: it undoes what createRuntime set up).
TEST_P(FailingHookTest, FailsNamingTheHookAndLeavesNothing) {
  const FailingHook& p = GetParam();
  oci::Spec spec = shim::testing::BusyboxSpec("hookfail", "echo never > /ran");
  std::string state = p.on_start ? "/state.json" : (dir_ / "rootfs/state.json").string();
  oci::Hook hook = HostSh("cat > " + state + "; echo refusing >&2; exit 3");
  if (p.stage == "createRuntime")
    spec.hooks.create_runtime = {hook};
  else if (p.stage == "createContainer")
    spec.hooks.create_container = {hook};
  else
    spec.hooks.start_container = {hook};
  const std::string poststop_ran = (dir_ / "poststop-ran").string();
  spec.hooks.poststop = {HostSh("touch " + poststop_ran)};
  const std::string want =
      fmt::format("hooks.{}[0] /bin/sh: exited with status 3: refusing", p.stage);
  absl::StatusOr<std::unique_ptr<Container>> c = Create(spec);
  if (p.on_start) {
    ASSERT_THAT(c, IsOk());
    EXPECT_THAT((*c)->Start(), StatusIs(absl::StatusCode::kFailedPrecondition, want));
    absl::StatusOr<int> st = (*c)->init().Wait(std::chrono::seconds(10));
    ASSERT_THAT(st, IsOk());
    EXPECT_EQ(*st, 137) << "the container is stopped";
    EXPECT_THAT((*c)->Destroy(), IsOk());
  } else {
    EXPECT_THAT(c, StatusIs(absl::StatusCode::kFailedPrecondition, want));
  }
  nlohmann::json j = ParseJson(ReadFile(dir_ / "rootfs/state.json"));
  ASSERT_TRUE(j.is_object()) << "the hook ran and saved the state";
  pid_t init = j.value("pid", 0);
  ASSERT_GT(init, 0);
  EXPECT_TRUE(Gone(init)) << "init " << init << " is left";
  EXPECT_FALSE(std::filesystem::exists(dir_ / "rootfs/ran")) << "the process never ran";
  EXPECT_TRUE(std::filesystem::exists(poststop_ran));
  EXPECT_FALSE(shim::testing::CgroupExists(spec.linux.cgroups_path));
  EXPECT_FALSE(shim::testing::MountedUnder(dir_.path()));
}

INSTANTIATE_TEST_SUITE_P(Stages, FailingHookTest,
                         ::testing::Values(FailingHook{"createRuntime", false},
                                           FailingHook{"createContainer", false},
                                           FailingHook{"startContainer", true}),
                         [](const ::testing::TestParamInfo<FailingHook>& i) {
                           return i.param.stage;
                         });

TEST_F(ContainerTest, AHangingCreateContainerHookIsKilledAtItsTimeout) {
  oci::Spec spec = shim::testing::BusyboxSpec("hookhang", "true");
  spec.hooks.create_container = {
      HostSh("echo $$ > " + (dir_ / "hook.pid").string() + "; sleep 100", 1)};
  auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(Create(spec), StatusIs(absl::StatusCode::kDeadlineExceeded,
                                     "hooks.createContainer[0] /bin/sh: timed out after 1s"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_FALSE(shim::testing::CgroupExists(spec.linux.cgroups_path));
  EXPECT_FALSE(shim::testing::MountedUnder(dir_.path()));
}

}  // namespace
}  // namespace berth::shim::linux
