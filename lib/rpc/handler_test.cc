#include "lib/rpc/handler.h"

#include <memory>
#include <thread>

#include "absl/synchronization/notification.h"
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

// A call that stays in its body until released (the first one; later ones return at once).
class Blocking final : public api::Version::Service {
 public:
  grpc::Status Version(grpc::ServerContext*, const google::protobuf::Empty*,
                       api::VersionResponse*) override {
    return HandleUnscoped("Version", [&] {
      if (!entered.HasBeenNotified())
        entered.Notify();
      release.WaitForNotification();
      return absl::OkStatus();
    });
  }

  absl::Notification entered;
  absl::Notification release;
};

// berthd's stop: new calls are refused, the one in progress is waited for.
TEST(StopTest, RefusesNewCallsAndWaitsForThoseRunning) {
  Blocking service;
  grpc::ServerBuilder b;
  b.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = b.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub = api::Version::NewStub(server->InProcessChannel({}));
  auto call = [&] {
    grpc::ClientContext ctx;
    api::VersionResponse resp;
    return stub->Version(&ctx, google::protobuf::Empty(), &resp);
  };
  grpc::Status first;
  std::thread running([&] { first = call(); });
  service.entered.WaitForNotification();

  EXPECT_FALSE(Stopping());
  StopAdmittingCalls();
  EXPECT_TRUE(Stopping());
  grpc::Status refused = call();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(refused.error_message(), "berthd is stopping");
  EXPECT_FALSE(WaitForCalls(absl::Now() + absl::Milliseconds(50))) << "one call is running";

  service.release.Notify();
  EXPECT_TRUE(WaitForCalls(absl::Now() + absl::Seconds(10)));
  running.join();
  EXPECT_TRUE(first.ok()) << first.error_message();

  AdmitCalls();
  EXPECT_FALSE(Stopping());
  EXPECT_TRUE(call().ok());
  server->Shutdown();
}

}  // namespace
}  // namespace berth::rpc
