#include "lib/oci/spec_json.h"

#include <sys/resource.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::oci {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;

constexpr const char* kMinimal = R"({
  "ociVersion": "1.1.0",
  "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 1000, "gid": 100,
              "additionalGids": [5, 6]}, "env": ["A=b"], "terminal": true,
              "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"]},
              "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 100, "soft": 50}],
              "noNewPrivileges": true, "oomScoreAdj": 10},
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "box",
  "mounts": [{"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid"]}],
  "hooks": {"poststart": [{"path": "/bin/true", "args": ["true"], "timeout": 5}]},
  "linux": {
    "namespaces": [{"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"}],
    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "resources": {"memory": {"limit": 67108864}, "pids": {"limit": 32},
                  "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
                  "devices": [{"allow": false, "access": "rwm"}]},
    "cgroupsPath": "/default/web",
    "seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"],
                "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                "args": [{"index": 1, "value": 448, "op": "SCMP_CMP_EQ"}]}]},
    "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"],
    "sysctl": {"net.ipv4.ip_forward": "1"}
  }
})";

TEST(SpecJsonTest, ParsesEveryModelledField) {
  absl::StatusOr<Spec> s = ParseSpec(kMinimal);
  ASSERT_THAT(s, IsOk());
  ASSERT_TRUE(s->process.has_value());
  EXPECT_THAT(s->process->args, ElementsAre("sh"));
  EXPECT_EQ(s->process->user.uid, 1000u);
  EXPECT_THAT(s->process->user.additional_gids, ElementsAre(5u, 6u));
  EXPECT_TRUE(s->process->terminal);
  EXPECT_THAT(s->process->capabilities->bounding, ElementsAre("CAP_KILL"));
  ASSERT_EQ(s->process->rlimits.size(), 1u);
  EXPECT_EQ(s->process->rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(s->process->oom_score_adj, 10);
  EXPECT_TRUE(s->root.readonly);
  EXPECT_EQ(s->hostname, "box");
  EXPECT_EQ(s->hooks.poststart.at(0).timeout, 5);
  EXPECT_EQ(s->linux.FindNamespace("network")->path, "/proc/1/ns/net");
  EXPECT_EQ(s->linux.FindNamespace("uts"), nullptr);
  EXPECT_EQ(s->linux.resources->memory->limit, 67108864);
  EXPECT_EQ(s->linux.resources->pids->limit, 32);
  EXPECT_EQ(s->linux.resources->cpu->cpus, "0");
  EXPECT_EQ(s->linux.seccomp->syscalls.at(0).args.at(0).value, 448u);
  EXPECT_EQ(s->linux.sysctl.at("net.ipv4.ip_forward"), "1");
}

TEST(SpecJsonTest, RoundTrips) {
  absl::StatusOr<Spec> a = ParseSpec(kMinimal);
  ASSERT_THAT(a, IsOk());
  absl::StatusOr<Spec> b = ParseSpec(SpecToJson(*a));
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(SpecToJson(*a), SpecToJson(*b));
}

struct BadCase {
  std::string json;
  std::string message;
};

void PrintTo(const BadCase& c, std::ostream* os) {
  *os << c.message;
}

class SpecJsonBadTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(SpecJsonBadTest, NamesTheField) {
  EXPECT_THAT(ParseSpec(GetParam().json),
              StatusIs(absl::StatusCode::kInvalidArgument, GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Table, SpecJsonBadTest,
    ::testing::Values(
        BadCase{R"({"process": {"args": ["sh"]}})", "config.json: root: required"},
        BadCase{R"({"root": {"path": 5}})", "config.json: root.path: expected string, got number"},
        BadCase{R"({"root": {"path": "r"}, "process": {"args": ["sh"], "capabilities":
                {"bounding": ["CAP_KILL", "CAP_CHOWN", "CAP_FOO"]}}})",
                R"(config.json: process.capabilities.bounding[2]: unknown capability "CAP_FOO")"},
        BadCase{R"({"root": {"path": "r"}, "process": {"args": []}})",
                "config.json: process.args: must name the program"},
        BadCase{R"({"root": {"path": "r"}, "process": {"args": ["sh"], "rlimits":
                [{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]}})",
                R"(process.rlimits[0].type: unknown rlimit "RLIMIT_BOGUS")"},
        BadCase{R"({"root": {"path": "r"}, "linux": {"namespaces": [{"type": "pidd"}]}})",
                R"(linux.namespaces[0].type: unknown namespace type "pidd")"},
        BadCase{R"({"root": {"path": "r"}, "mounts": [{"destination": "proc"}]})",
                R"(mounts[0].destination: "proc" is not an absolute path)"},
        BadCase{R"({"root": {"path": "r"}, "process": {"args": ["sh"], "user": {"uid": -1}}})",
                "process.user.uid: -1 is out of range"},
        // (uid_t)-1 would leave the process root (setresuid's "unchanged"): refused, as runc.
        BadCase{R"({"root": {"path": "r"}, "process": {"args": ["sh"], "user":
                {"uid": 4294967295}}})",
                "process.user.uid: 4294967295 is out of range (0-2147483647)"},
        BadCase{R"({"root": {"path": "r"}, "process": {"args": ["sh"], "user":
                {"gid": 2147483648}}})",
                "process.user.gid: 2147483648 is out of range"},
        BadCase{R"({"root": {"path": "r"}, "process": {"args": ["sh"], "user":
                {"additionalGids": [1, 4294967295]}}})",
                "process.user.additionalGids[1]: 4294967295 is out of range"},
        BadCase{R"({"root": {"path": "r"}, "process": {"args": ["sh"], "rlimits":
                [{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 100}]}})",
                "process.rlimits[0].soft: 100 is above the hard limit 10"},
        BadCase{R"({"root": {"path": "r"}, "process": {"args": ["sh", "-c\u0000x"]}})",
                "process.args[1]: contains a NUL byte"},
        BadCase{R"({"root": {"path": "r"}, "process": {"args": ["sh"], "env": ["A=1",
                "B=\u0000"]}})",
                "process.env[1]: contains a NUL byte"},
        BadCase{R"({"root": )", "config.json: [json.exception.parse_error"}),
    [](const ::testing::TestParamInfo<BadCase>& i) { return "Case" + std::to_string(i.index); });

TEST(SpecJsonTest, ParsesProcessAlone) {
  EXPECT_THAT(ParseProcess(R"({"args": ["ls"], "cwd": "/tmp"})"), IsOk());
  EXPECT_THAT(ParseProcess(R"({"args": ["ls"], "cwd": "tmp"})"),
              StatusIs(absl::StatusCode::kInvalidArgument, R"(process: cwd: "tmp")"));
}

TEST(SpecJsonTest, ParsesResourcesAlone) {
  absl::StatusOr<Resources> r = ParseResources(R"({"pids": {"limit": 7}})");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->pids->limit, 7);
}

TEST(SpecJsonTest, LoadsAndWritesBundles) {
  berth::testing::TempDir dir("oci");
  EXPECT_THAT(LoadSpec(dir.path()), StatusIs(absl::StatusCode::kNotFound));
  absl::StatusOr<Spec> s = ParseSpec(kMinimal);
  ASSERT_THAT(s, IsOk());
  ASSERT_THAT(WriteSpec(dir.path(), *s), IsOk());
  absl::StatusOr<Spec> back = LoadSpec(dir.path());
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->hostname, "box");
}

}  // namespace
}  // namespace berth::oci
