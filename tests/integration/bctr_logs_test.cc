// bctr logs against a private berthd: containers are run detached with Debian's ctr, labelled
// as bctr labels them (berth.io/name, berth.io/log-uri) and writing their output through the
// shim into a CRI log file; bctr logs reads it back by name, id or id prefix.

#include <unistd.h>

#include <chrono>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/integration/detached_fixture.h"
#include "tests/testing/matchers.h"

namespace berth {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

class BctrLogsTest : public testing::DetachedFixture {
 protected:
  void SetUp() override {
    DetachedFixture::SetUp();
    ASSERT_EQ(::access(testing::BinPath("bctr").c_str(), X_OK), 0) << "bctr not built";
  }

  testing::CommandResult Bctr(std::vector<std::string> args,
                              std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::vector<std::string> argv = {testing::BinPath("bctr"), "--address", socket(), "-n", ns_};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunCommand(argv, timeout);
  }

  // ctr run -d with bctr's labels and a CRI log file; returns the log's path.
  std::string RunDetached(const std::string& id, const std::string& name,
                          const std::vector<std::string>& cmd) {
    std::string log = (dir().path() / "logs" / ns_ / (id + ".log")).string();
    std::string uri = "file://" + log + "?format=cri";
    std::vector<std::string> args = {"run",       "-d",
                                     "--label",   "berth.io/name=" + name,
                                     "--label",   "berth.io/log-uri=" + uri,
                                     "--log-uri", uri,
                                     kImage,      id};
    args.insert(args.end(), cmd.begin(), cmd.end());
    testing::CommandResult r = C(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return log;
  }
};

TEST_F(BctrLogsTest, PrintsEachStreamToItsOwnAndFilters) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  ASSERT_TRUE(ImportBusybox());
  RunDetached("c0ffee0123", "web",
              {"sh", "-c", "echo one; echo err1 >&2; sleep 0.3; echo two; printf partial"});
  ASSERT_TRUE(WaitStatus("c0ffee0123", "STOPPED"));

  testing::CommandResult r = Bctr({"logs", "web"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "one\ntwo\npartial\n");
  EXPECT_EQ(r.err, "err1\n");
  // By id and by unique id prefix.
  EXPECT_EQ(Bctr({"logs", "c0ffee0123"}).out, "one\ntwo\npartial\n");
  EXPECT_EQ(Bctr({"logs", "c0ff"}).out, "one\ntwo\npartial\n");

  r = Bctr({"logs", "--tail", "2", "web"});
  EXPECT_EQ(r.out, "two\npartial\n");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(Bctr({"logs", "--tail", "0", "web"}).out, "");
  EXPECT_EQ(Bctr({"logs", "--tail", "all", "web"}).out, "one\ntwo\npartial\n");

  r = Bctr({"logs", "-t", "web"});
  std::vector<std::string> lines = testing::Lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  const std::string ts = "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9}Z";
  EXPECT_THAT(lines[0], MatchesRegex(ts + " one"));
  EXPECT_THAT(lines[2], MatchesRegex(ts + " partial"));

  EXPECT_EQ(Bctr({"logs", "--since", "1h", "web"}).out, "one\ntwo\npartial\n");
  EXPECT_EQ(Bctr({"logs", "--since", "2999-01-01T00:00:00Z", "web"}).out, "");
  r = Bctr({"logs", "--since", "yesterday", "web"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, StartsWith("bctr: logs: --since \"yesterday\""));
  r = Bctr({"logs", "--tail", "-3", "web"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("--tail"));
}

TEST_F(BctrLogsTest, FollowsUntilTheTaskExits) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  ASSERT_TRUE(ImportBusybox());
  RunDetached("ticker", "ticker",
              {"sh", "-c", "for i in 1 2 3 4; do echo tick $i; sleep 0.5; done; echo done >&2"});
  auto start = std::chrono::steady_clock::now();
  testing::CommandResult r = Bctr({"logs", "-f", "ticker"}, std::chrono::seconds(20));
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "tick 1\ntick 2\ntick 3\ntick 4\n");
  EXPECT_EQ(r.err, "done\n");
  // It waited for the task (about 2 s of output) and stopped soon after it exited.
  EXPECT_GT(took, std::chrono::milliseconds(1000));
  EXPECT_LT(took, std::chrono::seconds(8));
}

TEST_F(BctrLogsTest, ClearErrors) {
  BERTH_REQUIRE_ROOT();
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  ASSERT_TRUE(ImportBusybox());
  testing::CommandResult r = Bctr({"logs", "nope"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "bctr: logs: container \"nope\": not found\n");
  // Run attached-style (no log label): there is no log to show.
  r = C({"run", "-d", kImage, "quiet", "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Bctr({"logs", "quiet"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, StartsWith("bctr: logs: container \"quiet\": has no log file"));
  EXPECT_EQ(testing::Lines(r.err).size(), 1u);
}

}  // namespace
}  // namespace berth
