#include "services/runtime/task_manager.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "absl/cleanup/cleanup.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

#include "containerd/events/task.pb.h"
#include "lib/base/identifiers.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/mount/mount.h"
#include "lib/base/run_program.h"

namespace berth::runtime {
namespace fs = std::filesystem;

namespace {

constexpr auto kShimStartTimeout = std::chrono::seconds(30);
constexpr auto kConnectTimeout = std::chrono::seconds(5);
constexpr auto kShimExitTimeout = std::chrono::seconds(5);

}  // namespace

bool IsShimRuntime(const std::string& name) {
  return name == "io.containerd.runc.v2" || name == "io.containerd.runc.v1" ||
         name == "io.containerd.berth.v1";
}

std::optional<SpareShims::Handover> TaskManager::BeginHandover(const Bundle& bundle) {
  if (spares_ == nullptr)
    return std::nullopt;
  absl::StatusOr<SpareShims::Handover> handover = spares_->Begin(bundle);
  if (!handover.ok()) {
    spdlog::debug("no spare shim for task id={}: {}", bundle.id(), handover.status().ToString());
    return std::nullopt;
  }
  return *std::move(handover);
}

absl::StatusOr<std::shared_ptr<ShimTask>> TaskManager::StartShim(
    const Bundle& bundle, const std::string& runtime,
    std::optional<SpareShims::Handover> handover) {
  if (handover.has_value()) {
    absl::StatusOr<ShimProcess> adopted = handover->Finish(absl::FromChrono(kShimStartTimeout));
    if (adopted.ok()) {
      BERTH_ASSIGN_OR_RETURN(
          std::unique_ptr<ShimTask> task,
          ShimTask::Connect(bundle, runtime, kConnectTimeout, *std::move(adopted)));
      return std::shared_ptr<ShimTask>(std::move(task));
    }
    spdlog::debug("starting a shim for task id={}: {}", bundle.id(), adopted.status().ToString());
    handover.reset();  // the failed spare is gone before a shim of our own starts there
  }
  BERTH_ASSIGN_OR_RETURN(
      CommandOutput out,
      RunProgram({config_.shim_binary, "start", "--id", bundle.id(), "--namespace", bundle.ns(),
                  "--bundle", bundle.path().string(), "--address", config_.daemon_address},
                 kShimStartTimeout));
  if (out.exit_code != 0 || !out.out.starts_with("unix://")) {
    std::string why = out.err.empty() ? out.out : out.err;
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return Unavailable(
        fmt::format("task {:?}: start shim (exit {}): {}", bundle.id(), out.exit_code, why));
  }
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<ShimTask> task,
                         ShimTask::Connect(bundle, runtime, kConnectTimeout));
  return std::shared_ptr<ShimTask>(std::move(task));
}

void TaskManager::StopShim(ShimTask& task, bool now) {
  if (absl::Status s = task.Shutdown(now); !s.ok())
    spdlog::warn("shim shutdown failed id={} error={}", task.bundle().id(), s.ToString());
  if (!task.WaitShimExit(kShimExitTimeout)) {
    spdlog::warn("shim did not exit, killing it id={} pid={}", task.bundle().id(), task.shim_pid());
    task.KillShim();
    (void)task.WaitShimExit(kShimExitTimeout);
  }
  task.StopEvents(std::chrono::seconds(2));
}

TaskManager::TaskManager(Config config, events::Exchange& exchange)
    : config_(std::move(config)), exchange_(exchange) {
  janitor_ = std::thread([this] { JanitorLoop(); });
  cleaner_ = std::thread([this] { CleanerLoop(); });
  if (config_.spare_shims > 0) {
    spares_ =
        std::make_unique<SpareShims>(SpareShims::Config{.shim_binary = config_.shim_binary,
                                                        .daemon_address = config_.daemon_address,
                                                        .count = config_.spare_shims});
  }
}

TaskManager::~TaskManager() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  janitor_.join();
  {
    absl::MutexLock lock(&mu_);
    cleaner_stopping_ = true;
  }
  cleaner_.join();  // finishes the deleted tasks' cleanup first
  spares_.reset();
  std::map<std::pair<std::string, std::string>, std::shared_ptr<ShimTask>> tasks;
  {
    absl::MutexLock lock(&mu_);
    tasks.swap(tasks_);
  }
  tasks.clear();  // stops the event streams; the shims and their tasks keep running
}

void TaskManager::Watch(const std::shared_ptr<ShimTask>& task) {
  std::weak_ptr<ShimTask> weak = task;
  task->ForwardEvents(exchange_, [this, weak] {
    absl::MutexLock lock(&mu_);
    lost_.push_back(weak);
  });
}

void TaskManager::JanitorLoop() {
  while (true) {
    std::shared_ptr<ShimTask> task;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !lost_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (stopping_)
        return;
      task = lost_.front().lock();
      lost_.pop_front();
    }
    if (task != nullptr)
      CleanUpLostShim(task);
  }
}

void TaskManager::CleanUpLostShim(const std::shared_ptr<ShimTask>& task) {
  const std::pair<std::string, std::string> key = {task->bundle().ns(), task->bundle().id()};
  {
    absl::MutexLock lock(&mu_);
    auto it = tasks_.find(key);
    if (it == tasks_.end() || it->second != task || !deleting_.insert(key).second)
      return;  // deleted (or being deleted) the usual way
  }
  absl::Cleanup unclaim = [&] {
    absl::MutexLock lock(&mu_);
    deleting_.erase(key);
  };
  if (!task->WaitShimExit(std::chrono::seconds(2)))
    return;  // still there: the stream ended for another reason
  spdlog::warn("shim exited without deleting its task, cleaning up namespace={} id={} pid={}",
               key.first, key.second, task->shim_pid());
  {
    absl::MutexLock lock(&mu_);
    tasks_.erase(key);
  }
  task->StopEvents(std::chrono::milliseconds(0));
  if (absl::StatusOr<shimapi::DeleteResponse> r = CleanupDeadShim(task->bundle()); !r.ok())
    spdlog::error("clean up task failed id={} error={}", key.second, r.status().ToString());
}

absl::StatusOr<std::shared_ptr<ShimTask>> TaskManager::Create(CreateTaskOptions opts) {
  BERTH_RETURN_IF_ERROR(ValidateIdentifier("task", opts.id));
  if (!IsShimRuntime(opts.runtime_name)) {
    return absl::NotFoundError(
        fmt::format("task {:?}: runtime {:?} is not supported (berth serves "
                    "io.containerd.runc.v2, io.containerd.runc.v1 and io.containerd.berth.v1)",
                    opts.id, opts.runtime_name));
  }
  const std::pair<std::string, std::string> key = {opts.ns, opts.id};
  std::optional<Prepared> prepared;
  bool reserved = false;  // in creating_: Prepare leaves this id alone until Create returns
  absl::Cleanup unreserve = [&] {
    if (!reserved)
      return;
    absl::MutexLock lock(&mu_);
    creating_.erase(key);
  };
  {
    absl::MutexLock lock(&mu_);
    if (tasks_.count(key) != 0 || creating_.contains(key))
      return AlreadyExistsError("task", opts.id);
    creating_.insert(key);
    reserved = true;
    prepared = TakePrepared(key);
    // A task of this id that was just deleted: its bundle directory is still being removed.
    auto cleaned = [this, &key]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !cleaning_.contains(key); };
    if (!mu_.AwaitWithTimeout(absl::Condition(&cleaned), absl::Seconds(15)))
      return Unavailable(
          fmt::format("task {:?}: the previous task of this id is still being "
                      "cleaned up",
                      opts.id));
  }
  if (prepared.has_value() &&
      (prepared->runtime_name != opts.runtime_name || prepared->spec_json != opts.spec_json ||
       prepared->task->WaitShimExit(std::chrono::milliseconds(0)))) {
    Discard(prepared->task);  // the container changed since, or the shim is gone
    prepared.reset();
  }
  absl::Time t0 = absl::Now();
  Bundle bundle = MakeBundle(opts.ns, opts.id);
  std::shared_ptr<ShimTask> task;
  if (prepared.has_value()) {
    task = std::move(prepared->task);
    bundle.ClearPrepared();
    spares_->PostponeRefill();
  } else {
    BERTH_RETURN_IF_ERROR(bundle.Create(opts.spec_json));
  }
  absl::Cleanup undo = [&] {
    if (task != nullptr)
      StopShim(*task, /*now=*/true);
    if (absl::Status s = bundle.Remove(); !s.ok())
      spdlog::error("remove bundle after a failed create id={} error={}", opts.id, s.ToString());
  };
  absl::Time t_bundle = absl::Now();
  if (task == nullptr) {
    // Declared after `undo`: after a failure the spare is killed before the bundle is removed
    // (which unmounts the rootfs, should the shim have left it mounted).
    std::optional<SpareShims::Handover> handover = BeginHandover(bundle);
    BERTH_ASSIGN_OR_RETURN(task, StartShim(bundle, opts.runtime_name, std::move(handover)));
    Watch(task);
  }
  absl::Time t1 = absl::Now();
  // The shim mounts the rootfs, as containerd's does, while it reads the spec and makes the
  // cgroup.
  BERTH_RETURN_IF_ERROR(
      task->Create(opts.io, opts.options.has_value() ? &*opts.options : nullptr, opts.rootfs)
          .status());
  spdlog::debug("task created id={} prepared={} bundle_ms={} shim_start_ms={} create_ms={}",
                opts.id, prepared.has_value(), absl::ToDoubleMilliseconds(t_bundle - t0),
                absl::ToDoubleMilliseconds(t1 - t_bundle),
                absl::ToDoubleMilliseconds(absl::Now() - t1));
  {
    absl::MutexLock lock(&mu_);
    tasks_[key] = task;
  }
  std::move(undo).Cancel();
  return task;
}

void TaskManager::Prepare(const std::string& ns, const std::string& id,
                          const std::string& runtime_name, const std::string& spec_json) {
  if (spares_ == nullptr || !IsShimRuntime(runtime_name) || !ValidateIdentifier("task", id).ok() ||
      !spares_->HasReady())
    return;
  const std::pair<std::string, std::string> key = {ns, id};
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ || tasks_.contains(key) || creating_.contains(key) || cleaning_.contains(key) ||
        prepared_.contains(key))
      return;
    Prepared& p = prepared_[key];
    p.runtime_name = runtime_name;
    p.spec_json = spec_json;
  }
  absl::Time t0 = absl::Now();
  Bundle bundle = MakeBundle(ns, id);
  std::shared_ptr<ShimTask> task;
  absl::Status s = bundle.Create(spec_json);
  const bool created = s.ok();
  if (s.ok())
    s = bundle.MarkPrepared();
  if (s.ok()) {
    std::optional<SpareShims::Handover> handover = BeginHandover(bundle);
    absl::StatusOr<std::shared_ptr<ShimTask>> started =
        handover.has_value() ? StartShim(bundle, runtime_name, std::move(handover))
                             : Unavailable("no spare shim is ready");
    if (started.ok()) {
      task = *std::move(started);
      Watch(task);
    } else {
      s = started.status();
    }
  }
  bool keep = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = prepared_.find(key);
    keep = s.ok() && !it->second.discard && !stopping_;
    if (keep) {
      it->second.task = task;
      it->second.expires = absl::Now() + kPreparedLifetime;
      prepared_added_ = true;
    } else {
      prepared_.erase(it);
    }
  }
  if (keep) {
    spdlog::debug("task prepared namespace={} id={} ms={}", ns, id,
                  absl::ToDoubleMilliseconds(absl::Now() - t0));
    return;
  }
  if (!s.ok())
    spdlog::debug("task not prepared namespace={} id={}: {}", ns, id, s.ToString());
  if (task != nullptr) {
    Discard(task);  // its bundle too
  } else if (created) {
    if (absl::Status r = bundle.Remove(); !r.ok())
      spdlog::error("remove prepared bundle id={} error={}", id, r.ToString());
  }
}

void TaskManager::Unprepare(const std::string& ns, const std::string& id) {
  std::shared_ptr<ShimTask> task;
  {
    absl::MutexLock lock(&mu_);
    auto it = prepared_.find({ns, id});
    if (it == prepared_.end())
      return;
    if (it->second.task == nullptr) {
      it->second.discard = true;  // Prepare discards it when done
      return;
    }
    task = std::move(it->second.task);
    prepared_.erase(it);
  }
  Discard(task);
}

std::optional<TaskManager::Prepared> TaskManager::TakePrepared(
    const std::pair<std::string, std::string>& key) {
  auto settled = [this, &key]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = prepared_.find(key);
    return it == prepared_.end() || it->second.task != nullptr;
  };
  mu_.Await(absl::Condition(&settled));  // a hand-over in progress; bounded by its timeouts
  auto node = prepared_.extract(key);
  if (node.empty())
    return std::nullopt;
  return std::move(node.mapped());
}

std::vector<std::shared_ptr<ShimTask>> TaskManager::TakeExpired(bool all) {
  std::vector<std::shared_ptr<ShimTask>> out;
  const absl::Time now = absl::Now();
  for (auto it = prepared_.begin(); it != prepared_.end();) {
    if (it->second.task != nullptr && (all || it->second.expires <= now)) {
      out.push_back(std::move(it->second.task));
      it = prepared_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

void TaskManager::Discard(const std::shared_ptr<ShimTask>& task) {
  spdlog::debug("discarding prepared task namespace={} id={}", task->bundle().ns(),
                task->bundle().id());
  if (task->WaitShimExit(std::chrono::milliseconds(0)))
    task->StopEvents(std::chrono::milliseconds(0));  // it died: nothing to ask it
  else
    StopShim(*task, /*now=*/true);
  if (absl::Status s = task->bundle().Remove(); !s.ok())
    spdlog::error("remove prepared bundle id={} error={}", task->bundle().id(), s.ToString());
}

absl::StatusOr<std::shared_ptr<ShimTask>> TaskManager::Get(const std::string& ns,
                                                           const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find({ns, id});
  if (it == tasks_.end())
    return NotFoundError("task", id);
  return it->second;
}

std::vector<std::shared_ptr<ShimTask>> TaskManager::List(const std::string& ns) {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<ShimTask>> out;
  for (auto it = tasks_.lower_bound({ns, ""}); it != tasks_.end() && it->first.first == ns; ++it)
    out.push_back(it->second);
  return out;
}

absl::StatusOr<std::shared_ptr<ShimTask>> TaskManager::Claim(const std::string& ns,
                                                             const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find({ns, id});
  if (it == tasks_.end())
    return NotFoundError("task", id);
  if (!deleting_.insert({ns, id}).second)
    return FailedPrecondition(fmt::format("task {:?}: is being deleted", id));
  return it->second;
}

absl::StatusOr<shimapi::DeleteResponse> TaskManager::Delete(const std::string& ns,
                                                            const std::string& id) {
  BERTH_ASSIGN_OR_RETURN(std::shared_ptr<ShimTask> task, Claim(ns, id));
  absl::Cleanup unclaim = [&] {
    absl::MutexLock lock(&mu_);
    deleting_.erase({ns, id});
  };
  absl::Time t0 = absl::Now();
  absl::StatusOr<shimapi::DeleteResponse> exit = task->Delete("");
  if (!exit.ok() && !absl::IsUnavailable(exit.status()))
    return exit.status();  // e.g. still running: the task stays
  absl::Time t1 = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    tasks_.erase({ns, id});
  }
  if (!exit.ok()) {
    spdlog::warn("shim does not answer, cleaning up id={} error={}", id, exit.status().ToString());
    if (!task->WaitShimExit(std::chrono::milliseconds(0))) {
      task->KillShim();
      (void)task->WaitShimExit(kShimExitTimeout);
    }
    task->StopEvents(std::chrono::milliseconds(0));
    return CleanupDeadShim(task->bundle());
  }
  // The rest is the cleaner's, off the reply path: the rootfs unmount (overlayfs syncs its
  // upper filesystem then: milliseconds), the shim's exit and the bundle directory. Snapshot
  // removals wait for the unmount (mount::WaitForBackgroundUnmounts); the "deleted" mark keeps
  // a restart after a crash in between from reporting the task again.
  task->bundle().MarkDeleted();
  mount::BeginBackgroundUnmount();
  {
    absl::MutexLock lock(&mu_);
    cleaning_.insert({ns, id});
    to_clean_.push_back(task);
  }
  spdlog::debug("task deleted id={} delete_ms={}", id, absl::ToDoubleMilliseconds(t1 - t0));
  return exit;
}

void TaskManager::CleanerLoop() {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return cleaner_stopping_ || !to_clean_.empty() || prepared_added_;
  };
  for (;;) {
    absl::Time next_expiry = absl::InfiniteFuture();
    for (const auto& [key, p] : prepared_)
      if (p.task != nullptr)
        next_expiry = std::min(next_expiry, p.expires);
    mu_.AwaitWithDeadline(absl::Condition(&ready), next_expiry);
    prepared_added_ = false;
    std::vector<std::shared_ptr<ShimTask>> expired = TakeExpired(/*all=*/cleaner_stopping_);
    std::deque<std::shared_ptr<ShimTask>> batch;
    batch.swap(to_clean_);
    if (batch.empty() && expired.empty()) {
      if (cleaner_stopping_)
        return;
      continue;
    }
    mu_.Unlock();
    for (const std::shared_ptr<ShimTask>& task : expired) Discard(task);
    // Every unmount of the batch first: snapshot removals wait for them, not for a slow shim.
    for (const std::shared_ptr<ShimTask>& task : batch) {
      absl::Status unmounted = mount::UnmountAll(task->bundle().rootfs());
      mount::EndBackgroundUnmount();
      if (!unmounted.ok())
        spdlog::error("unmount rootfs of deleted task id={} error={}", task->bundle().id(),
                      unmounted.ToString());
    }
    for (const std::shared_ptr<ShimTask>& task : batch) {
      StopShim(*task, /*now=*/false);
      if (absl::Status s = task->bundle().Remove(); !s.ok())
        spdlog::error("remove bundle of deleted task id={} error={}", task->bundle().id(),
                      s.ToString());
      absl::MutexLock done(&mu_);
      cleaning_.erase({task->bundle().ns(), task->bundle().id()});
    }
    mu_.Lock();
  }
}

absl::StatusOr<shimapi::DeleteResponse> TaskManager::CleanupDeadShim(const Bundle& bundle) {
  BERTH_ASSIGN_OR_RETURN(CommandOutput out, RunProgram({config_.shim_binary, "delete", "--id",
                                                        bundle.id(), "--namespace", bundle.ns(),
                                                        "--bundle", bundle.path().string()},
                                                       kShimStartTimeout));
  shimapi::DeleteResponse resp;
  if (out.exit_code != 0 || !resp.ParseFromString(out.out)) {
    return Internal(fmt::format("task {:?}: berth-shim delete failed (exit {}): {}", bundle.id(),
                                out.exit_code, out.err));
  }
  ::containerd::events::TaskExit exit_ev;
  exit_ev.set_container_id(bundle.id());
  exit_ev.set_id(bundle.id());
  exit_ev.set_pid(resp.pid());
  exit_ev.set_exit_status(resp.exit_status());
  *exit_ev.mutable_exited_at() = resp.exited_at();
  (void)exchange_.Publish(bundle.ns(), "/tasks/exit", exit_ev);
  ::containerd::events::TaskDelete delete_ev;
  delete_ev.set_container_id(bundle.id());
  delete_ev.set_pid(resp.pid());
  delete_ev.set_exit_status(resp.exit_status());
  *delete_ev.mutable_exited_at() = resp.exited_at();
  (void)exchange_.Publish(bundle.ns(), "/tasks/delete", delete_ev);
  BERTH_RETURN_IF_ERROR(bundle.Remove());
  return resp;
}

absl::StatusOr<std::unique_ptr<ShimTask>> TaskManager::Reconnect(const Bundle& bundle) {
  pid_t pid = bundle.LiveShimPid();
  if (pid == 0)
    return Unavailable(fmt::format("task {:?}: no shim is running", bundle.id()));
  absl::StatusOr<std::unique_ptr<ShimTask>> task =
      ShimTask::Connect(bundle, "", std::chrono::seconds(2));
  if (task.ok())
    return task;
  // Alive but not answering: it cannot serve the task any more.
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd >= 0) {
    UniqueFd pidfd(fd);
    ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
    pollfd p = {pidfd.get(), POLLIN, 0};
    (void)::poll(&p, 1, 2000);
  }
  return task.status();
}

absl::StatusOr<int> TaskManager::Restore() {
  std::error_code ec;
  if (!fs::exists(config_.state, ec))
    return 0;
  int live = 0;
  for (const fs::directory_entry& ns_dir : fs::directory_iterator(config_.state, ec)) {
    if (!ns_dir.is_directory())
      continue;
    for (const fs::directory_entry& dir : fs::directory_iterator(ns_dir.path(), ec)) {
      Bundle bundle = MakeBundle(ns_dir.path().filename(), dir.path().filename());
      if (bundle.Deleted()) {  // deleted, then berthd stopped before the cleaner was done
        if (absl::Status s = bundle.Remove(); !s.ok())
          spdlog::error("remove bundle of deleted task id={} error={}", bundle.id(), s.ToString());
        continue;
      }
      if (bundle.Prepared()) {  // prepared for a task that was never created: no task to report
        if (absl::StatusOr<std::unique_ptr<ShimTask>> shim = Reconnect(bundle); shim.ok())
          StopShim(**shim, /*now=*/true);
        spdlog::info(
            "removing the bundle of a task prepared before the restart namespace={} "
            "id={}",
            bundle.ns(), bundle.id());
        if (absl::Status s = bundle.Remove(); !s.ok())
          spdlog::error("remove prepared bundle id={} error={}", bundle.id(), s.ToString());
        continue;
      }
      absl::StatusOr<std::unique_ptr<ShimTask>> task = Reconnect(bundle);
      if (!task.ok()) {
        spdlog::info("shim of task is gone, cleaning up namespace={} id={} why={}", bundle.ns(),
                     bundle.id(), task.status().ToString());
        if (absl::StatusOr<shimapi::DeleteResponse> r = CleanupDeadShim(bundle); !r.ok())
          spdlog::error("clean up task failed id={} error={}", bundle.id(), r.status().ToString());
        continue;
      }
      spdlog::info("reconnected to task namespace={} id={} shim_pid={}", bundle.ns(), bundle.id(),
                   (*task)->shim_pid());
      std::shared_ptr<ShimTask> shared = std::move(*task);
      Watch(shared);
      absl::MutexLock lock(&mu_);
      tasks_[{bundle.ns(), bundle.id()}] = std::move(shared);
      ++live;
    }
  }
  return live;
}

void RegisterPlugin(plugin::Registry& registry) {
  registry.Add({
      .type = plugin::Type::kRuntime,
      .id = "task",
      .deps = {plugin::Type::kEvent},
      .init = [](plugin::InitContext& ic) -> absl::StatusOr<std::unique_ptr<plugin::Plugin>> {
        BERTH_ASSIGN_OR_RETURN(auto* ex, ic.GetSingle<events::Exchange>(plugin::Type::kEvent));
        std::error_code ec;
        fs::path self = fs::read_symlink("/proc/self/exe", ec);
        if (ec)
          return ErrnoError(ec.value(), "read /proc/self/exe");
        BERTH_ASSIGN_OR_RETURN(int64_t spares, ic.config().Int("spare_shims", 1));
        if (spares < 0 || spares > 64)
          return InvalidArgument(fmt::format("spare_shims {}: must be 0 to 64", spares));
        TaskManager::Config config{.state = ic.daemon().state / "tasks",
                                   .shim_binary = (self.parent_path() / "berth-shim").string(),
                                   .daemon_address = ic.daemon().address,
                                   .spare_shims = static_cast<int>(spares)};
        if (::access(config.shim_binary.c_str(), X_OK) != 0)
          return ErrnoError(errno, fmt::format("shim binary {}", config.shim_binary));
        ic.Export("state", config.state.string());
        ic.Export("shim", config.shim_binary);
        auto manager = std::make_unique<TaskManager>(config, *ex);
        BERTH_ASSIGN_OR_RETURN(int live, manager->Restore());
        spdlog::info("task manager ready tasks={}", live);
        return manager;
      },
      .host_platform = true,
  });
}

}  // namespace berth::runtime
