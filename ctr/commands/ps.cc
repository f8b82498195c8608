// bctr ps [-a] [-q] [-n N] [-l] [--no-trunc] [-f KEY=VALUE]... [--format table|json|TEMPLATE]:
// list containers as docker ps does.

#include <unistd.h>

#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "fmt/format.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"

#include "ctr/commands/commands.h"
#include "ctr/container_create.h"
#include "ctr/containers.h"
#include "ctr/network.h"
#include "ctr/output.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/registry/reference.h"

namespace berth::ctr {
namespace {

using nlohmann::json;

struct PsFlags {
  bool all = false;
  bool quiet = false;
  bool no_trunc = false;
  int last = -1;  // -n: the N most recently created (all states); -l is -n 1
  bool latest = false;
  std::vector<std::string> filters;  // KEY=VALUE
  std::string format = "table";
};

// docker ps --filter: values of one key are alternatives, different keys must all match.
// id (a prefix), name (a substring), label (KEY or KEY=VALUE), status (created, running,
// paused, exited), ancestor (the image, as `run` names it), exited (the exit code).
class PsFilter {
 public:
  static absl::StatusOr<PsFilter> Parse(const std::vector<std::string>& args) {
    PsFilter f;
    for (const std::string& a : args) {
      const size_t eq = a.find('=');
      const std::string key = a.substr(0, eq);
      if (eq == std::string::npos || eq + 1 == a.size())
        return InvalidArgument(fmt::format("--filter {:?}: want KEY=VALUE", a));
      static const std::set<std::string> kKeys = {"id",     "name",     "label",
                                                  "status", "ancestor", "exited"};
      if (!kKeys.contains(key))
        return InvalidArgument(fmt::format(
            "--filter {:?}: unknown key (id, name, label, status, ancestor, exited)", a));
      std::string value = a.substr(eq + 1);
      if (key == "status") {
        static const std::set<std::string> kStates = {"created", "running", "paused", "exited"};
        if (!kStates.contains(value))
          return InvalidArgument(
              fmt::format("--filter {:?}: status is created, running, paused or exited", a));
      }
      if (key == "ancestor") {
        BERTH_ASSIGN_OR_RETURN(registry::Reference ref, registry::ParseReference(value));
        value = ref.String();
      }
      f.by_key_[key].push_back(std::move(value));
    }
    return f;
  }

  // Whether a status filter asks for containers that are not running (so -a is implied).
  bool NamesStates() const { return by_key_.contains("status") || by_key_.contains("exited"); }

  bool Matches(const ContainerRecord& c, const TaskInfo& t) const {
    for (const auto& [key, values] : by_key_) {
      if (std::none_of(values.begin(), values.end(),
                       [&](const std::string& v) { return One(key, v, c, t); }))
        return false;
    }
    return true;
  }

 private:
  static bool One(const std::string& key, const std::string& v, const ContainerRecord& c,
                  const TaskInfo& t) {
    if (key == "id")
      return c.id().starts_with(v);
    if (key == "name")
      return ContainerName(c).find(v) != std::string::npos;
    if (key == "status")
      return StatusWord(t) == v;
    if (key == "ancestor")
      return c.image() == v;
    if (key == "exited")
      return t.status == "stopped" && std::to_string(t.exit_status) == v;
    const size_t eq = v.find('=');  // label
    auto it = c.labels().find(v.substr(0, eq));
    return it != c.labels().end() && (eq == std::string::npos || it->second == v.substr(eq + 1));
  }

  std::map<std::string, std::vector<std::string>> by_key_;
};

// When `pid` started (unix seconds), from /proc; 0 when unknown.
int64_t ProcessStart(uint32_t pid) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(stat, line))
    return 0;
  size_t close = line.rfind(')');
  if (close == std::string::npos)
    return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  uint64_t start_ticks = 0;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 22)
      start_ticks = std::stoull(field);
  }
  std::ifstream procstat("/proc/stat");
  int64_t btime = 0;
  while (std::getline(procstat, line)) {
    if (line.starts_with("btime "))
      btime = std::stoll(line.substr(6));
  }
  long hz = ::sysconf(_SC_CLK_TCK);
  return btime == 0 || hz <= 0 ? 0 : btime + static_cast<int64_t>(start_ticks / hz);
}

std::string Command(const ContainerRecord& c, bool full) {
  absl::StatusOr<oci::Spec> spec = ContainerSpec(c);
  std::string cmd;
  if (spec.ok() && spec->process) {
    for (const std::string& a : spec->process->args) cmd += (cmd.empty() ? "" : " ") + a;
  }
  if (!full && cmd.size() > 20)
    cmd = cmd.substr(0, 19) + "…";
  return "\"" + cmd + "\"";
}

std::string Status(const TaskInfo& t) {
  if (t.status == "stopped") {
    return fmt::format("Exited ({}) {}", t.exit_status,
                       t.exited_at > 0 ? HumanAgo(t.exited_at) : "");
  }
  if (!t.exists || t.status == "created")
    return "Created";
  int64_t start = ProcessStart(t.pid);
  std::string up = start > 0 ? "Up " + HumanDuration(NowSeconds() - start) : "Up";
  if (t.status == "paused")
    return up + " (Paused)";
  return up;
}

absl::StatusOr<std::map<std::string, TaskInfo>> AllTasks(Connection& conn) {
  tasks_api::ListTasksRequest req;
  tasks_api::ListTasksResponse resp;
  auto ctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.tasks().List(ctx.get(), req, &resp)));
  std::map<std::string, TaskInfo> out;
  for (const auto& p : resp.tasks()) {
    if (p.id().empty() || p.id() == p.container_id())
      out[p.container_id()] = TaskInfoFromProcess(p);
  }
  return out;
}

// The published ports of a running container, as docker ps shows them.
std::string Ports(const ContainerRecord& c, const TaskInfo& t) {
  if (!t.exists || t.status == "stopped")
    return "";
  absl::StatusOr<oci::Spec> spec = ContainerSpec(c);
  return spec.ok() ? PortsColumn(PublishedPorts(*spec)) : "";
}

absl::Status RunPs(Cli& cli, const PsFlags& f) {
  BERTH_ASSIGN_OR_RETURN(PsFilter filter, PsFilter::Parse(f.filters));
  const int last = f.latest ? 1 : f.last;
  Connection& conn = cli.conn();
  BERTH_ASSIGN_OR_RETURN(std::vector<ContainerRecord> all, ListContainers(conn));
  BERTH_ASSIGN_OR_RETURN(auto tasks, AllTasks(conn));
  std::sort(all.begin(), all.end(), [](const ContainerRecord& a, const ContainerRecord& b) {
    return a.created_at().seconds() > b.created_at().seconds() ||
           (a.created_at().seconds() == b.created_at().seconds() &&
            a.created_at().nanos() > b.created_at().nanos());
  });

  struct Row {
    const ContainerRecord* c;
    TaskInfo t;
  };

  std::vector<Row> rows;
  for (const ContainerRecord& c : all) {
    if (last >= 0 && static_cast<int>(rows.size()) >= last)
      break;
    TaskInfo t = ContainerState(c, tasks.contains(c.id()) ? tasks[c.id()] : TaskInfo{});
    bool up = t.exists && t.status != "stopped" && t.status != "created";
    if ((f.all || up || last >= 0 || filter.NamesStates()) && filter.Matches(c, t))
      rows.push_back({&c, t});
  }
  auto id_of = [&](const ContainerRecord& c) { return f.no_trunc ? c.id() : c.id().substr(0, 12); };
  if (f.quiet) {
    for (const Row& r : rows) std::printf("%s\n", id_of(*r.c).c_str());
    return absl::OkStatus();
  }
  // A row as docker ps's JSON and templates name its fields; `full`: ids and commands whole.
  auto row_json = [&](const Row& r, bool full) -> json {
    return {{"ID", full ? r.c->id() : id_of(*r.c)},
            {"Names", ContainerName(*r.c)},
            {"Image", r.c->image()},
            {"Command", Command(*r.c, full)},
            {"CreatedAt", google::protobuf::util::TimeUtil::ToString(r.c->created_at())},
            {"RunningFor", HumanAgo(r.c->created_at().seconds())},
            {"State", StatusWord(r.t)},
            {"Status", Status(r.t)},
            {"Ports", Ports(*r.c, r.t)},
            {"Pid", r.t.pid},
            {"Labels",
             json(std::map<std::string, std::string>(r.c->labels().begin(), r.c->labels().end()))}};
  };
  if (f.format == "json") {
    json out = json::array();
    for (const Row& r : rows) out.push_back(row_json(r, true));
    std::printf("%s\n", out.dump(2).c_str());
    return absl::OkStatus();
  }
  if (IsTemplateFormat(f.format)) {
    std::vector<json> out;
    for (const Row& r : rows) out.push_back(row_json(r, f.no_trunc));
    return PrintTemplate(
        f.format, out,
        {{"ID", "CONTAINER ID"}, {"RunningFor", "CREATED"}, {"CreatedAt", "CREATED AT"}});
  }
  std::vector<std::vector<std::string>> table = {
      {"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}};
  for (const Row& r : rows) {
    table.push_back({id_of(*r.c), r.c->image(), Command(*r.c, f.no_trunc),
                     HumanAgo(r.c->created_at().seconds()), Status(r.t), Ports(*r.c, r.t),
                     ContainerName(*r.c)});
  }
  std::vector<size_t> width(table[0].size(), 0);
  auto display_len = [](const std::string& s) {
    size_t n = 0;
    for (unsigned char ch : s) n += (ch & 0xc0) != 0x80;
    return n;
  };
  for (const auto& row : table)
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], display_len(row[i]));
  for (const auto& row : table) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size())
        line += std::string(width[i] - display_len(row[i]) + 3, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
  return absl::OkStatus();
}

}  // namespace

void AddPs(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<PsFlags>();
  CLI::App* cmd = parent.add_subcommand("ps", "List containers (running ones; -a: all)");
  cmd->add_flag("-a,--all", f->all, "Show all containers, not only running ones");
  cmd->add_flag("-q,--quiet", f->quiet, "Only ids");
  cmd->add_flag("--no-trunc", f->no_trunc, "Full ids and commands");
  cmd->add_option("-n,--last", f->last, "The N most recently created containers (all states)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("-l,--latest", f->latest, "The most recently created container (all states)");
  cmd->add_option("-f,--filter", f->filters,
                  "KEY=VALUE: id, name, label, status (created|running|paused|exited), "
                  "ancestor, exited (the code)")
      ->allow_extra_args(false);
  cmd->add_option("--format", f->format,
                  "Output format: table, json, or a Go template such as "
                  "'table {{.ID}}\\t{{.Names}}' ({{.Field}}, {{json .}})")
      ->check(CheckFormat)
      ->capture_default_str();
  cmd->callback([&cli, f] { cli.action = [&cli, f] { return Annotate(RunPs(cli, *f), "ps"); }; });
}

}  // namespace berth::ctr
