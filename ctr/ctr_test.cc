#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "ctr/cli.h"
#include "ctr/progress.h"
#include "ctr/pull.h"
#include "lib/registry/digest.h"

namespace berth::ctr {
namespace {

using ::testing::HasSubstr;

TEST(ChainIdsTest, FollowTheOciDefinition) {
  const std::string a = "sha256:" + std::string(64, 'a');
  const std::string b = "sha256:" + std::string(64, 'b');
  const std::string c = "sha256:" + std::string(64, 'c');
  std::vector<std::string> chain = ChainIds({a, b, c});
  ASSERT_EQ(chain.size(), 3u);
  EXPECT_EQ(chain[0], a);
  EXPECT_EQ(chain[1], registry::Sha256Digest(a + " " + b));
  EXPECT_EQ(chain[2], registry::Sha256Digest(chain[1] + " " + c));
  EXPECT_TRUE(ChainIds({}).empty());
}

TEST(HumanSizeTest, Units) {
  EXPECT_EQ(HumanSize(0), "0 B");
  EXPECT_EQ(HumanSize(1023), "1023 B");
  EXPECT_EQ(HumanSize(1024), "1.0 KiB");
  EXPECT_EQ(HumanSize(1536), "1.5 KiB");
  EXPECT_EQ(HumanSize(5 << 20), "5.0 MiB");
  EXPECT_EQ(HumanSize(int64_t{3} << 30), "3.0 GiB");
}

// Parses a command line against the real command tree.
struct Parsed {
  Cli cli;
  std::string error;  // the parse error, "" when it parsed
};

std::unique_ptr<Parsed> Parse(std::vector<std::string> args) {
  auto p = std::make_unique<Parsed>();
  CLI::App app;
  BuildApp(app, p->cli);
  std::vector<std::string> rev(args.rbegin(), args.rend());
  try {
    app.parse(rev);
  } catch (const CLI::ParseError& e) {
    p->error = UsageError(app, e);
  }
  return p;
}

TEST(CliTest, GlobalFlagsAndVerbs) {
  auto p = Parse({"--address", "/tmp/x.sock", "-n", "ns1", "images", "ls", "-q"});
  EXPECT_EQ(p->error, "");
  EXPECT_EQ(p->cli.address, "/tmp/x.sock");
  EXPECT_EQ(p->cli.ns, "ns1");
  EXPECT_TRUE(p->cli.action);

  for (std::vector<std::string> ok : std::vector<std::vector<std::string>>{
           {"images"},
           {"image", "list"},
           {"pull", "--plain-http", "--platform", "linux/arm64", "busybox"},
           {"images", "pull", "--no-unpack", "busybox"},
           {"push", "127.0.0.1:5000/x", "busybox"},
           {"rmi", "a", "b"},
           {"images", "rm", "--sync", "a"},
           {"tag", "-f", "a", "b"},
           {"login", "-u", "x", "--password-stdin", "127.0.0.1:5000"},
           {"logout", "127.0.0.1:5000"},
           {"version"}}) {
    auto q = Parse(ok);
    EXPECT_EQ(q->error, "") << ok[0];
    EXPECT_TRUE(q->cli.action) << ok[0];
  }
}

TEST(CliTest, UsageErrors) {
  EXPECT_THAT(Parse({"pull", "--bogus", "busybox"})->error, HasSubstr("--bogus"));
  EXPECT_THAT(Parse({"pull"})->error, HasSubstr("ref is required"));
  EXPECT_THAT(Parse({"nosuchverb"})->error, HasSubstr("unknown command \"nosuchverb\""));
  EXPECT_THAT(Parse({"images", "--bogus"})->error, HasSubstr("images: "));
  EXPECT_NE(Parse({})->error, "");
  EXPECT_NE(Parse({"pull", "--max-concurrent-downloads", "0", "x"})->error, "");
  EXPECT_NE(Parse({"images", "ls", "--format", "yaml"})->error, "");
}

}  // namespace
}  // namespace berth::ctr
