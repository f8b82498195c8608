#include "shim/daemon.h"

#include <fcntl.h>
#include <linux/prctl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <iterator>
#include <sstream>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/time/time.h"
#include "fmt/format.h"
#include "spdlog/spdlog.h"

#include "berth/shim/v1/shim.pb.h"
#include "lib/base/log.h"
#include "lib/base/unique_fd.h"
#include "lib/oci/spec_json.h"
#include "lib/ttrpc/server.h"
#include "shim/event_queue.h"
#include "shim/linux/cgroups/cgroup.h"
#include "shim/linux/exit_claims.h"
#include "shim/linux/hooks.h"
#include "shim/linux/namespaces.h"
#include "shim/linux/process.h"
#include "shim/linux/syscalls.h"
#include "shim/proto_time.h"
#include "shim/reaper.h"
#include "shim/shim_service.h"
#include "shim/task/oci_command.h"
#include "shim/task/task.h"

namespace berth::shim {
namespace {

// The server that SIGTERM stops (Stop() only writes to an eventfd: async-signal-safe).
std::atomic<ttrpc::Server*> g_server = nullptr;
volatile std::sig_atomic_t g_terminate = 0;

void OnTerminate(int) {
  g_terminate = 1;
  if (ttrpc::Server* s = g_server.load())
    s->Stop();
}

void Tell(int fd, const std::string& msg) {
  (void)!::write(fd, msg.data(), msg.size());
}

// Closes every descriptor from 3 up but `keep` (ascending).
void CloseAllBut(std::initializer_list<int> keep) {
  unsigned from = 3;
  for (int fd : keep) {
    if (fd < static_cast<int>(from))
      continue;
    if (static_cast<unsigned>(fd) > from)
      ::syscall(SYS_close_range, from, static_cast<unsigned>(fd) - 1, 0);
    from = static_cast<unsigned>(fd) + 1;
  }
  ::syscall(SYS_close_range, from, ~0U, 0);
}

// The daemon's own setup, before any thread: subreaper, descriptors, stdio, signals. The
// daemon outlives its starter: what the starter leaked (berthd's listening socket, once, when a
// spare's start raced its creation) is closed, not kept, so only `ready` (and a spare's
// channel) stay open.
void PrepareProcess(int ready, bool spare) {
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  if (spare) {
    CloseAllBut({std::min(kSpareChannelFd, ready), std::max(kSpareChannelFd, ready)});
  } else {
    CloseAllBut({ready});
  }
  int null_fd = ::open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3; ++fd) ::dup2(null_fd, fd);
  if (null_fd > 2)
    ::close(null_fd);
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGTERM, OnTerminate);
  std::signal(SIGINT, OnTerminate);
  Reaper::BlockSigchld();
}

// The task's: cwd (the bundle), log, pid file.
bool PrepareBundle(const ShimOptions& opts, int ready) {
  if (::chdir(opts.bundle.c_str()) != 0) {
    Tell(ready, fmt::format("chdir {}: {}", opts.bundle, std::strerror(errno)));
    return false;
  }
  absl::StatusOr<spdlog::level::level_enum> level = ParseLogLevel(opts.log_level);
  absl::Status s = SetupFileLogging("berth-shim", opts.bundle + "/shim.log",
                                    level.ok() ? *level : spdlog::level::info);
  if (!s.ok()) {
    Tell(ready, s.ToString());
    return false;
  }
  std::string pid = std::to_string(::getpid());
  UniqueFd f(::open("shim.pid", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!f.valid() || ::write(f.get(), pid.data(), pid.size()) != static_cast<ssize_t>(pid.size())) {
    Tell(ready, fmt::format("write {}/shim.pid: {}", opts.bundle, std::strerror(errno)));
    return false;
  }
  return true;
}

// A spare's wait for its task on kSpareChannelFd: fills id, namespace and bundle (and the
// socket, in the bundle). False when berthd closed the channel or sent something else.
bool WaitForTask(ShimOptions& opts) {
  pollfd p = {kSpareChannelFd, POLLIN, 0};
  while (::poll(&p, 1, -1) < 0) {  // poll, unlike recv, is not restarted after SIGTERM
    if (errno != EINTR || g_terminate != 0)
      return false;
  }
  char buf[8192];
  ssize_t n = ::recv(kSpareChannelFd, buf, sizeof(buf), MSG_DONTWAIT);
  if (n <= 0)
    return false;
  std::string msg(buf, static_cast<size_t>(n));
  size_t a = msg.find('\0');
  size_t b = a == std::string::npos ? a : msg.find('\0', a + 1);
  if (b == std::string::npos || a == 0 || b == a + 1 || b + 1 >= msg.size() || msg[b + 1] != '/') {
    Tell(kSpareChannelFd, "spare shim: malformed task message");
    return false;
  }
  opts.id = msg.substr(0, a);
  opts.ns = msg.substr(a + 1, b - a - 1);
  opts.bundle = msg.substr(b + 1);
  opts.socket = opts.bundle + "/shim.sock";
  return true;
}

// Fields of /proc/self/stat by number (1-based, as proc(5) counts them); empty when unreadable.
std::vector<unsigned long> SelfStat() {
  std::ifstream f("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos)
    return {};
  std::vector<unsigned long> fields(4, 0);  // pid, comm and state (3) are not needed
  std::istringstream in(stat.substr(paren + 4));
  for (std::string field; in >> field;) fields.push_back(std::strtoul(field.c_str(), nullptr, 10));
  return fields;
}

// What a spare reads about itself before it has a task (none of it changes), so that its
// hand-over does not: the program it runs and the fields of /proc/self/stat that RenameToTask
// needs.
struct SpareSelf {
  std::string program;
  std::vector<unsigned long> stat;

  static SpareSelf Read() {
    SpareSelf s;
    std::ifstream f("/proc/self/cmdline");
    std::getline(f, s.program, '\0');
    s.stat = SelfStat();
    return s;
  }
};

// Makes /proc/self/cmdline of a spare that took its task read as berthd would have started a
// shim for it ("berth-shim start --id ID --namespace NS --bundle DIR --address ADDR"), for ps
// and pgrep and for berthd's Bundle::LiveShimPid. PR_SET_MM_MAP (as LXC's setproctitle) needs
// no CAP_SYS_RESOURCE, unlike PR_SET_MM_ARG_START; where it fails the command line stays
// "... start --spare ..." and berthd knows the shim by its cwd.
void RenameToTask(const ShimOptions& opts, const SpareSelf& self) {
  static std::string* line = new std::string;  // the kernel reads it for the process's life
  for (const std::string& a : {self.program, std::string("start"), std::string("--id"), opts.id,
                               std::string("--namespace"), opts.ns, std::string("--bundle"),
                               opts.bundle, std::string("--address"), opts.daemon_address}) {
    line->append(a);
    line->push_back('\0');
  }
  const std::vector<unsigned long>& st = self.stat;
  if (st.size() <= 51)
    return;
  prctl_mm_map map{};
  map.start_code = st[26];
  map.end_code = st[27];
  map.start_stack = st[28];
  map.start_data = st[45];
  map.end_data = st[46];
  map.start_brk = st[47];
  map.brk = static_cast<uint64_t>(::syscall(SYS_brk, 0));
  map.arg_start = reinterpret_cast<uint64_t>(line->data());
  map.arg_end = map.arg_start + line->size();
  map.env_start = st[50];
  map.env_end = st[51];
  map.exe_fd = static_cast<uint32_t>(-1);
  if (::prctl(PR_SET_MM, PR_SET_MM_MAP, &map, sizeof(map), 0) != 0)
    spdlog::debug("rename spare shim: prctl PR_SET_MM_MAP: {}", std::strerror(errno));
}

// The shim's reaper, started before its task exists (a spare's is, ahead of its hand-over):
// exits go to the task that Route names; a hook's or a runtime command's are claimed first.
class TaskReaper {
 public:
  absl::Status Start() {
    linux::EnableExitClaims();
    absl::StatusOr<std::unique_ptr<Reaper>> r = Reaper::Start([this](pid_t pid, int status) {
      if (linux::ClaimExit(pid, status))
        return;
      if (Task* t = task_.load())
        t->OnExit(pid, status);
    });
    if (!r.ok())
      return r.status();
    reaper_ = *std::move(r);
    return absl::OkStatus();
  }

  void Route(Task* task) { task_ = task; }

  // Joins the reaper thread: no exit reaches the task after this.
  void Stop() { reaper_.reset(); }

 private:
  std::atomic<Task*> task_ = nullptr;
  std::unique_ptr<Reaper> reaper_;
};

// `reaper` is running. `spare`: what a spare shim read about itself before it took this task;
// null otherwise.
int Serve(const ShimOptions& opts, int ready, ttrpc::Server& server, TaskReaper& reaper,
          linux::PreparedNamespaces prepared = {}, const SpareSelf* spare = nullptr) {
  if (!PrepareBundle(opts, ready))
    return 1;
  if (spare != nullptr)
    RenameToTask(opts, *spare);
  EventQueue events(opts.ns);
  Task task(opts.ns, opts.id, events);
  task.UsePreparedNamespaces(std::move(prepared));
  reaper.Route(&task);
  absl::Cleanup stop_reaper = [&reaper] { reaper.Stop(); };  // before `task` goes
  std::atomic<bool> gone = false;
  ShimService service(task, events, [&server, &gone] {
    gone = true;
    server.Stop();  // Serve returns once the running calls (this Delete) have answered
  });
  service.Register(server);
  if (absl::Status s = server.Listen(opts.socket); !s.ok()) {
    Tell(ready, s.ToString());
    return 1;
  }
  g_server = &server;
  if (g_terminate != 0)
    server.Stop();
  spdlog::info("serving id={} namespace={} socket={}", opts.id, opts.ns, opts.socket);
  Tell(ready, "unix://" + opts.socket);
  ::close(ready);
  task.PreloadSpec(opts.bundle);  // while berthd connects
  server.Serve(absl::Seconds(2));
  g_server = nullptr;
  spdlog::info("shutting down id={} reason={}", opts.id, gone ? "task deleted" : "signal");
  // berthd's event stream sends what is still queued (the /tasks/delete of the Delete just
  // answered) and ends; only then are the connections closed.
  events.Close();
  if (!server.WaitForCalls(absl::Seconds(1)))
    spdlog::debug("calls still running at shutdown id={}", opts.id);
  server.Shutdown(absl::Seconds(2));
  std::move(stop_reaper).Invoke();
  ::unlink(opts.socket.c_str());
  return 0;
}

// The daemon's life, started or spare; the server's destructor lets its idle workers go.
int RunDaemon(ShimOptions& opts, int ready) {
  ttrpc::Server server;
  TaskReaper reaper;
  if (absl::Status s = reaper.Start(); !s.ok()) {
    Tell(ready, s.ToString());
    return 1;
  }
  if (!opts.spare)
    return Serve(opts, ready, server, reaper);
  // A spare makes its container's new namespaces and the workers for its first calls (Events,
  // Create) while it waits; without the namespaces (an error here) the container creates its own.
  absl::StatusOr<linux::PreparedNamespaces> prepared = linux::PreparedNamespaces::Make();
  server.Prestart(2);
  Tell(ready, fmt::format("spare {}", ::getpid()));
  ::close(ready);
  // Ahead of the task too: what the hand-over would read (its own name and stat, the log's
  // time zone).
  const SpareSelf self = SpareSelf::Read();
  ::tzset();
  if (!WaitForTask(opts))
    return 0;
  return Serve(opts, kSpareChannelFd, server, reaper,
               prepared.ok() ? *std::move(prepared) : linux::PreparedNamespaces(), &self);
}

std::string Absolute(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(path, ec);
  return ec ? path : p.lexically_normal().string();
}

// As containerd's shims: one above the starter's (berthd's) OOM score, so that under memory
// pressure the kernel takes a shim before berthd. The containers inherit it unless their spec
// sets process.oomScoreAdj. Best effort: a shim with its starter's score works as well.
void AdjustOomScore() {
  int parent = 0;
  if (!(std::ifstream(fmt::format("/proc/{}/oom_score_adj", ::getppid())) >> parent))
    return;
  std::ofstream("/proc/self/oom_score_adj") << std::min(parent + 1, 1000);
}

}  // namespace

int StartShim(ShimOptions opts) {
  AdjustOomScore();
  opts.bundle = Absolute(opts.bundle);
  if (opts.socket.empty() && !opts.spare)
    opts.socket = opts.bundle + "/shim.sock";
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) {
    std::cerr << "berth-shim: pipe: " << std::strerror(errno) << "\n";
    return 1;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    std::cerr << "berth-shim: fork: " << std::strerror(errno) << "\n";
    return 1;
  }
  if (pid == 0) {
    ::close(ready[0]);
    ::setsid();
    if (::fork() != 0)
      ::_exit(0);  // the daemon is re-parented to the nearest subreaper or init
    PrepareProcess(ready[1], opts.spare);
    std::exit(RunDaemon(opts, ready[1]));
  }
  ::close(ready[1]);
  std::string answer;
  char buf[512];
  ssize_t n;
  while ((n = ::read(ready[0], buf, sizeof(buf))) > 0) answer.append(buf, static_cast<size_t>(n));
  ::close(ready[0]);
  ::waitpid(pid, nullptr, 0);
  if (answer.rfind(opts.spare ? "spare" : "unix://", 0) != 0) {
    std::cerr << "berth-shim: " << (answer.empty() ? "the daemon exited" : answer) << "\n";
    return 1;
  }
  std::cout << answer << std::endl;
  return 0;
}

int DeleteBundle(const ShimOptions& opts) {
  std::string bundle = Absolute(opts.bundle);
  std::string cgroups_path = "/berth/" + opts.id;
  absl::StatusOr<oci::Spec> spec = oci::LoadSpec(bundle);
  if (spec.ok() && !spec->linux.cgroups_path.empty())
    cgroups_path = spec->linux.cgroups_path;
  const bool embedded = ::access((bundle + "/runtime.json").c_str(), F_OK) != 0;
  if (absl::Status s = DeleteCliContainer(bundle, opts.id); !s.ok())
    std::cerr << "berth-shim delete: " << s << "\n";  // the cgroup is still cleaned below
  std::unique_ptr<linux::Cgroup> cg = linux::Cgroup::Open(cgroups_path);
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<std::vector<pid_t>> pids = cg->Pids();
    if (!pids.ok() || pids->empty())
      break;
    for (pid_t p : *pids) (void)linux::SignalPid(p, SIGKILL);
    (void)cg->Thaw();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (absl::Status s = cg->Destroy(); !s.ok()) {
    std::cerr << "berth-shim delete: " << s << "\n";
    return 1;
  }
  ::unlink((bundle + "/shim.sock").c_str());
  int pid = 0;
  std::ifstream(bundle + "/init.pid") >> pid;
  // The task's shim is gone without the task's delete: run the poststop hooks that delete would
  // have run (runc's delete does so for its containers), so that they undo what createRuntime
  // set up, a network attachment say. A warning when they fail, as in the shim.
  if (embedded && spec.ok() && !spec->hooks.poststop.empty()) {
    linux::HookState state{.id = opts.id,
                           .status = "stopped",
                           .pid = pid,
                           .bundle = bundle,
                           .annotations = spec->annotations};
    if (absl::Status s = linux::RunHooks(spec->hooks.poststop, state, "poststop"); !s.ok())
      std::cerr << "berth-shim delete: " << s << "\n";
  }
  v1::DeleteResponse resp;
  resp.set_pid(static_cast<uint32_t>(pid));
  resp.set_exit_status(128 + SIGKILL);
  *resp.mutable_exited_at() = NowProtoTime();
  resp.SerializeToOstream(&std::cout);
  return 0;
}

}  // namespace berth::shim
