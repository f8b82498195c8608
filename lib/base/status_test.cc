#include "lib/base/status.h"

#include <cerrno>

#include "gtest/gtest.h"

#include "lib/base/status_macros.h"
#include "tests/testing/matchers.h"

namespace berth {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

TEST(StatusTest, NamedErrorsQuoteTheId) {
  EXPECT_EQ(NotFoundError("container", "web").message(), "container \"web\": not found");
  EXPECT_EQ(AlreadyExistsError("namespace", "a").message(), "namespace \"a\": already exists");
}

TEST(StatusTest, ErrnoMapsToErrdefsClasses) {
  struct Case {
    int err;
    absl::StatusCode code;
  } cases[] = {
      {ENOENT, absl::StatusCode::kNotFound},
      {EEXIST, absl::StatusCode::kAlreadyExists},
      {EBUSY, absl::StatusCode::kFailedPrecondition},
      {ENOTEMPTY, absl::StatusCode::kFailedPrecondition},
      {EINVAL, absl::StatusCode::kInvalidArgument},
      {EACCES, absl::StatusCode::kPermissionDenied},
      {ENOSYS, absl::StatusCode::kUnimplemented},
  };

  for (const Case& c : cases) {
    absl::Status s = ErrnoError(c.err, "open \"/x\"");
    EXPECT_EQ(s.code(), c.code) << c.err;
    EXPECT_EQ(std::string(s.message()).rfind("open \"/x\": ", 0), 0u) << s;
  }
  // The cause is said once.
  EXPECT_EQ(ErrnoError(ENOENT, "open \"/x\"").message(), "open \"/x\": No such file or directory");
}

TEST(StatusTest, AnnotateKeepsCodeAndOk) {
  EXPECT_THAT(Annotate(absl::OkStatus(), "ctx"), IsOk());
  absl::Status s = Annotate(absl::NotFoundError("gone"), "load \"x\"");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound, "load \"x\": gone"));
}

TEST(StatusTest, AnnotateKeepsPayloads) {
  absl::Status s = absl::NotFoundError("gone");
  s.SetPayload("example.com/detail", absl::Cord("42"));
  absl::Status a = Annotate(s, "ctx");
  EXPECT_EQ(a.message(), "ctx: gone");
  ASSERT_TRUE(a.GetPayload("example.com/detail").has_value());
  EXPECT_EQ(std::string(*a.GetPayload("example.com/detail")), "42");
}

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0)
    return InvalidArgument("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  BERTH_ASSIGN_OR_RETURN(int h, Half(x));
  BERTH_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

absl::Status CheckEven(int x) {
  BERTH_RETURN_IF_ERROR(Half(x).status());
  return absl::OkStatus();
}

TEST(StatusMacrosTest, PropagateErrorsAndValues) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_THAT(Quarter(6), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CheckEven(4), IsOk());
  EXPECT_THAT(CheckEven(3), StatusIs(absl::StatusCode::kInvalidArgument, "odd"));
}

}  // namespace
}  // namespace berth
