#pragma once

// BatchWorker: a thread of its own that takes what is posted in batches, in the order posted:
// each call of `process` gets everything posted since the previous call began. For work that
// leaves a caller's path (deleting directories, removals that wait for a sync) and gains from
// being done many at once. WaitIdle() returns once everything posted before it is processed.
// The destructor processes what is still queued (`stopping` then tells `process` not to wait
// for anything), then joins. Thread-safe.

#include <deque>
#include <functional>
#include <thread>
#include <utility>

#include "absl/synchronization/mutex.h"

namespace berth {

template <typename T>
class BatchWorker {
 public:
  using Process = std::function<void(std::deque<T>& batch, bool stopping)>;

  explicit BatchWorker(Process process) : process_(std::move(process)) {
    thread_ = std::thread([this] { Loop(); });
  }

  ~BatchWorker() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    thread_.join();
  }

  BatchWorker(const BatchWorker&) = delete;
  BatchWorker& operator=(const BatchWorker&) = delete;

  void Post(T item) {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(item));
  }

  void WaitIdle() {
    absl::MutexLock lock(&mu_);
    auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return queue_.empty() && !busy_; };
    mu_.Await(absl::Condition(&idle));
  }

 private:
  void Loop() {
    absl::MutexLock lock(&mu_);
    auto ready = [this]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
    for (;;) {
      mu_.Await(absl::Condition(&ready));
      if (queue_.empty())
        return;  // stopping, and nothing left
      std::deque<T> batch;
      batch.swap(queue_);
      busy_ = true;
      const bool stopping = stopping_;
      mu_.Unlock();
      process_(batch, stopping);
      mu_.Lock();
      busy_ = false;
    }
  }

  const Process process_;
  absl::Mutex mu_;
  std::deque<T> queue_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;  // `process_` runs
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: it starts once the rest is made
};

}  // namespace berth
