#include "services/runtime/shim_task.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "fmt/format.h"
#include "google/protobuf/empty.pb.h"
#include "spdlog/spdlog.h"

#include "lib/base/status.h"
#include "lib/mount/proto.h"

namespace berth::runtime {
namespace {

constexpr absl::Duration kCallTimeout = absl::Seconds(60);
constexpr char kService[] = "berth.shim.v1.Shim";
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
                                                            std::chrono::milliseconds timeout,
                                                            std::optional<ShimProcess> known) {
  std::string id = bundle.id();
  std::string socket = bundle.socket().string();
  absl::Time deadline = absl::Now() + absl::FromChrono(timeout);
  absl::StatusOr<std::unique_ptr<ttrpc::Client>> client =
      ttrpc::Client::Dial(socket, absl::FromChrono(timeout));
  if (!client.ok()) {
    return Unavailable(fmt::format("task {:?}: shim at {} does not answer: {}", id, socket,
                                   std::string(client.status().message())));
  }
  std::unique_ptr<ShimTask> task(
      new ShimTask(std::move(bundle), std::move(runtime), std::move(*client)));
  if (known.has_value()) {
    task->shim_pid_ = known->pid;
    task->shim_pidfd_ = std::move(known->pidfd);
    return task;
  }
  shimapi::ConnectRequest req;
  req.set_id(id);
  shimapi::ConnectResponse resp;
  absl::Status s = task->Invoke("Connect", "connect", req, &resp,
                                std::max(deadline - absl::Now(), absl::Milliseconds(100)));
  if (!s.ok()) {
    return Unavailable(fmt::format("task {:?}: shim at {} does not answer: {}", id, socket,
                                   std::string(s.message())));
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

class ShimTask::EventReader final : public std::enable_shared_from_this<EventReader> {
 public:
  // berth-shim keeps its last 1024 events (shim/event_queue.h) and replays them to each new
  // subscriber.
  static constexpr int64_t kShimWindow = 1024;

  EventReader(const Bundle& bundle, events::Exchange& exchange, std::function<void()> on_lost)
      : bundle_(bundle),
        exchange_(exchange),
        on_lost_(std::move(on_lost)),
        mark_(bundle.EventsSeen()),
        skip_(mark_.count),
        seen_(bundle.OpenEventsSeen()) {}

  void Start(ttrpc::Client& client) {
    client_ = &client;
    std::shared_ptr<EventReader> self = shared_from_this();
    stream_ = client.OpenStream(
        kService, "Events", shimapi::EventsRequest().SerializeAsString(),
        [self](std::string bytes) { self->OnMessage(bytes); },
        [self](absl::Status s) { self->OnDone(s); });
  }

  // Waits up to `timeout` for the stream to end by itself, then closes it; no callback touches
  // the ShimTask afterwards.
  void Stop(absl::Duration timeout) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
      stop_ = true;
      if (done_)
        return;
    }
    if (client_->CloseStream(stream_))
      return;                    // closed before it ended: no callback runs from now on
    absl::MutexLock lock(&mu_);  // it is ending: wait for OnDone to return
    mu_.Await(absl::Condition(&done_));
  }

 private:
  void OnMessage(const std::string& bytes) {
    shimapi::Event event;
    if (!event.ParseFromString(bytes)) {
      spdlog::warn("shim event does not parse id={}", bundle_.id());
      return;
    }
    ++received_;
    if (skip_ <= kShimWindow) {
      // The replay starts with the shim's first event: skip what was forwarded, by count.
      if (received_ > skip_)
        Forward(event);
    } else if (received_ <= kShimWindow) {
      // The shim's window is full, so the replay is its last kShimWindow events: once all are
      // here, forward those after the last one forwarded before (found by fingerprint).
      replay_.push_back(std::move(event));
      if (received_ == kShimWindow)
        FlushReplay();
    } else {
      Forward(event);
    }
  }

  void OnDone(const absl::Status& s) {
    spdlog::debug("shim event stream ended id={} status={}", bundle_.id(), s.ToString());
    bool lost = false;
    {
      absl::MutexLock lock(&mu_);
      lost = !stop_;
    }
    if (lost && on_lost_)
      on_lost_();
    absl::MutexLock lock(&mu_);
    done_ = true;
  }

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
    Bundle::SetEventsSeen(seen_.get(), mark_);
  }

  const Bundle& bundle_;
  events::Exchange& exchange_;
  const std::function<void()> on_lost_;
  Bundle::EventMark mark_;
  const int64_t skip_;
  const UniqueFd seen_;  // events.seen
  ttrpc::Client* client_ = nullptr;
  uint32_t stream_ = 0;
  int64_t received_ = 0;
  std::vector<shimapi::Event> replay_;
  absl::Mutex mu_;
  bool stop_ = false;  // guarded by mu_
  bool done_ = false;  // guarded by mu_
};

void ShimTask::ForwardEvents(events::Exchange& exchange, std::function<void()> on_lost) {
  events_ = std::make_shared<EventReader>(bundle_, exchange, std::move(on_lost));
  events_->Start(*client_);
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

absl::Status ShimTask::Invoke(const char* method, std::string_view what,
                              const google::protobuf::MessageLite& req,
                              google::protobuf::MessageLite* resp, absl::Duration timeout,
                              absl::FunctionRef<bool()> cancelled) {
  absl::StatusOr<std::string> reply =
      client_->Call(kService, method, req.SerializeAsString(), timeout, cancelled);
  if (!reply.ok())
    return Check(reply.status(), what);
  if (!resp->ParseFromString(*reply)) {
    return Internal(
        fmt::format("task {:?}: shim {}: the reply does not parse", bundle_.id(), what));
  }
  return absl::OkStatus();
}

absl::Status ShimTask::Check(const absl::Status& s, std::string_view what) const {
  if (s.ok())
    return absl::OkStatus();
  // The shim's own errors name the task already; a lost or late shim is said to be one.
  const std::string named = fmt::format("task {:?}", bundle_.id());
  if ((absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s)) &&
      !absl::StartsWith(s.message(), named))
    return Unavailable(fmt::format("{}: shim {}: {}", named, what, std::string(s.message())));
  return s;
}

absl::StatusOr<uint32_t> ShimTask::Create(const TaskIo& io, const google::protobuf::Any* options,
                                          std::span<const mount::Mount> rootfs) {
  shimapi::CreateTaskRequest req;
  req.set_id(bundle_.id());
  req.set_bundle(bundle_.path().string());
  mount::MountsToProto(rootfs, req.mutable_rootfs());
  req.set_terminal(io.terminal);
  req.set_stdin(io.stdin_path);
  req.set_stdout(io.stdout_path);
  req.set_stderr(io.stderr_path);
  if (options != nullptr) {
    *req.mutable_options() = *options;
    req.mutable_options()->set_type_url(ProtobufTypeUrl(options->type_url()));
  }
  shimapi::CreateTaskResponse resp;
  if (absl::Status s = Invoke("Create", "create", req, &resp, kCallTimeout); !s.ok())
    return s;
  created_pid_ = resp.pid();
  return resp.pid();
}

absl::StatusOr<shimapi::StateResponse> ShimTask::State(const std::string& exec_id) {
  shimapi::StateRequest req;
  req.set_id(bundle_.id());
  req.set_exec_id(exec_id);
  shimapi::StateResponse resp;
  if (absl::Status s = Invoke("State", "state", req, &resp, kCallTimeout); !s.ok())
    return s;
  return resp;
}

absl::StatusOr<uint32_t> ShimTask::Start(const std::string& exec_id) {
  shimapi::StartRequest req;
  req.set_id(bundle_.id());
  req.set_exec_id(exec_id);
  shimapi::StartResponse resp;
  if (absl::Status s = Invoke("Start", "start", req, &resp, kCallTimeout); !s.ok())
    return s;
  return resp.pid();
}

absl::StatusOr<shimapi::DeleteResponse> ShimTask::Delete(const std::string& exec_id) {
  shimapi::DeleteRequest req;
  req.set_id(bundle_.id());
  req.set_exec_id(exec_id);
  shimapi::DeleteResponse resp;
  if (absl::Status s = Invoke("Delete", "delete", req, &resp, kCallTimeout); !s.ok())
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
  return Invoke("Kill", "kill", req, &resp, kCallTimeout);
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
  return Invoke("Exec", "exec", req, &resp, kCallTimeout);
}

absl::Status ShimTask::ResizePty(const std::string& exec_id, uint32_t width, uint32_t height) {
  shimapi::ResizePtyRequest req;
  req.set_id(bundle_.id());
  req.set_exec_id(exec_id);
  req.set_width(width);
  req.set_height(height);
  google::protobuf::Empty resp;
  return Invoke("ResizePty", "resize pty", req, &resp, kCallTimeout);
}

absl::Status ShimTask::CloseIO(const std::string& exec_id, bool stdin_too) {
  shimapi::CloseIORequest req;
  req.set_id(bundle_.id());
  req.set_exec_id(exec_id);
  req.set_stdin(stdin_too);
  google::protobuf::Empty resp;
  return Invoke("CloseIO", "close io", req, &resp, kCallTimeout);
}

absl::Status ShimTask::Pause() {
  shimapi::PauseRequest req;
  req.set_id(bundle_.id());
  google::protobuf::Empty resp;
  return Invoke("Pause", "pause", req, &resp, kCallTimeout);
}

absl::Status ShimTask::Resume() {
  shimapi::ResumeRequest req;
  req.set_id(bundle_.id());
  google::protobuf::Empty resp;
  return Invoke("Resume", "resume", req, &resp, kCallTimeout);
}

absl::StatusOr<std::vector<::containerd::v1::types::ProcessInfo>> ShimTask::Pids() {
  shimapi::PidsRequest req;
  req.set_id(bundle_.id());
  shimapi::PidsResponse resp;
  if (absl::Status s = Invoke("Pids", "pids", req, &resp, kCallTimeout); !s.ok())
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
  return Invoke("Update", "update", req, &resp, kCallTimeout);
}

absl::StatusOr<google::protobuf::Any> ShimTask::Stats() {
  shimapi::StatsRequest req;
  req.set_id(bundle_.id());
  shimapi::StatsResponse resp;
  if (absl::Status s = Invoke("Stats", "stats", req, &resp, kCallTimeout); !s.ok())
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
  absl::Status s = Invoke("Wait", "wait", req, &resp, absl::InfiniteDuration(), cancelled);
  if (absl::IsCancelled(s))
    return absl::CancelledError(fmt::format("wait for task {:?}: cancelled", bundle_.id()));
  if (!s.ok())
    return s;
  return resp;
}

absl::Status ShimTask::Shutdown(bool now) {
  shimapi::ShutdownRequest req;
  req.set_id(bundle_.id());
  req.set_now(now);
  google::protobuf::Empty resp;
  absl::StatusOr<std::string> reply =
      client_->Call(kService, "Shutdown", req.SerializeAsString(), kCallTimeout);
  if (absl::IsUnavailable(reply.status()))
    return absl::OkStatus();  // already gone
  return Check(reply.status(), "shutdown");
}

}  // namespace berth::runtime
