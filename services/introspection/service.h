#pragma once

// containerd.services.introspection.v1.Introspection: the plugins berthd loaded (with their
// status, as `ctr plugins ls` shows it) and a server UUID that is stable across restarts.

#include <string>

#include "containerd/services/introspection/v1/introspection.grpc.pb.h"
#include "services/plugin/plugin.h"
#include "services/plugin/registry.h"

namespace berth::services::introspection {

namespace api = ::containerd::services::introspection::v1;

class IntrospectionService final : public api::Introspection::Service, public plugin::GrpcService {
 public:
  // `registry` must outlive the service; it is read only after loading has finished.
  IntrospectionService(const plugin::Registry& registry, std::string uuid)
      : registry_(registry), uuid_(std::move(uuid)) {}

  void Register(grpc::ServerBuilder& builder) override;
  grpc::Status Plugins(grpc::ServerContext* ctx, const api::PluginsRequest* req,
                       api::PluginsResponse* resp) override;
  grpc::Status Server(grpc::ServerContext* ctx, const google::protobuf::Empty* req,
                      api::ServerResponse* resp) override;

 private:
  const plugin::Registry& registry_;
  std::string uuid_;
};

// The UUID kept in `path`, created (random, version 4) on first use.
absl::StatusOr<std::string> LoadOrCreateUuid(const std::string& path);

// The proto form of one load result. Skipped plugins carry an init_err whose message starts
// with "skip plugin", which ctr shows as status "skip".
api::Plugin PluginToProto(const plugin::LoadResult& r);

void RegisterPlugin(plugin::Registry& registry);

}  // namespace berth::services::introspection
