#include "services/metadata/lease_store.h"

#include "gtest/gtest.h"

#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::metadata {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

TEST(LeaseStoreTest, LifecycleAndResources) {
  testing::TempDir dir("lease");
  auto db = Db::Open(dir / "meta.db");
  ASSERT_THAT(db, IsOk());
  LeaseStore s(**db);
  ASSERT_THAT(s.Create("default", {"l1", {{"containerd.io/gc.expire", "2030-01-01T00:00:00Z"}}}),
              IsOk());
  EXPECT_THAT(s.Create("default", {"l1", {}}), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(s.Create("default", {"315932019-_bzt", {}}), IsOk());  // ctr's generated ids
  EXPECT_THAT(s.Create("default", {"/mnt/my dir", {}}), IsOk());     // ctr images mount's
  for (const std::string& bad : {std::string("bad\nid"), std::string("caf\xc3\xa9"),
                                 std::string(4097, 'x')}) {
    EXPECT_THAT(s.Create("default", {bad, {}}), StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
  auto generated = s.Create("default", {"", {}});
  ASSERT_THAT(generated, IsOk());
  EXPECT_FALSE(generated->id.empty());
  ASSERT_THAT(s.Delete("default", generated->id), IsOk());

  LeaseResource blob{"sha256:" + std::string(64, 'b'), "content"};
  LeaseResource snap{"key-1", "snapshots/overlayfs"};
  ASSERT_THAT(s.AddResource("default", "l1", blob), IsOk());
  ASSERT_THAT(s.AddResource("default", "l1", snap), IsOk());
  ASSERT_THAT(s.AddResource("default", "l1", blob), IsOk());  // idempotent
  EXPECT_THAT(s.AddResource("default", "l1", {"x", "volumes"}),
              StatusIs(absl::StatusCode::kInvalidArgument, "unsupported"));
  EXPECT_THAT(s.AddResource("default", "l1", {"notadigest", "content"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(s.AddResource("default", "nope", blob), StatusIs(absl::StatusCode::kNotFound));
  auto res = s.ListResources("default", "l1");
  ASSERT_THAT(res, IsOk());
  EXPECT_EQ(*res, (std::vector<LeaseResource>{blob, snap}));
  ASSERT_THAT(s.DeleteResource("default", "l1", snap), IsOk());
  EXPECT_EQ(s.ListResources("default", "l1")->size(), 1u);

  ASSERT_EQ(s.List("default")->size(), 3u);
  ASSERT_THAT(s.Delete("default", "l1"), IsOk());
  EXPECT_EQ(s.List("default")->size(), 2u);
  EXPECT_THAT(s.ListResources("default", "l1"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(s.Delete("default", "l1"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace berth::metadata
