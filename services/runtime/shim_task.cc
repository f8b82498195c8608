#include "services/runtime/shim_task.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fmt/format.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "spdlog/spdlog.h"

#include "lib/base/status.h"
#include "lib/rpc/status.h"

namespace berth::runtime {
namespace {

constexpr auto kCallTimeout = std::chrono::seconds(60);
constexpr char kGooglePrefix[] = "type.googleapis.com/";

}  // namespace

std::string ContainerdTypeUrl(const std::string& type_url) {
  if (type_url.rfind(kGooglePrefix, 0) == 0)
    return type_url.substr(sizeof(kGooglePrefix) - 1);
  return type_url;
}

std::string ProtobufTypeUrl(const std::string& type_url) {
  if (type_url.find('/') == std::string::npos)
    return kGooglePrefix + type_url;
  return type_url;
}

absl::StatusOr<std::unique_ptr<ShimTask>> ShimTask::Connect(Bundle bundle, std::string runtime,
                                                            std::chrono::milliseconds timeout) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
      "unix:" + bundle.socket().string(), grpc::InsecureChannelCredentials(), args);
  std::string id = bundle.id();
  std::unique_ptr<ShimTask> task(
      new ShimTask(std::move(bundle), std::move(runtime), shimapi::Shim::NewStub(channel)));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + timeout);
  ctx.set_wait_for_ready(true);
  shimapi::ConnectRequest req;
  req.set_id(id);
  shimapi::ConnectResponse resp;
  grpc::Status s = task->stub_->Connect(&ctx, req, &resp);
  if (!s.ok()) {
    return Unavailable(fmt::format("task {:?}: shim at {} does not answer: {}", id,
                                   task->bundle_.socket().string(), s.error_message()));
  }
  task->shim_pid_ = static_cast<pid_t>(resp.shim_pid());
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, task->shim_pid_, 0));
  if (fd < 0)
    return ErrnoError(errno, fmt::format("task {:?}: pidfd of shim pid {}", id, task->shim_pid_));
  task->shim_pidfd_.reset(fd);
  return task;
}

ShimTask::~ShimTask() {
  StopEvents(std::chrono::milliseconds(0));
}

void ShimTask::ForwardEvents(events::Exchange& exchange, std::function<void()> on_lost) {
  int64_t skip = bundle_.EventsSeen();
  events_thread_ = std::thread([this, &exchange, skip, on_lost = std::move(on_lost)] {
    EventLoop(exchange, skip, on_lost);
  });
}

void ShimTask::EventLoop(events::Exchange& exchange, int64_t skip,
                         const std::function<void()>& on_lost) {
  grpc::ClientContext ctx;
  {
    absl::MutexLock lock(&events_mu_);
    if (events_stop_) {
      events_done_ = true;
      return;
    }
    events_ctx_ = &ctx;
  }
  std::unique_ptr<grpc::ClientReader<shimapi::Event>> reader =
      stub_->Events(&ctx, shimapi::EventsRequest());
  shimapi::Event e;
  int64_t seen = 0;
  while (reader->Read(&e)) {
    if (++seen <= skip)
      continue;
    events::Envelope env;
    *env.mutable_timestamp() = e.timestamp();
    env.set_namespace_(e.namespace_().empty() ? bundle_.ns() : e.namespace_());
    env.set_topic(e.topic());
    *env.mutable_event() = e.event();
    env.mutable_event()->set_type_url(ContainerdTypeUrl(e.event().type_url()));
    if (absl::Status s = exchange.Forward(env); !s.ok())
      spdlog::warn("forward shim event failed id={} topic={} error={}", bundle_.id(), e.topic(),
                   s.ToString());
    bundle_.SetEventsSeen(seen);
  }
  grpc::Status s = reader->Finish();
  spdlog::debug("shim event stream ended id={} status={}", bundle_.id(), s.error_message());
  bool lost = false;
  {
    absl::MutexLock lock(&events_mu_);
    events_ctx_ = nullptr;
    events_done_ = true;
    lost = !events_stop_;
  }
  if (lost && on_lost)
    on_lost();
}

void ShimTask::StopEvents(std::chrono::milliseconds timeout) {
  if (!events_thread_.joinable())
    return;
  {
    absl::MutexLock lock(&events_mu_);
    events_mu_.AwaitWithTimeout(absl::Condition(&events_done_), absl::FromChrono(timeout));
    events_stop_ = true;
    if (events_ctx_ != nullptr)
      events_ctx_->TryCancel();
  }
  events_thread_.join();
}

bool ShimTask::WaitShimExit(std::chrono::milliseconds timeout) {
  pollfd p = {shim_pidfd_.get(), POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

void ShimTask::KillShim() {
  ::syscall(SYS_pidfd_send_signal, shim_pidfd_.get(), SIGKILL, nullptr, 0);
}

std::unique_ptr<grpc::ClientContext> ShimTask::Context() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  return ctx;
}

absl::Status ShimTask::Check(const grpc::Status& s, std::string_view method) const {
  if (s.ok())
    return absl::OkStatus();
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
      s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return Unavailable(
        fmt::format("task {:?}: shim {}: {}", bundle_.id(), method, s.error_message()));
  }
  return rpc::FromGrpcStatus(s);
}

absl::StatusOr<uint32_t> ShimTask::Create(const TaskIo& io, const google::protobuf::Any* options) {
  shimapi::CreateTaskRequest req;
  req.set_id(bundle_.id());
  req.set_bundle(bundle_.path().string());
  req.set_terminal(io.terminal);
  req.set_stdin(io.stdin_path);
  req.set_stdout(io.stdout_path);
  req.set_stderr(io.stderr_path);
  if (options != nullptr) {
    *req.mutable_options() = *options;
    req.mutable_options()->set_type_url(ProtobufTypeUrl(options->type_url()));
  }
  shimapi::CreateTaskResponse resp;
  if (absl::Status s = Check(stub_->Create(Context().get(), req, &resp), "create"); !s.ok())
    return s;
  return resp.pid();
}

absl::StatusOr<shimapi::StateResponse> ShimTask::State(const std::string& exec_id) {
  shimapi::StateRequest req;
  req.set_id(bundle_.id());
  req.set_exec_id(exec_id);
  shimapi::StateResponse resp;
  if (absl::Status s = Check(stub_->State(Context().get(), req, &resp), "state"); !s.ok())
    return s;
  return resp;
}

absl::StatusOr<uint32_t> ShimTask::Start(const std::string& exec_id) {
  shimapi::StartRequest req;
  req.set_id(bundle_.id());
  req.set_exec_id(exec_id);
  shimapi::StartResponse resp;
  if (absl::Status s = Check(stub_->Start(Context().get(), req, &resp), "start"); !s.ok())
    return s;
  return resp.pid();
}

absl::StatusOr<shimapi::DeleteResponse> ShimTask::Delete(const std::string& exec_id) {
  shimapi::DeleteRequest req;
  req.set_id(bundle_.id());
  req.set_exec_id(exec_id);
  shimapi::DeleteResponse resp;
  if (absl::Status s = Check(stub_->Delete(Context().get(), req, &resp), "delete"); !s.ok())
    return s;
  return resp;
}

absl::Status ShimTask::Kill(const std::string& exec_id, uint32_t signal, bool all) {
  shimapi::KillRequest req;
  req.set_id(bundle_.id());
  req.set_exec_id(exec_id);
  req.set_signal(signal);
  req.set_all(all);
  google::protobuf::Empty resp;
  return Check(stub_->Kill(Context().get(), req, &resp), "kill");
}

absl::Status ShimTask::Exec(const std::string& exec_id, const TaskIo& io,
                            const google::protobuf::Any& spec) {
  shimapi::ExecProcessRequest req;
  req.set_id(bundle_.id());
  req.set_exec_id(exec_id);
  req.set_terminal(io.terminal);
  req.set_stdin(io.stdin_path);
  req.set_stdout(io.stdout_path);
  req.set_stderr(io.stderr_path);
  *req.mutable_spec() = spec;
  google::protobuf::Empty resp;
  return Check(stub_->Exec(Context().get(), req, &resp), "exec");
}

absl::Status ShimTask::ResizePty(const std::string& exec_id, uint32_t width, uint32_t height) {
  shimapi::ResizePtyRequest req;
  req.set_id(bundle_.id());
  req.set_exec_id(exec_id);
  req.set_width(width);
  req.set_height(height);
  google::protobuf::Empty resp;
  return Check(stub_->ResizePty(Context().get(), req, &resp), "resize pty");
}

absl::Status ShimTask::CloseIO(const std::string& exec_id, bool stdin_too) {
  shimapi::CloseIORequest req;
  req.set_id(bundle_.id());
  req.set_exec_id(exec_id);
  req.set_stdin(stdin_too);
  google::protobuf::Empty resp;
  return Check(stub_->CloseIO(Context().get(), req, &resp), "close io");
}

absl::Status ShimTask::Pause() {
  shimapi::PauseRequest req;
  req.set_id(bundle_.id());
  google::protobuf::Empty resp;
  return Check(stub_->Pause(Context().get(), req, &resp), "pause");
}

absl::Status ShimTask::Resume() {
  shimapi::ResumeRequest req;
  req.set_id(bundle_.id());
  google::protobuf::Empty resp;
  return Check(stub_->Resume(Context().get(), req, &resp), "resume");
}

absl::StatusOr<std::vector<::containerd::v1::types::ProcessInfo>> ShimTask::Pids() {
  shimapi::PidsRequest req;
  req.set_id(bundle_.id());
  shimapi::PidsResponse resp;
  if (absl::Status s = Check(stub_->Pids(Context().get(), req, &resp), "pids"); !s.ok())
    return s;
  std::vector<::containerd::v1::types::ProcessInfo> out;
  for (const auto& p : resp.processes()) {
    out.push_back(p);
    if (p.has_info())
      out.back().mutable_info()->set_type_url(ContainerdTypeUrl(p.info().type_url()));
  }
  return out;
}

absl::Status ShimTask::Update(const google::protobuf::Any& resources,
                              const std::map<std::string, std::string>& annotations) {
  shimapi::UpdateTaskRequest req;
  req.set_id(bundle_.id());
  *req.mutable_resources() = resources;
  req.mutable_annotations()->insert(annotations.begin(), annotations.end());
  google::protobuf::Empty resp;
  return Check(stub_->Update(Context().get(), req, &resp), "update");
}

absl::StatusOr<google::protobuf::Any> ShimTask::Stats() {
  shimapi::StatsRequest req;
  req.set_id(bundle_.id());
  shimapi::StatsResponse resp;
  if (absl::Status s = Check(stub_->Stats(Context().get(), req, &resp), "stats"); !s.ok())
    return s;
  google::protobuf::Any out = resp.stats();
  out.set_type_url(ContainerdTypeUrl(out.type_url()));
  return out;
}

absl::StatusOr<shimapi::WaitResponse> ShimTask::Wait(const std::string& exec_id,
                                                     absl::FunctionRef<bool()> cancelled) {
  shimapi::WaitRequest req;
  req.set_id(bundle_.id());
  req.set_exec_id(exec_id);
  shimapi::WaitResponse resp;
  grpc::ClientContext ctx;
  absl::Mutex mu;
  bool done = false;
  grpc::Status result;
  stub_->async()->Wait(&ctx, &req, &resp, [&](grpc::Status s) {
    absl::MutexLock lock(&mu);
    result = std::move(s);
    done = true;
  });
  absl::MutexLock lock(&mu);
  while (!done) {
    if (mu.AwaitWithTimeout(absl::Condition(&done), absl::Milliseconds(200)))
      break;
    if (cancelled()) {
      ctx.TryCancel();
      mu.Await(absl::Condition(&done));
      return absl::CancelledError(fmt::format("wait for task {:?}: cancelled", bundle_.id()));
    }
  }
  if (absl::Status s = Check(result, "wait"); !s.ok())
    return s;
  return resp;
}

absl::Status ShimTask::Shutdown(bool now) {
  shimapi::ShutdownRequest req;
  req.set_id(bundle_.id());
  req.set_now(now);
  google::protobuf::Empty resp;
  grpc::Status s = stub_->Shutdown(Context().get(), req, &resp);
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE)
    return absl::OkStatus();  // already gone
  return Check(s, "shutdown");
}

}  // namespace berth::runtime
