#pragma once

// containerd.services.namespaces.v1.Namespaces over metadata::NamespaceStore. Publishes
// /namespaces/create, /namespaces/update and /namespaces/delete after each change.

#include "containerd/services/namespaces/v1/namespace.grpc.pb.h"
#include "services/events/exchange.h"
#include "services/metadata/namespace_store.h"
#include "services/plugin/plugin.h"

namespace berth::services::namespaces {

namespace api = ::containerd::services::namespaces::v1;

class NamespacesService final : public api::Namespaces::Service, public plugin::GrpcService {
 public:
  NamespacesService(metadata::NamespaceStore& store, events::Exchange& events)
      : store_(store), events_(events) {}

  void Register(grpc::ServerBuilder& builder) override;

  grpc::Status Get(grpc::ServerContext* ctx, const api::GetNamespaceRequest* req,
                   api::GetNamespaceResponse* resp) override;
  grpc::Status List(grpc::ServerContext* ctx, const api::ListNamespacesRequest* req,
                    api::ListNamespacesResponse* resp) override;
  grpc::Status Create(grpc::ServerContext* ctx, const api::CreateNamespaceRequest* req,
                      api::CreateNamespaceResponse* resp) override;
  grpc::Status Update(grpc::ServerContext* ctx, const api::UpdateNamespaceRequest* req,
                      api::UpdateNamespaceResponse* resp) override;
  grpc::Status Delete(grpc::ServerContext* ctx, const api::DeleteNamespaceRequest* req,
                      google::protobuf::Empty* resp) override;

 private:
  metadata::NamespaceStore& store_;
  events::Exchange& events_;
};

void RegisterPlugin(plugin::Registry& registry);

}  // namespace berth::services::namespaces
