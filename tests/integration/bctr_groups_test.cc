// bctr's ctr-style groups against a private berthd: namespaces, leases, content, snapshots,
// events and plugins, cross-checked with Debian's ctr; plus shell completion listing berthd's
// images.

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "tests/testing/daemon_fixture.h"
#include "tests/testing/matchers.h"

namespace berth {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

class BctrGroupsTest : public testing::DaemonFixture {
 protected:
  void SetUp() override {
    DaemonFixture::SetUp();
    BERTH_REQUIRE_ROOT();
    BERTH_REQUIRE_CTR();
    ASSERT_EQ(::access(testing::BinPath("bctr").c_str(), X_OK), 0) << "bctr not built";
    // bctr's own state (the containers' shared /etc/hosts) in the test's directory.
    testing::WriteFile(
        config(), "[network]\nstate_dir = \"" + (dir().path() / "bctr-state").string() + "\"\n");
    ASSERT_TRUE(StartDaemon());
  }

  std::string config() const { return (dir().path() / "bctr.toml").string(); }

  testing::CommandResult Bctr(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"env", "BERTH_CLIENT_CONFIG=" + config(),
                                     testing::BinPath("bctr"), "--address", socket()};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunCommand(argv);
  }

  testing::CommandResult C(std::vector<std::string> args) {
    args.insert(args.begin(), {"-n", "default"});
    return Ctr(args);
  }

  void ImportBusybox() {
    std::string images = (dir().path() / "images").string();
    testing::CommandResult r = testing::MakeTestImages(images);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = C({"images", "import", images + "/busybox.docker.tar"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // The import leaves blobs that only its lease held (the archive's own index and files),
    // which the collection it scheduled would remove between two listings; and the test's
    // lease-less snapshot must not meet that collection either.
    CollectGarbage();
  }

  // A failure as the user sees it: non-zero, one line "bctr: …" on stderr naming `what`.
  static void ExpectOneLineError(const testing::CommandResult& r, const std::string& what) {
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_THAT(r.err, StartsWith("bctr: "));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_THAT(r.err, HasSubstr(what));
  }
};

TEST_F(BctrGroupsTest, Namespaces) {
  ASSERT_EQ(Bctr({"namespaces", "create", "team-a", "owner=ops"}).exit_code, 0);
  testing::CommandResult ls = Bctr({"namespaces", "ls"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_THAT(ls.out, HasSubstr("team-a"));
  EXPECT_THAT(ls.out, HasSubstr("owner=ops"));
  EXPECT_THAT(Ctr({"namespaces", "ls", "-q"}).out, HasSubstr("team-a"));
  nlohmann::json listed =
      nlohmann::json::parse(Bctr({"namespaces", "ls", "--format", "json"}).out, nullptr, false);
  ASSERT_TRUE(listed.is_array()) << listed;
  EXPECT_NE(std::find(listed.begin(), listed.end(),
                      nlohmann::json{{"name", "team-a"}, {"labels", "owner=ops"}}),
            listed.end())
      << listed;
  EXPECT_THAT(Bctr({"namespaces", "ls", "-q"}).out, HasSubstr("team-a\n"));

  testing::CommandResult label = Bctr({"ns", "label", "team-a", "tier=1", "owner="});
  ASSERT_EQ(label.exit_code, 0) << label.err;
  EXPECT_EQ(label.out, "tier=1\n");
  ExpectOneLineError(Bctr({"namespaces", "create", "team-a"}), "team-a");
  ExpectOneLineError(Bctr({"namespaces", "create", "bad/name"}), "bad/name");

  ASSERT_EQ(Bctr({"namespaces", "rm", "team-a"}).exit_code, 0);
  EXPECT_THAT(Bctr({"namespaces", "ls", "-q"}).out, Not(HasSubstr("team-a")));
  ExpectOneLineError(Bctr({"namespaces", "rm", "team-a"}), "team-a");
}

TEST_F(BctrGroupsTest, Leases) {
  testing::CommandResult made =
      Bctr({"leases", "create", "--id", "hold-1", "--expires", "1h", "-l", "purpose=test"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_EQ(made.out, "hold-1\n");
  testing::CommandResult ls = Bctr({"leases", "ls"});
  EXPECT_THAT(ls.out, HasSubstr("hold-1"));
  EXPECT_THAT(ls.out, HasSubstr("containerd.io/gc.expire="));
  EXPECT_THAT(C({"leases", "ls", "-q"}).out, HasSubstr("hold-1"));
  ExpectOneLineError(Bctr({"leases", "create", "--expires", "soon"}), "--expires");
  ASSERT_EQ(Bctr({"leases", "rm", "--sync", "hold-1"}).exit_code, 0);
  EXPECT_EQ(Bctr({"leases", "ls", "-q"}).out, "");
  ExpectOneLineError(Bctr({"leases", "rm", "hold-1"}), "hold-1");
}

TEST_F(BctrGroupsTest, ContentAndSnapshots) {
  ImportBusybox();
  testing::CommandResult ls = Bctr({"content", "ls", "-q"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_EQ(ls.out, C({"content", "ls", "-q"}).out);
  std::string first = ls.out.substr(0, ls.out.find('\n'));
  ASSERT_THAT(first, StartsWith("sha256:"));

  // get: the same bytes as ctr's.
  testing::CommandResult mine = Bctr({"content", "get", first});
  ASSERT_EQ(mine.exit_code, 0) << mine.err;
  EXPECT_EQ(mine.out, C({"content", "get", first}).out);
  EXPECT_FALSE(mine.out.empty());

  testing::CommandResult label = Bctr({"content", "label", first, "berth.test=yes"});
  ASSERT_EQ(label.exit_code, 0) << label.err;
  EXPECT_THAT(C({"content", "ls"}).out, HasSubstr("berth.test=yes"));
  ExpectOneLineError(Bctr({"content", "get", "sha256:" + std::string(64, '0')}), "sha256:000");

  // snapshots: the unpacked layer, as ctr sees it.
  testing::CommandResult snaps = Bctr({"snapshots", "ls"});
  ASSERT_EQ(snaps.exit_code, 0) << snaps.err;
  EXPECT_THAT(snaps.out, HasSubstr("Committed"));
  std::string key = Bctr({"snapshots", "ls", "-q"}).out;
  key = key.substr(0, key.find('\n'));
  ASSERT_THAT(key, StartsWith("sha256:"));
  nlohmann::json info = nlohmann::json::parse(Bctr({"snapshots", "info", key}).out, nullptr, false);
  ASSERT_FALSE(info.is_discarded());
  EXPECT_EQ(info["Name"], key);
  EXPECT_EQ(info["Kind"], "Committed");
  EXPECT_THAT(Bctr({"snapshots", "usage", key}).out, HasSubstr(key));
  EXPECT_THAT(Bctr({"snapshots", "tree"}).out, HasSubstr(key));

  ASSERT_EQ(C({"snapshots", "prepare", "work-1", key}).exit_code, 0);
  testing::CommandResult mounts = Bctr({"snapshots", "mounts", "/mnt/x", "work-1"});
  ASSERT_EQ(mounts.exit_code, 0) << mounts.err;
  EXPECT_THAT(mounts.out, StartsWith("mount -t overlay overlay /mnt/x -o "));
  EXPECT_THAT(Bctr({"snapshots", "tree"}).out, HasSubstr("  work-1"));  // under its parent
  ExpectOneLineError(Bctr({"snapshots", "rm", key}), key);              // it has a child
  ASSERT_EQ(Bctr({"snapshots", "rm", "work-1"}).exit_code, 0);
  EXPECT_THAT(C({"snapshots", "ls"}).out, Not(HasSubstr("work-1")));
  ExpectOneLineError(Bctr({"snapshots", "info", "work-1"}), "work-1");
}

TEST_F(BctrGroupsTest, EventsAndPlugins) {
  testing::CommandResult events;
  std::thread follower([&] {
    events = testing::RunCommand({"timeout", "4", testing::BinPath("bctr"), "--address", socket(),
                                  "events", "topic~=/namespaces/"});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_EQ(Ctr({"namespaces", "create", "evt"}).exit_code, 0);
  follower.join();
  EXPECT_EQ(events.exit_code, 124) << events.err;  // still following when timeout stopped it
  EXPECT_THAT(events.out,
              MatchesRegex("[0-9T:.Z-]+ evt /namespaces/create \\{\"name\":\"evt\".*\n"));

  testing::CommandResult plugins = Bctr({"plugins", "ls"});
  ASSERT_EQ(plugins.exit_code, 0) << plugins.err;
  EXPECT_THAT(plugins.out,
              MatchesRegex("(.|\n)*io.containerd.snapshotter.v1 +overlayfs +[^ ]+ +ok\n(.|\n)*"));
}

TEST_F(BctrGroupsTest, ContainersAndTasks) {
  ImportBusybox();
  testing::CommandResult run =
      Bctr({"--log-root", (dir().path() / "logs").string(), "run", "-d", "--name", "g1",
            "docker.io/library/busybox:latest", "sleep", "300"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::string id = run.out.substr(0, run.out.find('\n'));
  ASSERT_THAT(id, MatchesRegex("[0-9a-f]{64}"));

  EXPECT_THAT(Bctr({"containers", "ls"}).out,
              MatchesRegex("CONTAINER +IMAGE +RUNTIME\n" + id +
                           " +docker.io/library/busybox:latest +io.containerd.runc.v2\n"));
  nlohmann::json info =
      nlohmann::json::parse(Bctr({"containers", "info", "g1"}).out, nullptr, false);
  ASSERT_FALSE(info.is_discarded());
  EXPECT_EQ(info["ID"], id);
  EXPECT_EQ(info["Spec"]["process"]["args"], nlohmann::json({"sleep", "300"}));
  EXPECT_THAT(Bctr({"containers", "label", "g1", "team=db"}).out, HasSubstr("team=db"));
  EXPECT_THAT(C({"containers", "info", id}).out, HasSubstr("\"team\": \"db\""));

  EXPECT_THAT(Bctr({"tasks", "ls"}).out,
              MatchesRegex("TASK +PID +STATUS\n" + id + " +[0-9]+ +RUNNING\n"));
  EXPECT_THAT(Bctr({"tasks", "ps", id}).out, MatchesRegex("PID +INFO\n[0-9]+ +.*\n"));
  testing::CommandResult metrics = Bctr({"tasks", "metrics", id});
  ASSERT_EQ(metrics.exit_code, 0) << metrics.err;
  nlohmann::json m = nlohmann::json::parse(metrics.out, nullptr, false);
  ASSERT_FALSE(m.is_discarded()) << metrics.out;
  EXPECT_TRUE(m.contains("memory") || m.contains("pids")) << metrics.out;

  ASSERT_EQ(Bctr({"tasks", "pause", id}).exit_code, 0);
  EXPECT_THAT(C({"tasks", "ls"}).out, HasSubstr("PAUSED"));
  ASSERT_EQ(Bctr({"tasks", "resume", id}).exit_code, 0);
  ExpectOneLineError(Bctr({"containers", "rm", "g1"}), "running");
  ExpectOneLineError(Bctr({"tasks", "kill", "-s", "SIGNOPE", id}), "SIGNOPE");
  ASSERT_EQ(Bctr({"tasks", "kill", "-s", "KILL", id}).exit_code, 0);
  testing::CommandResult rm;
  for (int i = 0; i < 50; ++i) {  // the exit reaches berthd asynchronously
    rm = Bctr({"tasks", "rm", id});
    if (rm.exit_code == 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_EQ(rm.out, id + " exited with 137\n");
  ASSERT_EQ(Bctr({"containers", "rm", "g1"}).exit_code, 0);
  EXPECT_EQ(C({"containers", "ls", "-q"}).out, "");
  EXPECT_EQ(C({"snapshots", "ls"}).out.find(id), std::string::npos);
  ExpectOneLineError(Bctr({"containers", "info", "g1"}), "g1");
}

TEST_F(BctrGroupsTest, CompletionListsImages) {
  ImportBusybox();
  testing::CommandResult r = Bctr({"__complete", "rmi", "docker.io/library/bu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "docker.io/library/busybox:latest\n");
  r = Bctr({"__complete", "-n", "elsewhere", "rmi", ""});
  EXPECT_EQ(r.out, "");  // another namespace has no images
}

}  // namespace
}  // namespace berth
