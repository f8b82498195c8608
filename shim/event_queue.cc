#include "shim/event_queue.h"

#include "shim/proto_time.h"

namespace berth::shim {

void EventQueue::PublishAny(const std::string& topic, google::protobuf::Any event) {
  v1::Event e;
  *e.mutable_timestamp() = NowProtoTime();
  e.set_namespace_(namespace_);
  e.set_topic(topic);
  *e.mutable_event() = std::move(event);
  absl::MutexLock lock(&mu_);
  events_.push_back(std::move(e));
  if (events_.size() > kMaxEvents) {
    events_.pop_front();
    ++first_seq_;
  }
}

std::optional<v1::Event> EventQueue::Next(uint64_t* next, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || *next < first_seq_ + events_.size();
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (*next >= first_seq_ + events_.size())
    return std::nullopt;  // timed out, or closed with nothing left for this subscriber
  if (*next < first_seq_)
    *next = first_seq_;
  return events_[(*next)++ - first_seq_];
}

bool EventQueue::Closed() {
  absl::MutexLock lock(&mu_);
  return closed_;
}

void EventQueue::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

}  // namespace berth::shim
