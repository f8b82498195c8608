// The namespaces service through a real gRPC channel (in process), over a real SQLite store.

#include "services/namespaces/service.h"

#include <memory>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "containerd/events/namespace.pb.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::services::namespaces {
namespace {

using ::berth::testing::IsOk;

class NamespacesServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = metadata::Db::Open(dir_ / "meta.db");
    ASSERT_THAT(db, IsOk());
    db_ = *std::move(db);
    store_ = std::make_unique<metadata::NamespaceStore>(*db_);
    service_ = std::make_unique<NamespacesService>(*store_, exchange_);
    sub_ = exchange_.Subscribe(filters::Filter(), [] {});
    grpc::ServerBuilder b;
    service_->Register(b);
    server_ = b.BuildAndStart();
    stub_ = api::Namespaces::NewStub(server_->InProcessChannel({}));
  }

  void TearDown() override { server_->Shutdown(); }

  grpc::Status Create(const std::string& name, std::map<std::string, std::string> labels = {}) {
    grpc::ClientContext ctx;
    api::CreateNamespaceRequest req;
    req.mutable_namespace_()->set_name(name);
    req.mutable_namespace_()->mutable_labels()->insert(labels.begin(), labels.end());
    api::CreateNamespaceResponse resp;
    return stub_->Create(&ctx, req, &resp);
  }

  std::vector<std::string> List(const std::string& filter) {
    grpc::ClientContext ctx;
    api::ListNamespacesRequest req;
    req.set_filter(filter);
    api::ListNamespacesResponse resp;
    EXPECT_TRUE(stub_->List(&ctx, req, &resp).ok());
    std::vector<std::string> out;
    for (const auto& ns : resp.namespaces()) out.push_back(ns.name());
    return out;
  }

  testing::TempDir dir_{"nssvc"};
  std::unique_ptr<metadata::Db> db_;
  std::unique_ptr<metadata::NamespaceStore> store_;
  events::Exchange exchange_;
  std::shared_ptr<events::Subscription> sub_;
  std::unique_ptr<NamespacesService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<api::Namespaces::Stub> stub_;
};

TEST_F(NamespacesServiceTest, CreateListFilterAndErrorCodes) {
  ASSERT_TRUE(Create("alpha", {{"tier", "gold"}}).ok());
  ASSERT_TRUE(Create("beta").ok());
  grpc::Status dup = Create("alpha");
  EXPECT_EQ(dup.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(dup.error_message(), "namespace \"alpha\": already exists");
  EXPECT_EQ(Create("no/slash").error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  EXPECT_EQ(List(""), (std::vector<std::string>{"alpha", "beta"}));
  EXPECT_EQ(List("labels.tier==gold"), (std::vector<std::string>{"alpha"}));
  EXPECT_EQ(List("name==beta"), (std::vector<std::string>{"beta"}));

  grpc::ClientContext ctx;
  api::ListNamespacesRequest bad;
  bad.set_filter("name==");
  api::ListNamespacesResponse resp;
  EXPECT_EQ(stub_->List(&ctx, bad, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(NamespacesServiceTest, UpdateWithMaskAndDeleteMissing) {
  ASSERT_TRUE(Create("alpha", {{"a", "1"}}).ok());
  grpc::ClientContext ctx;
  api::UpdateNamespaceRequest req;
  req.mutable_namespace_()->set_name("alpha");
  (*req.mutable_namespace_()->mutable_labels())["b"] = "2";
  req.mutable_update_mask()->add_paths("labels.b");
  api::UpdateNamespaceResponse resp;
  ASSERT_TRUE(stub_->Update(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.namespace_().labels().size(), 2u);

  grpc::ClientContext ctx2;
  api::DeleteNamespaceRequest del;
  del.set_name("nope");
  google::protobuf::Empty empty;
  grpc::Status s = stub_->Delete(&ctx2, del, &empty);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "namespace \"nope\": not found");
}

TEST_F(NamespacesServiceTest, PublishesEventsAfterEachChange) {
  ASSERT_TRUE(Create("alpha", {{"a", "1"}}).ok());
  ASSERT_FALSE(Create("alpha").ok());  // a failed call publishes nothing
  grpc::ClientContext ctx;
  api::DeleteNamespaceRequest del;
  del.set_name("alpha");
  google::protobuf::Empty empty;
  ASSERT_TRUE(stub_->Delete(&ctx, del, &empty).ok());
  events::Envelope e;
  ASSERT_TRUE(sub_->Pop(&e));
  EXPECT_EQ(e.topic(), "/namespaces/create");
  EXPECT_EQ(e.namespace_(), "alpha");
  containerd::events::NamespaceCreate created;
  ASSERT_TRUE(created.ParseFromString(e.event().value()));
  EXPECT_EQ(created.labels().at("a"), "1");
  ASSERT_TRUE(sub_->Pop(&e));
  EXPECT_EQ(e.topic(), "/namespaces/delete");
  EXPECT_FALSE(sub_->Pop(&e));
}

}  // namespace
}  // namespace berth::services::namespaces
