#include "services/events/exchange.h"

#include <chrono>

#include "absl/time/clock.h"
#include "fmt/format.h"
#include "google/protobuf/util/time_util.h"

#include "lib/base/identifiers.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::events {
namespace {

// Fields of an envelope for filters: namespace, topic, and event.<field> for the event's own
// scalar fields (looked up by reflection when the type is known to this binary).
std::optional<std::string> EnvelopeField(const Envelope& e, std::span<const std::string> path) {
  if (path.size() == 1 && path[0] == "namespace")
    return e.namespace_();
  if (path.size() == 1 && path[0] == "topic")
    return e.topic();
  if (path.size() != 2 || path[0] != "event")
    return std::nullopt;
  const google::protobuf::Descriptor* d =
      google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(
          e.event().type_url().substr(e.event().type_url().rfind('/') + 1));
  if (d == nullptr)
    return std::nullopt;
  const google::protobuf::FieldDescriptor* f = d->FindFieldByName(path[1]);
  if (f == nullptr || f->is_repeated() ||
      f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
    return std::nullopt;
  }
  std::unique_ptr<google::protobuf::Message> m(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(d)->New());
  if (!m->ParseFromString(e.event().value()))
    return std::nullopt;
  return m->GetReflection()->GetString(*m, f);
}

}  // namespace

google::protobuf::Any PackEvent(const google::protobuf::Message& event) {
  google::protobuf::Any any;
  any.set_type_url(event.GetDescriptor()->full_name());
  event.SerializeToString(any.mutable_value());
  return any;
}

absl::Status ValidateTopic(const std::string& topic) {
  if (topic.empty())
    return InvalidArgument("topic must not be empty");
  if (topic[0] != '/')
    return InvalidArgument(fmt::format("topic {:?}: must start with '/'", topic));
  size_t start = 1;
  while (start <= topic.size()) {
    size_t end = topic.find('/', start);
    if (end == std::string::npos)
      end = topic.size();
    std::string part = topic.substr(start, end - start);
    if (absl::Status s = ValidateIdentifier(part); !s.ok()) {
      return InvalidArgument(fmt::format("topic {:?}: component {:?} is not valid", topic, part));
    }
    start = end + 1;
  }
  return absl::OkStatus();
}

bool Subscription::Pop(Envelope* out) {
  absl::MutexLock l(&mu_);
  if (queue_.empty())
    return false;
  *out = std::move(queue_.front());
  queue_.pop_front();
  return true;
}

absl::Status Subscription::status() const {
  absl::MutexLock l(&mu_);
  return status_;
}

void Subscription::Close() {
  exchange_.Remove(this);
  absl::MutexLock l(&mu_);
  if (status_.ok())
    status_ = absl::CancelledError("subscription closed");
}

Subscription::~Subscription() {
  exchange_.Remove(this);
}

void Subscription::Offer(const Envelope& e) {
  filters::FuncAdaptor adaptor(
      [&](std::span<const std::string> path) { return EnvelopeField(e, path); });
  if (!filter_.Match(adaptor))
    return;
  bool wake = false;
  {
    absl::MutexLock l(&mu_);
    if (!status_.ok())
      return;
    if (queue_.size() >= capacity_) {
      status_ = absl::ResourceExhaustedError(fmt::format(
          "event subscriber too slow: more than {} events queued; subscribe again", capacity_));
      queue_.clear();
    } else {
      queue_.push_back(e);
    }
    wake = true;
  }
  if (wake)
    notify_();
}

absl::Status Exchange::Publish(const std::string& ns, const std::string& topic,
                               const google::protobuf::Message& event) {
  return PublishAny(ns, topic, PackEvent(event));
}

absl::Status Exchange::PublishAny(const std::string& ns, const std::string& topic,
                                  const google::protobuf::Any& event) {
  Envelope e;
  // To the nanosecond, as containerd's (protobuf's GetCurrentTime gives whole seconds here).
  *e.mutable_timestamp() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      absl::ToUnixNanos(absl::Now()));
  e.set_namespace_(ns);
  e.set_topic(topic);
  *e.mutable_event() = event;
  return Forward(e);
}

absl::Status Exchange::Forward(const Envelope& e) {
  BERTH_RETURN_IF_ERROR(ValidateIdentifier("namespace", e.namespace_()));
  BERTH_RETURN_IF_ERROR(ValidateTopic(e.topic()));
  if (e.event().type_url().empty()) {
    return InvalidArgument(fmt::format("event on topic {:?}: has no type", e.topic()));
  }
  absl::MutexLock l(&mu_);
  for (Subscription* s : subscribers_) s->Offer(e);
  return absl::OkStatus();
}

std::shared_ptr<Subscription> Exchange::Subscribe(filters::Filter filter,
                                                  std::function<void()> notify, size_t capacity) {
  std::shared_ptr<Subscription> s(
      new Subscription(*this, std::move(filter), std::move(notify), capacity));
  absl::MutexLock l(&mu_);
  subscribers_.push_back(s.get());
  return s;
}

void Exchange::Remove(Subscription* s) {
  absl::MutexLock l(&mu_);
  if (!s->registered_)
    return;
  s->registered_ = false;
  subscribers_.remove(s);
}

}  // namespace berth::events
