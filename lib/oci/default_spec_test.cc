#include "lib/oci/default_spec.h"

#include <seccomp.h>
#include <sys/resource.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "lib/oci/capabilities.h"
#include "lib/oci/spec_json.h"
#include "tests/testing/matchers.h"

namespace berth::oci {
namespace {

using ::berth::testing::IsOk;
using ::testing::Contains;

TEST(DefaultSpecTest, HasDockersDefaults) {
  Spec s = DefaultSpec("default", "web");
  EXPECT_EQ(s.linux.cgroups_path, "/default/web");
  EXPECT_EQ(s.process->capabilities->bounding.size(), 14u);
  EXPECT_THAT(s.linux.masked_paths, Contains("/proc/kcore"));
  EXPECT_THAT(s.linux.readonly_paths, Contains("/proc/sys"));
  EXPECT_NE(s.linux.FindNamespace("pid"), nullptr);
  EXPECT_EQ(s.linux.FindNamespace("user"), nullptr);
  EXPECT_TRUE(s.process->no_new_privileges);
  for (const std::string& c : DefaultCapabilities()) EXPECT_TRUE(CapabilityFromName(c)) << c;
}

TEST(DefaultSpecTest, SurvivesJsonRoundTrip) {
  Spec s = DefaultSpec("k8s.io", "pod");
  absl::StatusOr<Spec> back = ParseSpec(SpecToJson(s));
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(SpecToJson(*back), SpecToJson(s));
}

TEST(DefaultSpecTest, EverySyscallNameIsKnownToLibseccomp) {
  Seccomp p = DefaultSeccompProfile();
  for (const Syscall& sc : p.syscalls) {
    for (const std::string& name : sc.names)
      EXPECT_NE(seccomp_syscall_resolve_name(name.c_str()), __NR_SCMP_ERROR) << name;
  }
}

TEST(CapabilitiesTest, NamesAndNumbers) {
  EXPECT_EQ(CapabilityFromName("CAP_CHOWN"), 0);
  EXPECT_EQ(CapabilityFromName("CAP_SYS_ADMIN"), 21);
  EXPECT_EQ(CapabilityFromName("CAP_CHECKPOINT_RESTORE"), 40);
  EXPECT_EQ(CapabilityFromName("CAP_FOO"), std::nullopt);
  EXPECT_EQ(RlimitFromName("RLIMIT_NOFILE"), RLIMIT_NOFILE);
}

}  // namespace
}  // namespace berth::oci
