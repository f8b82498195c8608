#pragma once

// containerd.services.tasks.v1.Tasks over runtime::TaskManager. Create reads the container
// record (spec, runtime name and options) from the metadata store; everything else goes to the
// task's shim. Task events come from the shims (the TaskManager forwards them). Checkpoint is
// Unimplemented. With a FifoPreopener, the stdio fifos that clients make are opened ahead of
// the creates and exec starts that name them.

#include <memory>

#include "containerd/services/tasks/v1/tasks.grpc.pb.h"
#include "services/metadata/container_store.h"
#include "services/plugin/plugin.h"
#include "services/plugin/registry.h"
#include "services/runtime/task_manager.h"
#include "services/tasks/fifo_preopener.h"
#include "services/tasks/preparer.h"

namespace berth::services::tasks {

namespace api = ::containerd::services::tasks::v1;

class TasksService final : public api::Tasks::Service, public plugin::GrpcService {
 public:
  // `fifos` may be null (the plugin's preopen_fifos = false).
  TasksService(metadata::ContainerStore& containers, runtime::TaskManager& manager,
               events::Exchange& exchange, std::unique_ptr<FifoPreopener> fifos)
      : containers_(containers),
        manager_(manager),
        preparer_(containers, manager, exchange),
        fifos_(std::move(fifos)) {}

  void Register(grpc::ServerBuilder& builder) override;
  grpc::Status Create(grpc::ServerContext* ctx, const api::CreateTaskRequest* req,
                      api::CreateTaskResponse* resp) override;
  grpc::Status Start(grpc::ServerContext* ctx, const api::StartRequest* req,
                     api::StartResponse* resp) override;
  grpc::Status Delete(grpc::ServerContext* ctx, const api::DeleteTaskRequest* req,
                      api::DeleteResponse* resp) override;
  grpc::Status DeleteProcess(grpc::ServerContext* ctx, const api::DeleteProcessRequest* req,
                             api::DeleteResponse* resp) override;
  grpc::Status Get(grpc::ServerContext* ctx, const api::GetRequest* req,
                   api::GetResponse* resp) override;
  grpc::Status List(grpc::ServerContext* ctx, const api::ListTasksRequest* req,
                    api::ListTasksResponse* resp) override;
  grpc::Status Kill(grpc::ServerContext* ctx, const api::KillRequest* req,
                    google::protobuf::Empty* resp) override;
  grpc::Status Exec(grpc::ServerContext* ctx, const api::ExecProcessRequest* req,
                    google::protobuf::Empty* resp) override;
  grpc::Status ResizePty(grpc::ServerContext* ctx, const api::ResizePtyRequest* req,
                         google::protobuf::Empty* resp) override;
  grpc::Status CloseIO(grpc::ServerContext* ctx, const api::CloseIORequest* req,
                       google::protobuf::Empty* resp) override;
  grpc::Status Pause(grpc::ServerContext* ctx, const api::PauseTaskRequest* req,
                     google::protobuf::Empty* resp) override;
  grpc::Status Resume(grpc::ServerContext* ctx, const api::ResumeTaskRequest* req,
                      google::protobuf::Empty* resp) override;
  grpc::Status ListPids(grpc::ServerContext* ctx, const api::ListPidsRequest* req,
                        api::ListPidsResponse* resp) override;
  grpc::Status Checkpoint(grpc::ServerContext* ctx, const api::CheckpointTaskRequest* req,
                          api::CheckpointTaskResponse* resp) override;
  grpc::Status Update(grpc::ServerContext* ctx, const api::UpdateTaskRequest* req,
                      google::protobuf::Empty* resp) override;
  grpc::Status Metrics(grpc::ServerContext* ctx, const api::MetricsRequest* req,
                       api::MetricsResponse* resp) override;
  grpc::Status Wait(grpc::ServerContext* ctx, const api::WaitRequest* req,
                    api::WaitResponse* resp) override;

 private:
  metadata::ContainerStore& containers_;
  runtime::TaskManager& manager_;
  TaskPreparer preparer_;
  std::unique_ptr<FifoPreopener> fifos_;
};

void RegisterPlugin(plugin::Registry& registry);

}  // namespace berth::services::tasks
