#pragma once

// containerd.services.leases.v1.Leases over metadata::LeaseStore.

#include "containerd/services/leases/v1/leases.grpc.pb.h"
#include "services/metadata/gc.h"
#include "services/metadata/lease_store.h"
#include "services/plugin/plugin.h"
#include "services/plugin/registry.h"

namespace berth::services::leases {

namespace api = ::containerd::services::leases::v1;

class LeasesService final : public api::Leases::Service, public plugin::GrpcService {
 public:
  LeasesService(metadata::LeaseStore& store, metadata::GcScheduler& gc) : store_(store), gc_(gc) {}

  void Register(grpc::ServerBuilder& builder) override;
  grpc::Status Create(grpc::ServerContext* ctx, const api::CreateRequest* req,
                      api::CreateResponse* resp) override;
  grpc::Status Delete(grpc::ServerContext* ctx, const api::DeleteRequest* req,
                      google::protobuf::Empty* resp) override;
  grpc::Status List(grpc::ServerContext* ctx, const api::ListRequest* req,
                    api::ListResponse* resp) override;
  grpc::Status AddResource(grpc::ServerContext* ctx, const api::AddResourceRequest* req,
                           google::protobuf::Empty* resp) override;
  grpc::Status DeleteResource(grpc::ServerContext* ctx, const api::DeleteResourceRequest* req,
                              google::protobuf::Empty* resp) override;
  grpc::Status ListResources(grpc::ServerContext* ctx, const api::ListResourcesRequest* req,
                             api::ListResourcesResponse* resp) override;

 private:
  metadata::LeaseStore& store_;
  metadata::GcScheduler& gc_;
};

void RegisterPlugin(plugin::Registry& registry);

}  // namespace berth::services::leases
