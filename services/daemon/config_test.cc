#include "services/daemon/config.h"

#include "gtest/gtest.h"

#include "tests/testing/command.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

namespace berth::daemon {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

TEST(ConfigTest, EmptyFileMeansDefaults) {
  auto c = ParseConfig("", "c.toml");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->root, "/var/lib/berth");
  EXPECT_EQ(c->state, "/run/berth");
  EXPECT_EQ(c->address, "/run/berth/berthd.sock");
  EXPECT_EQ(c->gid, 0);
  EXPECT_EQ(c->log_level, "info");
  EXPECT_TRUE(c->disabled_plugins.empty());
}

// `berthd config default` prints what deploy/config.toml ships: one text, kept in step.
TEST(ConfigTest, DefaultTextIsTheShippedConfigFile) {
  EXPECT_EQ(DefaultConfigText(),
            berth::testing::ReadFile(berth::testing::SourceDir() + "/deploy/config.toml"));
}

TEST(ConfigTest, DefaultTextParsesToTheDefaults) {
  auto c = ParseConfig(DefaultConfigText(), "default");
  ASSERT_THAT(c, IsOk());
  Config d;
  EXPECT_EQ(c->root, d.root);
  EXPECT_EQ(c->state, d.state);
  EXPECT_EQ(c->address, d.address);
  EXPECT_EQ(c->max_recv_message_size, d.max_recv_message_size);
  EXPECT_EQ(c->max_send_message_size, d.max_send_message_size);
}

TEST(ConfigTest, DeployExampleIsTheDefault) {
  EXPECT_EQ(testing::ReadFile(testing::SourceDir() + "/deploy/config.toml"), DefaultConfigText())
      << "deploy/config.toml must list every key with its default: regenerate it with "
         "`berthd config default > deploy/config.toml`";
}

TEST(ConfigTest, GoodFile) {
  auto c = ParseConfig(R"(
root = "/srv/berth"
disabled_plugins = ["io.containerd.grpc.v1.version"]
[grpc]
address = "/tmp/b.sock"
gid = 1000
[debug]
level = "debug"
[plugins."io.containerd.metadata.v1.sqlite"]
)",
                       "c.toml");
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->root, "/srv/berth");
  EXPECT_EQ(c->address, "/tmp/b.sock");
  EXPECT_EQ(c->gid, 1000);
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_TRUE(c->disabled_plugins.contains("io.containerd.grpc.v1.version"));
  EXPECT_EQ(c->plugins.Keys(), std::vector<std::string>{"io.containerd.metadata.v1.sqlite"});
}

// Each bad file is an InvalidArgument naming the file and the key.
TEST(ConfigTest, BadFiles) {
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {"rot = '/x'", "c.toml: rot: unknown key"},
      {"[grpc]\naddres = '/x'", "c.toml: grpc.addres: unknown key"},
      {"root = 5", "c.toml: root: expected a string"},
      {"root = 'relative/dir'", "c.toml: root: must be an absolute path"},
      {"[grpc]\ngid = -1", "c.toml: grpc.gid: -1 is out of range"},
      {"[grpc]\ngid = 'wheel'", "c.toml: grpc.gid: expected an integer"},
      {"[debug]\nlevel = 'loud'", "c.toml: debug.level: log level \"loud\": unknown"},
      {"version = 3", "c.toml: version: 3 is not supported"},
      {"disabled_plugins = 'x'", "c.toml: disabled_plugins: expected a list of strings"},
      {"grpc = 1", "c.toml: grpc: expected a table"},
      {"root = ", "c.toml:1:"},
  };

  for (const Case& c : cases) {
    EXPECT_THAT(ParseConfig(c.text, "c.toml"), StatusIs(absl::StatusCode::kInvalidArgument, c.want))
        << c.text;
  }
}

TEST(ConfigTest, MissingDefaultFileIsFineButMissingNamedFileIsNot) {
  EXPECT_THAT(LoadConfig("/nonexistent/berth.toml", false), IsOk());
  EXPECT_THAT(LoadConfig("/nonexistent/berth.toml", true),
              StatusIs(absl::StatusCode::kNotFound, "/nonexistent/berth.toml"));
}

}  // namespace
}  // namespace berth::daemon
