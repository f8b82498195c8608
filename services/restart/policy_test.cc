// The restart monitor's decisions, table-driven, and its small parsers.

#include "services/restart/policy.h"

#include <chrono>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "services/restart/monitor.h"
#include "tests/testing/matchers.h"

namespace berth::restart {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;
using std::chrono::milliseconds;

TEST(PolicyTest, Parses) {
  using K = Policy::Kind;

  struct Case {
    std::string in;
    Policy want;
  } cases[] = {
      {"", {K::kNo, 0}},
      {"no", {K::kNo, 0}},
      {"always", {K::kAlways, 0}},
      {"on-failure", {K::kOnFailure, 0}},
      {"on-failure:2", {K::kOnFailure, 2}},
      {"on-failure:0", {K::kOnFailure, 0}},
  };

  for (const Case& c : cases) {
    absl::StatusOr<Policy> p = ParsePolicy(c.in);
    ASSERT_THAT(p, IsOk()) << c.in;
    EXPECT_EQ(*p, c.want) << c.in;
  }
  for (const char* bad :
       {"sometimes", "on-failure:", "on-failure:-1", "on-failure:2x", "unless-stopped", "Always"}) {
    absl::StatusOr<Policy> p = ParsePolicy(bad);
    EXPECT_THAT(p, StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
    EXPECT_THAT(std::string(p.status().message()), ::testing::HasSubstr(bad));
  }
}

TEST(PolicyTest, Decides) {
  const std::string running = kStatusRunning;

  struct Case {
    Labels labels;
    std::optional<uint32_t> exit;
    bool restart;
  } cases[] = {
      // Not monitored, or stopped by the user.
      {{{kPolicyLabel, "always"}}, 1, false},
      {{{kStatusLabel, kStatusStopped}, {kPolicyLabel, "always"}}, 1, false},
      {{{kStatusLabel, "Running"}, {kPolicyLabel, "always"}}, 1, false},
      // No policy, "no", or one that does not parse: nothing.
      {{{kStatusLabel, running}}, 1, false},
      {{{kStatusLabel, running}, {kPolicyLabel, "no"}}, 1, false},
      {{{kStatusLabel, running}, {kPolicyLabel, "bogus"}}, 1, false},
      // always: whatever the exit, also without a task.
      {{{kStatusLabel, running}, {kPolicyLabel, "always"}}, 0, true},
      {{{kStatusLabel, running}, {kPolicyLabel, "always"}}, std::nullopt, true},
      {{{kStatusLabel, running}, {kPolicyLabel, "always"}, {kCountLabel, "99"}}, 137, true},
      // on-failure: a known non-zero exit, fewer than N restarts.
      {{{kStatusLabel, running}, {kPolicyLabel, "on-failure"}}, 0, false},
      {{{kStatusLabel, running}, {kPolicyLabel, "on-failure"}}, std::nullopt, false},
      {{{kStatusLabel, running}, {kPolicyLabel, "on-failure"}, {kCountLabel, "50"}}, 1, true},
      {{{kStatusLabel, running}, {kPolicyLabel, "on-failure:2"}}, 3, true},
      {{{kStatusLabel, running}, {kPolicyLabel, "on-failure:2"}, {kCountLabel, "1"}}, 3, true},
      {{{kStatusLabel, running}, {kPolicyLabel, "on-failure:2"}, {kCountLabel, "2"}}, 3, false},
      {{{kStatusLabel, running}, {kPolicyLabel, "on-failure:2"}, {kCountLabel, "x"}}, 3, true},
  };

  int i = 0;
  for (const Case& c : cases) {
    Decision d = Decide(c.labels, c.exit);
    EXPECT_EQ(d.restart, c.restart) << "case " << i << ": " << d.why;
    EXPECT_FALSE(d.why.empty());
    ++i;
  }
}

TEST(PolicyTest, RestartCount) {
  EXPECT_EQ(RestartCount({}), 0);
  EXPECT_EQ(RestartCount({{kCountLabel, "7"}}), 7);
  EXPECT_EQ(RestartCount({{kCountLabel, "-1"}}), 0);
}

TEST(PolicyTest, AutoRemoveAndMonitored) {
  EXPECT_TRUE(AutoRemove({{"berth.io/auto-remove", "true"}}));
  EXPECT_FALSE(AutoRemove({{"berth.io/auto-remove", "yes"}}));
  EXPECT_FALSE(AutoRemove({}));
  EXPECT_TRUE(Monitored({{"berth.io/auto-remove", "true"}}));
  EXPECT_TRUE(Monitored({{"containerd.io/restart.status", "running"}}));
  EXPECT_FALSE(Monitored({{"containerd.io/restart.status", "stopped"}}));
}

TEST(MonitorTest, BackoffDoublesFromTheMinimumUpToTheCap) {
  milliseconds d(0);
  std::vector<int64_t> seen;
  for (int i = 0; i < 9; ++i) {
    d = NextBackoff(d, milliseconds(100), milliseconds(10000));
    seen.push_back(d.count());
  }
  EXPECT_THAT(seen, ::testing::ElementsAre(100, 200, 400, 800, 1600, 3200, 6400, 10000, 10000));
}

TEST(MonitorTest, ParsesDurations) {
  EXPECT_EQ(*ParseDuration("10s"), milliseconds(10000));
  EXPECT_EQ(*ParseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(*ParseDuration("2m"), milliseconds(120000));
  for (const char* bad : {"", "10", "s", "-1s", "1h", "1.5s"})
    EXPECT_THAT(ParseDuration(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
}

}  // namespace
}  // namespace berth::restart
