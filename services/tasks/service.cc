#include "services/tasks/service.h"

#include "absl/cleanup/cleanup.h"
#include "absl/time/clock.h"
#include "fmt/format.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/server_builder.h"

#include "lib/base/identifiers.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/filters/filter.h"
#include "lib/mount/proto.h"
#include "lib/rpc/handler.h"
#include "services/metadata/plugin.h"

namespace berth::services::tasks {
namespace {

using google::protobuf::util::TimeUtil;
using runtime::ShimTask;
namespace types = ::containerd::v1::types;

runtime::TaskIo Io(const std::string& in, const std::string& out, const std::string& err,
                   bool terminal) {
  return {.stdin_path = in, .stdout_path = out, .stderr_path = err, .terminal = terminal};
}

// exited_at stays unset for a process that has not exited, as containerd leaves it: a Go
// client reads an unset time as the zero time, a set one of 0 s as 1970.
template <typename From, typename To>
void CopyExitedAt(const From& from, To* to) {
  if (from.has_exited_at())
    *to->mutable_exited_at() = from.exited_at();
}

types::Process ToProcess(const std::string& container_id,
                         const runtime::shimapi::StateResponse& s) {
  types::Process p;
  p.set_container_id(container_id);
  p.set_id(s.id());
  p.set_pid(s.pid());
  p.set_status(s.status());
  p.set_stdin(s.stdin());
  p.set_stdout(s.stdout());
  p.set_stderr(s.stderr());
  p.set_terminal(s.terminal());
  p.set_exit_status(s.exit_status());
  CopyExitedAt(s, &p);
  return p;
}

template <typename Request>
std::vector<std::string> StdioPaths(const Request& r) {
  return {r.stdin(), r.stdout(), r.stderr()};
}

std::string ExecKey(const std::string& ns, const std::string& container_id,
                    const std::string& exec_id) {
  return fmt::format("{}/{}/{}", ns, container_id, exec_id);
}

// Some namespace has a container `id` whose task is not created yet: fifos named after it are
// its task's stdio, and the create that will name them comes from berthd's client.
bool AwaitsItsTask(metadata::ContainerStore& containers, runtime::TaskManager& manager,
                   const std::string& id) {
  absl::StatusOr<std::vector<std::string>> namespaces = containers.NamespacesOf(id);
  if (!namespaces.ok())
    return false;
  for (const std::string& ns : *namespaces) {
    if (absl::IsNotFound(manager.Get(ns, id).status()))
      return true;
  }
  return false;
}

absl::Status NeedExecId(const std::string& exec_id) {
  if (exec_id.empty())
    return InvalidArgument("exec id must not be empty");
  return ValidateIdentifier("exec", exec_id);
}

}  // namespace

void TasksService::Register(grpc::ServerBuilder& builder) {
  builder.RegisterService(this);
}

grpc::Status TasksService::Create(grpc::ServerContext* ctx, const api::CreateTaskRequest* req,
                                  api::CreateTaskResponse* resp) {
  return rpc::Handle(*ctx, "tasks.Create", [&](const std::string& ns) -> absl::Status {
    // The shim has opened the init's stdio when its create returns, or never will.
    absl::Cleanup release = [&] {
      if (fifos_)
        fifos_->Release(StdioPaths(*req));
    };
    BERTH_ASSIGN_OR_RETURN(metadata::Container c, containers_.Get(ns, req->container_id()));
    if (req->has_checkpoint()) {
      return Unimplemented(
          fmt::format("task {:?}: restoring from a checkpoint is not supported", c.id));
    }
    runtime::CreateTaskOptions opts;
    opts.ns = ns;
    opts.id = c.id;
    opts.runtime_name = c.runtime_name;
    if (!c.spec || c.spec->value.empty())
      return InvalidArgument(fmt::format("container {:?}: has no spec", c.id));
    opts.spec_json = c.spec->value;
    opts.rootfs = mount::MountsFromProto(req->rootfs());
    opts.io = Io(req->stdin(), req->stdout(), req->stderr(), req->terminal());
    if (req->has_options()) {
      opts.options = req->options();
    } else if (c.runtime_options) {
      google::protobuf::Any any;
      any.set_type_url(c.runtime_options->type_url);
      any.set_value(c.runtime_options->value);
      opts.options = any;
    }
    BERTH_ASSIGN_OR_RETURN(std::shared_ptr<ShimTask> task, manager_.Create(std::move(opts)));
    resp->set_container_id(c.id);
    resp->set_pid(task->created_pid());
    return absl::OkStatus();
  });
}

grpc::Status TasksService::Start(grpc::ServerContext* ctx, const api::StartRequest* req,
                                 api::StartResponse* resp) {
  return rpc::Handle(*ctx, "tasks.Start", [&](const std::string& ns) -> absl::Status {
    // An exec's stdio is opened by the shim when it starts the exec.
    absl::Cleanup release = [&] {
      if (fifos_ && !req->exec_id().empty())
        fifos_->ReleaseExpected(ExecKey(ns, req->container_id(), req->exec_id()));
    };
    BERTH_ASSIGN_OR_RETURN(std::shared_ptr<ShimTask> task, manager_.Get(ns, req->container_id()));
    BERTH_ASSIGN_OR_RETURN(uint32_t pid, task->Start(req->exec_id()));
    resp->set_pid(pid);
    return absl::OkStatus();
  });
}

grpc::Status TasksService::Delete(grpc::ServerContext* ctx, const api::DeleteTaskRequest* req,
                                  api::DeleteResponse* resp) {
  return rpc::Handle(*ctx, "tasks.Delete", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(runtime::shimapi::DeleteResponse exit,
                           manager_.Delete(ns, req->container_id()));
    resp->set_id(req->container_id());
    resp->set_pid(exit.pid());
    resp->set_exit_status(exit.exit_status());
    CopyExitedAt(exit, resp);
    return absl::OkStatus();
  });
}

grpc::Status TasksService::DeleteProcess(grpc::ServerContext* ctx,
                                         const api::DeleteProcessRequest* req,
                                         api::DeleteResponse* resp) {
  return rpc::Handle(*ctx, "tasks.DeleteProcess", [&](const std::string& ns) -> absl::Status {
    BERTH_RETURN_IF_ERROR(NeedExecId(req->exec_id()));
    if (fifos_)
      fifos_->ReleaseExpected(ExecKey(ns, req->container_id(), req->exec_id()));
    BERTH_ASSIGN_OR_RETURN(std::shared_ptr<ShimTask> task, manager_.Get(ns, req->container_id()));
    BERTH_ASSIGN_OR_RETURN(runtime::shimapi::DeleteResponse exit, task->Delete(req->exec_id()));
    resp->set_id(req->exec_id());
    resp->set_pid(exit.pid());
    resp->set_exit_status(exit.exit_status());
    CopyExitedAt(exit, resp);
    return absl::OkStatus();
  });
}

grpc::Status TasksService::Get(grpc::ServerContext* ctx, const api::GetRequest* req,
                               api::GetResponse* resp) {
  return rpc::Handle(*ctx, "tasks.Get", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(std::shared_ptr<ShimTask> task, manager_.Get(ns, req->container_id()));
    BERTH_ASSIGN_OR_RETURN(runtime::shimapi::StateResponse st, task->State(req->exec_id()));
    *resp->mutable_process() = ToProcess(req->container_id(), st);
    return absl::OkStatus();
  });
}

grpc::Status TasksService::List(grpc::ServerContext* ctx, const api::ListTasksRequest*,
                                api::ListTasksResponse* resp) {
  return rpc::Handle(*ctx, "tasks.List", [&](const std::string& ns) -> absl::Status {
    for (const std::shared_ptr<ShimTask>& task : manager_.List(ns)) {
      const std::string& id = task->bundle().id();
      absl::StatusOr<runtime::shimapi::StateResponse> st = task->State("");
      if (st.ok()) {
        *resp->add_tasks() = ToProcess(id, *st);
      } else if (!absl::IsNotFound(st.status())) {
        types::Process* p = resp->add_tasks();  // a shim that does not answer: state unknown
        p->set_container_id(id);
        p->set_id(id);
        p->set_status(types::UNKNOWN);
      }
    }
    return absl::OkStatus();
  });
}

grpc::Status TasksService::Kill(grpc::ServerContext* ctx, const api::KillRequest* req,
                                google::protobuf::Empty*) {
  return rpc::Handle(*ctx, "tasks.Kill", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(std::shared_ptr<ShimTask> task, manager_.Get(ns, req->container_id()));
    return task->Kill(req->exec_id(), req->signal(), req->all());
  });
}

grpc::Status TasksService::Exec(grpc::ServerContext* ctx, const api::ExecProcessRequest* req,
                                google::protobuf::Empty*) {
  return rpc::Handle(*ctx, "tasks.Exec", [&](const std::string& ns) -> absl::Status {
    BERTH_RETURN_IF_ERROR(NeedExecId(req->exec_id()));
    if (!req->has_spec())
      return InvalidArgument(fmt::format("exec {:?}: a process spec is required", req->exec_id()));
    BERTH_ASSIGN_OR_RETURN(std::shared_ptr<ShimTask> task, manager_.Get(ns, req->container_id()));
    const std::string key = ExecKey(ns, req->container_id(), req->exec_id());
    if (fifos_)
      fifos_->Expect(key, StdioPaths(*req));
    absl::Status s =
        task->Exec(req->exec_id(), Io(req->stdin(), req->stdout(), req->stderr(), req->terminal()),
                   req->spec());
    if (!s.ok() && fifos_)
      fifos_->ReleaseExpected(key);
    return s;
  });
}

grpc::Status TasksService::ResizePty(grpc::ServerContext* ctx, const api::ResizePtyRequest* req,
                                     google::protobuf::Empty*) {
  return rpc::Handle(*ctx, "tasks.ResizePty", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(std::shared_ptr<ShimTask> task, manager_.Get(ns, req->container_id()));
    return task->ResizePty(req->exec_id(), req->width(), req->height());
  });
}

grpc::Status TasksService::CloseIO(grpc::ServerContext* ctx, const api::CloseIORequest* req,
                                   google::protobuf::Empty*) {
  return rpc::Handle(*ctx, "tasks.CloseIO", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(std::shared_ptr<ShimTask> task, manager_.Get(ns, req->container_id()));
    return task->CloseIO(req->exec_id(), req->stdin());
  });
}

grpc::Status TasksService::Pause(grpc::ServerContext* ctx, const api::PauseTaskRequest* req,
                                 google::protobuf::Empty*) {
  return rpc::Handle(*ctx, "tasks.Pause", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(std::shared_ptr<ShimTask> task, manager_.Get(ns, req->container_id()));
    return task->Pause();
  });
}

grpc::Status TasksService::Resume(grpc::ServerContext* ctx, const api::ResumeTaskRequest* req,
                                  google::protobuf::Empty*) {
  return rpc::Handle(*ctx, "tasks.Resume", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(std::shared_ptr<ShimTask> task, manager_.Get(ns, req->container_id()));
    return task->Resume();
  });
}

grpc::Status TasksService::ListPids(grpc::ServerContext* ctx, const api::ListPidsRequest* req,
                                    api::ListPidsResponse* resp) {
  return rpc::Handle(*ctx, "tasks.ListPids", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(std::shared_ptr<ShimTask> task, manager_.Get(ns, req->container_id()));
    BERTH_ASSIGN_OR_RETURN(std::vector<types::ProcessInfo> pids, task->Pids());
    for (types::ProcessInfo& p : pids) *resp->add_processes() = std::move(p);
    return absl::OkStatus();
  });
}

grpc::Status TasksService::Checkpoint(grpc::ServerContext* ctx,
                                      const api::CheckpointTaskRequest* req,
                                      api::CheckpointTaskResponse*) {
  return rpc::Handle(*ctx, "tasks.Checkpoint", [&](const std::string&) -> absl::Status {
    return Unimplemented(fmt::format(
        "checkpoint task {:?}: not supported by berth (no CRIU support)", req->container_id()));
  });
}

grpc::Status TasksService::Update(grpc::ServerContext* ctx, const api::UpdateTaskRequest* req,
                                  google::protobuf::Empty*) {
  return rpc::Handle(*ctx, "tasks.Update", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(std::shared_ptr<ShimTask> task, manager_.Get(ns, req->container_id()));
    std::map<std::string, std::string> annotations(req->annotations().begin(),
                                                   req->annotations().end());
    return task->Update(req->resources(), annotations);
  });
}

grpc::Status TasksService::Metrics(grpc::ServerContext* ctx, const api::MetricsRequest* req,
                                   api::MetricsResponse* resp) {
  return rpc::Handle(*ctx, "tasks.Metrics", [&](const std::string& ns) -> absl::Status {
    std::vector<std::string> exprs(req->filters().begin(), req->filters().end());
    BERTH_ASSIGN_OR_RETURN(filters::Filter filter, filters::Filter::ParseAll(exprs));
    for (const std::shared_ptr<ShimTask>& task : manager_.List(ns)) {
      filters::MapAdaptor fields({{"id", task->bundle().id()}, {"namespace", ns}});
      if (!filter.Match(fields))
        continue;
      absl::StatusOr<google::protobuf::Any> stats = task->Stats();
      if (!stats.ok()) {
        if (absl::IsNotFound(stats.status()))
          continue;  // deleted meanwhile
        return stats.status();
      }
      ::containerd::types::Metric* m = resp->add_metrics();
      // To the nanosecond, as containerd's (GetCurrentTime gives whole seconds here).
      *m->mutable_timestamp() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
      m->set_id(task->bundle().id());
      *m->mutable_data() = *std::move(stats);
    }
    return absl::OkStatus();
  });
}

grpc::Status TasksService::Wait(grpc::ServerContext* ctx, const api::WaitRequest* req,
                                api::WaitResponse* resp) {
  return rpc::Handle(*ctx, "tasks.Wait", [&](const std::string& ns) -> absl::Status {
    BERTH_ASSIGN_OR_RETURN(std::shared_ptr<ShimTask> task, manager_.Get(ns, req->container_id()));
    // A wait lasts as long as the process: at berthd's stop it gives up (the task runs on).
    absl::StatusOr<runtime::shimapi::WaitResponse> exit =
        task->Wait(req->exec_id(), [ctx] { return ctx->IsCancelled() || rpc::Stopping(); });
    if (!exit.ok() && absl::IsCancelled(exit.status()) && rpc::Stopping()) {
      return Unavailable(
          fmt::format("berthd is stopping: wait for task {:?} given up", req->container_id()));
    }
    if (!exit.ok())
      return exit.status();
    resp->set_exit_status(exit->exit_status());
    CopyExitedAt(*exit, resp);
    return absl::OkStatus();
  });
}

void RegisterPlugin(plugin::Registry& registry) {
  registry.Add({
      .type = plugin::Type::kGrpc,
      .id = "tasks",
      .deps = {plugin::Type::kMetadata, plugin::Type::kRuntime, plugin::Type::kEvent},
      .init = [](plugin::InitContext& ic) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        BERTH_ASSIGN_OR_RETURN(auto* md,
                               ic.GetSingle<metadata::MetadataPlugin>(plugin::Type::kMetadata));
        BERTH_ASSIGN_OR_RETURN(auto* tm,
                               ic.GetSingle<runtime::TaskManager>(plugin::Type::kRuntime));
        BERTH_ASSIGN_OR_RETURN(auto* ex, ic.GetSingle<events::Exchange>(plugin::Type::kEvent));
        BERTH_ASSIGN_OR_RETURN(bool preopen, ic.config().Bool("preopen_fifos", true));
        std::unique_ptr<FifoPreopener> fifos;
        if (preopen) {
          fifos = std::make_unique<FifoPreopener>(FifoPreopener::Options{
              .awaited = [&containers = md->containers(), tm](const std::string& id) {
                return AwaitsItsTask(containers, *tm, id);
              }});
        }
        return std::make_unique<TasksService>(md->containers(), *tm, *ex, std::move(fifos));
      },
  });
}

}  // namespace berth::services::tasks
