#include "services/tasks/preparer.h"

#include "spdlog/spdlog.h"

#include "containerd/events/container.pb.h"
#include "lib/filters/filter.h"

namespace berth::services::tasks {

TaskPreparer::TaskPreparer(metadata::ContainerStore& containers, runtime::TaskManager& manager,
                           events::Exchange& exchange)
    : containers_(containers), manager_(manager), exchange_(exchange) {
  absl::StatusOr<filters::Filter> f =
      filters::Filter::Parse(R"(topic~="^/containers/(create|update|delete)$")");
  if (!f.ok()) {
    spdlog::error("task preparer: {}", f.status().ToString());
    return;
  }
  filter_ = *std::move(f);
  Subscribe();
  thread_ = std::thread([this] { Loop(); });
}

void TaskPreparer::Subscribe() {
  events_ = exchange_.Subscribe(filter_, [this] {
    std::lock_guard lock(mu_);
    wake_ = true;
    cv_.notify_one();
  });
}

TaskPreparer::~TaskPreparer() {
  if (events_ == nullptr)
    return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
  events_->Close();
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
    if (absl::Status s = events_->status(); !s.ok()) {
      // Left behind (a queue overflow): the events missed only mean tasks not prepared.
      spdlog::warn("task preparer: {}; subscribing again", s.ToString());
      events_->Close();
      Subscribe();
    }
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
