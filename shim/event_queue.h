#pragma once

// Task events waiting for the shim's subscribers (berthd). Every subscriber sees every event
// published after the shim started, in order; the queue keeps the last kMaxEvents. Thread-safe.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/any.pb.h"

#include "berth/shim/v1/shim.pb.h"

namespace berth::shim {

class EventQueue {
 public:
  static constexpr size_t kMaxEvents = 1024;

  explicit EventQueue(std::string ns) : namespace_(std::move(ns)) {}

  // Wraps `event` (a generated message: lite Any packs by static type) in an Any with the
  // timestamp and namespace.
  template <typename M>
  void Publish(const std::string& topic, const M& event) {
    google::protobuf::Any any;
    any.PackFrom(event);
    PublishAny(topic, std::move(any));
  }

  void PublishAny(const std::string& topic, google::protobuf::Any event);

  // The event with sequence number `*next` (advancing it), waiting up to `timeout`; nullopt on
  // timeout, or once Close has been called and every event published before it has been
  // returned. Events older than the queue's window are skipped.
  std::optional<v1::Event> Next(uint64_t* next, absl::Duration timeout);

  // Wakes every waiter. Events already published are still handed out (a subscriber gets the
  // /tasks/delete that the shim's last call published), then Next returns nullopt at once.
  void Close();
  bool Closed();

 private:
  std::string namespace_;
  absl::Mutex mu_;
  std::deque<v1::Event> events_;  // GUARDED_BY(mu_)
  uint64_t first_seq_ = 0;        // GUARDED_BY(mu_): sequence number of events_.front()
  bool closed_ = false;           // GUARDED_BY(mu_)
};

}  // namespace berth::shim
