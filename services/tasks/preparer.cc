#include "services/tasks/preparer.h"

#include "spdlog/spdlog.h"

#include "containerd/events/container.pb.h"
#include "lib/filters/filter.h"

namespace berth::services::tasks {

TaskPreparer::TaskPreparer(metadata::ContainerStore& containers, runtime::TaskManager& manager,
                           events::Exchange& exchange)
    : containers_(containers), manager_(manager) {
  absl::StatusOr<filters::Filter> f =
      filters::Filter::Parse(R"(topic~="^/containers/(create|update|delete)$")");
  if (!f.ok()) {
    spdlog::error("task preparer: {}", f.status().ToString());
    return;
  }
  events_ = exchange.Subscribe(*f, [this] {
    std::lock_guard lock(mu_);
    wake_ = true;
    cv_.notify_one();
  });
  thread_ = std::thread([this] { Loop(); });
}

TaskPreparer::~TaskPreparer() {
  if (events_ == nullptr)
    return;
  events_->Close();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void TaskPreparer::Loop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || wake_; });
      if (stopping_)
        return;
      wake_ = false;
    }
    events::Envelope e;
    while (events_->Pop(&e)) Handle(e);
  }
}

void TaskPreparer::Handle(const events::Envelope& e) {
  if (e.topic() == "/containers/update") {
    ::containerd::events::ContainerUpdate ev;
    if (ev.ParseFromString(e.event().value()))
      manager_.Unprepare(e.namespace_(), ev.id());
    return;
  }
  if (e.topic() == "/containers/delete") {
    ::containerd::events::ContainerDelete ev;
    if (ev.ParseFromString(e.event().value()))
      manager_.Unprepare(e.namespace_(), ev.id());
    return;
  }
  ::containerd::events::ContainerCreate ev;
  if (!ev.ParseFromString(e.event().value()))
    return;
  absl::StatusOr<metadata::Container> c = containers_.Get(e.namespace_(), ev.id());
  if (!c.ok() || !c->spec.has_value())
    return;  // deleted since
  manager_.Prepare(e.namespace_(), c->id, c->runtime_name, c->spec->value);
}

}  // namespace berth::services::tasks
