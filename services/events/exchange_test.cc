#include "services/events/exchange.h"

#include <atomic>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

#include "containerd/events/namespace.pb.h"
#include "tests/testing/matchers.h"

namespace berth::events {
namespace {

using ::berth::testing::IsOk;
using ::berth::testing::StatusIs;

containerd::events::NamespaceCreate Created(const std::string& name) {
  containerd::events::NamespaceCreate e;
  e.set_name(name);
  return e;
}

filters::Filter F(const std::string& expr) {
  return *filters::Filter::Parse(expr);
}

TEST(ExchangeTest, DeliversMatchingEnvelopesWithTypeUrlAsContainerd) {
  Exchange ex;
  int wakes = 0;
  auto all = ex.Subscribe(F(""), [&] { ++wakes; });
  auto only_ns = ex.Subscribe(F("topic==\"/namespaces/create\",namespace==web"), [] {});
  const int64_t before = absl::ToUnixNanos(absl::Now());
  ASSERT_THAT(ex.Publish("web", "/namespaces/create", Created("web")), IsOk());
  const int64_t after = absl::ToUnixNanos(absl::Now());
  ASSERT_THAT(ex.Publish("other", "/namespaces/create", Created("other")), IsOk());
  Envelope e;
  ASSERT_TRUE(all->Pop(&e));
  EXPECT_EQ(e.topic(), "/namespaces/create");
  EXPECT_EQ(e.namespace_(), "web");
  EXPECT_EQ(e.event().type_url(), "containerd.events.NamespaceCreate");
  // Stamped to the nanosecond, not the second.
  const int64_t at = e.timestamp().seconds() * 1000000000 + e.timestamp().nanos();
  EXPECT_GE(at, before);
  EXPECT_LE(at, after);
  ASSERT_TRUE(all->Pop(&e));
  EXPECT_FALSE(all->Pop(&e));
  EXPECT_EQ(wakes, 2);
  ASSERT_TRUE(only_ns->Pop(&e));
  EXPECT_EQ(e.namespace_(), "web");
  EXPECT_FALSE(only_ns->Pop(&e));
}

TEST(ExchangeTest, FiltersOnEventFields) {
  Exchange ex;
  auto sub = ex.Subscribe(F("event.name==b"), [] {});
  ASSERT_THAT(ex.Publish("default", "/namespaces/create", Created("a")), IsOk());
  ASSERT_THAT(ex.Publish("default", "/namespaces/create", Created("b")), IsOk());
  Envelope e;
  ASSERT_TRUE(sub->Pop(&e));
  containerd::events::NamespaceCreate got;
  ASSERT_TRUE(got.ParseFromString(e.event().value()));
  EXPECT_EQ(got.name(), "b");
  EXPECT_FALSE(sub->Pop(&e));
}

TEST(ExchangeTest, SlowSubscriberIsCutOffNotBlocking) {
  Exchange ex;
  auto slow = ex.Subscribe(
      F(""), [] {}, /*capacity=*/3);
  auto fast = ex.Subscribe(F(""), [] {});
  for (int i = 0; i < 10; ++i) {
    ASSERT_THAT(ex.Publish("default", "/namespaces/create", Created("n")), IsOk());
  }
  EXPECT_THAT(slow->status(), StatusIs(absl::StatusCode::kResourceExhausted, "too slow"));
  Envelope e;
  EXPECT_FALSE(slow->Pop(&e));
  int n = 0;
  while (fast->Pop(&e)) ++n;
  EXPECT_EQ(n, 10);
}

TEST(ExchangeTest, ClosedSubscriptionGetsNothing) {
  Exchange ex;
  auto sub = ex.Subscribe(F(""), [] {});
  sub->Close();
  ASSERT_THAT(ex.Publish("default", "/namespaces/create", Created("n")), IsOk());
  Envelope e;
  EXPECT_FALSE(sub->Pop(&e));
  EXPECT_THAT(sub->status(), StatusIs(absl::StatusCode::kCancelled));
}

TEST(ExchangeTest, BadTopicsAndNamespaces) {
  Exchange ex;

  struct Case {
    const char* ns;
    const char* topic;
  } cases[] = {{"default", ""},    {"default", "no/slash"}, {"default", "/"},
               {"default", "/a/"}, {"default", "/a b"},     {"bad/ns", "/a"}};

  for (const Case& c : cases) {
    EXPECT_THAT(ex.Publish(c.ns, c.topic, Created("x")),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << c.ns << " " << c.topic;
  }
  EXPECT_THAT(ValidateTopic("/tasks/exec-added"), IsOk());
}

}  // namespace
}  // namespace berth::events
