#include "lib/rpc/handler.h"

#include <memory>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "containerd/services/version/v1/version.grpc.pb.h"

namespace berth::rpc {
namespace {

namespace api = ::containerd::services::version::v1;

// A scoped RPC that echoes the namespace it was given in the version field.
class EchoNamespace final : public api::Version::Service {
  grpc::Status Version(grpc::ServerContext* ctx, const google::protobuf::Empty*,
                       api::VersionResponse* resp) override {
    return Handle(*ctx, "Version", [&](const std::string& ns) {
      resp->set_version(ns);
      return absl::OkStatus();
    });
  }
};

class HandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder b;
    b.RegisterService(&service_);
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = api::Version::NewStub(server_->InProcessChannel({}));
  }

  void TearDown() override { server_->Shutdown(); }

  grpc::Status Call(const char* ns, api::VersionResponse* resp) {
    grpc::ClientContext ctx;
    if (ns)
      ctx.AddMetadata(kNamespaceHeader, ns);
    return stub_->Version(&ctx, google::protobuf::Empty(), resp);
  }

  EchoNamespace service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<api::Version::Stub> stub_;
};

TEST_F(HandlerTest, PassesTheNamespace) {
  api::VersionResponse resp;
  ASSERT_TRUE(Call("k8s.io", &resp).ok());
  EXPECT_EQ(resp.version(), "k8s.io");
}

TEST_F(HandlerTest, MissingNamespaceIsFailedPrecondition) {
  api::VersionResponse resp;
  grpc::Status s = Call(nullptr, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("namespace is required"), std::string::npos);
}

TEST_F(HandlerTest, InvalidNamespaceIsInvalidArgument) {
  api::VersionResponse resp;
  grpc::Status s = Call("../etc", &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("namespace \"../etc\""), std::string::npos) << s.error_message();
}

}  // namespace
}  // namespace berth::rpc
