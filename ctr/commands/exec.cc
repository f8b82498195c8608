// bctr exec [-i] [-t] [-d] [-e K=V] [-w DIR] [-u USER] CONTAINER CMD...: run a process in a
// running container; exits with its exit code.

#include <signal.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>

#include "fmt/format.h"

#include "ctr/commands/commands.h"
#include "ctr/container_create.h"
#include "ctr/containers.h"
#include "ctr/spec.h"
#include "ctr/stdio.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/oci/spec_json.h"

namespace berth::ctr {
namespace {

struct ExecFlags {
  bool interactive = false;
  bool tty = false;
  bool detach = false;
  std::vector<std::string> env;
  std::string workdir;
  std::string user;
  std::string container;
  std::vector<std::string> args;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<oci::Process> ExecProcess(const ExecFlags& f, const oci::Spec& spec, uint32_t pid) {
  if (!spec.process)
    return InvalidArgument(fmt::format("container {:?}: its spec has no process", f.container));
  oci::Process p = *spec.process;
  p.args = f.args;
  p.terminal = f.tty;
  p.console_size.reset();
  if (f.tty) {
    if (auto size = TerminalSize())
      p.console_size = oci::ConsoleSize{size->second, size->first};
  }
  if (!f.workdir.empty())
    p.cwd = f.workdir;
  if (!f.user.empty()) {
    std::string root = fmt::format("/proc/{}/root", pid);
    UserDbReader read = [&]() -> absl::StatusOr<UserDb> {
      return UserDb{ReadAll(root + "/etc/passwd"), ReadAll(root + "/etc/group")};
    };
    std::string home;
    BERTH_ASSIGN_OR_RETURN(p.user, ResolveUser(f.user, read, &home));
    SetEnv(p.env, "HOME=" + home);
  }
  for (const std::string& e : f.env) {
    if (std::optional<std::string> v = ExpandEnv(e))
      SetEnv(p.env, *v);
  }
  if (f.tty && std::none_of(p.env.begin(), p.env.end(),
                            [](const std::string& e) { return e.starts_with("TERM="); }))
    SetEnv(p.env, "TERM=xterm");
  return p;
}

class ExecRun {
 public:
  ExecRun(Connection& conn, std::string id, std::string exec_id)
      : conn_(conn), id_(std::move(id)), exec_id_(std::move(exec_id)) {}

  absl::Status Create(const oci::Process& p, const ProcessStdio* io, bool tty) {
    tasks_api::ExecProcessRequest req;
    req.set_container_id(id_);
    req.set_exec_id(exec_id_);
    req.set_terminal(tty);
    if (io != nullptr) {
      req.set_stdin(io->stdin_path());
      req.set_stdout(io->stdout_path());
      req.set_stderr(io->stderr_path());
    }
    req.mutable_spec()->set_type_url(kProcessTypeUrl);
    req.mutable_spec()->set_value(oci::ProcessToJson(p));
    google::protobuf::Empty resp;
    auto ctx = conn_.Context();
    BERTH_RETURN_IF_ERROR(conn_.Check(conn_.tasks().Exec(ctx.get(), req, &resp)));
    created_ = true;
    return absl::OkStatus();
  }

  absl::Status Start() {
    tasks_api::StartRequest req;
    req.set_container_id(id_);
    req.set_exec_id(exec_id_);
    tasks_api::StartResponse resp;
    auto ctx = conn_.Context();
    return CommandStartError(conn_.Check(conn_.tasks().Start(ctx.get(), req, &resp)));
  }

  absl::StatusOr<uint32_t> Wait() {
    tasks_api::WaitRequest req;
    req.set_container_id(id_);
    req.set_exec_id(exec_id_);
    tasks_api::WaitResponse resp;
    auto ctx = conn_.Context();
    BERTH_RETURN_IF_ERROR(conn_.Check(conn_.tasks().Wait(ctx.get(), req, &resp)));
    return resp.exit_status();
  }

  void Resize() {
    auto size = TerminalSize();
    if (!size)
      return;
    tasks_api::ResizePtyRequest req;
    req.set_container_id(id_);
    req.set_exec_id(exec_id_);
    req.set_width(size->first);
    req.set_height(size->second);
    google::protobuf::Empty resp;
    auto ctx = conn_.Context();
    (void)conn_.tasks().ResizePty(ctx.get(), req, &resp);
  }

  void Signal(int sig) {
    tasks_api::KillRequest req;
    req.set_container_id(id_);
    req.set_exec_id(exec_id_);
    req.set_signal(static_cast<uint32_t>(sig));
    google::protobuf::Empty resp;
    auto ctx = conn_.Context();
    (void)conn_.tasks().Kill(ctx.get(), req, &resp);
  }

  void CloseStdin() {
    tasks_api::CloseIORequest req;
    req.set_container_id(id_);
    req.set_exec_id(exec_id_);
    req.set_stdin(true);
    google::protobuf::Empty resp;
    auto ctx = conn_.Context();
    (void)conn_.tasks().CloseIO(ctx.get(), req, &resp);
  }

  ~ExecRun() {
    if (!created_)
      return;
    tasks_api::DeleteProcessRequest req;
    req.set_container_id(id_);
    req.set_exec_id(exec_id_);
    tasks_api::DeleteResponse resp;
    auto ctx = conn_.Context();
    (void)conn_.tasks().DeleteProcess(ctx.get(), req, &resp);
  }

  void Keep() { created_ = false; }

 private:
  Connection& conn_;
  std::string id_;
  std::string exec_id_;
  bool created_ = false;
};

absl::StatusOr<int> RunExec(Cli& cli, const ExecFlags& f) {
  Connection& conn = cli.conn();
  BERTH_ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(conn, f.container));
  BERTH_ASSIGN_OR_RETURN(TaskInfo t, GetTaskInfo(conn, c.id()));
  if (!t.exists || t.status != "running")
    return FailedPrecondition(fmt::format("container {:?}: is not running", f.container));
  BERTH_ASSIGN_OR_RETURN(oci::Spec spec, ContainerSpec(c));
  BERTH_ASSIGN_OR_RETURN(oci::Process p, ExecProcess(f, spec, t.pid));
  std::random_device rd;
  std::string exec_id = fmt::format("exec-{:08x}{:08x}", rd(), rd());
  ExecRun run(conn, c.id(), exec_id);
  if (f.detach) {
    BERTH_RETURN_IF_ERROR(run.Create(p, nullptr, false));
    BERTH_RETURN_IF_ERROR(run.Start());
    run.Keep();
    return 0;
  }
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<ProcessStdio> io,
                         ProcessStdio::Create(exec_id, f.interactive, f.tty));
  std::atomic<bool> started{false};
  SignalProxy proxy([&](int sig) {
    if (!started) {
      if (sig != SIGWINCH)
        ExitWithCode(128 + sig);
      return;
    }
    if (sig == SIGWINCH) {
      if (f.tty)
        run.Resize();
      return;
    }
    run.Signal(sig);
  });
  BERTH_RETURN_IF_ERROR(run.Create(p, io.get(), f.tty));
  io->StartOutput();
  std::optional<RawTerminal> raw;
  if (f.tty && f.interactive)
    raw.emplace();
  absl::Status st = run.Start();
  if (!st.ok())
    return st;
  started = true;
  io->StartInput([&run] { run.CloseStdin(); });
  if (f.tty)
    run.Resize();
  absl::StatusOr<uint32_t> code = run.Wait();
  io->WaitOutput(std::chrono::seconds(2));
  if (raw)
    raw->Restore();
  BERTH_RETURN_IF_ERROR(code.status());
  return static_cast<int>(*code);
}

}  // namespace

void AddExec(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<ExecFlags>();
  CLI::App* cmd = parent.add_subcommand("exec", "Run a command in a running container");
  cmd->add_flag("-i,--interactive", f->interactive, "Forward stdin");
  cmd->add_flag("-t,--tty", f->tty, "Allocate a pseudo-terminal");
  cmd->add_flag("-d,--detach", f->detach, "Run in the background");
  cmd->add_option("-e,--env", f->env, "Set an environment variable: KEY=VALUE or KEY")
      ->allow_extra_args(false);
  cmd->add_option("-w,--workdir", f->workdir, "Working directory");
  cmd->add_option("-u,--user", f->user, "User (name or uid) and optional group: USER[:GROUP]");
  cmd->add_option("container", f->container, "Container (name, id or id prefix)")->required();
  cmd->add_option("command", f->args, "Command and arguments")->required();
  cmd->positionals_at_end();
  cmd->callback([&cli, f] {
    cli.action = [&cli, f]() -> absl::Status {
      absl::StatusOr<int> code = RunExec(cli, *f);
      if (!code.ok())
        return Annotate(code.status(), "exec");
      if (*code != 0)
        ExitWithCode(*code);
      return absl::OkStatus();
    };
  });
}

}  // namespace berth::ctr
