#include "services/version/service.h"

#include "grpcpp/server_builder.h"

#include "lib/base/version.h"

namespace berth::services::version {

void VersionService::Register(grpc::ServerBuilder& builder) {
  builder.RegisterService(this);
}

grpc::Status VersionService::Version(grpc::ServerContext*, const google::protobuf::Empty*,
                                     api::VersionResponse* resp) {
  resp->set_version(std::string(berth::Version()));
  resp->set_revision(std::string(berth::Revision()));
  return grpc::Status::OK;
}

void RegisterPlugin(plugin::Registry& registry) {
  registry.Add({
      .type = plugin::Type::kGrpc,
      .id = "version",
      .deps = {},
      .init = [](plugin::InitContext&) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        return std::make_unique<VersionService>();
      },
  });
}

}  // namespace berth::services::version
