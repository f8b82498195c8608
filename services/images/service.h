#pragma once

// containerd.services.images.v1.Images over metadata::ImageStore. Publishes /images/create,
// /images/update and /images/delete (event types in containerd.services.images.v1, as
// containerd has them).

#include "containerd/services/images/v1/images.grpc.pb.h"
#include "services/events/exchange.h"
#include "services/metadata/gc.h"
#include "services/metadata/image_store.h"
#include "services/plugin/plugin.h"
#include "services/plugin/registry.h"

namespace berth::services::images {

namespace api = ::containerd::services::images::v1;

class ImagesService final : public api::Images::Service, public plugin::GrpcService {
 public:
  ImagesService(metadata::ImageStore& store, events::Exchange& events, metadata::GcScheduler& gc)
      : store_(store), events_(events), gc_(gc) {}

  void Register(grpc::ServerBuilder& builder) override;
  grpc::Status Get(grpc::ServerContext* ctx, const api::GetImageRequest* req,
                   api::GetImageResponse* resp) override;
  grpc::Status List(grpc::ServerContext* ctx, const api::ListImagesRequest* req,
                    api::ListImagesResponse* resp) override;
  grpc::Status Create(grpc::ServerContext* ctx, const api::CreateImageRequest* req,
                      api::CreateImageResponse* resp) override;
  grpc::Status Update(grpc::ServerContext* ctx, const api::UpdateImageRequest* req,
                      api::UpdateImageResponse* resp) override;
  grpc::Status Delete(grpc::ServerContext* ctx, const api::DeleteImageRequest* req,
                      google::protobuf::Empty* resp) override;

 private:
  metadata::ImageStore& store_;
  events::Exchange& events_;
  metadata::GcScheduler& gc_;
};

void RegisterPlugin(plugin::Registry& registry);

}  // namespace berth::services::images
