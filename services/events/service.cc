#include "services/events/service.h"

#include "grpcpp/server_builder.h"
#include "spdlog/spdlog.h"

#include "lib/base/status_macros.h"
#include "lib/rpc/handler.h"
#include "lib/rpc/status.h"

namespace berth::events {
namespace {

// Streams a subscription to one client. Lives until gRPC calls OnDone.
class SubscribeReactor : public grpc::ServerWriteReactor<Envelope> {
 public:
  SubscribeReactor(Exchange& exchange, filters::Filter filter) {
    // Headers go out first, so that a client knows it is subscribed before any event; events
    // published from then on are queued.
    StartSendInitialMetadata();
    auto sub = exchange.Subscribe(std::move(filter), [this] { Pump(); });
    {
      absl::MutexLock l(&mu_);
      sub_ = std::move(sub);
    }
    Pump();  // for anything queued before sub_ was set
  }

  void OnSendInitialMetadataDone(bool) override { Pump(); }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock l(&mu_);
      writing_ = false;
      if (!ok) {
        if (finished_)
          return;
        finished_ = true;  // the client went away; the call must still be finished
      }
    }
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "subscriber went away"));
      return;
    }
    Pump();
  }

  void OnCancel() override {
    sub_->Close();
    Pump();
  }

  void OnDone() override {
    sub_->Close();
    delete this;
  }

 private:
  // Starts the next write if none is in flight, or finishes the call when the subscription
  // has ended (overflow or cancel) and its queue is drained. Decides under the lock, acts
  // outside it, so that a reaction run inline by gRPC never meets a held lock.
  void Pump() {
    bool write = false;
    absl::Status end;
    {
      absl::MutexLock l(&mu_);
      if (sub_ == nullptr || writing_ || finished_)
        return;
      if (sub_->Pop(&next_)) {
        writing_ = write = true;
      } else {
        end = sub_->status();
        if (end.ok())
          return;
        finished_ = true;
      }
    }
    if (write) {
      StartWrite(&next_);  // next_ is not touched again until OnWriteDone
    } else {
      Finish(rpc::ToGrpcStatus(end));
    }
  }

  absl::Mutex mu_;
  std::shared_ptr<Subscription> sub_;  // set once in the constructor, under mu_
  Envelope next_;                      // the envelope being written; guarded by mu_
  bool writing_ = false;               // guarded by mu_
  bool finished_ = false;              // guarded by mu_
};

// Finishes at once with an error (bad filter).
class ErrorReactor : public grpc::ServerWriteReactor<Envelope> {
 public:
  explicit ErrorReactor(const absl::Status& s) { Finish(rpc::ToGrpcStatus(s)); }

  void OnDone() override { delete this; }
};

}  // namespace

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

grpc::ServerWriteReactor<Envelope>* EventsService::Subscribe(grpc::CallbackServerContext*,
                                                             const api::SubscribeRequest* req) {
  std::vector<std::string> exprs(req->filters().begin(), req->filters().end());
  absl::StatusOr<filters::Filter> filter = filters::Filter::ParseAll(exprs);
  if (!filter.ok())
    return new ErrorReactor(filter.status());
  return new SubscribeReactor(exchange_, *std::move(filter));
}

}  // namespace berth::events
