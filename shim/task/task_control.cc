// Task operations on a running container: signals, freezer, resources, stats, stdio, and the
// OOM monitor.

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <csignal>

#include "fmt/format.h"
#include "spdlog/spdlog.h"

#include "containerd/events/task.pb.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/oci/spec_json.h"
#include "shim/linux/process.h"
#include "shim/task/task.h"

namespace berth::shim {

absl::Status Task::Pause() {
  absl::MutexLock lock(&mu_);
  BERTH_ASSIGN_OR_RETURN(Process * p, Get(""));
  BERTH_RETURN_IF_ERROR(Precondition(*p, CanPause(p->state), "pause"));
  BERTH_RETURN_IF_ERROR(runtime_->Pause());
  p->state = State::kPaused;
  containerd::events::TaskPaused ev;
  ev.set_container_id(id_);
  events_.Publish("/tasks/paused", ev);
  return absl::OkStatus();
}

absl::Status Task::Resume() {
  absl::MutexLock lock(&mu_);
  BERTH_ASSIGN_OR_RETURN(Process * p, Get(""));
  BERTH_RETURN_IF_ERROR(Precondition(*p, CanResume(p->state), "resume"));
  BERTH_RETURN_IF_ERROR(runtime_->Resume());
  p->state = State::kRunning;
  containerd::events::TaskResumed ev;
  ev.set_container_id(id_);
  events_.Publish("/tasks/resumed", ev);
  return absl::OkStatus();
}

absl::Status Task::Kill(const std::string& exec_id, int sig, bool all) {
  absl::MutexLock lock(&mu_);
  BERTH_ASSIGN_OR_RETURN(Process * p, Get(exec_id));
  if (all && exec_id.empty()) {
    BERTH_RETURN_IF_ERROR(runtime_->KillAll(sig));
  } else {
    if (p->state == State::kStopped || p->pid <= 0)
      return NotFoundError("process", exec_id.empty() ? id_ : exec_id);  // already finished
    // The pid cannot have been reused: it is our unreaped child until OnExit marks it stopped.
    BERTH_RETURN_IF_ERROR(linux::SignalPid(p->pid, sig));
  }
  Process* init = Find("");
  if (sig == SIGKILL && init != nullptr && init->state == State::kPaused && exec_id.empty())
    (void)runtime_->Resume();  // frozen processes only die once thawed
  return absl::OkStatus();
}

absl::Status Task::Update(const std::string& resources_json) {
  BERTH_ASSIGN_OR_RETURN(oci::Resources r, oci::ParseResources(resources_json));
  absl::MutexLock lock(&mu_);
  BERTH_ASSIGN_OR_RETURN(Process * p, Get(""));
  BERTH_RETURN_IF_ERROR(Precondition(*p, p->state != State::kStopped, "update"));
  return runtime_->Update(r, resources_json);
}

absl::StatusOr<std::vector<Task::PidInfo>> Task::Pids() {
  absl::MutexLock lock(&mu_);
  BERTH_RETURN_IF_ERROR(Get("").status());
  std::vector<PidInfo> out;
  if (runtime_->cgroup() == nullptr)
    return out;
  BERTH_ASSIGN_OR_RETURN(std::vector<pid_t> pids, runtime_->cgroup()->Pids());
  for (pid_t pid : pids) {
    PidInfo& info = out.emplace_back();
    info.pid = pid;
    for (const auto& [exec_id, p] : processes_) {
      if (!exec_id.empty() && p.pid == pid && p.state != State::kStopped)
        info.exec_id = exec_id;
    }
  }
  return out;
}

absl::StatusOr<linux::CgroupStats> Task::Stats(bool* v2) {
  absl::MutexLock lock(&mu_);
  BERTH_RETURN_IF_ERROR(Get("").status());
  if (runtime_->cgroup() == nullptr)
    return FailedPrecondition(fmt::format("task {:?}: no cgroup", id_));
  *v2 = runtime_->cgroup()->v2();
  return runtime_->cgroup()->Stats();
}

absl::Status Task::CloseIO(const std::string& exec_id) {
  absl::MutexLock lock(&mu_);
  BERTH_ASSIGN_OR_RETURN(Process * p, Get(exec_id));
  if (p->io)
    p->io->CloseStdin();
  return absl::OkStatus();
}

absl::Status Task::ResizePty(const std::string& exec_id, uint32_t width, uint32_t height) {
  absl::MutexLock lock(&mu_);
  BERTH_ASSIGN_OR_RETURN(Process * p, Get(exec_id));
  if (!p->io)
    return FailedPrecondition(fmt::format("process {:?}: not started", exec_id));
  return p->io->Resize(width, height);
}

void Task::StartOomMonitor() {
  JoinOomMonitor();  // a failed create's; the monitor thread never takes mu_
  if (runtime_->cgroup() == nullptr)
    return;
  // A handle of its own: the thread may outlive the runtime's (see StopOomMonitor).
  std::shared_ptr<linux::Cgroup> cg = linux::Cgroup::Open(runtime_->cgroup()->path());
  absl::StatusOr<UniqueFd> fd = cg->OomEventFd();
  if (!fd.ok()) {
    spdlog::warn("oom monitor id={}: {}", id_, fd.status().ToString());
    return;
  }
  oom_stop_.reset(::eventfd(0, EFD_CLOEXEC));
  oom_stopped_ = false;
  uint64_t seen = cg->OomKillCount();
  bool v2 = cg->v2();
  oom_thread_ = std::thread([this, cg, v2, seen, efd = std::move(*fd)]() mutable {
    struct pollfd fds[2] = {{efd.get(), POLLIN, 0}, {oom_stop_.get(), POLLIN, 0}};
    while (::poll(fds, 2, -1) >= 0 && fds[1].revents == 0 && !oom_stopped_) {
      char buf[4096];
      if (::read(efd.get(), buf, sizeof(buf)) <= 0 && !v2)
        return;  // v1: the cgroup is gone
      if (!v2 && !cg->Exists())
        return;  // v1 signals the eventfd when the cgroup is removed, too
      uint64_t now = cg->OomKillCount();
      if (v2 && now <= seen)
        continue;  // memory.events changed for another reason
      seen = now;
      if (oom_stopped_)
        return;  // v1 signals the eventfd when the deleted task's cgroup goes
      containerd::events::TaskOOM ev;
      ev.set_container_id(id_);
      events_.Publish("/tasks/oom", ev);
    }
  });
}

void Task::StopOomMonitor() {
  if (!oom_thread_.joinable() || oom_stopped_.exchange(true))
    return;
  uint64_t one = 1;
  (void)!::write(oom_stop_.get(), &one, sizeof(one));
}

void Task::JoinOomMonitor() {
  StopOomMonitor();
  if (oom_thread_.joinable())
    oom_thread_.join();
}

}  // namespace berth::shim
