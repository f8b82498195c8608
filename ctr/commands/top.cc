// bctr top CONTAINER: the container's processes with ps -ef's columns, read from /proc.

#include <pwd.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "fmt/format.h"

#include "ctr/commands/commands.h"
#include "ctr/containers.h"
#include "ctr/output.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

struct ProcRow {
  std::string uid, pid, ppid, c, stime, tty, time, cmd;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int64_t BootTime() {
  std::ifstream in("/proc/stat");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("btime "))
      return std::stoll(line.substr(6));
  }
  return 0;
}

std::string TtyName(uint64_t tty_nr) {
  uint64_t major = (tty_nr >> 8) & 0xfff;
  uint64_t minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
  if (tty_nr == 0)
    return "?";
  if (major == 136)
    return fmt::format("pts/{}", minor);
  if (major == 4)
    return fmt::format("tty{}", minor);
  return "?";
}

std::optional<ProcRow> ReadProc(uint32_t pid, int64_t btime, long hz) {
  std::string stat = Slurp(fmt::format("/proc/{}/stat", pid));
  size_t open = stat.find('('), close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos)
    return std::nullopt;
  std::istringstream rest(stat.substr(close + 2));
  std::vector<std::string> f(1, "");  // f[i] is field i+2 of stat (state is field 3)
  std::string x;
  while (rest >> x) f.push_back(x);
  if (f.size() < 21)
    return std::nullopt;
  ProcRow r;
  r.pid = std::to_string(pid);
  r.ppid = f[2];
  uint64_t ticks = std::stoull(f[12]) + std::stoull(f[13]);
  uint64_t start = std::stoull(f[20]);
  int64_t started = btime + static_cast<int64_t>(start / static_cast<uint64_t>(hz));
  int64_t elapsed = std::max<int64_t>(1, NowSeconds() - started);
  r.c = std::to_string(ticks / static_cast<uint64_t>(hz) * 100 / static_cast<uint64_t>(elapsed));
  time_t st = static_cast<time_t>(started);

  struct tm tm {};

  ::localtime_r(&st, &tm);
  r.stime = fmt::format("{:02}:{:02}", tm.tm_hour, tm.tm_min);
  r.tty = TtyName(std::stoull(f[5]));
  uint64_t secs = ticks / static_cast<uint64_t>(hz);
  r.time = fmt::format("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
  std::string status = Slurp(fmt::format("/proc/{}/status", pid));
  size_t u = status.find("\nUid:");
  r.uid = u == std::string::npos ? "?" : std::to_string(std::stoul(status.substr(u + 5)));
  std::string cmdline = Slurp(fmt::format("/proc/{}/cmdline", pid));
  while (!cmdline.empty() && cmdline.back() == '\0') cmdline.pop_back();
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  r.cmd = cmdline.empty() ? "[" + stat.substr(open + 1, close - open - 1) + "]" : cmdline;
  return r;
}

absl::Status RunTop(Cli& cli, const std::string& ref) {
  Connection& conn = cli.conn();
  BERTH_ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(conn, ref));
  BERTH_ASSIGN_OR_RETURN(TaskInfo t, GetTaskInfo(conn, c.id()));
  if (!t.exists || t.status == "stopped" || t.status == "created")
    return FailedPrecondition(fmt::format("container {:?}: is not running", ref));
  tasks_api::ListPidsRequest req;
  req.set_container_id(c.id());
  tasks_api::ListPidsResponse resp;
  auto ctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.tasks().ListPids(ctx.get(), req, &resp)));
  int64_t btime = BootTime();
  long hz = std::max(1L, ::sysconf(_SC_CLK_TCK));
  std::vector<ProcRow> rows = {{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}};
  for (const auto& p : resp.processes()) {
    if (std::optional<ProcRow> r = ReadProc(p.pid(), btime, hz))
      rows.push_back(*r);
  }
  size_t w[7] = {};
  for (const ProcRow& r : rows) {
    const std::string* cols[7] = {&r.uid, &r.pid, &r.ppid, &r.c, &r.stime, &r.tty, &r.time};
    for (int i = 0; i < 7; ++i) w[i] = std::max(w[i], cols[i]->size());
  }
  for (const ProcRow& r : rows) {
    std::printf("%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %s\n", static_cast<int>(w[0]),
                r.uid.c_str(), static_cast<int>(w[1]), r.pid.c_str(), static_cast<int>(w[2]),
                r.ppid.c_str(), static_cast<int>(w[3]), r.c.c_str(), static_cast<int>(w[4]),
                r.stime.c_str(), static_cast<int>(w[5]), r.tty.c_str(), static_cast<int>(w[6]),
                r.time.c_str(), r.cmd.c_str());
  }
  return absl::OkStatus();
}

}  // namespace

void AddTop(CLI::App& parent, Cli& cli) {
  auto ref = std::make_shared<std::string>();
  CLI::App* cmd = parent.add_subcommand("top", "Show the processes of a container");
  cmd->add_option("container", *ref, "Container (name, id or id prefix)")->required();
  cmd->callback(
      [&cli, ref] { cli.action = [&cli, ref] { return Annotate(RunTop(cli, *ref), "top"); }; });
}

}  // namespace berth::ctr
