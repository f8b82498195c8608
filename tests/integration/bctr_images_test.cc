// bctr's image verbs against a private berthd and two instances of Debian's docker-registry
// on 127.0.0.1: one plain, one with TLS from a test CA and htpasswd basic auth
// (tests/testing/registry_auth.h). Pull (with unpack, checked through Debian's ctr), images
// ls/inspect, tag, rmi, login/logout, push and pull back, and the failures a user meets: each one
// line on stderr, a non-zero exit, and no image record or lease left behind.

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <thread>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "tests/testing/daemon_fixture.h"
#include "tests/testing/matchers.h"
#include "tests/testing/registry.h"
#include "tests/testing/registry_auth.h"

namespace berth {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

class BctrImagesTest : public testing::DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    BERTH_REQUIRE_ROOT();
    BERTH_REQUIRE_CTR();
    if (!testing::HaveRegistryTools())
      GTEST_SKIP() << "docker-registry or skopeo is not installed";
    ASSERT_EQ(::access(testing::BinPath("bctr").c_str(), X_OK), 0) << "bctr not built";
    images_ = (dir().path() / "images").string();
    testing::CommandResult r = testing::MakeTestImages(images_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_TRUE(StartDaemon());
    fs::create_directories(dir().path() / "registry");
    ASSERT_EQ(plain_.Start(dir().path() / "registry"), "");
    ASSERT_EQ(plain_.Push(images_ + "/oci/busybox", "busybox:latest"), "");
    ASSERT_EQ(plain_.Push(images_ + "/oci/layered", "layered:latest"), "");
  }

  // bctr against our berthd, with a private HOME (credentials) and no Docker config. `input`
  // goes to its stdin.
  testing::CommandResult Bctr(const std::vector<std::string>& args, const std::string& input = "") {
    fs::path home = dir().path() / "home";
    fs::create_directories(home);
    std::string cmd =
        "exec env -u DOCKER_CONFIG -u BERTH_AUTH_FILE -u XDG_CONFIG_HOME HOME=" + home.string() +
        " " + testing::BinPath("bctr") + " --address " + socket();
    for (const std::string& a : args) cmd += " '" + a + "'";
    if (!input.empty())
      cmd = "printf '%s\\n' '" + input + "' | " + cmd;
    return testing::RunCommand({"sh", "-c", cmd});
  }

  testing::CommandResult C(std::vector<std::string> args) {
    args.insert(args.begin(), {"-n", "default"});
    return Ctr(args);
  }

  fs::path AuthFile() { return dir().path() / "home/.config/berth/auth.json"; }

  // A failure as the user sees it: non-zero, one line "bctr: …" on stderr naming `what`.
  void ExpectOneLineError(const testing::CommandResult& r, const std::string& what) {
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_THAT(r.err, StartsWith("bctr: "));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr(what));
  }

  // Nothing half-written: no image record and no lease left.
  void ExpectNothingLeft() {
    EXPECT_EQ(Bctr({"images", "ls", "-q"}).out, "");
    EXPECT_EQ(C({"leases", "ls", "-q"}).out, "");
  }

  // The digest from "NAME: pulled sha256:…" in bctr pull's output.
  static std::string PulledDigest(const std::string& out) {
    std::smatch m;
    std::regex re("pulled (sha256:[0-9a-f]{64})");
    return std::regex_search(out, m, re) ? m[1].str() : "";
  }

  std::string images_;
  testing::LocalRegistry plain_;
};

TEST_F(BctrImagesTest, PullUnpacksAndListsImages) {
  const std::string ref = plain_.host() + "/busybox:latest";
  testing::CommandResult r = Bctr({"pull", "--plain-http", plain_.host() + "/busybox"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << DaemonLog();
  // Not a terminal: plain lines, one per event.
  EXPECT_THAT(r.out, HasSubstr(": downloading 1.0 MiB\n"));
  EXPECT_THAT(r.out, HasSubstr(": done\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("\x1b[")));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("unpacked to (sha256:[0-9a-f]{64})")));
  const std::string chain = m[1].str();

  EXPECT_EQ(Bctr({"images", "ls", "-q"}).out, ref + "\n");
  EXPECT_EQ(Bctr({"images", "-q"}).out, ref + "\n");
  EXPECT_EQ(Bctr({"-n", "other", "images", "-q"}).out, "") << "images are per namespace";
  r = Bctr({"images"});
  EXPECT_THAT(r.out, MatchesRegex("NAME +DIGEST +SIZE +CREATED\n" + std::string(".*") +
                                  "busybox:latest +sha256:[0-9a-f]{12} +1\\.0 MiB +"
                                  "(Less than a second|[0-9]+ seconds?) ago\n"));
  r = Bctr({"images", "ls", "--format", "json"});
  nlohmann::json j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["name"], ref);
  EXPECT_EQ(j[0]["mediaType"], "application/vnd.oci.image.manifest.v1+json");
  EXPECT_EQ(j[0]["digest"], PulledDigest(Bctr({"pull", "--plain-http", ref}).out))
      << "pulling again resolves to the same digest";
  EXPECT_GT(j[0]["size"].get<int64_t>(), 1 << 20);

  // Debian's ctr sees the unpacked chain and the labels that keep it.
  r = C({"snapshots", "ls"});
  EXPECT_THAT(r.out, MatchesRegex("KEY +PARENT +KIND *\n" + chain + " +Committed *\n"));
  EXPECT_THAT(C({"content", "ls"}).out,
              HasSubstr("containerd.io/gc.ref.snapshot.overlayfs=" + chain));
  EXPECT_THAT(C({"content", "ls"}).out, HasSubstr("containerd.io/gc.ref.content.l.0="));
  EXPECT_THAT(C({"content", "ls"}).out, HasSubstr("containerd.io/uncompressed=" + chain));
  EXPECT_EQ(C({"leases", "ls", "-q"}).out, "") << "the pull's lease is gone";
  EXPECT_THAT(C({"images", "ls", "-q"}).out, HasSubstr(ref));

  // The layered image shares its first layer: one download skipped, a chain of four.
  r = Bctr({"images", "pull", "--plain-http", plain_.host() + "/layered"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(": already exists\n"));
  r = C({"snapshots", "ls"});
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 5) << r.out;
  // Plain HTTP for a host named in bctr.toml, without --plain-http.
  EXPECT_NE(Bctr({"pull", ref}).exit_code, 0) << "HTTPS by default";
  testing::WriteFile(dir().path() / "home/.config/berth/bctr.toml",
                     "[registry.\"" + plain_.host() + "\"]\nplain_http = true\n");
  r = Bctr({"pull", ref});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  fs::remove(dir().path() / "home/.config/berth/bctr.toml");

  // inspect shows the record, manifest and config.
  r = Bctr({"images", "inspect", plain_.host() + "/layered"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["manifest"]["layers"].size(), 4u);
  EXPECT_EQ(j["config"]["rootfs"]["diff_ids"].size(), 4u);

  // tag and rmi.
  ASSERT_EQ(Bctr({"tag", ref, "localhost/mine:v1"}).exit_code, 0);
  r = Bctr({"tag", ref, "localhost/mine:v1"});
  ExpectOneLineError(r, "already exists (use --force to replace it)");
  EXPECT_EQ(Bctr({"tag", "--force", plain_.host() + "/layered", "localhost/mine:v1"}).exit_code, 0);
  EXPECT_EQ(Bctr({"images", "ls", "-q", "name==localhost/mine:v1"}).out, "localhost/mine:v1\n");
  r = Bctr({"rmi", "localhost/mine:v1", "localhost/nope"});
  EXPECT_EQ(r.out, "localhost/mine:v1\n");
  ExpectOneLineError(r, "localhost/nope:latest");
  EXPECT_THAT(r.err, HasSubstr("not found"));
  EXPECT_THAT(Bctr({"images", "ls", "-q"}).out, Not(HasSubstr("mine")));
  EXPECT_EQ(Bctr({"images", "rm", "--sync", ref, plain_.host() + "/layered"}).exit_code, 0);
  EXPECT_EQ(Bctr({"images", "ls", "-q"}).out, "");
  EXPECT_EQ(C({"snapshots", "ls"}).out.find("sha256:"), std::string::npos)
      << "removing the images lets GC take their snapshots";
}

TEST_F(BctrImagesTest, ProgressBarsOnATerminal) {
  if (!testing::HaveProgram("script"))
    GTEST_SKIP() << "script (util-linux) is not installed";
  // script(1) gives bctr a pseudo-terminal as stdout.
  std::string cmd = testing::BinPath("bctr") + " --address " + socket() + " pull --plain-http " +
                    plain_.host() + "/layered";
  testing::CommandResult r = testing::RunCommand({"script", "-qec", cmd, "/dev/null"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("\x1b[2K"));  // lines redrawn in place
  EXPECT_THAT(r.out, HasSubstr("total "));
  EXPECT_THAT(r.out, MatchesRegex("(.|\n)*\\[=+\\](.|\n)*"));
  EXPECT_THAT(r.out, HasSubstr("layered:latest: pulled sha256:"));
}

TEST_F(BctrImagesTest, LoginPushToTlsRegistryAndPullBack) {
  if (!testing::HaveProgram("htpasswd") || !testing::HaveProgram("openssl"))
    GTEST_SKIP() << "htpasswd (apache2-utils) or openssl is not installed";
  testing::SecureRegistry secure;
  fs::create_directories(dir().path() / "secure");
  ASSERT_EQ(secure.Start(dir().path() / "secure", "alice", "s3cret"), "");
  const std::string host = secure.host();
  const std::string ca = secure.ca();

  testing::CommandResult r = Bctr({"pull", "--plain-http", plain_.host() + "/layered"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string digest = PulledDigest(r.out);
  ASSERT_FALSE(digest.empty()) << r.out;
  ASSERT_EQ(Bctr({"tag", plain_.host() + "/layered", host + "/team/layered:v1"}).exit_code, 0);

  // Not logged in: the registry wants credentials.
  r = Bctr({"push", "--ca-file", ca, host + "/team/layered:v1"});
  ExpectOneLineError(r, "unauthorized: authentication required (run `bctr login " + host + "`)");
  // A wrong password is refused, and nothing is stored.
  r = Bctr({"login", "-u", "alice", "--password-stdin", "--ca-file", ca, host}, "wrong");
  ExpectOneLineError(r, "wrong username or password");
  EXPECT_FALSE(fs::exists(AuthFile()));
  // Without the CA, the certificate is not trusted.
  r = Bctr({"login", "-u", "alice", "--password-stdin", host}, "s3cret");
  ExpectOneLineError(r, "TLS");
  EXPECT_THAT(r.err, HasSubstr("--ca-file"));

  r = Bctr({"login", "-u", "alice", "--password-stdin", "--ca-file", ca, host}, "s3cret");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("Login succeeded"));

  struct stat st {};

  ASSERT_EQ(::stat(AuthFile().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_THAT(testing::ReadFile(AuthFile()), HasSubstr(host));
  EXPECT_THAT(testing::ReadFile(AuthFile()), Not(HasSubstr("s3cret"))) << "base64, as Docker";

  r = Bctr({"push", "--ca-file", ca, host + "/team/layered:v1"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(": uploading "));
  // The same image to another repository: every blob is mounted from the first one.
  r = Bctr({"push", "--ca-file", ca, host + "/team/other:v2", host + "/team/layered:v1"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr(": uploading ")));
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 5 + 1) << r.out;
  EXPECT_THAT(C({"content", "ls"}).out,
              HasSubstr("containerd.io/distribution.source." + host + "=team/layered,team/other"));

  // Pull it back into an empty store: same manifest digest, same chain.
  ASSERT_EQ(
      Bctr({"rmi", "--sync", host + "/team/layered:v1", plain_.host() + "/layered"}).exit_code, 0);
  ASSERT_EQ(Bctr({"images", "ls", "-q"}).out, "");
  // Untrusted certificate: nothing written.
  r = Bctr({"pull", host + "/team/layered:v1"});
  ExpectOneLineError(r, "TLS failure");
  ExpectNothingLeft();
  r = Bctr({"pull", "--ca-file", ca, host + "/team/layered:v1"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(PulledDigest(r.out), digest);
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1 + 2 * 4 + 1 + 1) << r.out;
  r = Bctr({"pull", "--ca-file", ca, host + "/team/other:v2"});
  EXPECT_EQ(PulledDigest(r.out), digest);

  // Logged out: unauthorized again; --user gives one-off credentials.
  ASSERT_EQ(Bctr({"logout", host}).exit_code, 0);
  ExpectOneLineError(Bctr({"logout", host}), "not found");
  r = Bctr({"pull", "--ca-file", ca, host + "/team/layered:v1"});
  ExpectOneLineError(r, "unauthorized");
  r = Bctr({"pull", "--ca-file", ca, "--user", "alice:nope", host + "/team/layered:v1"});
  ExpectOneLineError(r, "wrong username or password");
  // The CA can come from bctr.toml instead of --ca-file.
  const fs::path config = dir().path() / "home/.config/berth/bctr.toml";
  testing::WriteFile(config, "[registry.\"" + host + "\"]\nca_file = \"" + ca + "\"\n");
  r = Bctr({"pull", "--user", "alice:s3cret", host + "/team/layered:v1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  testing::WriteFile(config, "[registry.\"" + host + "\"]\ncafile = \"" + ca + "\"\n");
  r = Bctr({"pull", "--user", "alice:s3cret", host + "/team/layered:v1"});
  ExpectOneLineError(r, "bctr.toml: registry.\"" + host + "\".cafile: unknown key");
}

TEST_F(BctrImagesTest, FailuresAreOneLineAndLeaveNothing) {
  struct Case {
    std::vector<std::string> args;
    std::string what;
    int code;
  };

  const Case cases[] = {
      {{"pull", "--plain-http", plain_.host() + "/nope"},
       "bctr: pull: " + plain_.host() + "/nope:latest: not found",
       1},
      {{"pull", "--plain-http", plain_.host() + "/busybox:v9"}, "busybox:v9: not found", 1},
      {{"pull", "Busybox"},
       "bctr: pull: invalid reference \"Busybox\": repository name must be "
       "lower-case",
       1},
      {{"pull", "busybox:"}, "invalid reference", 1},
      {{"pull", "http://x/y"}, "no scheme", 1},
      {{"pull", "host:port/x"}, "not host[:port]", 1},
      {{"pull", "--plain-http", "127.0.0.1:1/busybox"}, "127.0.0.1:1: cannot connect", 1},
      {{"pull", "--plain-http", "--platform", "linux/s390x", plain_.host() + "/busybox"},
       "",
       0},  // a single-platform manifest is taken as it is, as containerd does
      {{"pull", "--bogus", "busybox"},
       "bctr: pull: The following argument was not expected: "
       "--bogus (see bctr pull --help)",
       2},
      {{"images", "inspect", "busybox"}, "not found", 1},
      {{"push", "--plain-http", plain_.host() + "/x", "localhost/none"}, "not found", 1},
      {{"nosuchverb"}, "unknown command \"nosuchverb\"", 2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args[0] + " " + c.args.back());
    testing::CommandResult r = Bctr(c.args);
    EXPECT_EQ(r.exit_code, c.code) << r.out << r.err;
    if (c.code != 0) {
      ExpectOneLineError(r, c.what);
    } else {
      ASSERT_EQ(Bctr({"rmi", "--sync", plain_.host() + "/busybox"}).exit_code, 0);
    }
    ExpectNothingLeft();
  }
  // berthd is not there.
  testing::CommandResult r = testing::RunCommand(
      {testing::BinPath("bctr"), "--address", dir().path().string() + "/none.sock", "images"});
  ExpectOneLineError(r, "cannot reach berthd at");
  // Every verb has --help.
  for (std::string verb : {"pull", "push", "images", "rmi", "tag", "login", "logout", "version"}) {
    r = Bctr({verb, "--help"});
    EXPECT_EQ(r.exit_code, 0) << verb;
    EXPECT_THAT(r.out, HasSubstr("Usage:")) << verb;
  }
  r = Bctr({"version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Server:"));
}

TEST_F(BctrImagesTest, BearerTokenAuthWithBasicCredentialsAtTheTokenServer) {
  if (!testing::HaveProgram("openssl"))
    GTEST_SKIP() << "openssl is not installed";
  fs::path d = dir().path() / "token";
  fs::create_directories(d);
  testing::TokenServer tokens(testing::MakeRegistryToken(d, "team/app"),
                              absl::Base64Escape("alice:s3cret"));
  int tport = tokens.Start();
  ASSERT_GT(tport, 0);
  // docker-registry with `auth: token` (plain HTTP; TLS is covered above).
  testing::RegistryOptions token_auth;
  token_auth.auth = "  token:\n    realm: http://127.0.0.1:" + std::to_string(tport) +
                    "/token\n    service: berth-test-registry\n"
                    "    issuer: berth-test-issuer\n    rootcertbundle: " +
                    d.string() + "/token.crt\n";
  token_auth.start_timeout = std::chrono::seconds(5);
  testing::LocalRegistry registry;
  ASSERT_EQ(registry.Start(d, token_auth), "");
  const std::string host = registry.host();

  testing::CommandResult r = Bctr({"pull", "--plain-http", plain_.host() + "/busybox"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string digest = PulledDigest(r.out);
  ASSERT_EQ(Bctr({"tag", plain_.host() + "/busybox", host + "/team/app:v1"}).exit_code, 0);

  // Anonymous: the token server refuses, bctr says to log in.
  r = Bctr({"push", "--plain-http", host + "/team/app:v1"});
  ExpectOneLineError(r, "unauthorized: authentication required (run `bctr login " + host + "`)");
  r = Bctr({"login", "--plain-http", "-u", "alice", "--password-stdin", host}, "wrong");
  ExpectOneLineError(r, "wrong username or password");
  r = Bctr({"login", "--plain-http", "-u", "alice", "--password-stdin", host}, "s3cret");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Bctr({"push", "--plain-http", host + "/team/app:v1"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  bool push_scope = false;
  for (const std::string& q : tokens.queries())
    push_scope |= q.find("scope=repository%3Ateam%2Fapp%3Apull%2Cpush") != std::string::npos &&
                  q.find("service=berth-test-registry") != std::string::npos;
  EXPECT_TRUE(push_scope) << "the token was asked for the push scope";

  ASSERT_EQ(Bctr({"rmi", "--sync", host + "/team/app:v1", plain_.host() + "/busybox"}).exit_code,
            0);
  r = Bctr({"pull", "--plain-http", host + "/team/app:v1"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(PulledDigest(r.out), digest);
}

TEST_F(BctrImagesTest, PullChoosesAPlatformFromAnIndex) {
  if (!testing::HaveProgram("curl"))
    GTEST_SKIP() << "curl is not installed";
  // One repository holding both fixture images, and an index over them: busybox for
  // linux/amd64, layered for linux/arm64/v8.
  ASSERT_EQ(plain_.Push(images_ + "/oci/busybox", "multi:bb"), "");
  ASSERT_EQ(plain_.Push(images_ + "/oci/layered", "multi:ly"), "");
  auto entry = [&](const std::string& name, nlohmann::json platform) {
    nlohmann::json idx =
        nlohmann::json::parse(testing::ReadFile(fs::path(images_) / "oci" / name / "index.json"));
    nlohmann::json m = idx["manifests"][0];
    return nlohmann::json{{"mediaType", m["mediaType"]},
                          {"digest", m["digest"]},
                          {"size", m["size"]},
                          {"platform", platform}};
  };
  nlohmann::json index = {
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.index.v1+json"},
      {"manifests",
       {entry("busybox", {{"os", "linux"}, {"architecture", "amd64"}}),
        entry("layered", {{"os", "linux"}, {"architecture", "arm64"}, {"variant", "v8"}})}}};
  testing::WriteFile(dir().path() / "index.json", index.dump());
  testing::CommandResult r = testing::RunCommand(
      {"curl", "-sSf", "-X", "PUT", "-H", "Content-Type: application/vnd.oci.image.index.v1+json",
       "--data-binary", "@" + (dir().path() / "index.json").string(),
       "http://" + plain_.host() + "/v2/multi/manifests/latest"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string ref = plain_.host() + "/multi:latest";

  r = Bctr({"pull", "--plain-http", "--platform", "linux/amd64", ref});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("(application/vnd.oci.image.index.v1+json)"));
  EXPECT_THAT(r.out, HasSubstr("unpacking linux/amd64 " +
                               entry("busybox", {})["digest"].get<std::string>()));
  std::string first = C({"snapshots", "ls"}).out;
  EXPECT_EQ(std::count(first.begin(), first.end(), '\n'), 1 + 1) << first;
  std::string content = C({"content", "ls"}).out;
  EXPECT_THAT(content, HasSubstr("containerd.io/gc.ref.content.m.0="));
  EXPECT_THAT(content, HasSubstr("containerd.io/gc.ref.content.m.1="));
  r = Bctr({"images", "inspect", ref});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["index"]["manifests"].size(), 2u);

  // The other platform of the same index: the layered image, on the shared busybox layer.
  r = Bctr({"pull", "--plain-http", "--platform", "linux/arm64", ref});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("unpacking linux/arm64 " +
                               entry("layered", {})["digest"].get<std::string>()));
  std::string snaps = C({"snapshots", "ls"}).out;
  EXPECT_EQ(std::count(snaps.begin(), snaps.end(), '\n'), 1 + 4) << snaps;

  r = Bctr({"pull", "--plain-http", "--platform", "linux/s390x", ref});
  ExpectOneLineError(r,
                     "no manifest for platform linux/s390x (the index has: linux/amd64, "
                     "linux/arm64/v8)");
  ASSERT_EQ(Bctr({"rmi", "--sync", ref}).exit_code, 0);
  ExpectNothingLeft();
  r = Bctr({"pull", "--plain-http", "--platform", "linux//", ref});
  ExpectOneLineError(r, "platform \"linux//\"");
}

TEST_F(BctrImagesTest, ResumesAnInterruptedDownloadFromTheIngest) {
  // The busybox layer, from the OCI layout that was pushed.
  fs::path layout = fs::path(images_) / "oci/busybox";
  nlohmann::json index = nlohmann::json::parse(testing::ReadFile(layout / "index.json"));
  std::string manifest_digest = index["manifests"][0]["digest"];
  nlohmann::json manifest =
      nlohmann::json::parse(testing::ReadFile(layout / "blobs/sha256" / manifest_digest.substr(7)));
  const std::string layer = manifest["layers"][0]["digest"];
  const int64_t size = manifest["layers"][0]["size"];
  const fs::path blob = layout / "blobs/sha256" / layer.substr(7);
  const std::string ref = plain_.host() + "/busybox:latest";
  // Leaves an ingest "layer-<digest>" of 300000 bytes taken from `source`, as an interrupted
  // pull does (ctr's ingest fails at the end, since the size is short).
  auto partial = [&](const std::string& source) {
    testing::RunCommand({"sh", "-c",
                         "head -c 300000 " + source + " | ctr --address " + socket() +
                             " -n default content ingest --expected-size " + std::to_string(size) +
                             " --expected-digest " + layer + " layer-" + layer});
    testing::CommandResult r = C({"content", "active"});
    ASSERT_THAT(r.out, HasSubstr("layer-" + layer)) << r.out << r.err;
  };

  partial(blob.string());
  testing::CommandResult r = Bctr({"pull", "--plain-http", ref});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr(layer + ": downloading 1.0 MiB (resuming at 293.0 KiB)\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("retrying")));
  EXPECT_EQ(C({"content", "active"}).out.find("layer-"), std::string::npos);
  ASSERT_EQ(Bctr({"rmi", "--sync", ref}).exit_code, 0);

  // A partial blob that is not a prefix of the real one: berthd's commit refuses it, and the
  // blob is fetched again from the first byte.
  partial("/dev/urandom");
  r = Bctr({"pull", "--plain-http", ref});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("(resuming at 293.0 KiB)"));
  EXPECT_THAT(r.out, HasSubstr(layer + ": retrying: "));
  EXPECT_THAT(r.out, HasSubstr("unexpected commit digest"));
  EXPECT_THAT(r.out, HasSubstr(layer + ": done\n"));
  EXPECT_THAT(C({"snapshots", "ls"}).out, HasSubstr("Committed"));
  EXPECT_EQ(C({"leases", "ls", "-q"}).out, "");
}

TEST_F(BctrImagesTest, RegistryDownLeavesNothing) {
  auto reg = std::make_unique<testing::LocalRegistry>();
  fs::create_directories(dir().path() / "gone");
  ASSERT_EQ(reg->Start(dir().path() / "gone"), "");
  ASSERT_EQ(reg->Push(images_ + "/oci/busybox", "busybox:latest"), "");
  const std::string ref = reg->host() + "/busybox:latest";
  ASSERT_EQ(Bctr({"pull", "--plain-http", "--no-unpack", ref}).exit_code, 0);
  ASSERT_EQ(Bctr({"rmi", "--sync", ref}).exit_code, 0);
  reg.reset();  // the registry is down now
  testing::CommandResult r = Bctr({"pull", "--plain-http", "--retries", "1", ref});
  ExpectOneLineError(r, "bctr: pull: " + ref.substr(0, ref.find('/')) + ": cannot connect");
  ExpectNothingLeft();
}

}  // namespace
}  // namespace berth
