// bctr tasks [ls | ps | kill | pause | resume | rm | metrics]: berthd's tasks as ctr shows
// them, by container id (the Docker-style verbs — ps, stop, rm — work on names too).

#include <csignal>
#include <memory>

#include "fmt/format.h"

#include "containerd/cgroups/v1/metrics.pb.h"
#include "containerd/cgroups/v2/metrics.pb.h"
#include "ctr/commands/commands.h"
#include "ctr/containers.h"
#include "ctr/output.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

using Stub = tasks_api::Tasks::Stub;

const char* StatusName(int s) {
  static constexpr const char* kNames[] = {"UNKNOWN", "CREATED", "RUNNING",
                                           "STOPPED", "PAUSED",  "PAUSING"};
  return s >= 0 && s < 6 ? kNames[s] : "UNKNOWN";
}

absl::Status RunLs(Cli& cli, const ListFlags& lf) {
  tasks_api::ListTasksRequest req;
  tasks_api::ListTasksResponse resp;
  BERTH_RETURN_IF_ERROR(cli.conn().Call(cli.conn().tasks(), &Stub::List, req, &resp));
  Listing out(lf, {"TASK", "PID", "STATUS"});
  for (const auto& p : resp.tasks()) {
    out.Add({p.id(), std::to_string(p.pid()), StatusName(p.status())});
  }
  return out.Print();
}

absl::Status RunPs(Cli& cli, const std::string& id) {
  tasks_api::ListPidsRequest req;
  req.set_container_id(id);
  tasks_api::ListPidsResponse resp;
  BERTH_RETURN_IF_ERROR(cli.conn().Call(cli.conn().tasks(), &Stub::ListPids, req, &resp));
  Table t({"PID", "INFO"});
  for (const auto& p : resp.processes())
    t.Add({std::to_string(p.pid()), p.has_info() ? AnyJson(p.info()) : "-"});
  t.Print();
  return absl::OkStatus();
}

struct KillFlags {
  std::string id;
  std::string signal = "SIGTERM";
  std::string exec_id;
  bool all = false;
};

absl::Status RunKill(Cli& cli, const KillFlags& f) {
  BERTH_ASSIGN_OR_RETURN(int sig, ParseSignal(f.signal));
  tasks_api::KillRequest req;
  req.set_container_id(f.id);
  req.set_exec_id(f.exec_id);
  req.set_signal(static_cast<uint32_t>(sig));
  req.set_all(f.all);
  google::protobuf::Empty resp;
  return cli.conn().Call(cli.conn().tasks(), &Stub::Kill, req, &resp);
}

absl::Status RunPause(Cli& cli, const std::string& id, bool pause) {
  google::protobuf::Empty resp;
  if (pause) {
    tasks_api::PauseTaskRequest req;
    req.set_container_id(id);
    return cli.conn().Call(cli.conn().tasks(), &Stub::Pause, req, &resp);
  }
  tasks_api::ResumeTaskRequest req;
  req.set_container_id(id);
  return cli.conn().Call(cli.conn().tasks(), &Stub::Resume, req, &resp);
}

// Deletes a stopped task (with --force, kills it first and waits for the exit).
absl::Status RunRm(Cli& cli, const std::string& id, bool force) {
  if (force) {
    absl::Status st = KillTask(cli.conn(), id, SIGKILL, /*all=*/true);
    if (!st.ok() && !absl::IsNotFound(st) && !absl::IsFailedPrecondition(st))
      return st;
    BERTH_RETURN_IF_ERROR(WaitTask(cli.conn(), id, 10000).status());
  }
  BERTH_ASSIGN_OR_RETURN(uint32_t code, DeleteTask(cli.conn(), id));
  std::printf("%s exited with %u\n", id.c_str(), code);
  return absl::OkStatus();
}

absl::Status RunMetrics(Cli& cli, const std::string& id) {
  // Linked so AnyJson can print them.
  (void)io::containerd::cgroups::v1::Metrics::descriptor();
  (void)io::containerd::cgroups::v2::Metrics::descriptor();
  tasks_api::MetricsRequest req;
  req.add_filters("id==" + id);
  tasks_api::MetricsResponse resp;
  BERTH_RETURN_IF_ERROR(cli.conn().Call(cli.conn().tasks(), &Stub::Metrics, req, &resp));
  if (resp.metrics().empty())
    return NotFoundError("task metrics", id);
  for (const auto& m : resp.metrics()) std::printf("%s\n", AnyJson(m.data()).c_str());
  return absl::OkStatus();
}

// A subcommand that takes one task id and runs `run(cli, id)`.
CLI::App* AddIdVerb(CLI::App* grp, Cli& cli, const char* name, const char* help,
                    std::function<absl::Status(Cli&, const std::string&)> run) {
  auto id = std::make_shared<std::string>();
  CLI::App* cmd = grp->add_subcommand(name, help);
  cmd->add_option("container", *id, "Container id")->required();
  std::string what = std::string("tasks ") + name;
  cmd->callback([&cli, id, run, what] {
    cli.action = [&cli, id, run, what] { return Annotate(run(cli, *id), what); };
  });
  return cmd;
}

}  // namespace

void AddTasks(CLI::App& parent, Cli& cli) {
  CLI::App* grp = parent.add_subcommand("tasks", "Manage tasks (ctr style)")->alias("task");
  grp->require_subcommand(1);

  auto lf = std::make_shared<ListFlags>();
  CLI::App* ls = grp->add_subcommand("ls", "List tasks")->alias("list");
  lf->Add(ls, "Only ids");
  ls->callback(
      [&cli, lf] { cli.action = [&cli, lf] { return Annotate(RunLs(cli, *lf), "tasks ls"); }; });

  AddIdVerb(grp, cli, "ps", "List a task's processes", RunPs);
  AddIdVerb(grp, cli, "pause", "Freeze a task",
            [](Cli& c, const std::string& id) { return RunPause(c, id, true); });
  AddIdVerb(grp, cli, "resume", "Thaw a paused task",
            [](Cli& c, const std::string& id) { return RunPause(c, id, false); });
  AddIdVerb(grp, cli, "metrics", "A task's cgroup metrics as JSON", RunMetrics);

  auto force = std::make_shared<bool>(false);
  AddIdVerb(grp, cli, "rm", "Delete a stopped task",
            [force](Cli& c, const std::string& id) { return RunRm(c, id, *force); })
      ->alias("delete")
      ->add_flag("-f,--force", *force, "Kill it first if it is running");

  auto kf = std::make_shared<KillFlags>();
  CLI::App* kill = grp->add_subcommand("kill", "Signal a task's process");
  kill->add_option("container", kf->id, "Container id")->required();
  kill->add_option("-s,--signal", kf->signal, "Signal name or number")->capture_default_str();
  kill->add_option("--exec-id", kf->exec_id, "Signal this exec process instead of the init");
  kill->add_flag("-a,--all", kf->all, "Signal every process of the task");
  kill->callback([&cli, kf] {
    cli.action = [&cli, kf] { return Annotate(RunKill(cli, *kf), "tasks kill"); };
  });
}

}  // namespace berth::ctr
