#include "services/metadata/image_store.h"

#include "gtest/gtest.h"

#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::metadata {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

Image Busybox() {
  Image img;
  img.name = "docker.io/library/busybox:latest";
  img.labels = {{"a", "1"}};
  img.target = {"application/vnd.oci.image.index.v1+json",
                "sha256:" + std::string(64, 'a'),
                123,
                {{"org.opencontainers.image.ref.name", "latest"}}};
  return img;
}

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { db_ = *Db::Open(dir_ / "meta.db"); }

  testing::TempDir dir_{"img"};
  std::unique_ptr<Db> db_;
};

TEST_F(ImageStoreTest, CreateGetListUpdateDelete) {
  ImageStore s(*db_);
  ASSERT_THAT(s.Create("default", Busybox()), IsOk());
  EXPECT_THAT(s.Create("default", Busybox()), StatusIs(absl::StatusCode::kAlreadyExists));
  auto got = s.Get("default", Busybox().name);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->target.size, 123);
  EXPECT_EQ(got->target.annotations.at("org.opencontainers.image.ref.name"), "latest");
  EXPECT_THAT(s.Get("other", Busybox().name), StatusIs(absl::StatusCode::kNotFound));

  Image in = Busybox();
  in.labels = {{"b", "2"}};
  in.target.size = 999;
  auto up = s.Update("default", in, {"labels.b"});
  ASSERT_THAT(up, IsOk());
  EXPECT_EQ(up->labels, (Labels{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(up->target.size, 123);  // not in the mask
  up = s.Update("default", in, {"target"});
  ASSERT_THAT(up, IsOk());
  EXPECT_EQ(up->target.size, 999);
  EXPECT_THAT(s.Update("default", in, {"name"}), StatusIs(absl::StatusCode::kInvalidArgument));

  ASSERT_EQ(s.List("default")->size(), 1u);
  ASSERT_THAT(s.Delete("default", in.name), IsOk());
  EXPECT_THAT(s.Delete("default", in.name), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ImageStoreTest, Validation) {
  ImageStore s(*db_);
  Image bad = Busybox();
  bad.name = "";
  EXPECT_THAT(s.Create("default", bad), StatusIs(absl::StatusCode::kInvalidArgument, "name"));
  bad = Busybox();
  bad.target.media_type = "";
  EXPECT_THAT(s.Create("default", bad), StatusIs(absl::StatusCode::kInvalidArgument, "media"));
  bad = Busybox();
  bad.target.digest = "sha256:short";
  EXPECT_THAT(s.Create("default", bad), StatusIs(absl::StatusCode::kInvalidArgument, "digest"));
  bad = Busybox();
  bad.target.size = 0;
  EXPECT_THAT(s.Create("default", bad), StatusIs(absl::StatusCode::kInvalidArgument, "size"));
}

}  // namespace
}  // namespace berth::metadata
