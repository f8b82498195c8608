#include "shim/shim_service.h"

#include <unistd.h>

#include "fmt/format.h"
#include "spdlog/spdlog.h"

#include "containerd/runc/options/oci.pb.h"
#include "lib/base/status.h"
#include "lib/base/version.h"
#include "lib/mount/proto.h"
#include "shim/metrics.h"
#include "shim/proto_time.h"

namespace berth::shim {
namespace {

// exited_at only once the process has exited: unset while it runs, as containerd's shim leaves
// it (a present Timestamp of 0 s reads as 1970 in a Go client, not as the zero time).
template <typename Response>
void SetExitedAt(absl::Time t, Response* resp) {
  if (t != absl::Time())
    *resp->mutable_exited_at() = ToProtoTime(t);
}

containerd::v1::types::Status ToProto(State s) {
  switch (s) {
    case State::kCreated:
      return containerd::v1::types::CREATED;
    case State::kRunning:
      return containerd::v1::types::RUNNING;
    case State::kPaused:
      return containerd::v1::types::PAUSED;
    case State::kStopped:
      return containerd::v1::types::STOPPED;
  }
  return containerd::v1::types::UNKNOWN;
}

absl::Status Reply(std::string_view method, const absl::Status& s) {
  if (!s.ok())
    spdlog::debug("rpc failed method={} error={}", method, s.ToString());
  return s;
}

IoConfig Io(const std::string& in, const std::string& out, const std::string& err, bool tty) {
  IoConfig io;
  io.stdin_path = in;
  io.stdout_path = out;
  io.stderr_path = err;
  io.terminal = tty;
  return io;
}

}  // namespace

absl::Status ShimService::CheckId(const std::string& id) const {
  if (!id.empty() && id != task_.id())
    return NotFoundError("task", id);
  return absl::OkStatus();
}

absl::Status ShimService::State(const v1::StateRequest& req, v1::StateResponse* resp) {
  absl::StatusOr<ProcessStatus> st = task_.Status(req.exec_id());
  if (!st.ok())
    return Reply("State", st.status());
  resp->set_id(req.exec_id().empty() ? task_.id() : req.exec_id());
  resp->set_exec_id(req.exec_id());
  resp->set_pid(static_cast<uint32_t>(st->pid));
  resp->set_status(ToProto(st->state));
  resp->set_stdin(st->io.stdin_path);
  resp->set_stdout(st->io.stdout_path);
  resp->set_stderr(st->io.stderr_path);
  resp->set_terminal(st->io.terminal);
  resp->set_exit_status(static_cast<uint32_t>(st->exit_status));
  SetExitedAt(st->exited_at, resp);
  return absl::OkStatus();
}

absl::Status ShimService::Create(const v1::CreateTaskRequest& req, v1::CreateTaskResponse* resp) {
  if (absl::Status s = CheckId(req.id()); !s.ok())
    return s;
  CreateConfig config{.bundle = req.bundle(),
                      .io = Io(req.stdin(), req.stdout(), req.stderr(), req.terminal()),
                      .runtime_binary = "",
                      .runtime_root = ""};
  config.rootfs = mount::MountsFromProto(req.rootfs());
  if (req.has_options()) {
    containerd::runc::v1::Options opts;
    if (req.options().UnpackTo(&opts)) {
      config.runtime_binary = opts.binary_name();
      config.runtime_root = opts.root();
    }
  }
  absl::StatusOr<pid_t> pid = task_.Create(config);
  if (!pid.ok())
    return Reply("Create", pid.status());
  resp->set_pid(static_cast<uint32_t>(*pid));
  return absl::OkStatus();
}

absl::Status ShimService::Start(const v1::StartRequest& req, v1::StartResponse* resp) {
  absl::StatusOr<pid_t> pid = task_.Start(req.exec_id());
  if (!pid.ok())
    return Reply("Start", pid.status());
  resp->set_pid(static_cast<uint32_t>(*pid));
  return absl::OkStatus();
}

absl::Status ShimService::Delete(const v1::DeleteRequest& req, v1::DeleteResponse* resp) {
  absl::StatusOr<ProcessStatus> st = task_.Delete(req.exec_id());
  if (!st.ok())
    return Reply("Delete", st.status());
  resp->set_pid(static_cast<uint32_t>(st->pid));
  resp->set_exit_status(static_cast<uint32_t>(st->exit_status));
  SetExitedAt(st->exited_at, resp);
  if (req.exec_id().empty())
    on_gone_();
  return absl::OkStatus();
}

absl::Status ShimService::Pids(const v1::PidsRequest&, v1::PidsResponse* resp) {
  absl::StatusOr<std::vector<Task::PidInfo>> pids = task_.Pids();
  if (!pids.ok())
    return Reply("Pids", pids.status());
  for (const Task::PidInfo& p : *pids) {
    containerd::v1::types::ProcessInfo* info = resp->add_processes();
    info->set_pid(static_cast<uint32_t>(p.pid));
    if (!p.exec_id.empty()) {  // as containerd's runc shim: the exec's id in runc's details
      containerd::runc::v1::ProcessDetails details;
      details.set_exec_id(p.exec_id);
      info->mutable_info()->PackFrom(details);
    }
  }
  return absl::OkStatus();
}

absl::Status ShimService::Pause(const v1::PauseRequest&, google::protobuf::Empty*) {
  return Reply("Pause", task_.Pause());
}

absl::Status ShimService::Resume(const v1::ResumeRequest&, google::protobuf::Empty*) {
  return Reply("Resume", task_.Resume());
}

absl::Status ShimService::Kill(const v1::KillRequest& req, google::protobuf::Empty*) {
  return Reply("Kill", task_.Kill(req.exec_id(), static_cast<int>(req.signal()), req.all()));
}

absl::Status ShimService::Exec(const v1::ExecProcessRequest& req, google::protobuf::Empty*) {
  IoConfig io = Io(req.stdin(), req.stdout(), req.stderr(), req.terminal());
  return Reply("Exec", task_.AddExec(req.exec_id(), io, req.spec().value()));
}

absl::Status ShimService::ResizePty(const v1::ResizePtyRequest& req, google::protobuf::Empty*) {
  return Reply("ResizePty", task_.ResizePty(req.exec_id(), req.width(), req.height()));
}

absl::Status ShimService::CloseIO(const v1::CloseIORequest& req, google::protobuf::Empty*) {
  return Reply("CloseIO", task_.CloseIO(req.exec_id()));
}

absl::Status ShimService::Update(const v1::UpdateTaskRequest& req, google::protobuf::Empty*) {
  return Reply("Update", task_.Update(req.resources().value()));
}

absl::Status ShimService::Wait(const v1::WaitRequest& req, v1::WaitResponse* resp) {
  absl::StatusOr<ProcessStatus> st = task_.Wait(req.exec_id());
  if (!st.ok())
    return Reply("Wait", st.status());
  resp->set_exit_status(static_cast<uint32_t>(st->exit_status));
  SetExitedAt(st->exited_at, resp);
  return absl::OkStatus();
}

absl::Status ShimService::Stats(const v1::StatsRequest&, v1::StatsResponse* resp) {
  bool v2 = false;
  absl::StatusOr<linux::CgroupStats> st = task_.Stats(&v2);
  if (!st.ok())
    return Reply("Stats", st.status());
  if (v2)
    resp->mutable_stats()->PackFrom(V2Metrics(*st));
  else
    resp->mutable_stats()->PackFrom(V1Metrics(*st));
  return absl::OkStatus();
}

absl::Status ShimService::Connect(const v1::ConnectRequest&, v1::ConnectResponse* resp) {
  resp->set_shim_pid(static_cast<uint32_t>(::getpid()));
  resp->set_task_pid(static_cast<uint32_t>(task_.InitPid()));
  resp->set_version(std::string(Version()));
  return absl::OkStatus();
}

absl::Status ShimService::Shutdown(const v1::ShutdownRequest& req, google::protobuf::Empty*) {
  if (!req.now() && !task_.Gone() && task_.InitPid() != 0)
    return absl::OkStatus();  // a task is still there: keep serving
  on_gone_();
  return absl::OkStatus();
}

absl::Status ShimService::Events(const v1::EventsRequest&, const ttrpc::Server::Send& send) {
  uint64_t next = 0;
  for (;;) {
    std::optional<v1::Event> e = events_.Next(&next, absl::Milliseconds(200));
    if (!e) {
      if (events_.Closed())
        return absl::OkStatus();
      continue;
    }
    if (!send(e->SerializeAsString()))
      return absl::OkStatus();  // berthd went away
  }
}

namespace {

constexpr char kService[] = "berth.shim.v1.Shim";

// Parses the request, runs `fn`, serializes the reply. A request that does not parse is
// InvalidArgument naming the method.
template <typename Req, typename Resp>
void AddUnary(ttrpc::Server& server, ShimService* svc, const char* method,
              absl::Status (ShimService::*fn)(const Req&, Resp*)) {
  server.RegisterUnary(
      kService, method, [svc, method, fn](const std::string& in, std::string* out) {
        Req req;
        if (!req.ParseFromString(in)) {
          return InvalidArgument(fmt::format("shim {}: request does not parse", method));
        }
        Resp resp;
        absl::Status s = (svc->*fn)(req, &resp);
        if (s.ok())
          *out = resp.SerializeAsString();
        return s;
      });
}

}  // namespace

void ShimService::Register(ttrpc::Server& server) {
  AddUnary(server, this, "State", &ShimService::State);
  AddUnary(server, this, "Create", &ShimService::Create);
  AddUnary(server, this, "Start", &ShimService::Start);
  AddUnary(server, this, "Delete", &ShimService::Delete);
  AddUnary(server, this, "Pids", &ShimService::Pids);
  AddUnary(server, this, "Pause", &ShimService::Pause);
  AddUnary(server, this, "Resume", &ShimService::Resume);
  AddUnary(server, this, "Kill", &ShimService::Kill);
  AddUnary(server, this, "Exec", &ShimService::Exec);
  AddUnary(server, this, "ResizePty", &ShimService::ResizePty);
  AddUnary(server, this, "CloseIO", &ShimService::CloseIO);
  AddUnary(server, this, "Update", &ShimService::Update);
  AddUnary(server, this, "Wait", &ShimService::Wait);
  AddUnary(server, this, "Stats", &ShimService::Stats);
  AddUnary(server, this, "Connect", &ShimService::Connect);
  AddUnary(server, this, "Shutdown", &ShimService::Shutdown);
  server.RegisterStream(kService, "Events",
                        [this](const std::string& in, const ttrpc::Server::Send& send) {
                          v1::EventsRequest req;
                          if (!req.ParseFromString(in))
                            return InvalidArgument("shim Events: request does not parse");
                          return Events(req, send);
                        });
}

}  // namespace berth::shim
