// A day with bctr, end to end, against a private berthd and Debian's docker-registry on
// 127.0.0.1: pull, run, exec, logs, commit, push the commit, rmi, pull it back and run it (the
// committed change is there); and a restart policy kept by berthd after bctr has exited.

#include <chrono>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "tests/integration/bctr_fixture.h"
#include "tests/testing/registry.h"

namespace berth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class BctrWorkflowTest : public BctrFixture {};

TEST_F(BctrWorkflowTest, PullRunExecLogsCommitPushRmiPullRun) {
  if (!testing::HaveRegistryTools())
    GTEST_SKIP() << "docker-registry or skopeo is not installed";
  testing::LocalRegistry registry;
  ASSERT_EQ(registry.Start(dir().path() / "registry"), "");
  ASSERT_EQ(registry.Push(images_dir() + "/oci/busybox", "busybox:latest"), "");
  const std::string base = registry.host() + "/busybox:latest";
  const std::string app = registry.host() + "/app:v1";

  testing::CommandResult r = Bctr({"pull", "--plain-http", base});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Bctr({"run", "-d", "--name", "web", base, "sh", "-c", "echo started; exec sleep 300"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Bctr({"exec", "web", "sh", "-c", "echo committed > /marker; echo done"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "done\n");
  for (int i = 0; i < 50 && Bctr({"logs", "web"}).out.empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(Bctr({"logs", "web"}).out, "started\n");

  r = Bctr({"commit", "-m", "add a marker", "web", app});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Bctr({"push", "--plain-http", app});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(Bctr({"rm", "-f", "web"}).exit_code, 0);
  ASSERT_EQ(Bctr({"rmi", app}).exit_code, 0);
  EXPECT_THAT(Bctr({"images", "ls", "-q"}).out, Not(HasSubstr("app:v1")));

  r = Bctr({"run", "--rm", "--pull", "never", app, "true"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("not here, and --pull=never forbids pulling it"));
  r = Bctr({"pull", "--plain-http", app});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Bctr({"run", "--rm", app, "cat", "/marker"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "committed\n");
  // --pull always fetches the registry's image over a local one of the same name.
  r = Bctr({"run", "--name", "w2", app, "sh", "-c", "echo local > /marker"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(Bctr({"commit", "w2", app}).exit_code, 0);
  ASSERT_EQ(Bctr({"rm", "w2"}).exit_code, 0);
  EXPECT_EQ(Bctr({"run", "--rm", app, "cat", "/marker"}).out, "local\n");
  ::setenv("BERTH_PLAIN_HTTP", registry.host().c_str(), 1);
  r = Bctr({"run", "--rm", "--pull", "always", app, "cat", "/marker"});
  ::unsetenv("BERTH_PLAIN_HTTP");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "committed\n");
  EXPECT_THAT(r.err, Not(HasSubstr("Unable to find image")));
  nlohmann::json img = nlohmann::json::parse(Bctr({"images", "inspect", app}).out, nullptr, false);
  ASSERT_FALSE(img.is_discarded());
  EXPECT_EQ(img["config"]["history"].back()["comment"], "add a marker");
  EXPECT_TRUE(ContainerIds().empty());
}

TEST_F(BctrWorkflowTest, RestartOnFailureRestartsExactlyTwice) {
  testing::CommandResult r =
      Bctr({"run", "-d", "--name", "flaky", "--restart", "on-failure:2",
            "docker.io/library/busybox:latest", "sh", "-c", "echo run; exit 3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // berthd restarts it after each exit (backoff 100 ms, 200 ms); bctr is long gone.
  std::string logs;
  for (int i = 0; i < 150; ++i) {
    logs = Bctr({"logs", "flaky"}).out;
    if (logs == "run\nrun\nrun\n")
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(logs, "run\nrun\nrun\n");
  std::this_thread::sleep_for(std::chrono::seconds(2));  // and no fourth run
  EXPECT_EQ(Bctr({"logs", "flaky"}).out, "run\nrun\nrun\n");
  nlohmann::json info = nlohmann::json::parse(Bctr({"inspect", "flaky"}).out, nullptr, false);
  ASSERT_FALSE(info.is_discarded());
  if (info.is_array())
    info = info[0];
  EXPECT_THAT(info.dump(), HasSubstr("\"containerd.io/restart.count\":\"2\""));
  EXPECT_THAT(Bctr({"ps", "-a"}).out, HasSubstr("Exited (3)"));
}

}  // namespace
}  // namespace berth
