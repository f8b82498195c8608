#include "services/health/service.h"

#include "absl/time/time.h"
#include "fmt/format.h"
#include "grpcpp/server_builder.h"

#include "lib/rpc/handler.h"
#include "lib/rpc/status.h"

namespace berth::services::health {
namespace {

// How often a Watch looks for a client that went away.
constexpr absl::Duration kCancelPoll = absl::Milliseconds(200);

// Only the server as a whole ("") is known, as containerd's health server has it.
grpc::Status Unknown(const api::HealthCheckRequest& req) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND,
                      fmt::format("health of service {:?}: unknown service", req.service()));
}

}  // namespace

void HealthService::Register(grpc::ServerBuilder& builder) {
  builder.RegisterService(this);
}

void HealthService::Stopping() {
  absl::MutexLock l(&mu_);
  stopping_ = true;
}

grpc::Status HealthService::Check(grpc::ServerContext*, const api::HealthCheckRequest* req,
                                  api::HealthCheckResponse* resp) {
  if (!req->service().empty())
    return Unknown(*req);
  absl::MutexLock l(&mu_);
  resp->set_status(stopping_ ? api::HealthCheckResponse::NOT_SERVING
                             : api::HealthCheckResponse::SERVING);
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(grpc::ServerContext* ctx, const api::HealthCheckRequest* req,
                                  grpc::ServerWriter<api::HealthCheckResponse>* writer) {
  api::HealthCheckResponse resp;
  if (!req->service().empty()) {
    resp.set_status(api::HealthCheckResponse::SERVICE_UNKNOWN);
    writer->Write(resp);
  } else {
    resp.set_status(api::HealthCheckResponse::SERVING);
    if (!writer->Write(resp))
      return grpc::Status(grpc::StatusCode::CANCELLED, "watcher went away");
  }
  absl::MutexLock l(&mu_);
  while (!stopping_ && !ctx->IsCancelled())
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), kCancelPoll);
  if (!stopping_)
    return grpc::Status(grpc::StatusCode::CANCELLED, "watcher went away");
  resp.set_status(api::HealthCheckResponse::NOT_SERVING);
  writer->Write(resp);
  return rpc::ToGrpcStatus(rpc::StoppingError());
}

void RegisterPlugin(plugin::Registry& registry) {
  registry.Add({
      .type = plugin::Type::kGrpc,
      .id = "healthcheck",
      .deps = {},
      .init = [](plugin::InitContext&) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        return std::make_unique<HealthService>();
      },
  });
}

}  // namespace berth::services::health
