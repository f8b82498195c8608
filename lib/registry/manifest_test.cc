#include "lib/registry/manifest.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/matchers.h"

namespace berth::registry {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::HasSubstr;

std::string D(char c) {
  return "sha256:" + std::string(64, c);
}

std::string Entry(char c, const std::string& platform_json) {
  return R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + D(c) +
         R"(","size":10,"platform":)" + platform_json + "}";
}

const std::string kIndex =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)" +
    Entry('a', R"({"os":"linux","architecture":"arm","variant":"v6"})") + "," +
    Entry('b', R"({"os":"linux","architecture":"arm","variant":"v7"})") + "," +
    Entry('c', R"({"os":"linux","architecture":"arm64","variant":"v8"})") + "," +
    Entry('d', R"({"os":"linux","architecture":"amd64"})") + "," +
    Entry('e', R"({"os":"windows","architecture":"amd64"})") + "]}";

TEST(ManifestTest, ChoosesThePlatform) {
  absl::StatusOr<Index> idx = ParseIndex(kIndex, "test");
  ASSERT_THAT(idx, IsOk());
  ASSERT_EQ(idx->manifests.size(), 5u);
  const std::pair<std::string, char> cases[] = {
      {"linux/amd64", 'd'},    {"amd64", 'd'},        {"x86_64", 'd'},
      {"linux/arm/v7", 'b'},   {"linux/arm/v6", 'a'}, {"linux/arm64", 'c'},
      {"linux/arm64/v8", 'c'}, {"linux/arm", 'a'},    {"windows/amd64", 'e'},
  };
  for (const auto& [p, want] : cases) {
    SCOPED_TRACE(p);
    absl::StatusOr<Platform> plat = ParsePlatform(p);
    ASSERT_THAT(plat, IsOk());
    absl::StatusOr<Descriptor> d = ChoosePlatform(*idx, *plat, "test");
    ASSERT_THAT(d, IsOk());
    EXPECT_EQ(d->digest, D(want));
  }
  absl::StatusOr<Descriptor> none = ChoosePlatform(*idx, {"linux", "s390x", ""}, "r.io/x:1");
  EXPECT_THAT(none, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(std::string(none.status().message()),
              HasSubstr("r.io/x:1: no manifest for platform linux/s390x (the index has: "
                        "linux/arm/v6, linux/arm/v7, linux/arm64/v8, linux/amd64, "
                        "windows/amd64)"));
  EXPECT_THAT(ParsePlatform("linux//x"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParsePlatform("a/b/c/d"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ManifestTest, ParsesManifestsAndConfigs) {
  const std::string m =
      R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
      R"("config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":")" +
      D('1') + R"(","size":5},"layers":[{"mediaType":"x","digest":")" + D('2') +
      R"(","size":7,"annotations":{"k":"v"}}]})";
  absl::StatusOr<Manifest> got = ParseManifest(m, "test");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->media_type, media::kDockerManifest);
  EXPECT_EQ(got->config.digest, D('1'));
  ASSERT_EQ(got->layers.size(), 1u);
  EXPECT_EQ(got->layers[0].size, 7);
  EXPECT_EQ(got->layers[0].annotations.at("k"), "v");
  EXPECT_EQ(SniffMediaType(m), media::kDockerManifest);
  EXPECT_EQ(SniffMediaType(R"({"manifests":[]})"), media::kOciIndex);

  auto ids =
      ConfigDiffIds(R"({"rootfs":{"type":"layers","diff_ids":[")" + D('3') + R"("]}})", "cfg");
  ASSERT_THAT(ids, IsOk());
  EXPECT_EQ(*ids, std::vector<std::string>{D('3')});

  const std::pair<std::string, std::string> bad[] = {
      {"[]", "not a JSON object"},
      {"{", "bad JSON"},
      {R"({"layers":[]})", "no config"},
      {R"({"config":{"digest":"sha256:x","size":1},"layers":[]})", "64 lower-case hex"},
      {R"({"config":{"digest":")" + D('1') + R"("},"layers":[]})", "no valid size"},
      {R"({"mediaType":"application/vnd.oci.image.index.v1+json"})", "not an image manifest"},
  };
  for (const auto& [body, why] : bad) {
    SCOPED_TRACE(body);
    absl::StatusOr<Manifest> r = ParseManifest(body, "r.io/x:1");
    EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(why));
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("r.io/x:1"));
  }
  EXPECT_THAT(ConfigDiffIds("{}", "cfg"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace berth::registry
