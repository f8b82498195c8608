#include "services/introspection/service.h"

#include <memory>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "lib/base/platform.h"
#include "lib/base/status.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::services::introspection {
namespace {

using ::berth::testing::IsOk;

class Dummy : public plugin::Plugin {};

TEST(UuidTest, StableAcrossLoads) {
  testing::TempDir dir("uuid");
  auto a = LoadOrCreateUuid(dir / "sub" / "uuid");
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->size(), 36u);
  auto b = LoadOrCreateUuid(dir / "sub" / "uuid");
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(*a, *b);
  testing::WriteFile(dir / "bad", "not-a-uuid\n");
  EXPECT_FALSE(LoadOrCreateUuid(dir / "bad").ok());
}

TEST(IntrospectionTest, PluginsWithStatusAndFilters) {
  testing::TempDir dir("intro");
  plugin::Registry reg;
  auto ok_init = [](plugin::InitContext& ic) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
    ic.Export("root", "/x");
    return std::make_unique<Dummy>();
  };
  reg.Add({.type = plugin::Type::kContent, .id = "content", .deps = {}, .init = ok_init});
  reg.Add({.type = plugin::Type::kSnapshotter,
           .id = "overlayfs",
           .deps = {},
           .init = [](plugin::InitContext&) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
             return Unimplemented("overlay is not supported");
           },
           .host_platform = true});
  reg.Add({.type = plugin::Type::kDiff,
           .id = "walking",
           .deps = {plugin::Type::kContent},
           .init = [](plugin::InitContext&) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
             return Unavailable("broken");
           }});
  ASSERT_THAT(reg.Load({.root = dir.path(), .state = dir.path(), .address = ""}, {}), IsOk());

  IntrospectionService svc(reg, "00000000-0000-4000-8000-000000000000");
  grpc::ServerBuilder b;
  svc.Register(b);
  auto server = b.BuildAndStart();
  auto stub = api::Introspection::NewStub(server->InProcessChannel({}));

  grpc::ClientContext ctx;
  api::PluginsRequest req;
  api::PluginsResponse resp;
  ASSERT_TRUE(stub->Plugins(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.plugins_size(), 3);
  EXPECT_EQ(resp.plugins(0).type(), "io.containerd.content.v1");
  EXPECT_FALSE(resp.plugins(0).has_init_err());
  EXPECT_EQ(resp.plugins(0).exports().at("root"), "/x");
  EXPECT_EQ(resp.plugins(1).init_err().message().rfind("skip plugin", 0), 0u);
  EXPECT_EQ(resp.plugins(0).platforms_size(), 0);
  ASSERT_EQ(resp.plugins(1).platforms_size(), 1);  // linux/amd64 here, as containerd reports
  EXPECT_EQ(resp.plugins(1).platforms(0).os(), "linux");
  EXPECT_EQ(resp.plugins(1).platforms(0).architecture(), HostPlatformOf().architecture);
  EXPECT_EQ(resp.plugins(2).init_err().message(), "broken");
  EXPECT_EQ(resp.plugins(2).requires_(0), "io.containerd.content.v1");

  grpc::ClientContext ctx2;
  req.add_filters("type==io.containerd.snapshotter.v1");
  req.add_filters("id==walking");
  api::PluginsResponse filtered;
  ASSERT_TRUE(stub->Plugins(&ctx2, req, &filtered).ok());
  ASSERT_EQ(filtered.plugins_size(), 2);
  EXPECT_EQ(filtered.plugins(0).id(), "overlayfs");
  EXPECT_EQ(filtered.plugins(1).id(), "walking");

  grpc::ClientContext ctx3;
  api::ServerResponse sr;
  ASSERT_TRUE(stub->Server(&ctx3, google::protobuf::Empty(), &sr).ok());
  EXPECT_EQ(sr.uuid(), "00000000-0000-4000-8000-000000000000");
  server->Shutdown();
}

}  // namespace
}  // namespace berth::services::introspection
