// The events service through a real gRPC channel: publish, forward, subscribe with filters.

#include "services/events/service.h"

#include <memory>
#include <thread>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "containerd/events/namespace.pb.h"
#include "lib/rpc/handler.h"

namespace berth::events {
namespace {

class EventsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    service_ = std::make_unique<EventsService>(exchange_);
    grpc::ServerBuilder b;
    service_->Register(b);
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = api::Events::NewStub(server_->InProcessChannel({}));
  }

  void TearDown() override { server_->Shutdown(); }

  grpc::Status Publish(const char* ns, const std::string& topic, const std::string& name) {
    grpc::ClientContext ctx;
    if (ns)
      ctx.AddMetadata(rpc::kNamespaceHeader, ns);
    api::PublishRequest req;
    req.set_topic(topic);
    containerd::events::NamespaceCreate ev;
    ev.set_name(name);
    *req.mutable_event() = PackEvent(ev);
    google::protobuf::Empty empty;
    return stub_->Publish(&ctx, req, &empty);
  }

  Exchange exchange_;
  std::unique_ptr<EventsService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<api::Events::Stub> stub_;
};

TEST_F(EventsServiceTest, SubscribeReceivesFilteredEventsInOrder) {
  grpc::ClientContext sub_ctx;
  api::SubscribeRequest sreq;
  sreq.add_filters("namespace==web");
  auto reader = stub_->Subscribe(&sub_ctx, sreq);
  reader->WaitForInitialMetadata();  // subscribed from here on

  ASSERT_TRUE(Publish("web", "/test/one", "1").ok());
  ASSERT_TRUE(Publish("other", "/test/skip", "x").ok());
  api::ForwardRequest fwd;
  fwd.mutable_envelope()->set_namespace_("web");
  fwd.mutable_envelope()->set_topic("/test/two");
  containerd::events::NamespaceCreate ev;
  *fwd.mutable_envelope()->mutable_event() = PackEvent(ev);
  grpc::ClientContext fctx;
  google::protobuf::Empty empty;
  ASSERT_TRUE(stub_->Forward(&fctx, fwd, &empty).ok());

  Envelope e;
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_EQ(e.topic(), "/test/one");
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_EQ(e.topic(), "/test/two");
  sub_ctx.TryCancel();
  while (reader->Read(&e)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(EventsServiceTest, Errors) {
  EXPECT_EQ(Publish(nullptr, "/test/one", "1").error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Publish("web", "bad", "1").error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  grpc::ClientContext ctx;
  api::SubscribeRequest req;
  req.add_filters("topic==");
  auto reader = stub_->Subscribe(&ctx, req);
  Envelope e;
  EXPECT_FALSE(reader->Read(&e));
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("filter"), std::string::npos) << s.error_message();
}

TEST_F(EventsServiceTest, ManySubscribersComeAndGo) {
  for (int round = 0; round < 20; ++round) {
    grpc::ClientContext ctx;
    auto reader = stub_->Subscribe(&ctx, api::SubscribeRequest());
    reader->WaitForInitialMetadata();
    ASSERT_TRUE(Publish("web", "/test/loop", "x").ok());
    Envelope e;
    ASSERT_TRUE(reader->Read(&e));
    ctx.TryCancel();
    while (reader->Read(&e)) {
    }
    (void)reader->Finish();
  }
}

TEST_F(EventsServiceTest, StoppingEndsSubscriptionsAfterTheirQueuedEvents) {
  grpc::ClientContext ctx;
  auto reader = stub_->Subscribe(&ctx, api::SubscribeRequest());
  reader->WaitForInitialMetadata();
  ASSERT_TRUE(Publish("web", "/test/last", "x").ok());
  service_->Stopping();
  Envelope e;
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_EQ(e.topic(), "/test/last");
  EXPECT_FALSE(reader->Read(&e));
  grpc::Status s = reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(), "berthd is stopping");

  // A subscriber that comes after is turned away the same way.
  grpc::ClientContext late;
  auto late_reader = stub_->Subscribe(&late, api::SubscribeRequest());
  EXPECT_FALSE(late_reader->Read(&e));
  EXPECT_EQ(late_reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace berth::events
