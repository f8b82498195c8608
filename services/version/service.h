#pragma once

// containerd.services.version.v1.Version: berth's version and git revision.

#include "containerd/services/version/v1/version.grpc.pb.h"
#include "services/plugin/plugin.h"
#include "services/plugin/registry.h"

namespace berth::services::version {

namespace api = ::containerd::services::version::v1;

class VersionService final : public api::Version::Service, public plugin::GrpcService {
 public:
  void Register(grpc::ServerBuilder& builder) override;
  grpc::Status Version(grpc::ServerContext* ctx, const google::protobuf::Empty* req,
                       api::VersionResponse* resp) override;
};

void RegisterPlugin(plugin::Registry& registry);

}  // namespace berth::services::version
