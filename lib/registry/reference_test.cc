#include "lib/registry/reference.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/matchers.h"

namespace berth::registry {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

const std::string kDigest = "sha256:" + std::string(64, 'a');

struct Good {
  std::string in;
  std::string domain, path, tag, digest, normalized;
};

TEST(ReferenceTest, ParsesAndNormalizes) {
  const Good cases[] = {
      {"busybox", "docker.io", "library/busybox", "latest", "", "docker.io/library/busybox:latest"},
      {"busybox:1.36", "docker.io", "library/busybox", "1.36", "",
       "docker.io/library/busybox:1.36"},
      {"user/app", "docker.io", "user/app", "latest", "", "docker.io/user/app:latest"},
      {"docker.io/busybox", "docker.io", "library/busybox", "latest", "",
       "docker.io/library/busybox:latest"},
      {"index.docker.io/library/busybox", "docker.io", "library/busybox", "latest", "",
       "docker.io/library/busybox:latest"},
      {"127.0.0.1:5000/busybox", "127.0.0.1:5000", "busybox", "latest", "",
       "127.0.0.1:5000/busybox:latest"},
      {"localhost/app:v1", "localhost", "app", "v1", "", "localhost/app:v1"},
      {"localhost:5000/a/b/c:tag_1.0-x", "localhost:5000", "a/b/c", "tag_1.0-x", "",
       "localhost:5000/a/b/c:tag_1.0-x"},
      {"ghcr.io/o/r@" + kDigest, "ghcr.io", "o/r", "", kDigest, "ghcr.io/o/r@" + kDigest},
      {"ghcr.io/o/r:v2@" + kDigest, "ghcr.io", "o/r", "v2", kDigest, "ghcr.io/o/r:v2@" + kDigest},
      {"a.b-c/x__y.z-w---v:T", "a.b-c", "x__y.z-w---v", "T", "", "a.b-c/x__y.z-w---v:T"},
      {"[::1]:5000/app", "[::1]:5000", "app", "latest", "", "[::1]:5000/app:latest"},
  };
  for (const Good& c : cases) {
    SCOPED_TRACE(c.in);
    absl::StatusOr<Reference> r = ParseReference(c.in);
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->domain, c.domain);
    EXPECT_EQ(r->path, c.path);
    EXPECT_EQ(r->tag, c.tag);
    EXPECT_EQ(r->digest, c.digest);
    EXPECT_EQ(r->String(), c.normalized);
    // Normalizing is idempotent.
    absl::StatusOr<Reference> again = ParseReference(r->String());
    ASSERT_THAT(again, IsOk());
    EXPECT_EQ(*again, *r);
  }
}

struct Bad {
  std::string in;
  std::string why;
};

TEST(ReferenceTest, RejectsBadReferencesWithTheReason) {
  const Bad cases[] = {
      {"", "empty"},
      {"Busybox", "must be lower-case"},
      {"busybox:", "tag \"\""},
      {"busybox:-x", "tag \"-x\""},
      {"busybox:" + std::string(129, 'a'), "tag"},
      {"busybox@sha256:abc", "64 lower-case hex"},
      {"busybox@md5", "want algorithm:hex"},
      {"bad name", "whitespace"},
      {"https://registry/x", "no scheme"},
      {"host:port/x", "not host[:port]"},
      {"127.0.0.1:/x", "not host[:port]"},
      {"127.0.0.1:5000/", "no repository"},
      {"a//b", "component \"\""},
      {"a/-b", "component \"-b\""},
      {"a/b.", "component \"b.\""},
      {"a/b..c", "component \"b..c\""},
      {"a/b___c", "component \"b___c\""},
      {std::string(300, 'a'), "longer than 255"},
  };
  for (const Bad& c : cases) {
    SCOPED_TRACE(c.in);
    absl::StatusOr<Reference> r = ParseReference(c.in);
    EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.why));
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("invalid reference"));
  }
}

TEST(ReferenceTest, ObjectIsDigestOverTag) {
  Reference r = *ParseReference("r.io/a:t@" + kDigest);
  EXPECT_EQ(r.Object(), kDigest);
  EXPECT_EQ(ParseReference("r.io/a:t")->Object(), "t");
  EXPECT_EQ(ParseReference("busybox")->RegistryHost(), "registry-1.docker.io");
  EXPECT_EQ(ParseReference("r.io:1/a")->RegistryHost(), "r.io:1");
  EXPECT_EQ(ParseReference("r.io:1/a")->Name(), "r.io:1/a");
}

TEST(ReferenceTest, NormalizesLoginHosts) {
  const std::pair<std::string, std::string> cases[] = {
      {"docker.io", "docker.io"},
      {"index.docker.io", "docker.io"},
      {"https://index.docker.io/v1/", "docker.io"},
      {"127.0.0.1:5000", "127.0.0.1:5000"},
      {"http://127.0.0.1:5000/", "127.0.0.1:5000"},
  };
  for (const auto& [in, want] : cases) {
    absl::StatusOr<std::string> h = NormalizeHost(in);
    ASSERT_THAT(h, IsOk()) << in;
    EXPECT_EQ(*h, want);
  }
  EXPECT_THAT(NormalizeHost(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(NormalizeHost("a b"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(NormalizeHost("host:port"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(DigestTest, Validates) {
  EXPECT_THAT(ValidateDigest(kDigest), IsOk());
  EXPECT_THAT(ValidateDigest("sha512:" + std::string(128, '0')), IsOk());
  EXPECT_THAT(ValidateDigest("sha256:" + std::string(64, 'A')),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateDigest("sha256:" + std::string(63, 'a')),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ValidateDigest(std::string(64, 'a')), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace berth::registry
