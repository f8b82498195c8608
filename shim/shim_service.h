#pragma once

// berth.shim.v1.Shim over one Task: translates protos to Task calls, nothing more; errors go
// back as they are (ttrpc carries code and message). Served over ttrpc (lib/ttrpc), not gRPC:
// a deliberate change from DESIGN.md's "gRPC over the shim's own socket", for the shim's
// memory and start time (gRPC alone was 5.5 MB of each shim's RSS and most of its 60-80 ms
// start), as containerd moved its shims to ttrpc. Events stream from the EventQueue until
// the client goes or the shim shuts down. `on_gone` runs when the task is deleted or Shutdown
// asks the shim to exit.

#include <functional>

#include "google/protobuf/empty.pb.h"

#include "berth/shim/v1/shim.pb.h"
#include "lib/ttrpc/server.h"
#include "shim/event_queue.h"
#include "shim/task/task.h"

namespace berth::shim {

class ShimService {
 public:
  ShimService(Task& task, EventQueue& events, std::function<void()> on_gone)
      : task_(task), events_(events), on_gone_(std::move(on_gone)) {}

  absl::Status State(const v1::StateRequest& req, v1::StateResponse* resp);
  absl::Status Create(const v1::CreateTaskRequest& req, v1::CreateTaskResponse* resp);
  absl::Status Start(const v1::StartRequest& req, v1::StartResponse* resp);
  absl::Status Delete(const v1::DeleteRequest& req, v1::DeleteResponse* resp);
  absl::Status Pids(const v1::PidsRequest& req, v1::PidsResponse* resp);
  absl::Status Pause(const v1::PauseRequest& req, google::protobuf::Empty* resp);
  absl::Status Resume(const v1::ResumeRequest& req, google::protobuf::Empty* resp);
  absl::Status Kill(const v1::KillRequest& req, google::protobuf::Empty* resp);
  absl::Status Exec(const v1::ExecProcessRequest& req, google::protobuf::Empty* resp);
  absl::Status ResizePty(const v1::ResizePtyRequest& req, google::protobuf::Empty* resp);
  absl::Status CloseIO(const v1::CloseIORequest& req, google::protobuf::Empty* resp);
  absl::Status Update(const v1::UpdateTaskRequest& req, google::protobuf::Empty* resp);
  absl::Status Wait(const v1::WaitRequest& req, v1::WaitResponse* resp);
  absl::Status Stats(const v1::StatsRequest& req, v1::StatsResponse* resp);
  absl::Status Connect(const v1::ConnectRequest& req, v1::ConnectResponse* resp);
  absl::Status Shutdown(const v1::ShutdownRequest& req, google::protobuf::Empty* resp);

  // Registers every method as service "berth.shim.v1.Shim" on `server`.
  void Register(ttrpc::Server& server);

 private:
  absl::Status CheckId(const std::string& id) const;
  absl::Status Events(const v1::EventsRequest& req, const ttrpc::Server::Send& send);

  Task& task_;
  EventQueue& events_;
  std::function<void()> on_gone_;
};

}  // namespace berth::shim
