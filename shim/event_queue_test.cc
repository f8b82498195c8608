// The shim's event queue: order, the window of the last kMaxEvents, and Close handing out what
// was published before it (the /tasks/delete of the shim's last call) before ending.

#include "shim/event_queue.h"

#include <optional>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

#include "containerd/events/task.pb.h"

namespace berth::shim {
namespace {

void PublishDelete(EventQueue& q, const std::string& id) {
  containerd::events::TaskDelete ev;
  ev.set_container_id(id);
  q.Publish("/tasks/delete", ev);
}

std::string ContainerOf(const v1::Event& e) {
  containerd::events::TaskDelete ev;
  return e.event().UnpackTo(&ev) ? ev.container_id() : "?";
}

TEST(EventQueueTest, EverySubscriberGetsEveryEventInOrder) {
  EventQueue q("ns1");
  PublishDelete(q, "a");
  PublishDelete(q, "b");
  for (int subscriber = 0; subscriber < 2; ++subscriber) {
    uint64_t next = 0;
    std::optional<v1::Event> e = q.Next(&next, absl::Seconds(1));
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->namespace_(), "ns1");
    EXPECT_EQ(e->topic(), "/tasks/delete");
    EXPECT_EQ(ContainerOf(*e), "a");
    e = q.Next(&next, absl::Seconds(1));
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(ContainerOf(*e), "b");
    EXPECT_FALSE(q.Next(&next, absl::Milliseconds(10)).has_value());  // nothing more yet
  }
}

TEST(EventQueueTest, AWaitingSubscriberWakesForANewEvent) {
  EventQueue q("ns1");
  std::thread publisher([&] {
    absl::SleepFor(absl::Milliseconds(50));
    PublishDelete(q, "late");
  });
  uint64_t next = 0;
  std::optional<v1::Event> e = q.Next(&next, absl::Seconds(10));
  publisher.join();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(ContainerOf(*e), "late");
}

TEST(EventQueueTest, ASlowSubscriberSkipsToTheWindow) {
  EventQueue q("ns1");
  for (size_t i = 0; i < EventQueue::kMaxEvents + 5; ++i) PublishDelete(q, std::to_string(i));
  uint64_t next = 0;
  std::optional<v1::Event> e = q.Next(&next, absl::Seconds(1));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(ContainerOf(*e), "5");
  EXPECT_EQ(next, 6u);
}

TEST(EventQueueTest, CloseHandsOutWhatWasPublishedThenEnds) {
  EventQueue q("ns1");
  uint64_t next = 0;
  PublishDelete(q, "a");
  ASSERT_TRUE(q.Next(&next, absl::Seconds(1)).has_value());
  PublishDelete(q, "b");
  PublishDelete(q, "c");
  q.Close();
  EXPECT_TRUE(q.Closed());
  std::optional<v1::Event> e = q.Next(&next, absl::Seconds(1));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(ContainerOf(*e), "b");
  e = q.Next(&next, absl::Seconds(1));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(ContainerOf(*e), "c");
  absl::Time start = absl::Now();
  EXPECT_FALSE(q.Next(&next, absl::Seconds(10)).has_value());
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));  // at once, not after the timeout
}

TEST(EventQueueTest, CloseWakesAWaitingSubscriber) {
  EventQueue q("ns1");
  std::thread closer([&] {
    absl::SleepFor(absl::Milliseconds(50));
    q.Close();
  });
  uint64_t next = 0;
  absl::Time start = absl::Now();
  EXPECT_FALSE(q.Next(&next, absl::Seconds(10)).has_value());
  closer.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

}  // namespace
}  // namespace berth::shim
