#include "shim/shim_service.h"

#include <unistd.h>

#include "fmt/format.h"
#include "google/protobuf/util/time_util.h"
#include "spdlog/spdlog.h"

#include "containerd/cgroups/v1/metrics.pb.h"
#include "containerd/cgroups/v2/metrics.pb.h"
#include "containerd/runc/options/oci.pb.h"
#include "lib/base/status.h"
#include "lib/base/version.h"
#include "lib/rpc/status.h"

namespace berth::shim {
namespace {

using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp ToProto(absl::Time t) {
  if (t == absl::Time())
    return {};
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
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

grpc::Status Reply(std::string_view method, const absl::Status& s) {
  if (!s.ok())
    spdlog::debug("rpc failed method={} error={}", method, s.ToString());
  return rpc::ToGrpcStatus(s);
}

IoConfig Io(const std::string& in, const std::string& out, const std::string& err, bool tty) {
  return {.stdin_path = in,
          .stdout_path = out,
          .stderr_path = err,
          .terminal = tty,
          .width = 0,
          .height = 0};
}

}  // namespace

grpc::Status ShimService::CheckId(const std::string& id) const {
  if (!id.empty() && id != task_.id())
    return rpc::ToGrpcStatus(NotFoundError("task", id));
  return grpc::Status::OK;
}

grpc::Status ShimService::State(grpc::ServerContext*, const v1::StateRequest* req,
                                v1::StateResponse* resp) {
  absl::StatusOr<ProcessStatus> st = task_.Status(req->exec_id());
  if (!st.ok())
    return Reply("State", st.status());
  resp->set_id(req->exec_id().empty() ? task_.id() : req->exec_id());
  resp->set_exec_id(req->exec_id());
  resp->set_pid(static_cast<uint32_t>(st->pid));
  resp->set_status(ToProto(st->state));
  resp->set_stdin(st->io.stdin_path);
  resp->set_stdout(st->io.stdout_path);
  resp->set_stderr(st->io.stderr_path);
  resp->set_terminal(st->io.terminal);
  resp->set_exit_status(static_cast<uint32_t>(st->exit_status));
  *resp->mutable_exited_at() = ToProto(st->exited_at);
  return grpc::Status::OK;
}

grpc::Status ShimService::Create(grpc::ServerContext*, const v1::CreateTaskRequest* req,
                                 v1::CreateTaskResponse* resp) {
  if (grpc::Status s = CheckId(req->id()); !s.ok())
    return s;
  CreateConfig config{.bundle = req->bundle(),
                      .io = Io(req->stdin(), req->stdout(), req->stderr(), req->terminal()),
                      .runtime_binary = "",
                      .runtime_root = ""};
  if (req->has_options()) {
    containerd::runc::v1::Options opts;
    if (req->options().UnpackTo(&opts)) {
      config.runtime_binary = opts.binary_name();
      config.runtime_root = opts.root();
    }
  }
  absl::StatusOr<pid_t> pid = task_.Create(config);
  if (!pid.ok())
    return Reply("Create", pid.status());
  resp->set_pid(static_cast<uint32_t>(*pid));
  return grpc::Status::OK;
}

grpc::Status ShimService::Start(grpc::ServerContext*, const v1::StartRequest* req,
                                v1::StartResponse* resp) {
  absl::StatusOr<pid_t> pid = task_.Start(req->exec_id());
  if (!pid.ok())
    return Reply("Start", pid.status());
  resp->set_pid(static_cast<uint32_t>(*pid));
  return grpc::Status::OK;
}

grpc::Status ShimService::Delete(grpc::ServerContext*, const v1::DeleteRequest* req,
                                 v1::DeleteResponse* resp) {
  absl::StatusOr<ProcessStatus> st = task_.Delete(req->exec_id());
  if (!st.ok())
    return Reply("Delete", st.status());
  resp->set_pid(static_cast<uint32_t>(st->pid));
  resp->set_exit_status(static_cast<uint32_t>(st->exit_status));
  *resp->mutable_exited_at() = ToProto(st->exited_at);
  if (req->exec_id().empty())
    on_gone_();
  return grpc::Status::OK;
}

grpc::Status ShimService::Pids(grpc::ServerContext*, const v1::PidsRequest*,
                               v1::PidsResponse* resp) {
  absl::StatusOr<std::vector<pid_t>> pids = task_.Pids();
  if (!pids.ok())
    return Reply("Pids", pids.status());
  for (pid_t p : *pids) resp->add_processes()->set_pid(static_cast<uint32_t>(p));
  return grpc::Status::OK;
}

grpc::Status ShimService::Pause(grpc::ServerContext*, const v1::PauseRequest*,
                                google::protobuf::Empty*) {
  return Reply("Pause", task_.Pause());
}

grpc::Status ShimService::Resume(grpc::ServerContext*, const v1::ResumeRequest*,
                                 google::protobuf::Empty*) {
  return Reply("Resume", task_.Resume());
}

grpc::Status ShimService::Kill(grpc::ServerContext*, const v1::KillRequest* req,
                               google::protobuf::Empty*) {
  return Reply("Kill", task_.Kill(req->exec_id(), static_cast<int>(req->signal()), req->all()));
}

grpc::Status ShimService::Exec(grpc::ServerContext*, const v1::ExecProcessRequest* req,
                               google::protobuf::Empty*) {
  IoConfig io = Io(req->stdin(), req->stdout(), req->stderr(), req->terminal());
  return Reply("Exec", task_.AddExec(req->exec_id(), io, req->spec().value()));
}

grpc::Status ShimService::ResizePty(grpc::ServerContext*, const v1::ResizePtyRequest* req,
                                    google::protobuf::Empty*) {
  return Reply("ResizePty", task_.ResizePty(req->exec_id(), req->width(), req->height()));
}

grpc::Status ShimService::CloseIO(grpc::ServerContext*, const v1::CloseIORequest* req,
                                  google::protobuf::Empty*) {
  return Reply("CloseIO", task_.CloseIO(req->exec_id()));
}

grpc::Status ShimService::Update(grpc::ServerContext*, const v1::UpdateTaskRequest* req,
                                 google::protobuf::Empty*) {
  return Reply("Update", task_.Update(req->resources().value()));
}

grpc::Status ShimService::Wait(grpc::ServerContext*, const v1::WaitRequest* req,
                               v1::WaitResponse* resp) {
  absl::StatusOr<ProcessStatus> st = task_.Wait(req->exec_id());
  if (!st.ok())
    return Reply("Wait", st.status());
  resp->set_exit_status(static_cast<uint32_t>(st->exit_status));
  *resp->mutable_exited_at() = ToProto(st->exited_at);
  return grpc::Status::OK;
}

grpc::Status ShimService::Stats(grpc::ServerContext*, const v1::StatsRequest*,
                                v1::StatsResponse* resp) {
  bool v2 = false;
  absl::StatusOr<linux::CgroupStats> st = task_.Stats(&v2);
  if (!st.ok())
    return Reply("Stats", st.status());
  if (v2) {
    io::containerd::cgroups::v2::Metrics m;
    m.mutable_pids()->set_current(st->pids_current);
    m.mutable_pids()->set_limit(st->pids_limit);
    m.mutable_cpu()->set_usage_usec(st->cpu_usage_ns / 1000);
    m.mutable_cpu()->set_user_usec(st->cpu_user_ns / 1000);
    m.mutable_cpu()->set_system_usec(st->cpu_system_ns / 1000);
    m.mutable_memory()->set_usage(st->memory_usage);
    m.mutable_memory()->set_usage_limit(st->memory_limit);
    m.mutable_memory_events()->set_oom_kill(st->oom_kills);
    resp->mutable_stats()->PackFrom(m);
    return grpc::Status::OK;
  }
  io::containerd::cgroups::v1::Metrics m;
  m.mutable_pids()->set_current(st->pids_current);
  m.mutable_pids()->set_limit(st->pids_limit);
  m.mutable_cpu()->mutable_usage()->set_total(st->cpu_usage_ns);
  m.mutable_cpu()->mutable_usage()->set_user(st->cpu_user_ns);
  m.mutable_cpu()->mutable_usage()->set_kernel(st->cpu_system_ns);
  m.mutable_cpu()->mutable_throttling()->set_periods(st->cpu_periods);
  m.mutable_cpu()->mutable_throttling()->set_throttled_periods(st->cpu_throttled_periods);
  m.mutable_cpu()->mutable_throttling()->set_throttled_time(st->cpu_throttled_ns);
  m.mutable_memory()->set_total_rss(st->rss);
  m.mutable_memory()->set_total_cache(st->cache);
  m.mutable_memory()->mutable_usage()->set_usage(st->memory_usage);
  m.mutable_memory()->mutable_usage()->set_max(st->memory_max_usage);
  m.mutable_memory()->mutable_usage()->set_limit(st->memory_limit);
  m.mutable_memory()->mutable_usage()->set_failcnt(st->memory_failcnt);
  m.mutable_memory_oom_control()->set_oom_kill(st->oom_kills);
  resp->mutable_stats()->PackFrom(m);
  return grpc::Status::OK;
}

grpc::Status ShimService::Connect(grpc::ServerContext*, const v1::ConnectRequest*,
                                  v1::ConnectResponse* resp) {
  resp->set_shim_pid(static_cast<uint32_t>(::getpid()));
  resp->set_task_pid(static_cast<uint32_t>(task_.InitPid()));
  resp->set_version(std::string(Version()));
  return grpc::Status::OK;
}

grpc::Status ShimService::Shutdown(grpc::ServerContext*, const v1::ShutdownRequest* req,
                                   google::protobuf::Empty*) {
  if (!req->now() && !task_.Gone() && task_.InitPid() != 0)
    return grpc::Status::OK;  // a task is still there: keep serving
  on_gone_();
  return grpc::Status::OK;
}

grpc::Status ShimService::Events(grpc::ServerContext* ctx, const v1::EventsRequest*,
                                 grpc::ServerWriter<v1::Event>* writer) {
  uint64_t next = 0;
  while (!ctx->IsCancelled()) {
    std::optional<v1::Event> e = events_.Next(&next, absl::Milliseconds(200));
    if (!e) {
      if (events_.Closed())
        break;
      continue;
    }
    if (!writer->Write(*e))
      break;
  }
  return grpc::Status::OK;
}

}  // namespace berth::shim
