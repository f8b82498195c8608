#include "services/events/service.h"

#include "absl/cleanup/cleanup.h"
#include "grpcpp/server_builder.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/rpc/handler.h"
#include "lib/rpc/status.h"

namespace berth::events {
namespace {

// How often a waiting Subscribe looks whether its client has gone.
constexpr absl::Duration kCancelPoll = absl::Milliseconds(200);

}  // namespace

// Set by the subscription's notify (a new event), by Stopping, or by neither (a poll for a
// cancelled client).
class EventsService::Waker {
 public:
  void Wake(bool stop) {
    absl::MutexLock l(&mu_);
    woken_ = true;
    stop_ = stop_ || stop;
  }

  // Waits up to `timeout` for a Wake; false once berthd is stopping.
  bool Wait(absl::Duration timeout) {
    absl::MutexLock l(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&woken_), timeout);
    woken_ = false;
    return !stop_;
  }

 private:
  absl::Mutex mu_;
  bool woken_ = false;  // guarded by mu_
  bool stop_ = false;   // guarded by mu_
};

void EventsService::Register(grpc::ServerBuilder& builder) {
  builder.RegisterService(this);
}

grpc::Status EventsService::Publish(grpc::ServerContext* ctx, const api::PublishRequest* req,
                                    google::protobuf::Empty*) {
  return rpc::Handle(*ctx, "events.Publish", [&](const std::string& ns) {
    return exchange_.PublishAny(ns, req->topic(), req->event());
  });
}

grpc::Status EventsService::Forward(grpc::ServerContext*, const api::ForwardRequest* req,
                                    google::protobuf::Empty*) {
  return rpc::HandleUnscoped("events.Forward",
                             [&]() { return exchange_.Forward(req->envelope()); });
}

void EventsService::Stopping() {
  absl::MutexLock l(&mu_);
  stopping_ = true;
  for (Waker* w : running_) w->Wake(/*stop=*/true);
}

grpc::Status EventsService::Subscribe(grpc::ServerContext* ctx, const api::SubscribeRequest* req,
                                      grpc::ServerWriter<Envelope>* writer) {
  std::vector<std::string> exprs(req->filters().begin(), req->filters().end());
  absl::StatusOr<filters::Filter> filter = filters::Filter::ParseAll(exprs);
  if (!filter.ok())
    return rpc::ToGrpcStatus(filter.status());
  auto waker = std::make_shared<Waker>();  // the subscription's notify may run a little longer
  {
    absl::MutexLock l(&mu_);
    if (stopping_)
      return rpc::ToGrpcStatus(rpc::StoppingError());
    running_.insert(waker.get());
  }
  absl::Cleanup forget = [&] {
    absl::MutexLock l(&mu_);
    running_.erase(waker.get());
  };
  std::shared_ptr<Subscription> sub =
      exchange_.Subscribe(*std::move(filter), [waker] { waker->Wake(/*stop=*/false); });
  // Headers go out now, so that a client knows it is subscribed before any event; events
  // published from then on are queued.
  writer->SendInitialMetadata();
  Envelope e;
  for (bool running = true;; running = waker->Wait(kCancelPoll)) {
    while (sub->Pop(&e)) {
      if (!writer->Write(e))
        return grpc::Status(grpc::StatusCode::CANCELLED, "subscriber went away");
    }
    if (absl::Status s = sub->status(); !s.ok())
      return rpc::ToGrpcStatus(s);  // cut off as too slow
    if (!running)
      return rpc::ToGrpcStatus(rpc::StoppingError());
    if (ctx->IsCancelled())
      return grpc::Status(grpc::StatusCode::CANCELLED, "subscriber went away");
  }
}

}  // namespace berth::events
