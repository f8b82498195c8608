#pragma once

// grpc.health.v1.Health, containerd's "healthcheck" plugin: SERVING while berthd serves (the
// server as a whole, service ""). Clients ask it to learn that the daemon is up (the Go
// client's IsServing, which dockerd's containerd supervisor calls). Watch sends SERVING, then
// NOT_SERVING when berthd stops (and ends: a watcher never holds the stop).

#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"

#include "services/plugin/plugin.h"
#include "services/plugin/registry.h"

namespace berth::services::health {

namespace api = ::grpc::health::v1;

class HealthService final : public api::Health::Service, public plugin::GrpcService {
 public:
  void Register(grpc::ServerBuilder& builder) override;
  void Stopping() override;

  grpc::Status Check(grpc::ServerContext* ctx, const api::HealthCheckRequest* req,
                     api::HealthCheckResponse* resp) override;
  grpc::Status Watch(grpc::ServerContext* ctx, const api::HealthCheckRequest* req,
                     grpc::ServerWriter<api::HealthCheckResponse>* writer) override;

 private:
  absl::Mutex mu_;
  bool stopping_ = false;  // guarded by mu_
};

void RegisterPlugin(plugin::Registry& registry);

}  // namespace berth::services::health
