#pragma once

// berth.shim.v1.Shim over one Task: translates protos to Task calls and Status to grpc::Status
// (through lib/rpc's mapping), nothing more. Events stream from the EventQueue until the
// client cancels or the shim shuts down. `on_gone` runs when the task is deleted or Shutdown
// asks the shim to exit.

#include <functional>

#include "berth/shim/v1/shim.grpc.pb.h"
#include "shim/event_queue.h"
#include "shim/task/task.h"

namespace berth::shim {

class ShimService final : public v1::Shim::Service {
 public:
  ShimService(Task& task, EventQueue& events, std::function<void()> on_gone)
      : task_(task), events_(events), on_gone_(std::move(on_gone)) {}

  grpc::Status State(grpc::ServerContext*, const v1::StateRequest*, v1::StateResponse*) override;
  grpc::Status Create(grpc::ServerContext*, const v1::CreateTaskRequest*,
                      v1::CreateTaskResponse*) override;
  grpc::Status Start(grpc::ServerContext*, const v1::StartRequest*, v1::StartResponse*) override;
  grpc::Status Delete(grpc::ServerContext*, const v1::DeleteRequest*, v1::DeleteResponse*) override;
  grpc::Status Pids(grpc::ServerContext*, const v1::PidsRequest*, v1::PidsResponse*) override;
  grpc::Status Pause(grpc::ServerContext*, const v1::PauseRequest*,
                     google::protobuf::Empty*) override;
  grpc::Status Resume(grpc::ServerContext*, const v1::ResumeRequest*,
                      google::protobuf::Empty*) override;
  grpc::Status Kill(grpc::ServerContext*, const v1::KillRequest*,
                    google::protobuf::Empty*) override;
  grpc::Status Exec(grpc::ServerContext*, const v1::ExecProcessRequest*,
                    google::protobuf::Empty*) override;
  grpc::Status ResizePty(grpc::ServerContext*, const v1::ResizePtyRequest*,
                         google::protobuf::Empty*) override;
  grpc::Status CloseIO(grpc::ServerContext*, const v1::CloseIORequest*,
                       google::protobuf::Empty*) override;
  grpc::Status Update(grpc::ServerContext*, const v1::UpdateTaskRequest*,
                      google::protobuf::Empty*) override;
  grpc::Status Wait(grpc::ServerContext*, const v1::WaitRequest*, v1::WaitResponse*) override;
  grpc::Status Stats(grpc::ServerContext*, const v1::StatsRequest*, v1::StatsResponse*) override;
  grpc::Status Connect(grpc::ServerContext*, const v1::ConnectRequest*,
                       v1::ConnectResponse*) override;
  grpc::Status Shutdown(grpc::ServerContext*, const v1::ShutdownRequest*,
                        google::protobuf::Empty*) override;
  grpc::Status Events(grpc::ServerContext*, const v1::EventsRequest*,
                      grpc::ServerWriter<v1::Event>*) override;

 private:
  grpc::Status CheckId(const std::string& id) const;

  Task& task_;
  EventQueue& events_;
  std::function<void()> on_gone_;
};

}  // namespace berth::shim
