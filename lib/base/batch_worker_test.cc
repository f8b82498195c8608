#include "lib/base/batch_worker.h"

#include <atomic>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace berth {
namespace {

TEST(BatchWorkerTest, ProcessesInOrderInBatchesAndWaitIdleWaits) {
  absl::Notification release;
  std::vector<int> seen;  // only the worker's thread touches it until WaitIdle returns
  std::vector<size_t> batches;
  BatchWorker<int> worker([&](std::deque<int>& batch, bool) {
    release.WaitForNotification();
    batches.push_back(batch.size());
    for (int v : batch) seen.push_back(v);
  });
  for (int i = 0; i < 100; ++i) worker.Post(i);
  release.Notify();
  worker.WaitIdle();
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], i);
  EXPECT_LT(batches.size(), 100u) << "each item a batch of its own";
}

TEST(BatchWorkerTest, TheDestructorProcessesWhatIsLeft) {
  std::atomic<int> done = 0;
  absl::Notification release;
  {
    BatchWorker<int> worker([&](std::deque<int>& batch, bool) {
      release.WaitForNotification();
      done += static_cast<int>(batch.size());
    });
    worker.Post(1);
    worker.Post(2);
    release.Notify();
  }
  EXPECT_EQ(done, 2);
}

}  // namespace
}  // namespace berth
