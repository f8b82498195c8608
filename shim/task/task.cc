#include "shim/task/task.h"

#include <fcntl.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "absl/time/time.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

#include "containerd/events/task.pb.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/mount/proto.h"
#include "lib/oci/spec_json.h"
#include "shim/proto_time.h"
#include "shim/task/rootfs_mount.h"

namespace berth::shim {
namespace {

google::protobuf::Timestamp ToProto(absl::Time t) {
  return ToProtoTime(t);
}

}  // namespace

Task::Task(std::string ns, std::string id, EventQueue& events)
    : ns_(std::move(ns)), id_(std::move(id)), events_(events) {}

Task::~Task() {
  JoinOomMonitor();
  absl::MutexLock lock(&mu_);
  processes_.clear();
  retired_.clear();
  if (runtime_)
    (void)runtime_->Delete();
}

Task::Process* Task::Find(const std::string& exec_id) {
  auto it = processes_.find(exec_id);
  return it == processes_.end() ? nullptr : &it->second;
}

absl::StatusOr<Task::Process*> Task::Get(const std::string& exec_id) {
  Process* p = Find(exec_id);
  if (p == nullptr)
    return exec_id.empty() ? NotFoundError("task", id_) : NotFoundError("process", exec_id);
  return p;
}

absl::Status Task::Precondition(const Process& p, bool ok, std::string_view action) {
  if (ok)
    return absl::OkStatus();
  if (p.exec_id.empty())
    return FailedPrecondition(
        fmt::format("task {:?} is {}: cannot {}", id_, Name(p.state), action));
  return FailedPrecondition(
      fmt::format("process {:?} is {}: cannot {}", p.exec_id, Name(p.state), action));
}

ProcessStatus Task::ToStatus(const Process& p) {
  return {.exec_id = p.exec_id,
          .pid = p.pid,
          .state = p.state,
          .io = p.io_config,
          .exit_status = p.exit_status,
          .exited_at = p.exited_at};
}

absl::StatusOr<std::unique_ptr<ProcessIo>> Task::OpenIo(IoConfig io) const {
  io.ns = ns_;  // for a binary:// logging program's environment
  io.container_id = id_;
  return ProcessIo::Open(io);
}

absl::StatusOr<pid_t> Task::Create(const CreateConfig& config) {
  absl::MutexLock lock(&mu_);
  if (Find("") != nullptr || init_deleted_)
    return AlreadyExistsError("task", id_);
  // Mounted on a thread of its own while the spec is read, the stdio opened and the cgroup made.
  RootfsMount rootfs(config.rootfs, std::filesystem::path(config.bundle) / "rootfs");
  oci::Spec spec;
  if (preloaded_spec_ && preloaded_bundle_ == config.bundle) {
    spec = *std::move(preloaded_spec_);
  } else {
    BERTH_ASSIGN_OR_RETURN(spec, oci::LoadSpec(config.bundle));
  }
  preloaded_spec_.reset();
  bundle_ = config.bundle;
  if (spec.process) {
    spec.process->terminal = config.io.terminal;
  }
  IoConfig io = config.io;
  if (spec.process && spec.process->console_size) {
    io.width = spec.process->console_size->width;
    io.height = spec.process->console_size->height;
  }
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<ProcessIo> pio, OpenIo(io));
  runtime_ = config.runtime_binary.empty()
                 ? MakeEmbeddedRuntime(id_, config.bundle, std::move(spec), &prepared_)
                 : MakeCliRuntime(config.runtime_binary, config.runtime_root, id_, config.bundle,
                                  std::move(spec));
  auto fail = [this](absl::Status s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    (void)runtime_->Delete();
    runtime_.reset();
    return Annotate(s, fmt::format("task {:?}", id_));  // pio's copiers end with the init's output
  };
  absl::StatusOr<pid_t> pid = runtime_->Create(pio->stdio(), [this, &rootfs] {
    return Annotate(rootfs.Wait(), fmt::format("task {:?}: mount rootfs", id_));
  });
  prepared_ = {};  // what the container did not take
  if (!pid.ok())
    return fail(pid.status());
  // While the init sets itself up: the output copiers, the pid file, the OOM monitor.
  pio->Started();
  std::ofstream(bundle_ + "/init.pid") << *pid;
  StartOomMonitor();
  if (absl::Status s = runtime_->FinishCreate(); !s.ok()) {
    StopOomMonitor();
    return fail(s);
  }
  rootfs.Keep();
  Process& p = processes_[""];
  p.io_config = config.io;
  p.io = std::move(pio);
  p.pid = *pid;
  // Held open, the init's mount namespace outlives the init: when the init exits, the kernel
  // reports the exit without first tearing down the container's mounts (an RCU grace period
  // and some thirty unmounts, ~0.3 ms here); that happens when the shim exits, after the
  // delete. A runtime whose init is already gone leaves it invalid.
  p.mnt_ns = UniqueFd(::open(fmt::format("/proc/{}/ns/mnt", *pid).c_str(), O_RDONLY | O_CLOEXEC));
  containerd::events::TaskCreate ev;
  ev.set_container_id(id_);
  ev.set_bundle(bundle_);
  mount::MountsToProto(config.rootfs, ev.mutable_rootfs());
  ev.mutable_io()->set_stdin(io.stdin_path);
  ev.mutable_io()->set_stdout(io.stdout_path);
  ev.mutable_io()->set_stderr(io.stderr_path);
  ev.mutable_io()->set_terminal(io.terminal);
  ev.set_pid(static_cast<uint32_t>(*pid));
  events_.Publish("/tasks/create", ev);
  return *pid;
}

void Task::UsePreparedNamespaces(linux::PreparedNamespaces prepared) {
  absl::MutexLock lock(&mu_);
  prepared_ = std::move(prepared);
}

void Task::PreloadSpec(const std::string& bundle) {
  absl::StatusOr<oci::Spec> spec = oci::LoadSpec(bundle);
  if (!spec.ok())
    return;
  absl::MutexLock lock(&mu_);
  preloaded_bundle_ = bundle;
  preloaded_spec_ = *std::move(spec);
}

absl::StatusOr<pid_t> Task::Start(const std::string& exec_id) {
  absl::MutexLock lock(&mu_);
  BERTH_ASSIGN_OR_RETURN(Process * p, Get(exec_id));
  BERTH_RETURN_IF_ERROR(Precondition(*p, CanStart(p->state), "start"));
  if (!exec_id.empty())
    return StartExec(*p);
  if (absl::Status s = runtime_->Start(); !s.ok()) {
    // The init failed between the start signal and its exec (a bad rlimit, cwd, program) and
    // exits. Its exit is awaited, so that the task then reads as stopped: a client that deletes
    // it after the error (ctr run --rm does) must not find it "created" and give up.
    // (Looked up at each wake: a delete may take the process meanwhile.)
    auto exited = [this]() {
      const Process* init = Find("");
      return init == nullptr || init->state == State::kStopped;
    };
    mu_.AwaitWithTimeout(absl::Condition(&exited), absl::Seconds(2));
    return Annotate(s, fmt::format("task {:?}", id_));
  }
  if (p->state == State::kCreated)  // it may already have exited (and been reaped)
    p->state = State::kRunning;
  containerd::events::TaskStart ev;
  ev.set_container_id(id_);
  ev.set_pid(static_cast<uint32_t>(p->pid));
  events_.Publish("/tasks/start", ev);
  return p->pid;
}

absl::Status Task::CanExec() {
  Process* init = Find("");
  if (init == nullptr)
    return FailedPrecondition(fmt::format("task {:?} is not running: cannot exec", id_));
  return Precondition(*init, CanExecInto(init->state), "exec");
}

absl::StatusOr<pid_t> Task::StartExec(Process& p) {
  BERTH_RETURN_IF_ERROR(CanExec());
  BERTH_ASSIGN_OR_RETURN(oci::Process spec, oci::ParseProcess(p.spec_json));
  spec.terminal = p.io_config.terminal;
  BERTH_ASSIGN_OR_RETURN(p.io, OpenIo(p.io_config));
  absl::StatusOr<pid_t> started = runtime_->Exec(p.exec_id, spec, p.spec_json, p.io->stdio());
  if (!started.ok()) {
    // Nothing runs: the client's fifos are closed now (ctr waits for their end before it
    // reports the error) and a Wait returns, with the shell's codes for a command that was
    // not found (127) or could not be run (126). No exit event: the exec never started.
    p.io.reset();
    p.state = State::kStopped;
    p.exit_status = absl::IsNotFound(started.status()) ? 127 : 126;
    p.exited_at = absl::Now();
    return Annotate(started.status(), fmt::format("task {:?}: exec {:?}", id_, p.exec_id));
  }
  const pid_t pid = *started;
  p.io->Started();
  p.pid = pid;
  p.state = State::kRunning;
  if (auto it = unclaimed_exits_.find(pid); it != unclaimed_exits_.end()) {
    MarkExited(p, it->second);
    unclaimed_exits_.erase(it);
  }
  containerd::events::TaskExecStarted ev;
  ev.set_container_id(id_);
  ev.set_exec_id(p.exec_id);
  ev.set_pid(static_cast<uint32_t>(pid));
  events_.Publish("/tasks/exec-started", ev);
  return pid;
}

absl::Status Task::AddExec(const std::string& exec_id, const IoConfig& io,
                           const std::string& process_json) {
  absl::MutexLock lock(&mu_);
  if (exec_id.empty())
    return InvalidArgument("exec: exec_id is required");
  if (Find(exec_id) != nullptr)
    return AlreadyExistsError("process", exec_id);
  BERTH_RETURN_IF_ERROR(CanExec());
  BERTH_RETURN_IF_ERROR(oci::ParseProcess(process_json).status());
  Process& p = processes_[exec_id];
  p.exec_id = exec_id;
  p.io_config = io;
  p.spec_json = process_json;
  containerd::events::TaskExecAdded ev;
  ev.set_container_id(id_);
  ev.set_exec_id(exec_id);
  events_.Publish("/tasks/exec-added", ev);
  return absl::OkStatus();
}

void Task::MarkExited(Process& p, int status) {
  p.state = State::kStopped;
  p.exit_status = status;
  p.exited_at = absl::Now();
  containerd::events::TaskExit ev;
  ev.set_container_id(id_);
  ev.set_id(p.exec_id.empty() ? id_ : p.exec_id);
  ev.set_pid(static_cast<uint32_t>(p.pid));
  ev.set_exit_status(static_cast<uint32_t>(status));
  *ev.mutable_exited_at() = ToProto(p.exited_at);
  events_.Publish("/tasks/exit", ev);
}

void Task::OnExit(pid_t pid, int status) {
  absl::MutexLock lock(&mu_);
  for (auto& [exec_id, p] : processes_) {
    if (p.pid == pid && p.state != State::kStopped) {
      MarkExited(p, status);
      spdlog::info("process exited id={} exec_id={} pid={} status={}", id_, exec_id, pid, status);
      return;
    }
  }
  if (unclaimed_exits_.size() < 1024)
    unclaimed_exits_[pid] = status;
}

absl::StatusOr<ProcessStatus> Task::Wait(const std::string& exec_id) {
  ProcessStatus status;
  std::shared_ptr<ProcessIo> io;
  {
    absl::MutexLock lock(&mu_);
    BERTH_RETURN_IF_ERROR(Get(exec_id).status());
    // Looked up at each wake-up: a delete may remove the process meanwhile (an exec deleted
    // before it ran; the init's record moves to retired_, stopped).
    const Process* p = nullptr;
    auto stopped_or_gone = [&]() {
      p = Find(exec_id);
      if (p == nullptr) {
        auto it = retired_.find(exec_id);
        p = it == retired_.end() ? nullptr : &it->second;
      }
      return p == nullptr || p->state == State::kStopped;
    };
    mu_.Await(absl::Condition(&stopped_or_gone));
    if (p == nullptr)
      return absl::NotFoundError(fmt::format("process {:?}: deleted before it exited", exec_id));
    status = ToStatus(*p);
    io = p->io;
  }
  if (io)
    io->WaitOutput();  // outside the lock: the output may still be draining
  return status;
}

absl::StatusOr<ProcessStatus> Task::DeleteInit(Process& p) {
  for (auto& [exec_id, e] : processes_) {
    if (!exec_id.empty() && e.state != State::kStopped && e.state != State::kCreated)
      return FailedPrecondition(
          fmt::format("task {:?}: exec process {:?} is still running", id_, exec_id));
  }
  StopOomMonitor();
  absl::Status s = runtime_->Delete();
  if (!s.ok())
    spdlog::warn("delete task id={}: {}", id_, s.ToString());
  if (p.state != State::kStopped)
    MarkExited(p, 128 + SIGKILL);
  ProcessStatus out = ToStatus(p);
  retired_ = std::move(processes_);
  processes_.clear();
  init_deleted_ = true;
  containerd::events::TaskDelete ev;
  ev.set_container_id(id_);  // no id: containerd's shim names no process in the init's delete
  ev.set_pid(static_cast<uint32_t>(out.pid));
  ev.set_exit_status(static_cast<uint32_t>(out.exit_status));
  *ev.mutable_exited_at() = ToProto(out.exited_at);
  events_.Publish("/tasks/delete", ev);
  return out;
}

absl::StatusOr<ProcessStatus> Task::Delete(const std::string& exec_id) {
  absl::MutexLock lock(&mu_);
  BERTH_ASSIGN_OR_RETURN(Process * p, Get(exec_id));
  BERTH_RETURN_IF_ERROR(Precondition(*p, CanDelete(p->state), "delete"));
  if (exec_id.empty())
    return DeleteInit(*p);
  ProcessStatus out = ToStatus(*p);
  processes_.erase(exec_id);
  return out;
}

absl::StatusOr<ProcessStatus> Task::Status(const std::string& exec_id) {
  absl::MutexLock lock(&mu_);
  BERTH_ASSIGN_OR_RETURN(Process * p, Get(exec_id));
  return ToStatus(*p);
}

bool Task::Gone() {
  absl::MutexLock lock(&mu_);
  return init_deleted_;
}

pid_t Task::InitPid() {
  absl::MutexLock lock(&mu_);
  Process* p = Find("");
  return p == nullptr ? 0 : p->pid;
}

}  // namespace berth::shim
