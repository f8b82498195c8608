#pragma once

// TaskPreparer has the TaskManager prepare a container's task as soon as the container is
// created (runtime::TaskManager::Prepare), so that the tasks.Create that usually follows within
// milliseconds (ctr run, CRI's CreateContainer) finds the bundle written and a shim serving on
// it. It follows the exchange's /containers/ events on a thread of its own, off every reply's
// path: a create prepares, an update or a delete discards what was prepared for that id.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "lib/filters/filter.h"
#include "services/events/exchange.h"
#include "services/metadata/container_store.h"
#include "services/runtime/task_manager.h"

namespace berth::services::tasks {

class TaskPreparer {
 public:
  TaskPreparer(metadata::ContainerStore& containers, runtime::TaskManager& manager,
               events::Exchange& exchange);
  ~TaskPreparer();

 private:
  void Subscribe();
  void Loop();
  void Handle(const events::Envelope& e);

  metadata::ContainerStore& containers_;
  runtime::TaskManager& manager_;
  events::Exchange& exchange_;
  filters::Filter filter_;
  std::shared_ptr<events::Subscription> events_;  // replaced only by the loop's thread
  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;      // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace berth::services::tasks
