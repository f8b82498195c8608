#pragma once

// containerd.services.events.v1.Events over the Exchange. Subscribe uses gRPC's callback API:
// a reactor per subscriber with one write in flight, so a slow subscriber holds no thread.

#include "containerd/services/events/v1/events.grpc.pb.h"
#include "services/events/exchange.h"
#include "services/plugin/plugin.h"
#include "services/plugin/registry.h"

namespace berth::events {

namespace api = ::containerd::services::events::v1;

class EventsService final : public api::Events::WithCallbackMethod_Subscribe<api::Events::Service>,
                            public plugin::GrpcService {
 public:
  explicit EventsService(Exchange& exchange) : exchange_(exchange) {}

  void Register(grpc::ServerBuilder& builder) override;

  grpc::Status Publish(grpc::ServerContext* ctx, const api::PublishRequest* req,
                       google::protobuf::Empty* resp) override;
  grpc::Status Forward(grpc::ServerContext* ctx, const api::ForwardRequest* req,
                       google::protobuf::Empty* resp) override;
  grpc::ServerWriteReactor<Envelope>* Subscribe(grpc::CallbackServerContext* ctx,
                                                const api::SubscribeRequest* req) override;

 private:
  Exchange& exchange_;
};

// Registers the exchange (io.containerd.event.v1.exchange) and the service
// (io.containerd.grpc.v1.events).
void RegisterPlugins(plugin::Registry& registry);

}  // namespace berth::events
