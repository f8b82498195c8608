// bctr update [--memory M] [--cpus N] [--pids-limit N] [--restart POLICY] CONTAINER...: change
// containers' limits and restart policy, as docker update does. A running (or paused) task's
// cgroup takes new limits at once; the container's spec keeps them for its next start.

#include <map>
#include <memory>
#include <string>

#include "fmt/format.h"

#include "ctr/commands/commands.h"
#include "ctr/container_create.h"
#include "ctr/container_meta.h"
#include "ctr/containers.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/oci/spec_json.h"

namespace berth::ctr {
namespace {

inline constexpr char kResourcesTypeUrl[] =
    "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";

struct UpdateFlags {
  RunFlags run;  // memory, cpus, pids_limit, restart
  bool restart_given = false;
  std::vector<std::string> containers;

  bool Limits() const { return !run.memory.empty() || run.cpus != 0 || run.pids_limit != 0; }
};

// The restart labels for `policy` ("" removes them): a running task is kept running from now
// on; a stopped container stays down until it is started.
std::map<std::string, std::string> RestartLabels(const ContainerRecord& c,
                                                 const std::string& policy, bool running) {
  std::map<std::string, std::string> labels = {
      {kRestartPolicyLabel, ""}, {kRestartStatusLabel, ""}, {kRestartLogUriLabel, ""}};
  if (policy.empty())
    return labels;
  labels[kRestartPolicyLabel] = policy;
  labels[kRestartStatusLabel] = running ? "running" : "stopped";
  if (auto log = c.labels().find(kLogUriLabel); log != c.labels().end())
    labels[kRestartLogUriLabel] = log->second;
  return labels;
}

absl::Status UpdateOne(Connection& conn, const UpdateFlags& f, const std::string& ref) {
  BERTH_ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(conn, ref));
  BERTH_ASSIGN_OR_RETURN(TaskInfo t, GetTaskInfo(conn, c.id()));
  const bool running = t.exists && t.status != "stopped";
  std::string policy;
  if (f.restart_given) {
    BERTH_ASSIGN_OR_RETURN(policy, ParseRestartPolicy(f.run.restart));
    if (!policy.empty() && c.labels().contains(kAutoRemoveLabel)) {
      return FailedPrecondition(fmt::format(
          "container {:?}: it is removed when it exits (run -d --rm), so it takes no restart "
          "policy",
          ref));
    }
  }
  if (f.Limits()) {
    BERTH_ASSIGN_OR_RETURN(oci::Spec spec, ContainerSpec(c));
    if (!spec.linux.resources)
      spec.linux.resources.emplace();
    BERTH_RETURN_IF_ERROR(ApplyResources(f.run, spec));
    // The task first: limits its cgroup refuses (memory below what it uses) change nothing.
    if (running) {
      tasks_api::UpdateTaskRequest req;
      req.set_container_id(c.id());
      req.mutable_resources()->set_type_url(kResourcesTypeUrl);
      req.mutable_resources()->set_value(oci::ResourcesToJson(*spec.linux.resources));
      google::protobuf::Empty empty;
      auto ctx = conn.Context();
      BERTH_RETURN_IF_ERROR(conn.Check(conn.tasks().Update(ctx.get(), req, &empty)));
    }
    containers_api::UpdateContainerRequest req;
    req.mutable_container()->set_id(c.id());
    req.mutable_container()->mutable_spec()->set_type_url(kSpecTypeUrl);
    req.mutable_container()->mutable_spec()->set_value(oci::SpecToJson(spec, false));
    req.mutable_update_mask()->add_paths("spec");
    containers_api::UpdateContainerResponse resp;
    auto ctx = conn.Context();
    BERTH_RETURN_IF_ERROR(conn.Check(conn.containers().Update(ctx.get(), req, &resp)));
  }
  if (f.restart_given)
    BERTH_RETURN_IF_ERROR(SetContainerLabels(conn, c.id(), RestartLabels(c, policy, running)));
  return absl::OkStatus();
}

absl::Status RunUpdate(Cli& cli, const UpdateFlags& f) {
  if (!f.Limits() && !f.restart_given)
    return InvalidArgument("give at least one of --memory, --cpus, --pids-limit, --restart");
  // Flags are checked once, before any container changes.
  oci::Spec probe;
  probe.linux.resources.emplace();
  BERTH_RETURN_IF_ERROR(ApplyResources(f.run, probe));
  if (f.restart_given)
    BERTH_RETURN_IF_ERROR(ParseRestartPolicy(f.run.restart).status());
  return EachContainer(f.containers, "update",
                       [&](const std::string& ref) -> absl::StatusOr<std::string> {
                         BERTH_RETURN_IF_ERROR(UpdateOne(cli.conn(), f, ref));
                         return ref;
                       });
}

}  // namespace

void AddUpdate(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<UpdateFlags>();
  CLI::App* cmd =
      parent.add_subcommand("update", "Change containers' limits (at once) and restart policy");
  cmd->add_option("-m,--memory", f->run.memory, "Memory limit, e.g. 512m or 1g");
  cmd->add_option("--cpus", f->run.cpus, "Number of CPUs (a CFS quota), e.g. 1.5");
  cmd->add_option("--pids-limit", f->run.pids_limit, "Maximum number of processes (-1: unlimited)");
  cmd->add_option_function<std::string>(
      "--restart",
      [f](const std::string& v) {
        f->run.restart = v;
        f->restart_given = true;
      },
      "Restart policy: no, always, unless-stopped, on-failure[:N]");
  cmd->add_option("containers", f->containers, "Containers (name, id or id prefix)")->required();
  cmd->callback(
      [&cli, f] { cli.action = [&cli, f] { return Annotate(RunUpdate(cli, *f), "update"); }; });
}

}  // namespace berth::ctr
