#include <fcntl.h>
#include <sys/stat.h>

#include <csignal>
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "ctr/cli.h"
#include "ctr/complete.h"
#include "ctr/config.h"
#include "ctr/containers.h"
#include "ctr/network.h"
#include "ctr/progress.h"
#include "ctr/pull.h"
#include "ctr/rootfs.h"
#include "lib/meta/labels.h"
#include "lib/registry/digest.h"
#include "tests/testing/matchers.h"
#include "tests/testing/temp_dir.h"

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

TEST(ParseSignalTest, NamesNumbersAndRealtimeSignals) {
  auto sig = [](const char* s) {
    absl::StatusOr<int> n = ParseSignal(s);
    return n.ok() ? *n : -1;
  };
  EXPECT_EQ(sig("TERM"), SIGTERM);
  EXPECT_EQ(sig("sigquit"), SIGQUIT);
  EXPECT_EQ(sig("9"), SIGKILL);
  EXPECT_EQ(sig("SIGRTMIN+3"), SIGRTMIN + 3);  // systemd's stop signal
  EXPECT_EQ(sig("RTMIN"), SIGRTMIN);
  EXPECT_EQ(sig("SIGRTMAX-1"), SIGRTMAX - 1);
  for (const char* bad : {"SIGFROB", "RTMIN+", "RTMIN-1", "RTMIN+99", "RTMAX+1", "0", ""}) {
    EXPECT_THAT(ParseSignal(bad), testing::StatusIs(absl::StatusCode::kInvalidArgument, "unknown"))
        << bad;
  }
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

std::vector<std::string> Complete(std::vector<std::string> words) {
  CLI::App app;
  Cli cli;
  BuildApp(app, cli);
  ObjectLister lister = [](ObjectKind kind) -> std::vector<std::string> {
    if (kind == ObjectKind::kImage)
      return {"docker.io/library/busybox:latest", "docker.io/library/debian:12"};
    if (kind == ObjectKind::kVolume)
      return {"pgdata", "cache"};
    return {"web", "db"};
  };
  return CompletionCandidates(app, words, lister);
}

TEST(CompletionTest, VerbsFlagsAndObjects) {
  using ::testing::Contains;
  using ::testing::ElementsAre;
  using ::testing::Not;
  EXPECT_THAT(Complete({"ima"}), ElementsAre("images"));
  EXPECT_THAT(Complete({""}), Contains("pull"));
  EXPECT_THAT(Complete({""}), Not(Contains("__complete")));
  EXPECT_THAT(Complete({"images", "r"}), Contains("rm"));
  // Global flags before the verb and a flag's value are stepped over.
  EXPECT_THAT(Complete({"-n", "other", "--address", "/x.sock", "pu"}), ElementsAre("pull", "push"));
  EXPECT_THAT(Complete({"pull", "--plain"}), ElementsAre("--plain-http"));
  EXPECT_THAT(Complete({"pull", "--"}), Contains("--namespace"));  // globals apply under verbs
  // Positionals named "image(s)" list images; flags are offered only after "-".
  EXPECT_THAT(Complete({"rmi", "docker.io/library/d"}), ElementsAre("docker.io/library/debian:12"));
  EXPECT_THAT(Complete({"images", "rm", "a", "docker.io/library/b"}),
              ElementsAre("docker.io/library/busybox:latest"));
  EXPECT_THAT(Complete({"tag", ""}), Contains("docker.io/library/busybox:latest"));
  EXPECT_THAT(Complete({"tag", "x", ""}), Not(Contains("docker.io/library/busybox:latest")));
  EXPECT_THAT(Complete({"rmi", ""}), Not(Contains("--sync")));
  EXPECT_THAT(Complete({"volume", "rm", "pg"}), ElementsAre("pgdata"));
  EXPECT_THAT(Complete({"volume", "inspect", ""}), Contains("cache"));
  // After a flag that takes a value, the shell completes files: no candidates.
  EXPECT_THAT(Complete({"pull", "--platform", ""}), ElementsAre());
  EXPECT_THAT(Complete({}), ElementsAre());
}

TEST(ClientConfigTest, Network) {
  testing::TempDir dir("bctr");
  absl::StatusOr<ClientConfig> none = LoadClientConfig(dir / "missing.toml");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->network.default_network, "none");
  EXPECT_EQ(none->network.conf_dir, "/etc/berth/cni/net.d");
  EXPECT_THAT(none->network.plugin_dirs, ::testing::ElementsAre("/usr/lib/cni", "/opt/cni/bin"));
  testing::WriteFile(dir / "bctr.toml",
                     "[network]\ndefault = \"bridge\"\nplugin_dirs = [\"/p\"]\n"
                     "state_dir = \"/s\"\n[volumes]\nroot = \"/v\"\n");
  EXPECT_EQ(none->volume_root, "/var/lib/berth/volumes");
  absl::StatusOr<ClientConfig> c = LoadClientConfig(dir / "bctr.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->volume_root, "/v");
  EXPECT_EQ(c->network.default_network, "bridge");
  EXPECT_THAT(c->network.plugin_dirs, ::testing::ElementsAre("/p"));
  EXPECT_EQ(c->network.state_dir, "/s");
  EXPECT_EQ(c->network.conf_dir, "/etc/berth/cni/net.d");
}

// What the shim hands the network hook is checked before any plugin runs.
TEST(NetworkHookTest, BadStateIsRefused) {
  NetworkSettings s;
  s.conf_dir = "/nonexistent";
  EXPECT_EQ(RunNetworkHook("up", s, "default", "bridge", "not json").code(),
            absl::StatusCode::kInvalidArgument);
  absl::Status st = RunNetworkHook("up", s, "default", "bridge", R"({"id":"c1","pid":"1"})");
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(st.message()), HasSubstr("the state of \"c1\" has no pid"));
  EXPECT_EQ(RunNetworkHook("sideways", s, "default", "bridge", R"({"id":"c1","pid":1})").code(),
            absl::StatusCode::kInvalidArgument);
  st = RunNetworkHook("up", s, "default", "nosuch", R"({"id":"c1","pid":1})");
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound);
}

TEST(ClientConfigTest, RegistriesByHost) {
  testing::TempDir dir("bctr");
  absl::StatusOr<ClientConfig> none = LoadClientConfig(dir / "missing.toml");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->registries.empty());
  testing::WriteFile(dir / "bctr.toml",
                     "[registry.\"127.0.0.1:5000\"]\nplain_http = true\n"
                     "[registry.\"https://index.docker.io/v1/\"]\nca_file = \"/x/ca.crt\"\n");
  absl::StatusOr<ClientConfig> c = LoadClientConfig(dir / "bctr.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->registries.at("127.0.0.1:5000").plain_http);
  EXPECT_EQ(c->registries.at("docker.io").ca_file, "/x/ca.crt");
  EXPECT_FALSE(c->registries.at("docker.io").plain_http);

  const std::pair<std::string, std::string> bad[] = {
      {"[registry.\"a:1\"]\nplain_http = \"yes\"\n", "plain_http"},
      {"[registry.\"a:1\"]\nplaintext = true\n", "unknown key"},
      {"[registries]\n", "unknown key"},
      {"[registry.\"bad host\"]\n", "bad host"},
      {"[registry\n", "bctr.toml:1"},
      {"[network]\nplugin_dirs = \"/usr/lib/cni\"\n", "plugin_dirs"},
      {"[network]\nconfdir = \"/x\"\n", "unknown key"},
  };
  for (const auto& [text, why] : bad) {
    testing::WriteFile(dir / "bctr.toml", text);
    absl::StatusOr<ClientConfig> r = LoadClientConfig(dir / "bctr.toml");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(why)) << text;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("bctr.toml")) << text;
  }
}

TEST(MakeInRootTest, MakesWhatIsMissingInsideTheRootOnly) {
  namespace fs = std::filesystem;
  testing::TempDir dir("bctr");
  const fs::path root = dir.path() / "root";
  const fs::path host = dir.path() / "host";
  fs::create_directories(root / "private");
  fs::create_directories(host);
  fs::create_directories(root / host.relative_path());
  // An absolute symlink in the container points inside it, never at the host's directory.
  fs::create_symlink(host, root / "etc");
  fs::create_symlink("/private", root / "data");
  fs::create_symlink("/nowhere", root / "dangling");
  UniqueFd fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());

  EXPECT_THAT(MakeInRoot(fd.get(), "/data/etc/hosts", /*file=*/true), testing::IsOk());
  EXPECT_TRUE(fs::is_regular_file(root / "private/etc/hosts"));
  EXPECT_EQ(fs::file_size(root / "private/etc/hosts"), 0u);
  EXPECT_THAT(MakeInRoot(fd.get(), "/proc/sys", /*file=*/false), testing::IsOk());
  EXPECT_TRUE(fs::is_directory(root / "proc/sys"));
  // etc -> <host> resolves to /<host> inside the root: made there, the host's dir untouched.
  EXPECT_THAT(MakeInRoot(fd.get(), "/etc/resolv.conf", /*file=*/true), testing::IsOk());
  EXPECT_TRUE(fs::is_empty(host));
  EXPECT_TRUE(fs::is_regular_file(root / host.relative_path() / "resolv.conf"));
  // What is there stays as it is, a dangling symlink too.
  testing::WriteFile(root / "private/etc/hosts", "127.0.0.1 localhost\n");
  EXPECT_THAT(MakeInRoot(fd.get(), "/data/etc/hosts", /*file=*/true), testing::IsOk());
  EXPECT_EQ(fs::file_size(root / "private/etc/hosts"), 20u);
  EXPECT_THAT(MakeInRoot(fd.get(), "/dangling", /*file=*/true), testing::IsOk());
  EXPECT_TRUE(fs::is_symlink(root / "dangling"));
  // Nothing is made through a dangling symlink.
  EXPECT_THAT(MakeInRoot(fd.get(), "/dangling/x", /*file=*/true),
              testing::StatusIs(absl::StatusCode::kNotFound, "/dangling"));
  EXPECT_FALSE(fs::exists(fs::path("/nowhere")));
  // A file in the way of a directory is an error naming the path.
  EXPECT_THAT(MakeInRoot(fd.get(), "/data/etc/hosts/x", /*file=*/true),
              testing::StatusIs(absl::StatusCode::kFailedPrecondition, "/data/etc/hosts/x"));
}

TEST(ContainerHostsTest, MadeWithTheLocalhostLinesAndRemovedOnlyByItsOwnLabel) {
  namespace fs = std::filesystem;
  testing::TempDir dir("bctr");
  NetworkSettings s;
  s.state_dir = (dir.path() / "cni").string();
  absl::StatusOr<std::string> path = ContainerHostsFile(s, "ns1", "abc", LocalhostLines());
  ASSERT_THAT(path.status(), testing::IsOk());
  EXPECT_EQ(*path, (dir.path() / "cni/hosts.d/ns1-abc").string());
  EXPECT_EQ(testing::ReadFile(*path),
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
  // A label naming anything but this container's own file removes nothing.
  const fs::path other = dir.path() / "cni/hosts.d/ns1-other";
  testing::WriteFile(other, "x");
  meta::RemoveOwnedFiles({{"berth.io/hosts-file", other.string()}}, "ns1", "abc");
  meta::RemoveOwnedFiles({{"berth.io/hosts-file", *path}}, "ns2", "abc");
  EXPECT_TRUE(fs::exists(other));
  EXPECT_TRUE(fs::exists(*path));
  meta::RemoveOwnedFiles({{"berth.io/hosts-file", *path}}, "ns1", "abc");
  EXPECT_FALSE(fs::exists(*path));
}

}  // namespace
}  // namespace berth::ctr
