// Runtime over an external OCI runtime binary (runc, crun) through its command line:
//   BINARY --root ROOT --log LOG --log-format json create --bundle B --pid-file F
//          [--console-socket S] ID
// then start, kill [--all], pause, resume, update --resources -, exec --detach and
// delete --force. ROOT is the client's runc option `root`, or <bundle>/runtime-state; /run/runc
// is never used. The container's init is a child of `BINARY create` and is re-parented to the
// shim (a child subreaper), so the shim's reaper sees its exit; its pid comes from the pid
// file. Runtime processes are cloned with exit signal 0 and waited on here (oci_command.h).
// Stdio: the fds the shim prepared are the runtime's own stdio, which create and exec pass on;
// for a terminal, the pty master comes back over --console-socket and replaces the shim's.
// Pids, stats and OOM events read the container's cgroup (linux.cgroupsPath, runc's cgroupfs
// layout) directly, so `state` and `ps` are not needed. Errors carry the runtime's message
// from LOG. <bundle>/runtime.json records BINARY and ROOT for `berth-shim delete`.

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/oci/spec_json.h"
#include "shim/task/oci_command.h"
#include "shim/task/runtime.h"

namespace berth::shim {
namespace {

namespace fs = std::filesystem;

// The "msg" of the last error line of a JSON log (runc and crun --log-format json), else of the
// last line that is not debug output.
std::string LastLogMessage(const std::string& log) {
  std::istringstream in(log);
  std::string line, error, other;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("msg") || !j["msg"].is_string())
      continue;
    std::string level = j.value("level", "");
    if (level == "error" || level == "fatal")
      error = j["msg"].get<std::string>();
    else if (level != "debug")
      other = j["msg"].get<std::string>();
  }
  return error.empty() ? other : error;
}

absl::Status RuntimeError(std::string_view what, const std::string& msg) {
  std::string text = fmt::format("{}: {}", what, msg);
  // As the embedded runtime's errors: a missing container, command or mount source (ENOENT).
  if (msg.find("does not exist") != std::string::npos ||
      msg.find("no such file or directory") != std::string::npos)
    return absl::NotFoundError(text);
  if (msg.find("already exists") != std::string::npos)
    return absl::AlreadyExistsError(text);
  return absl::UnknownError(text);
}

// A bare name ("runc") is looked up in $PATH, as containerd does; a path is used as given.
std::string ResolveBinary(const std::string& name) {
  if (name.find('/') != std::string::npos)
    return name;
  const char* path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe): read-only use
  std::istringstream dirs(
      path != nullptr ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return name;
}

absl::StatusOr<pid_t> ReadPidFile(const std::string& path) {
  pid_t pid = 0;
  std::ifstream(path) >> pid;
  if (pid <= 0)
    return Internal(fmt::format("pid file {}: no pid", path));
  return pid;
}

class CliRuntime : public Runtime {
 public:
  CliRuntime(std::string binary, std::string root, std::string id, std::string bundle,
             oci::Spec spec)
      : binary_(ResolveBinary(binary)),
        id_(std::move(id)),
        bundle_(fs::absolute(bundle).string()),
        spec_(std::move(spec)) {
    own_root_ = root.empty();
    root_ = own_root_ ? bundle_ + "/runtime-state" : std::move(root);
  }

  // <bundle>/runtime.json: what `berth-shim delete` needs after the shim died.
  std::string RecordPath() const { return bundle_ + "/runtime.json"; }

  absl::Status WriteRecord() const {
    nlohmann::json j = {{"binary", binary_}, {"root", own_root_ ? "" : root_}};
    std::ofstream out(RecordPath());
    out << j.dump();
    if (!out.flush())
      return Internal(fmt::format("cannot write {}", RecordPath()));
    return absl::OkStatus();
  }

  absl::StatusOr<pid_t> Create(const linux::Stdio& stdio,
                               const std::function<absl::Status()>& rootfs_ready) override;

  absl::Status Start() override { return Run({"start", id_}).status(); }

  absl::StatusOr<pid_t> Exec(const std::string& exec_id, const oci::Process& process,
                             const std::string& process_json, const linux::Stdio& stdio) override;

  absl::Status KillAll(int sig) override {
    return Run({"kill", "--all", id_, std::to_string(sig)}).status();
  }

  absl::Status Pause() override { return Run({"pause", id_}).status(); }

  absl::Status Resume() override { return Run({"resume", id_}).status(); }

  absl::Status Update(const oci::Resources&, const std::string& json) override {
    OciCommand cmd{
        .args = {"update", "--resources", "-", id_}, .capture_output = true, .input = json};
    return Run(std::move(cmd)).status();
  }

  linux::Cgroup* cgroup() override { return cgroup_.get(); }

  absl::Status Delete() override;

 private:
  absl::StatusOr<OciResult> Run(std::vector<std::string> args) {
    return Run(OciCommand{.args = std::move(args), .capture_output = true});
  }

  absl::StatusOr<OciResult> Run(OciCommand cmd);
  absl::StatusOr<UniqueFd> RunWithConsole(OciCommand cmd, const linux::Stdio& stdio);
  std::string ConsoleSocketPath() const;
  void KillAndAwaitInit();

  std::string binary_;
  std::string root_;
  bool own_root_ = false;
  std::string id_;
  std::string bundle_;
  oci::Spec spec_;
  int exec_seq_ = 0;
  std::unique_ptr<linux::Cgroup> cgroup_;
};

// Runs `BINARY --root ... <cmd.args>`; a non-zero exit becomes an error carrying the runtime's
// own message (its JSON log, else its stderr when captured).
absl::StatusOr<OciResult> CliRuntime::Run(OciCommand cmd) {
  std::string verb = cmd.args.empty() ? "" : cmd.args[0];
  std::string log = bundle_ + "/runtime.log";
  std::vector<std::string> args = {binary_, "--root", root_, "--log", log, "--log-format", "json"};
  args.insert(args.end(), cmd.args.begin(), cmd.args.end());
  cmd.args = std::move(args);
  std::error_code ec;
  uintmax_t log_start = fs::exists(log, ec) ? fs::file_size(log, ec) : 0;
  if (ec)
    log_start = 0;
  std::string what = fmt::format("{} {} {:?}", binary_, verb, id_);
  BERTH_ASSIGN_OR_RETURN(OciResult r, RunOciCommand(cmd));
  if (r.status == 0)
    return r;
  std::ifstream in(log);
  in.seekg(static_cast<std::streamoff>(log_start));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string msg = LastLogMessage(ss.str());
  if (msg.empty())
    msg = r.err.empty() ? fmt::format("exited with status {}", r.status) : r.err;
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  return RuntimeError(what, msg);
}

std::string CliRuntime::ConsoleSocketPath() const {
  std::string path = fmt::format("{}/console-{}.sock", bundle_, exec_seq_);
  if (path.size() < 100)
    return path;
  return fmt::format("/tmp/berth-console-{}-{}.sock", ::getpid(), exec_seq_);
}

// Runs a command that makes a process with `stdio`: for a terminal, through a console socket,
// then puts the pty master the runtime sent in place of the shim's own (Stdio::console_master).
absl::StatusOr<UniqueFd> CliRuntime::RunWithConsole(OciCommand cmd, const linux::Stdio& stdio) {
  bool terminal = stdio.console >= 0;
  if (terminal) {
    cmd.console_socket = ConsoleSocketPath();
    cmd.args.insert(cmd.args.end() - 1, {"--console-socket", cmd.console_socket});
  } else {
    cmd.stdio = stdio;
  }
  BERTH_ASSIGN_OR_RETURN(OciResult r, Run(std::move(cmd)));
  if (!terminal)
    return UniqueFd();
  if (!r.console.valid())
    return Internal(fmt::format("{} {:?}: no console received", binary_, id_));
  if (stdio.console_master >= 0 && ::dup3(r.console.get(), stdio.console_master, O_CLOEXEC) < 0)
    return ErrnoError(errno, "console: dup3");
  return std::move(r.console);
}

absl::StatusOr<pid_t> CliRuntime::Create(const linux::Stdio& stdio,
                                         const std::function<absl::Status()>& rootfs_ready) {
  BERTH_RETURN_IF_ERROR(rootfs_ready());
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec)
    return ErrnoError(ec.value(), fmt::format("create {}", root_));
  std::string pid_file = bundle_ + "/runtime-init.pid";
  fs::remove(pid_file, ec);
  BERTH_RETURN_IF_ERROR(WriteRecord());
  OciCommand cmd{.args = {"create", "--bundle", bundle_, "--pid-file", pid_file, id_}};
  BERTH_RETURN_IF_ERROR(RunWithConsole(std::move(cmd), stdio).status());
  std::string cgroups_path =
      spec_.linux.cgroups_path.empty() ? "/" + id_ : spec_.linux.cgroups_path;
  cgroup_ = linux::Cgroup::Open(cgroups_path);
  return ReadPidFile(pid_file);
}

absl::StatusOr<pid_t> CliRuntime::Exec(const std::string& exec_id, const oci::Process& process,
                                       const std::string& /*process_json*/,
                                       const linux::Stdio& stdio) {
  int n = ++exec_seq_;
  std::string json = fmt::format("{}/runtime-exec-{}.json", bundle_, n);
  std::string pid_file = fmt::format("{}/runtime-exec-{}.pid", bundle_, n);
  absl::Cleanup remove = [&] {
    std::error_code ec;
    fs::remove(json, ec);
    fs::remove(pid_file, ec);
  };
  {
    std::ofstream out(json);
    out << oci::ProcessToJson(process);  // with `terminal` as the shim decided it
    if (!out.flush())
      return Internal(fmt::format("exec {:?}: cannot write {}", exec_id, json));
  }
  OciCommand cmd{.args = {"exec", "--process", json, "--pid-file", pid_file, "--detach", id_}};
  BERTH_RETURN_IF_ERROR(
      Annotate(RunWithConsole(std::move(cmd), stdio).status(), fmt::format("exec {:?}", exec_id)));
  return ReadPidFile(pid_file);
}

// `runc delete --force` on a live container waits (up to 10 s) until kill(init, 0) fails, which
// never happens to a zombie, and once the shim's reaper has stopped (shutdown) the init stays
// one. So kill everything first and wait until the init is dead (zombie or gone): delete then
// finds a stopped container and only removes it.
void CliRuntime::KillAndAwaitInit() {
  (void)Run({"kill", "--all", id_, std::to_string(SIGKILL)});  // fails when already stopped
  absl::StatusOr<pid_t> pid = ReadPidFile(bundle_ + "/runtime-init.pid");
  if (!pid.ok())
    return;
  std::string proc = fmt::format("/proc/{}/stat", *pid);
  for (int i = 0; i < 200; ++i) {
    std::string stat;
    std::getline(std::ifstream(proc), stat);
    if (stat.empty() || stat.find(") Z ") != std::string::npos)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

absl::Status CliRuntime::Delete() {
  std::error_code ec;
  absl::Status s = absl::OkStatus();
  if (fs::exists(fs::path(root_) / id_, ec)) {
    KillAndAwaitInit();
    s = Run({"delete", "--force", id_}).status();
    if (absl::IsNotFound(s))
      s = absl::OkStatus();
  }
  if (cgroup_ && s.ok())
    s = cgroup_->Destroy();  // normally gone already
  if (s.ok())
    cgroup_.reset();
  fs::remove(bundle_ + "/runtime-init.pid", ec);
  if (s.ok())
    fs::remove(RecordPath(), ec);
  if (own_root_)
    fs::remove(root_, ec);  // only when empty
  return s;
}

}  // namespace

std::unique_ptr<Runtime> MakeCliRuntime(std::string binary, std::string root, std::string id,
                                        std::string bundle, oci::Spec spec) {
  return std::make_unique<CliRuntime>(std::move(binary), std::move(root), std::move(id),
                                      std::move(bundle), std::move(spec));
}

absl::Status DeleteCliContainer(const std::string& bundle, const std::string& id) {
  std::ifstream in(bundle + "/runtime.json");
  if (!in)
    return absl::OkStatus();  // the embedded runtime, or already deleted
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("binary") || !j["binary"].is_string())
    return InvalidArgument(fmt::format("{}/runtime.json: no \"binary\"", bundle));
  std::string root = j.value("root", "");
  return CliRuntime(j["binary"].get<std::string>(), root, id, bundle, oci::Spec{}).Delete();
}

}  // namespace berth::shim
