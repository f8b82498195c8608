#pragma once

// Exchange is berthd's event bus (containerd's events exchange): services publish after their
// transaction commits, clients forward events (shims, later), and subscribers receive the
// envelopes that match their filters (containerd's filter syntax over `namespace`, `topic` and
// `event.<field>`).
//
// A slow subscriber never blocks a publisher: each subscription has a bounded queue, and a
// subscription whose queue overflows is closed with ResourceExhausted (its stream ends with
// that error) instead of holding events back. Thread-safe.

#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/message.h"

#include "containerd/services/events/v1/events.pb.h"
#include "lib/filters/filter.h"
#include "services/plugin/plugin.h"

namespace berth::events {

using Envelope = ::containerd::services::events::v1::Envelope;

// Packs a message into an Any as containerd's typeurl does: the type URL is the message's full
// name with no prefix ("containerd.events.NamespaceCreate").
google::protobuf::Any PackEvent(const google::protobuf::Message& event);

// InvalidArgument unless `topic` is "/a/b…" with identifier components.
absl::Status ValidateTopic(const std::string& topic);

class Subscription {
 public:
  // Takes the next envelope if there is one. False when the queue is empty.
  bool Pop(Envelope* out);
  // OK while open; ResourceExhausted after an overflow; Cancelled after Close().
  absl::Status status() const;
  // Stops delivery; the exchange forgets the subscription. Idempotent.
  void Close();
  ~Subscription();

 private:
  friend class Exchange;

  Subscription(class Exchange& ex, filters::Filter filter, std::function<void()> notify,
               size_t capacity)
      : exchange_(ex),
        filter_(std::move(filter)),
        notify_(std::move(notify)),
        capacity_(capacity) {}

  // Called by the exchange with its own lock held; calls notify_ without our lock.
  void Offer(const Envelope& e);

  class Exchange& exchange_;
  const filters::Filter filter_;
  const std::function<void()> notify_;  // wakes the consumer; must not block
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<Envelope> queue_;  // guarded by mu_
  absl::Status status_;         // guarded by mu_
  bool registered_ = true;      // guarded by exchange_.mu_
};

class Exchange : public plugin::Plugin {
 public:
  static constexpr size_t kDefaultQueueCapacity = 4096;

  // Publishes `event` under `topic` in namespace `ns`, stamped now.
  absl::Status Publish(const std::string& ns, const std::string& topic,
                       const google::protobuf::Message& event);
  absl::Status PublishAny(const std::string& ns, const std::string& topic,
                          const google::protobuf::Any& event);
  // Delivers an envelope made elsewhere (its timestamp kept); validates namespace and topic.
  absl::Status Forward(const Envelope& envelope);

  // `notify` is called (from the publisher's thread) whenever the queue becomes non-empty
  // or the subscription ends; it must be cheap and must not call back into the exchange.
  std::shared_ptr<Subscription> Subscribe(filters::Filter filter, std::function<void()> notify,
                                          size_t capacity = kDefaultQueueCapacity);

 private:
  friend class Subscription;
  void Remove(Subscription* s);

  absl::Mutex mu_;
  std::list<Subscription*> subscribers_;  // guarded by mu_; each owned by its shared_ptr
};

}  // namespace berth::events
