#include "shim/linux/container.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/oci/sysctl.h"
#include "shim/linux/exec.h"
#include "shim/linux/hooks.h"
#include "shim/linux/init.h"
#include "shim/linux/namespaces.h"
#include "shim/linux/rootfs.h"
#include "shim/linux/sync.h"
#include "shim/linux/syscalls.h"

namespace berth::shim::linux {
namespace {

constexpr int kSetupTimeoutMs = 30000;

absl::Status Validate(const oci::Spec& spec) {
  if (!spec.process)
    return InvalidArgument("config.json: process: required");
  BERTH_RETURN_IF_ERROR(ValidateHooks(spec.hooks));
  if ((!spec.hostname.empty() || !spec.domainname.empty()) &&
      (spec.linux.FindNamespace("uts") == nullptr ||
       !spec.linux.FindNamespace("uts")->path.empty()))
    return InvalidArgument("hostname: setting it needs a new uts namespace");
  BERTH_RETURN_IF_ERROR(oci::ValidateSysctls(spec));
  return absl::OkStatus();
}

// berth.io/loopback=up, for a container with a network namespace of its own (a joined one is
// someone else's to configure).
bool LoopbackUp(const oci::Spec& spec) {
  auto it = spec.annotations.find(oci::kLoopbackAnnotation);
  const oci::Namespace* net = spec.linux.FindNamespace("network");
  return it != spec.annotations.end() && it->second == "up" && net != nullptr && net->path.empty();
}

std::vector<std::pair<std::string, std::string>> Sysctls(const oci::Spec& spec) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, value] : spec.linux.sysctl) {
    std::string path = "/proc/sys/" + key;
    for (size_t i = 10; i < path.size(); ++i) path[i] = path[i] == '.' ? '/' : path[i];
    out.emplace_back(path, value);
  }
  return out;
}

absl::Status WriteOomScoreAdj(pid_t pid, int adj) {
  std::string file = fmt::format("/proc/{}/oom_score_adj", pid);
  absl::Status s = WriteCgroupFile(file, std::to_string(adj));
  if (s.ok())
    return s;
  return Annotate(s, fmt::format("process.oomScoreAdj {}", adj));
}

}  // namespace

Container::Container(std::string id, std::string bundle, oci::Spec spec)
    : id_(std::move(id)), bundle_(std::move(bundle)), spec_(std::move(spec)) {}

Container::~Container() {
  (void)Destroy();
}

absl::StatusOr<std::unique_ptr<Container>> Container::Create(const ContainerConfig& config,
                                                             oci::Spec spec) {
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<Container> c, Begin(config, std::move(spec)));
  if (absl::Status s = c->Finish(); !s.ok()) {
    (void)c->Destroy();
    return s;
  }
  return c;
}

absl::StatusOr<std::unique_ptr<Container>> Container::Begin(const ContainerConfig& config,
                                                            oci::Spec spec) {
  BERTH_RETURN_IF_ERROR(Validate(spec));
  if (spec.linux.cgroups_path.empty())
    spec.linux.cgroups_path = "/berth/" + config.id;
  std::unique_ptr<Container> c(new Container(config.id, config.bundle, std::move(spec)));
  absl::Status s = c->Setup(config);
  if (!s.ok()) {
    (void)c->Destroy();
    return s;
  }
  return c;
}

absl::Status Container::Setup(const ContainerConfig& config) {
  BERTH_ASSIGN_OR_RETURN(cgroup_, Cgroup::Create(spec_.linux.cgroups_path));
  if (spec_.linux.resources)
    BERTH_RETURN_IF_ERROR(cgroup_->Apply(*spec_.linux.resources));
  BERTH_ASSIGN_OR_RETURN(NamespacePlan ns, PlanNamespaces(spec_.linux, config.prepared));
  BERTH_ASSIGN_OR_RETURN(RootfsPlan rootfs, PlanRootfs(spec_, bundle_, cgroup_->Binds()));
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<ProcessPlan> process,
                         PlanProcess(*spec_.process, spec_.linux.seccomp, config.stdio));
  BERTH_ASSIGN_OR_RETURN(CgroupJoin join, cgroup_->PrepareJoin());
  const bool cgroup_ns_after_join =
      !join.tasks_files.empty() && (ns.clone_flags & CLONE_NEWCGROUP) != 0;
  if (cgroup_ns_after_join)
    ns.clone_flags &= ~static_cast<uint64_t>(CLONE_NEWCGROUP);
  BERTH_ASSIGN_OR_RETURN(SyncPair sync, MakeSyncPair());
  if (config.rootfs_ready)
    BERTH_RETURN_IF_ERROR(config.rootfs_ready());
  InitPlan plan{.namespaces = &ns,
                .rootfs = &rootfs,
                .process = process.get(),
                .hostname = spec_.hostname,
                .domainname = spec_.domainname,
                .sysctls = Sysctls(spec_),
                .new_user = ns.new_user,
                .cgroup = &join,
                .new_cgroup_ns_after_join = cgroup_ns_after_join,
                .run_hooks = !spec_.hooks.prestart.empty() || !spec_.hooks.create_runtime.empty() ||
                             !spec_.hooks.create_container.empty(),
                .loopback_up = LoopbackUp(spec_),
                .parent_end = sync.parent.get()};
  int pidfd = -1;
  pid_t pid = -1;
  {
    BERTH_ASSIGN_OR_RETURN(PidNamespaceForChildren in_pidns, PidNamespaceForChildren::Enter(ns));
    pid = Clone3(ns.clone_flags | CLONE_PIDFD, SIGCHLD, &pidfd, join.clone_into.get());
    if (pid == 0)
      RunInit(plan, sync.child.get());
  }
  if (pid < 0)
    return ErrnoError(errno, fmt::format("container {:?}: clone3", id_));
  init_ = ChildProcess(pid, UniqueFd(pidfd));
  pid_ = pid;
  sync.child.reset();
  sync_ = std::move(sync.parent);
  return SendGo(sync_.get());
}

HookTarget Container::InContainer() const {
  return HookTarget{.init_pidfd = init_.pidfd(), .ns_flags = ExecNamespaceFlags(spec_.linux)};
}

HookState Container::State(const char* status) const {
  return HookState{.id = id_,
                   .status = status,
                   .pid = pid_,
                   .bundle = bundle_,
                   .annotations = spec_.annotations};
}

absl::Status Container::SendGo(int sync) {
  const oci::Namespace* user = spec_.linux.FindNamespace("user");
  if (user != nullptr && user->path.empty())
    BERTH_RETURN_IF_ERROR(WriteIdMappings(pid_, spec_.linux));
  if (spec_.process->oom_score_adj)
    BERTH_RETURN_IF_ERROR(WriteOomScoreAdj(pid_, *spec_.process->oom_score_adj));
  return SendToChild(sync, SyncType::kGo, "init");
}

// Errors from the child already say "init: ".
absl::Status Container::Finish() {
  if (!sync_.valid() || ready_)
    return FailedPrecondition(fmt::format("container {:?}: not being created", id_));
  const int sync = sync_.get();
  for (;;) {
    BERTH_ASSIGN_OR_RETURN(SyncMsg msg, ReceiveSync(sync, "init", kSetupTimeoutMs));
    switch (msg.type) {
      case SyncType::kRunHooks:
        hooks_began_ = true;
        BERTH_RETURN_IF_ERROR(RunHooks(spec_.hooks.prestart, State("creating"), "prestart"));
        BERTH_RETURN_IF_ERROR(
            RunHooks(spec_.hooks.create_runtime, State("creating"), "createRuntime"));
        BERTH_RETURN_IF_ERROR(RunHooks(spec_.hooks.create_container, State("creating"),
                                       "createContainer", InContainer()));
        BERTH_RETURN_IF_ERROR(SendToChild(sync, SyncType::kHooksDone, "init"));
        break;
      case SyncType::kReady:
        ready_ = true;
        return absl::OkStatus();
      case SyncType::kEof:
        // As runc: whatever else went wrong, a kill by the OOM killer is the likely cause.
        if (cgroup_->OomKillCount() > 0)
          return absl::ResourceExhaustedError(
              "init: killed by the OOM killer during setup (memory limit too low?)");
        return Internal("init: exited during setup");
      default:
        return Internal(fmt::format("init: unexpected message {}", static_cast<int>(msg.type)));
    }
  }
}

absl::Status Container::Start() {
  if (started_ || !sync_.valid())
    return FailedPrecondition(fmt::format("container {:?}: already started", id_));
  if (!ready_)
    return FailedPrecondition(fmt::format("container {:?}: not created yet", id_));
  started_ = true;
  UniqueFd sync = std::move(sync_);
  if (absl::Status s =
          RunHooks(spec_.hooks.start_container, State("created"), "startContainer", InContainer());
      !s.ok()) {
    // The runtime-spec: stop the container. The init dies without exec'ing; Destroy (the
    // task's delete) removes the rest and runs the poststop hooks.
    (void)init_.Signal(SIGKILL);
    (void)KillAll(SIGKILL);
    return s;
  }
  BERTH_RETURN_IF_ERROR(SendToChild(sync.get(), SyncType::kStart, "init"));
  BERTH_ASSIGN_OR_RETURN(SyncMsg msg, ReceiveSync(sync.get(), "start", kSetupTimeoutMs));
  if (msg.type != SyncType::kEof)
    return Internal(fmt::format("start: unexpected message {}", static_cast<int>(msg.type)));
  // Poststart failures must not stop the container (runtime-spec): a warning only.
  if (absl::Status s = RunHooks(spec_.hooks.poststart, State("running"), "poststart"); !s.ok())
    spdlog::warn("poststart hook failed id={}: {}", id_, s.ToString());
  return absl::OkStatus();
}

absl::StatusOr<ChildProcess> Container::Exec(const oci::Process& process, const Stdio& stdio) {
  if (!init_.valid())
    return FailedPrecondition(fmt::format("container {:?}: init is gone", id_));
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<ProcessPlan> pp,
                         PlanProcess(process, spec_.linux.seccomp, stdio));
  BERTH_ASSIGN_OR_RETURN(SyncPair sync, MakeSyncPair());
  BERTH_ASSIGN_OR_RETURN(CgroupJoin join, cgroup_->PrepareJoin());
  ExecPlan plan{.init_pidfd = init_.pidfd(),
                .ns_flags = ExecNamespaceFlags(spec_.linux),
                .cgroup = &join,
                .process = pp.get(),
                .parent_end = sync.parent.get()};
  int pidfd = -1;
  pid_t pid = Clone3(CLONE_PIDFD, 0, &pidfd, join.clone_into.get());
  if (pid < 0)
    return ErrnoError(errno, fmt::format("container {:?}: exec: clone3", id_));
  if (pid == 0)
    RunExecIntermediate(plan, sync.child.get());
  ChildProcess intermediate(pid, UniqueFd(pidfd));
  sync.child.reset();
  UniqueFd proc_fd;
  BERTH_ASSIGN_OR_RETURN(SyncMsg msg,
                         ReceiveSync(sync.parent.get(), "exec", kSetupTimeoutMs, &proc_fd));
  if (msg.type != SyncType::kPid || !proc_fd.valid())
    return Internal("exec: the intermediate process exited without a pid");
  ChildProcess proc(static_cast<pid_t>(msg.value), std::move(proc_fd));
  (void)intermediate.Wait();
  BERTH_ASSIGN_OR_RETURN(msg, ReceiveSync(sync.parent.get(), "start", kSetupTimeoutMs));
  if (msg.type != SyncType::kEof)
    return Internal("exec: unexpected message");
  return proc;
}

absl::Status Container::KillAll(int sig) {
  if (!cgroup_)
    return absl::OkStatus();
  BERTH_ASSIGN_OR_RETURN(std::vector<pid_t> pids, cgroup_->Pids());
  for (pid_t p : pids) {
    absl::Status s = SignalPid(p, sig);
    if (!s.ok() && !absl::IsNotFound(s))
      return s;
  }
  return absl::OkStatus();
}

absl::Status Container::Destroy() {
  if (destroyed_)
    return absl::OkStatus();
  destroyed_ = true;
  sync_.reset();
  init_ = ChildProcess();  // SIGKILL and reap the init, if still ours
  absl::Status result;
  if (cgroup_) {
    (void)KillAll(SIGKILL);
    (void)cgroup_->Thaw();  // frozen processes die only once thawed
    for (int i = 0; i < 200; ++i) {
      absl::StatusOr<std::vector<pid_t>> left = cgroup_->Pids();
      if (!left.ok() || left->empty())
        break;
      (void)KillAll(SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    result = cgroup_->Destroy();
  }
  if (started_ || ready_ || hooks_began_) {
    // As runc, for every container that got as far as its hooks, started or not: poststop
    // undoes what prestart and createRuntime set up (a network attachment, say). As poststart,
    // a failure is a warning (runtime-spec), the delete goes on.
    if (absl::Status s = RunHooks(spec_.hooks.poststop, State("stopped"), "poststop"); !s.ok())
      spdlog::warn("poststop hook failed id={}: {}", id_, s.ToString());
  }
  return result;
}

}  // namespace berth::shim::linux
