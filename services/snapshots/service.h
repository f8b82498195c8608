#pragma once

// containerd.services.snapshots.v1.Snapshots over the SnapshotStores. Publishes
// /snapshot/prepare, /snapshot/commit and /snapshot/remove.

#include "containerd/services/snapshots/v1/snapshots.grpc.pb.h"
#include "services/events/exchange.h"
#include "services/plugin/plugin.h"
#include "services/plugin/registry.h"
#include "services/snapshots/stores.h"

namespace berth::services::snapshots {

namespace api = ::containerd::services::snapshots::v1;

class SnapshotsService final : public api::Snapshots::Service, public plugin::GrpcService {
 public:
  SnapshotsService(berth::snapshots::SnapshotStores& stores, events::Exchange& events)
      : stores_(stores), events_(events) {}

  void Register(grpc::ServerBuilder& builder) override;
  grpc::Status Prepare(grpc::ServerContext* ctx, const api::PrepareSnapshotRequest* req,
                       api::PrepareSnapshotResponse* resp) override;
  grpc::Status View(grpc::ServerContext* ctx, const api::ViewSnapshotRequest* req,
                    api::ViewSnapshotResponse* resp) override;
  grpc::Status Mounts(grpc::ServerContext* ctx, const api::MountsRequest* req,
                      api::MountsResponse* resp) override;
  grpc::Status Commit(grpc::ServerContext* ctx, const api::CommitSnapshotRequest* req,
                      google::protobuf::Empty* resp) override;
  grpc::Status Remove(grpc::ServerContext* ctx, const api::RemoveSnapshotRequest* req,
                      google::protobuf::Empty* resp) override;
  grpc::Status Stat(grpc::ServerContext* ctx, const api::StatSnapshotRequest* req,
                    api::StatSnapshotResponse* resp) override;
  grpc::Status Update(grpc::ServerContext* ctx, const api::UpdateSnapshotRequest* req,
                      api::UpdateSnapshotResponse* resp) override;
  grpc::Status List(grpc::ServerContext* ctx, const api::ListSnapshotsRequest* req,
                    grpc::ServerWriter<api::ListSnapshotsResponse>* writer) override;
  grpc::Status Usage(grpc::ServerContext* ctx, const api::UsageRequest* req,
                     api::UsageResponse* resp) override;
  grpc::Status Cleanup(grpc::ServerContext* ctx, const api::CleanupRequest* req,
                       google::protobuf::Empty* resp) override;

 private:
  berth::snapshots::SnapshotStores& stores_;
  events::Exchange& events_;
};

void RegisterPlugin(plugin::Registry& registry);

}  // namespace berth::services::snapshots
