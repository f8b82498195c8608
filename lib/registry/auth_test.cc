#include "lib/registry/auth.h"

#include <sys/stat.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "lib/registry/digest.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::registry {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(ChallengeTest, ParsesBearerWithQuotedParams) {
  auto c =
      ParseChallenges(R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",)"
                      R"(scope="repository:library/busybox:pull")");
  ASSERT_THAT(c, IsOk());
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].scheme, "bearer");
  EXPECT_THAT((*c)[0].params, ElementsAre(Pair("realm", "https://auth.docker.io/token"),
                                          Pair("scope", "repository:library/busybox:pull"),
                                          Pair("service", "registry.docker.io")));
}

TEST(ChallengeTest, TableOfHeaders) {
  struct Case {
    std::string header;
    std::vector<std::string> schemes;
    std::string key, value;  // one parameter of the last challenge
  };

  const Case cases[] = {
      {R"(Basic realm="Registry Realm")", {"basic"}, "realm", "Registry Realm"},
      {R"(basic REALM=x)", {"basic"}, "realm", "x"},
      {R"(Basic realm="a, b", Bearer realm="https://t/x",service=s)",
       {"basic", "bearer"},
       "service",
       "s"},
      {R"(Bearer realm="q\"uote\\d")", {"bearer"}, "realm", "q\"uote\\d"},
      {"  Bearer   realm = \"r\" , scope=\"a:b:pull,push\"", {"bearer"}, "scope", "a:b:pull,push"},
      {"Negotiate", {"negotiate"}, "", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.header);
    auto got = ParseChallenges(c.header);
    ASSERT_THAT(got, IsOk());
    std::vector<std::string> schemes;
    for (const Challenge& ch : *got) schemes.push_back(ch.scheme);
    EXPECT_EQ(schemes, c.schemes);
    if (!c.key.empty()) {
      EXPECT_EQ(got->back().params[c.key], c.value);
    }
  }
}

TEST(ChallengeTest, RejectsMalformedHeaders) {
  for (std::string h : {"", "   ", "realm=x", "Bearer realm=\"open", "Bearer @"}) {
    SCOPED_TRACE(h);
    auto got = ParseChallenges(h);
    EXPECT_THAT(got, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(std::string(got.status().message()), HasSubstr("WWW-Authenticate"));
  }
}

TEST(CredentialStoreTest, StoresWithMode0600AndReadsBack) {
  testing::TempDir dir("auth");
  CredentialStore store(dir / "cfg/berth/auth.json", dir / "docker/config.json");
  EXPECT_EQ(*store.Get("127.0.0.1:5000"), std::nullopt);
  ASSERT_THAT(store.Store("127.0.0.1:5000", {"alice", "s3cr:et"}), IsOk());

  struct stat st {};

  ASSERT_EQ(::stat((dir / "cfg/berth/auth.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir / "cfg/berth").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto c = store.Get("127.0.0.1:5000");
  ASSERT_THAT(c, IsOk());
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->username, "alice");
  EXPECT_EQ((*c)->password, "s3cr:et");
  EXPECT_THAT(testing::ReadFile(dir / "cfg/berth/auth.json"), HasSubstr("\"auths\""));
  EXPECT_EQ(*store.Get("other:1"), std::nullopt);

  ASSERT_THAT(store.Erase("127.0.0.1:5000"), IsOk());
  EXPECT_EQ(*store.Get("127.0.0.1:5000"), std::nullopt);
  absl::Status again = store.Erase("127.0.0.1:5000");
  EXPECT_THAT(again, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(std::string(again.message()), HasSubstr("127.0.0.1:5000"));
}

TEST(CredentialStoreTest, ReadsDockersConfigAndPrefersItsOwn) {
  testing::TempDir dir("auth");
  // "Ym9iOnB3" is base64("bob:pw").
  testing::WriteFile(dir / "docker/config.json",
                     R"({"auths":{"https://index.docker.io/v1/":{"auth":"Ym9iOnB3"},)"
                     R"("reg.example:443":{"auth":"Ym9iOnB3"}}})");
  CredentialStore store(dir / "own.json", dir / "docker/config.json");
  auto hub = store.Get("docker.io");
  ASSERT_THAT(hub, IsOk());
  ASSERT_TRUE(hub->has_value());
  EXPECT_EQ((*hub)->username, "bob");
  EXPECT_EQ((*hub)->password, "pw");
  ASSERT_THAT(store.Store("reg.example:443", {"carol", "x"}), IsOk());
  EXPECT_EQ((*store.Get("reg.example:443"))->username, "carol");
  // Logging out of a host only Docker's file knows is NotFound: we never edit Docker's file.
  EXPECT_THAT(store.Erase("docker.io"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(CredentialStoreTest, BadFilesAreNamed) {
  testing::TempDir dir("auth");
  testing::WriteFile(dir / "own.json", "{not json");
  CredentialStore store(dir / "own.json", "");
  auto got = store.Get("x.io");
  EXPECT_THAT(got, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("own.json"));
  testing::WriteFile(dir / "own2.json", R"({"auths":{"x.io":{"auth":"!!!"}}})");
  CredentialStore store2(dir / "own2.json", "");
  EXPECT_THAT(store2.Get("x.io"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256Digest(""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 h;
  h.Update("a");
  h.Update("bc");
  EXPECT_EQ(h.Digest(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(h.Digest(), Sha256Digest("abc")) << "Digest() leaves the hasher usable";
}

}  // namespace
}  // namespace berth::registry
