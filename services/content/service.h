#pragma once

// containerd.services.content.v1.Content over ContentStore. Publishes /content/delete.

#include "containerd/services/content/v1/content.grpc.pb.h"
#include "services/content/content_store.h"
#include "services/events/exchange.h"
#include "services/metadata/gc.h"
#include "services/plugin/plugin.h"
#include "services/plugin/registry.h"

namespace berth::content {

namespace api = ::containerd::services::content::v1;

class ContentService final : public api::Content::Service, public plugin::GrpcService {
 public:
  ContentService(ContentStore& store, events::Exchange& events, metadata::GcScheduler& gc)
      : store_(store), events_(events), gc_(gc) {}

  void Register(grpc::ServerBuilder& builder) override;

  grpc::Status Info(grpc::ServerContext* ctx, const api::InfoRequest* req,
                    api::InfoResponse* resp) override;
  grpc::Status Update(grpc::ServerContext* ctx, const api::UpdateRequest* req,
                      api::UpdateResponse* resp) override;
  grpc::Status List(grpc::ServerContext* ctx, const api::ListContentRequest* req,
                    grpc::ServerWriter<api::ListContentResponse>* writer) override;
  grpc::Status Delete(grpc::ServerContext* ctx, const api::DeleteContentRequest* req,
                      google::protobuf::Empty* resp) override;
  grpc::Status Read(grpc::ServerContext* ctx, const api::ReadContentRequest* req,
                    grpc::ServerWriter<api::ReadContentResponse>* writer) override;
  grpc::Status Status(grpc::ServerContext* ctx, const api::StatusRequest* req,
                      api::StatusResponse* resp) override;
  grpc::Status ListStatuses(grpc::ServerContext* ctx, const api::ListStatusesRequest* req,
                            api::ListStatusesResponse* resp) override;
  grpc::Status Write(grpc::ServerContext* ctx,
                     grpc::ServerReaderWriter<api::WriteContentResponse, api::WriteContentRequest>*
                         stream) override;
  grpc::Status Abort(grpc::ServerContext* ctx, const api::AbortRequest* req,
                     google::protobuf::Empty* resp) override;

 private:
  ContentStore& store_;
  events::Exchange& events_;
  metadata::GcScheduler& gc_;
};

// The content plugins: io.containerd.content.v1.content (the local store) and
// io.containerd.grpc.v1.content (the service).
class ContentPlugin : public plugin::Plugin {
 public:
  ContentPlugin(std::unique_ptr<LocalStore> local, metadata::Db& db)
      : local_(std::move(local)), store_(db, *local_) {}

  LocalStore& local() { return *local_; }

  ContentStore& store() { return store_; }

 private:
  std::unique_ptr<LocalStore> local_;
  ContentStore store_;
};

void RegisterPlugins(plugin::Registry& registry);

}  // namespace berth::content
