#include "services/runtime/shim_task.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "absl/synchronization/notification.h"
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
  if (type_url.starts_with(kGooglePrefix))
    return type_url.substr(sizeof(kGooglePrefix) - 1);
  return type_url;
}

uint64_t EventFingerprint(const shimapi::Event& e) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a
  auto mix = [&h](const std::string& bytes) {
    for (char c : bytes) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
    h ^= 0xff;  // a separator, so that fields do not run into each other
    h *= 1099511628211ull;
  };
  mix(e.topic());
  mix(std::to_string(e.timestamp().seconds()) + "." + std::to_string(e.timestamp().nanos()));
  mix(e.event().type_url());
  mix(e.event().value());
  return h;
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

class ShimTask::EventReader final : public grpc::ClientReadReactor<shimapi::Event>,
                                    public std::enable_shared_from_this<EventReader> {
 public:
  // berth-shim keeps its last 1024 events (shim/event_queue.h) and replays them to each new
  // subscriber.
  static constexpr int64_t kShimWindow = 1024;

  EventReader(const Bundle& bundle, events::Exchange& exchange, std::function<void()> on_lost)
      : bundle_(bundle),
        exchange_(exchange),
        on_lost_(std::move(on_lost)),
        mark_(bundle.EventsSeen()),
        skip_(mark_.count) {}

  void Start(shimapi::Shim::Stub& stub) {
    self_ = shared_from_this();  // released last thing in OnDone
    stub.async()->Events(&ctx_, &request_, this);
    StartRead(&event_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok)
      return;  // the stream ended: OnDone follows
    ++received_;
    if (skip_ <= kShimWindow) {
      // The replay starts with the shim's first event: skip what was forwarded, by count.
      if (received_ > skip_)
        Forward(event_);
    } else if (received_ <= kShimWindow) {
      // The shim's window is full, so the replay is its last kShimWindow events: once all are
      // here, forward those after the last one forwarded before (found by fingerprint).
      replay_.push_back(event_);
      if (received_ == kShimWindow)
        FlushReplay();
    } else {
      Forward(event_);
    }
    StartRead(&event_);
  }

  void OnDone(const grpc::Status& s) override {
    spdlog::debug("shim event stream ended id={} status={}", bundle_.id(), s.error_message());
    bool lost = false;
    {
      absl::MutexLock lock(&mu_);
      lost = !stop_;
    }
    if (lost && on_lost_)
      on_lost_();
    std::shared_ptr<EventReader> keep = std::move(self_);
    absl::MutexLock lock(&mu_);
    done_ = true;
  }

  // Waits up to `timeout` for the stream to end by itself, then cancels it and waits for
  // OnDone; no callback touches the ShimTask afterwards.
  void Stop(absl::Duration timeout) {
    bool cancel = false;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
      stop_ = true;
      cancel = !done_;
    }
    if (cancel)
      ctx_.TryCancel();  // without the lock: gRPC may run OnDone from here
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
  }

 private:
  void FlushReplay() {
    size_t start = 0;
    for (size_t i = replay_.size(); i > 0; --i) {
      if (EventFingerprint(replay_[i - 1]) == mark_.last) {
        start = i;
        break;
      }
    }
    for (size_t i = start; i < replay_.size(); ++i) Forward(replay_[i]);
    replay_.clear();
  }

  void Forward(const shimapi::Event& e) {
    events::Envelope env;
    *env.mutable_timestamp() = e.timestamp();
    env.set_namespace_(e.namespace_().empty() ? bundle_.ns() : e.namespace_());
    env.set_topic(e.topic());
    *env.mutable_event() = e.event();
    env.mutable_event()->set_type_url(ContainerdTypeUrl(e.event().type_url()));
    if (absl::Status s = exchange_.Forward(env); !s.ok()) {
      spdlog::warn("forward shim event failed id={} topic={} error={}", bundle_.id(), e.topic(),
                   s.ToString());
    }
    ++mark_.count;
    mark_.last = EventFingerprint(e);
    bundle_.SetEventsSeen(mark_);
  }

  const Bundle& bundle_;
  events::Exchange& exchange_;
  const std::function<void()> on_lost_;
  Bundle::EventMark mark_;
  const int64_t skip_;
  grpc::ClientContext ctx_;
  shimapi::EventsRequest request_;
  shimapi::Event event_;
  int64_t received_ = 0;
  std::vector<shimapi::Event> replay_;
  std::shared_ptr<EventReader> self_;
  absl::Mutex mu_;
  bool stop_ = false;  // guarded by mu_
  bool done_ = false;  // guarded by mu_
};

void ShimTask::ForwardEvents(events::Exchange& exchange, std::function<void()> on_lost) {
  events_ = std::make_shared<EventReader>(bundle_, exchange, std::move(on_lost));
  events_->Start(*stub_);
}

void ShimTask::StopEvents(std::chrono::milliseconds timeout) {
  if (events_ != nullptr)
    events_->Stop(absl::FromChrono(timeout));
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
  created_pid_ = resp.pid();
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
  grpc::Status result;
  absl::Notification done;  // safe to destroy once WaitForNotification returned
  stub_->async()->Wait(&ctx, &req, &resp, [&](grpc::Status s) {
    result = std::move(s);
    done.Notify();
  });
  while (!done.WaitForNotificationWithTimeout(absl::Milliseconds(200))) {
    if (cancelled()) {
      ctx.TryCancel();
      done.WaitForNotification();
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
