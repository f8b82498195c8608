#pragma once

// containerd.services.containers.v1.Containers over metadata::ContainerStore. The spec, the
// runtime options and the extensions are kept as the client sent them (Any type URL and
// value). Publishes /containers/create, /containers/update and /containers/delete
// (containerd.events.Container*), and asks the GC to run after a delete (a container is a
// root for its snapshot).

#include "containerd/services/containers/v1/containers.grpc.pb.h"
#include "services/events/exchange.h"
#include "services/metadata/container_store.h"
#include "services/metadata/gc.h"
#include "services/plugin/plugin.h"
#include "services/plugin/registry.h"

namespace berth::services::containers {

namespace api = ::containerd::services::containers::v1;

class ContainersService final : public api::Containers::Service, public plugin::GrpcService {
 public:
  ContainersService(metadata::ContainerStore& store, events::Exchange& events,
                    metadata::GcScheduler& gc)
      : store_(store), events_(events), gc_(gc) {}

  void Register(grpc::ServerBuilder& builder) override;
  grpc::Status Get(grpc::ServerContext* ctx, const api::GetContainerRequest* req,
                   api::GetContainerResponse* resp) override;
  grpc::Status List(grpc::ServerContext* ctx, const api::ListContainersRequest* req,
                    api::ListContainersResponse* resp) override;
  grpc::Status ListStream(grpc::ServerContext* ctx, const api::ListContainersRequest* req,
                          grpc::ServerWriter<api::ListContainerMessage>* writer) override;
  grpc::Status Create(grpc::ServerContext* ctx, const api::CreateContainerRequest* req,
                      api::CreateContainerResponse* resp) override;
  grpc::Status Update(grpc::ServerContext* ctx, const api::UpdateContainerRequest* req,
                      api::UpdateContainerResponse* resp) override;
  grpc::Status Delete(grpc::ServerContext* ctx, const api::DeleteContainerRequest* req,
                      google::protobuf::Empty* resp) override;

 private:
  // The containers of `ns` that match `filters` (containerd's syntax, ORed).
  absl::StatusOr<std::vector<metadata::Container>> Matching(
      const std::string& ns, const google::protobuf::RepeatedPtrField<std::string>& filters);

  metadata::ContainerStore& store_;
  events::Exchange& events_;
  metadata::GcScheduler& gc_;
};

void RegisterPlugin(plugin::Registry& registry);

}  // namespace berth::services::containers
