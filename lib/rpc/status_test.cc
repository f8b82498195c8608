#include "lib/rpc/status.h"

#include "gtest/gtest.h"

#include "lib/base/status.h"

namespace berth::rpc {
namespace {

TEST(RpcStatusTest, ErrdefsClassesMapToGrpcCodes) {
  struct Case {
    absl::Status in;
    grpc::StatusCode out;
  } cases[] = {
      {NotFoundError("namespace", "x"), grpc::StatusCode::NOT_FOUND},
      {AlreadyExistsError("namespace", "x"), grpc::StatusCode::ALREADY_EXISTS},
      {InvalidArgument("bad"), grpc::StatusCode::INVALID_ARGUMENT},
      {FailedPrecondition("busy"), grpc::StatusCode::FAILED_PRECONDITION},
      {Unavailable("down"), grpc::StatusCode::UNAVAILABLE},
      {Unimplemented("no"), grpc::StatusCode::UNIMPLEMENTED},
      {Internal("bug"), grpc::StatusCode::INTERNAL},
  };

  for (const Case& c : cases) {
    grpc::Status g = ToGrpcStatus(c.in);
    EXPECT_EQ(g.error_code(), c.out) << c.in;
    EXPECT_EQ(g.error_message(), std::string(c.in.message()));
    absl::Status back = FromGrpcStatus(g);
    EXPECT_EQ(back, c.in);
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

}  // namespace
}  // namespace berth::rpc
