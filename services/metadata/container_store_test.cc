#include "services/metadata/container_store.h"

#include "gtest/gtest.h"

#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::metadata {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

constexpr char kSpecUrl[] = "types.containerd.io/opencontainers/runtime-spec/1/Spec";

Container Web() {
  Container c;
  c.id = "web";
  c.labels = {{"a", "1"}};
  c.image = "docker.io/library/busybox:latest";
  c.runtime_name = "io.containerd.runc.v2";
  c.runtime_options =
      AnyValue{"containerd.runc.v1.Options", std::string("\x0a\x03\x00\x01\x02", 5)};
  c.spec = AnyValue{kSpecUrl, R"({"ociVersion":"1.0.2"})"};
  c.snapshotter = "overlayfs";
  c.snapshot_key = "web-snapshot";
  c.extensions = {{"ext.a", {"type/a", "x"}}, {"ext.b", {"type/b", std::string(300, 'y')}}};
  return c;
}

class ContainerStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { db_ = *Db::Open(dir_ / "meta.db"); }

  testing::TempDir dir_{"ctr"};
  std::unique_ptr<Db> db_;
};

TEST_F(ContainerStoreTest, CreateGetRoundTripsEveryField) {
  ContainerStore s(*db_);
  absl::StatusOr<Container> made = s.Create("default", Web());
  ASSERT_THAT(made, IsOk());
  EXPECT_GT(made->created_at, 0);
  EXPECT_THAT(s.Create("default", Web()), StatusIs(absl::StatusCode::kAlreadyExists));
  absl::StatusOr<Container> got = s.Get("default", "web");
  ASSERT_THAT(got, IsOk());
  Container want = Web();
  EXPECT_EQ(got->labels, want.labels);
  EXPECT_EQ(got->image, want.image);
  EXPECT_EQ(got->runtime_name, want.runtime_name);
  EXPECT_EQ(got->runtime_options, want.runtime_options);
  EXPECT_EQ(got->spec, want.spec);
  EXPECT_EQ(got->snapshotter, want.snapshotter);
  EXPECT_EQ(got->snapshot_key, want.snapshot_key);
  EXPECT_EQ(got->extensions, want.extensions);
  EXPECT_EQ(got->created_at, made->created_at);
  EXPECT_THAT(s.Get("other", "web"), StatusIs(absl::StatusCode::kNotFound));

  Container bare = Web();
  bare.id = "bare";
  bare.runtime_options.reset();
  bare.extensions.clear();
  ASSERT_THAT(s.Create("default", bare), IsOk());
  got = s.Get("default", "bare");
  ASSERT_THAT(got, IsOk());
  EXPECT_FALSE(got->runtime_options.has_value());
  EXPECT_TRUE(got->extensions.empty());

  absl::StatusOr<std::vector<Container>> all = s.List("default");
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, "bare");
  EXPECT_EQ((*all)[1].id, "web");
  absl::StatusOr<Container> gone = s.Delete("default", "web");
  ASSERT_THAT(gone, IsOk());  // the record as it was
  EXPECT_EQ(gone->labels, want.labels);
  EXPECT_EQ(gone->spec, want.spec);
  EXPECT_EQ(gone->created_at, made->created_at);
  EXPECT_THAT(s.Delete("default", "web"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(s.Get("default", "web"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ContainerStoreTest, NamespacesOfAnId) {
  ContainerStore s(*db_);
  ASSERT_THAT(s.Create("team-b", Web()), IsOk());
  ASSERT_THAT(s.Create("default", Web()), IsOk());
  Container other = Web();
  other.id = "db";
  ASSERT_THAT(s.Create("team-c", other), IsOk());
  EXPECT_EQ(*s.NamespacesOf("web"), (std::vector<std::string>{"default", "team-b"}));
  EXPECT_EQ(*s.NamespacesOf("db"), std::vector<std::string>{"team-c"});
  EXPECT_TRUE(s.NamespacesOf("nothing")->empty());
}

TEST_F(ContainerStoreTest, CreateValidatesAsContainerd) {
  ContainerStore s(*db_);
  Container c = Web();
  c.id = "a/b";
  EXPECT_THAT(s.Create("default", c), StatusIs(absl::StatusCode::kInvalidArgument));
  c = Web();
  c.runtime_name.clear();
  EXPECT_THAT(s.Create("default", c), StatusIs(absl::StatusCode::kInvalidArgument, "runtime"));
  c = Web();
  c.spec.reset();
  EXPECT_THAT(s.Create("default", c), StatusIs(absl::StatusCode::kInvalidArgument, "spec"));
  c = Web();
  c.snapshotter.clear();
  EXPECT_THAT(s.Create("default", c), StatusIs(absl::StatusCode::kInvalidArgument, "snapshotter"));
  c = Web();
  c.extensions[""] = {"t", "v"};
  EXPECT_THAT(s.Create("default", c), StatusIs(absl::StatusCode::kInvalidArgument, "extension"));
  c = Web();
  c.labels[""] = "x";
  EXPECT_THAT(s.Create("default", c), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(s.List("default"), IsOk());
  EXPECT_TRUE(s.List("default")->empty());
}

TEST_F(ContainerStoreTest, UpdateFollowsTheMask) {
  ContainerStore s(*db_);
  ASSERT_THAT(s.Create("default", Web()), IsOk());

  // ctr containers label sends only the id and the labels, with labels.<key> paths.
  Container in;
  in.id = "web";
  in.labels = {{"b", "2"}};
  absl::StatusOr<Container> up = s.Update("default", in, {"labels.b", "labels.a"});
  ASSERT_THAT(up, IsOk());
  EXPECT_EQ(up->labels, (Labels{{"b", "2"}}));
  EXPECT_EQ(up->image, Web().image);  // untouched
  EXPECT_EQ(up->spec, Web().spec);

  in = Web();
  in.image = "other";
  in.spec = AnyValue{kSpecUrl, "{}"};
  in.snapshot_key = "k2";
  in.extensions = {{"ext.c", {"type/c", "z"}}};
  up = s.Update("default", in, {"image", "extensions.ext.c", "extensions.ext.a"});
  ASSERT_THAT(up, IsOk());
  EXPECT_EQ(up->image, "other");
  EXPECT_EQ(up->spec, Web().spec);
  EXPECT_EQ(up->snapshot_key, "web-snapshot");
  EXPECT_EQ(up->extensions.count("ext.a"), 0u);
  EXPECT_EQ(up->extensions.count("ext.b"), 1u);
  EXPECT_EQ(up->extensions.at("ext.c").value, "z");

  // No paths: all mutable fields, with the runtime and snapshotter unchanged.
  up = s.Update("default", in, {});
  ASSERT_THAT(up, IsOk());
  EXPECT_EQ(up->spec->value, "{}");
  EXPECT_EQ(up->snapshot_key, "k2");
  EXPECT_EQ(up->labels, Web().labels);
  EXPECT_EQ(s.Get("default", "web")->snapshot_key, "k2");

  Container bad = in;
  bad.runtime_name = "io.containerd.berth.v1";
  EXPECT_THAT(s.Update("default", bad, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, "immutable"));
  bad = in;
  bad.snapshotter = "native";
  EXPECT_THAT(s.Update("default", bad, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, "immutable"));
  EXPECT_THAT(s.Update("default", in, {"runtime"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "runtime"));
  bad = in;
  bad.spec.reset();
  EXPECT_THAT(s.Update("default", bad, {"spec"}), StatusIs(absl::StatusCode::kInvalidArgument));
  bad.id = "missing";
  EXPECT_THAT(s.Update("default", bad, {"image"}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(s.Get("default", "web")->spec->value, "{}");  // failed updates changed nothing
}

}  // namespace
}  // namespace berth::metadata
