// Containers through containerd's own client: ctr containers create (with --rootfs, no image
// needed) / ls / info / label / rm, the errors it gets back, the events, and filters.

#include <unistd.h>

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/daemon_fixture.h"
#include "tests/testing/matchers.h"

namespace berth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ContainersTest : public testing::DaemonFixture {
 protected:
  testing::CommandResult C(std::vector<std::string> args) {
    args.insert(args.begin(), {"-n", "default"});
    return Ctr(args);
  }

  std::string Rootfs() const { return (dir().path() / "rootfs").string(); }
};

TEST_F(ContainersTest, CreateListInfoLabelRemove) {
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  testing::CommandResult r = C({"containers", "create", "--rootfs", "--label", "team=a", "--env",
                                "GREETING=hi", Rootfs(), "web", "sleep", "10"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = C({"containers", "create", "--rootfs", Rootfs(), "db", "true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  r = C({"containers", "ls"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("web"));
  EXPECT_THAT(r.out, HasSubstr("io.containerd.runc.v2"));
  EXPECT_EQ(C({"containers", "ls", "-q"}).out, "db\nweb\n");
  EXPECT_EQ(C({"containers", "ls", "-q", "labels.team==a"}).out, "web\n");
  EXPECT_EQ(C({"containers", "ls", "-q", "id==db"}).out, "db\n");

  // The spec comes back as ctr stored it: our own JSON is never rewritten.
  r = C({"containers", "info", "web"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"GREETING=hi\""));
  EXPECT_THAT(r.out, HasSubstr("\"sleep\""));
  EXPECT_THAT(r.out, HasSubstr("\"path\": \"" + Rootfs() + "\""));
  EXPECT_THAT(r.out, HasSubstr("\"team\": \"a\""));

  r = C({"containers", "label", "web", "team=b", "tier=front"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("team=b"));  // ctr prints the labels it set
  r = C({"containers", "info", "web"});
  EXPECT_THAT(r.out, HasSubstr("\"team\": \"b\""));
  EXPECT_THAT(r.out, HasSubstr("\"tier\": \"front\""));
  r = C({"containers", "label", "web", "tier="});  // an empty value removes the label
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = C({"containers", "info", "web"});
  EXPECT_THAT(r.out, Not(HasSubstr("tier")));
  EXPECT_THAT(r.out, HasSubstr("\"team\": \"b\""));
  EXPECT_THAT(r.out, HasSubstr("\"GREETING=hi\""));
  // With no labels, ctr sends a full update without the runtime: refused, as containerd does.
  r = C({"containers", "label", "web"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("immutable"));

  ASSERT_EQ(C({"containers", "rm", "web", "db"}).exit_code, 0);
  EXPECT_EQ(C({"containers", "ls", "-q"}).out, "");
}

TEST_F(ContainersTest, ErrorsNameTheContainer) {
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  ASSERT_EQ(C({"containers", "create", "--rootfs", Rootfs(), "web", "true"}).exit_code, 0);
  testing::CommandResult r = C({"containers", "create", "--rootfs", Rootfs(), "web", "true"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("container \"web\": already exists"));
  r = C({"containers", "info", "nope"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("container \"nope\": not found"));
  r = C({"containers", "rm", "nope"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("container \"nope\": not found"));
  r = C({"containers", "create", "--rootfs", Rootfs(), "bad..id", "true"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("bad..id"));
  r = C({"containers", "ls", "-q", "id~=("});  // a broken regular expression
  EXPECT_NE(r.exit_code, 0);
  // Containers live in their namespace only.
  r = Ctr({"-n", "other", "containers", "info", "web"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("not found"));
  EXPECT_EQ(C({"containers", "ls", "-q"}).out, "web\n");
}

TEST_F(ContainersTest, CreateUpdateDeletePublishEvents) {
  BERTH_REQUIRE_CTR();
  ASSERT_TRUE(StartDaemon());
  testing::CommandResult events;
  std::thread watcher([&] {
    events = testing::RunCommand({"ctr", "--address", socket(), "events"},
                                 std::chrono::milliseconds(5000));  // ends the watcher
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(C({"containers", "create", "--rootfs", Rootfs(), "ev", "true"}).exit_code, 0);
  EXPECT_EQ(C({"containers", "label", "ev", "k=v"}).exit_code, 0);
  EXPECT_EQ(C({"containers", "rm", "ev"}).exit_code, 0);
  watcher.join();
  EXPECT_THAT(events.out, HasSubstr("default /containers/create {\"id\":\"ev\""));
  EXPECT_THAT(events.out, HasSubstr("/containers/update {\"id\":\"ev\",\"labels\":{\"k\":\"v\"}"));
  EXPECT_THAT(events.out, HasSubstr("default /containers/delete {\"id\":\"ev\"}"));
}

}  // namespace
}  // namespace berth
