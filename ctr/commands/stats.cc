// bctr stats [--no-stream] [CONTAINER...]: CPU %, memory and pids of running containers from
// Tasks.Metrics (cgroup v1 or v2 metrics). Live on a terminal (redrawn each second until
// interrupted); one table with --no-stream or when stdout is not a terminal.

#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <thread>

#include "fmt/format.h"

#include "containerd/cgroups/v1/metrics.pb.h"
#include "containerd/cgroups/v2/metrics.pb.h"
#include "ctr/commands/commands.h"
#include "ctr/containers.h"
#include "ctr/progress.h"
#include "lib/base/platform.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

struct StatsFlags {
  bool no_stream = false;
  std::vector<std::string> containers;
};

struct Sample {
  uint64_t cpu_ns = 0;
  uint64_t mem = 0;
  uint64_t limit = 0;
  uint64_t pids = 0;
  std::chrono::steady_clock::time_point at;
};

absl::StatusOr<Sample> Decode(const google::protobuf::Any& data) {
  Sample s;
  s.at = std::chrono::steady_clock::now();
  // berthd names the payload as containerd does ("io.containerd.cgroups.v1.Metrics"), protobuf
  // with a "type.googleapis.com/" prefix: match the message name.
  auto is = [&](const std::string& name) {
    const std::string& url = data.type_url();
    return url == name || url.ends_with("/" + name);
  };
  if (is(io::containerd::cgroups::v1::Metrics::descriptor()->full_name())) {
    io::containerd::cgroups::v1::Metrics m;
    if (!m.ParseFromString(data.value()))
      return InvalidArgument("metrics: cannot parse cgroup v1 metrics");
    s.cpu_ns = m.cpu().usage().total();
    uint64_t usage = m.memory().usage().usage();
    uint64_t cache = m.memory().total_inactive_file();
    s.mem = usage > cache ? usage - cache : usage;
    s.limit = m.memory().usage().limit();
    s.pids = m.pids().current();
    return s;
  }
  if (is(io::containerd::cgroups::v2::Metrics::descriptor()->full_name())) {
    io::containerd::cgroups::v2::Metrics m;
    if (!m.ParseFromString(data.value()))
      return InvalidArgument("metrics: cannot parse cgroup v2 metrics");
    s.cpu_ns = m.cpu().usage_usec() * 1000;
    uint64_t usage = m.memory().usage();
    uint64_t inactive = m.memory().inactive_file();
    s.mem = usage > inactive ? usage - inactive : usage;
    s.limit = m.memory().usage_limit();
    s.pids = m.pids().current();
    return s;
  }
  return InvalidArgument(fmt::format("metrics of type {:?} are not understood", data.type_url()));
}

struct Target {
  std::string id;
  std::string name;
};

absl::StatusOr<std::vector<Target>> Targets(Connection& conn, const StatsFlags& f) {
  std::vector<Target> out;
  if (!f.containers.empty()) {
    for (const std::string& ref : f.containers) {
      BERTH_ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(conn, ref));
      out.push_back({c.id(), ContainerName(c)});
    }
    return out;
  }
  BERTH_ASSIGN_OR_RETURN(std::vector<ContainerRecord> all, ListContainers(conn));
  for (const ContainerRecord& c : all) {
    BERTH_ASSIGN_OR_RETURN(TaskInfo t, GetTaskInfo(conn, c.id()));
    if (t.exists && (t.status == "running" || t.status == "paused"))
      out.push_back({c.id(), ContainerName(c)});
  }
  return out;
}

absl::StatusOr<std::map<std::string, Sample>> Collect(Connection& conn,
                                                      const std::vector<Target>& targets) {
  std::map<std::string, Sample> out;
  if (targets.empty())
    return out;
  tasks_api::MetricsRequest req;
  for (const Target& t : targets) req.add_filters("id==" + t.id);
  tasks_api::MetricsResponse resp;
  auto ctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.tasks().Metrics(ctx.get(), req, &resp)));
  for (const auto& m : resp.metrics()) {
    BERTH_ASSIGN_OR_RETURN(Sample s, Decode(m.data()));
    out[m.id()] = s;
  }
  return out;
}

std::string Render(const std::vector<Target>& targets, const std::map<std::string, Sample>& prev,
                   const std::map<std::string, Sample>& cur, uint64_t host_mem) {
  std::string out = fmt::format("{:<14}{:<24}{:<9}{:<24}{:<9}{}\n", "CONTAINER ID", "NAME", "CPU %",
                                "MEM USAGE / LIMIT", "MEM %", "PIDS");
  for (const Target& t : targets) {
    auto c = cur.find(t.id);
    if (c == cur.end())
      continue;
    double cpu = 0;
    if (auto p = prev.find(t.id); p != prev.end()) {
      double wall = std::chrono::duration<double, std::nano>(c->second.at - p->second.at).count();
      if (wall > 0 && c->second.cpu_ns >= p->second.cpu_ns)
        cpu = static_cast<double>(c->second.cpu_ns - p->second.cpu_ns) / wall * 100.0;
    }
    uint64_t limit = c->second.limit;
    if (limit == 0 || limit > host_mem)
      limit = host_mem;
    double mem_pct =
        limit > 0 ? static_cast<double>(c->second.mem) * 100.0 / static_cast<double>(limit) : 0;
    std::string usage = fmt::format("{} / {}", HumanSize(static_cast<int64_t>(c->second.mem)),
                                    HumanSize(static_cast<int64_t>(limit)));
    out += fmt::format("{:<14}{:<24}{:<9}{:<24}{:<9}{}\n", t.id.substr(0, 12), t.name,
                       fmt::format("{:.2f}%", cpu), usage, fmt::format("{:.2f}%", mem_pct),
                       c->second.pids);
  }
  return out;
}

absl::Status RunStats(Cli& cli, const StatsFlags& f) {
  Connection& conn = cli.conn();
  BERTH_ASSIGN_OR_RETURN(std::vector<Target> targets, Targets(conn, f));
  const uint64_t host_mem = HostMemoryBytes();
  const bool live = !f.no_stream && StdoutIsTty();
  BERTH_ASSIGN_OR_RETURN(auto prev, Collect(conn, targets));
  if (!f.containers.empty()) {
    for (const Target& t : targets) {
      if (!prev.contains(t.id))
        return FailedPrecondition(fmt::format("container {:?}: is not running", t.name));
    }
  }
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(live ? 1000 : 500));
    if (live && f.containers.empty()) {
      BERTH_ASSIGN_OR_RETURN(targets, Targets(conn, f));
    }
    BERTH_ASSIGN_OR_RETURN(auto cur, Collect(conn, targets));
    std::string table = Render(targets, prev, cur, host_mem);
    if (!live) {
      std::printf("%s", table.c_str());
      return absl::OkStatus();
    }
    std::printf("\x1b[2J\x1b[H%s", table.c_str());
    std::fflush(stdout);
    prev = std::move(cur);
  }
}

}  // namespace

void AddStats(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<StatsFlags>();
  CLI::App* cmd = parent.add_subcommand("stats", "Live CPU, memory and pids of containers");
  cmd->add_flag("--no-stream", f->no_stream, "Print one table and exit");
  cmd->add_option("containers", f->containers, "Containers (default: all running)");
  cmd->callback(
      [&cli, f] { cli.action = [&cli, f] { return Annotate(RunStats(cli, *f), "stats"); }; });
}

}  // namespace berth::ctr
