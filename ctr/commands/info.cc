// bctr info: what a platform engineer checks first, as docker info shows it: berthd's version,
// its containers by state and its images in the namespace, its snapshotters, and the host's
// cgroup version, kernel, OS, CPUs and memory (bctr runs on berthd's host: its socket is local).

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>

#include "nlohmann/json.hpp"

#include "ctr/commands/commands.h"
#include "ctr/containers.h"
#include "ctr/progress.h"
#include "lib/base/platform.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/base/version.h"

namespace berth::ctr {
namespace {

using nlohmann::ordered_json;

// PRETTY_NAME from /etc/os-release, unquoted.
std::string OsName() {
  std::ifstream in("/etc/os-release");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("PRETTY_NAME=")) {
      std::string v = line.substr(12);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"')
        v = v.substr(1, v.size() - 2);
      return v;
    }
  }
  return "unknown";
}

absl::StatusOr<ordered_json> Collect(Cli& cli) {
  Connection& conn = cli.conn();
  google::protobuf::Empty empty;
  version_api::VersionResponse version;
  auto vctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.version().Version(vctx.get(), empty, &version)));

  BERTH_ASSIGN_OR_RETURN(std::vector<ContainerRecord> containers, ListContainers(conn));
  tasks_api::ListTasksRequest treq;
  tasks_api::ListTasksResponse tasks;
  auto tctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.tasks().List(tctx.get(), treq, &tasks)));
  int running = 0, paused = 0;
  for (const auto& p : tasks.tasks()) {
    const std::string status = TaskInfoFromProcess(p).status;
    running += status == "running";
    paused += status == "paused" || status == "pausing";
  }

  images_api::ListImagesRequest ireq;
  images_api::ListImagesResponse images;
  auto ictx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.images().List(ictx.get(), ireq, &images)));

  introspection_api::PluginsRequest preq;
  preq.add_filters("type==io.containerd.snapshotter.v1");
  introspection_api::PluginsResponse plugins;
  auto pctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.introspection().Plugins(pctx.get(), preq, &plugins)));
  ordered_json snapshotters = ordered_json::array();
  for (const auto& p : plugins.plugins()) {
    if (!p.has_init_err() || p.init_err().code() == 0)
      snapshotters.push_back(p.id());
  }

  struct utsname u = {};
  ::uname(&u);
  const int total = static_cast<int>(containers.size());
  return ordered_json{
      {"ClientVersion", std::string(Version())},
      {"ServerVersion", version.version()},
      {"Namespace", conn.ns()},
      {"Containers", total},
      {"ContainersRunning", running},
      {"ContainersPaused", paused},
      {"ContainersStopped", total - running - paused},
      {"Images", images.images_size()},
      {"Snapshotters", snapshotters},
      {"CgroupVersion", ::access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? "2" : "1"},
      {"KernelVersion", u.release},
      {"OperatingSystem", OsName()},
      {"Architecture", u.machine},
      {"NCPU", ::sysconf(_SC_NPROCESSORS_ONLN)},
      {"MemTotal", HostMemoryBytes()},
  };
}

absl::Status RunInfo(Cli& cli, const std::string& format) {
  BERTH_ASSIGN_OR_RETURN(ordered_json i, Collect(cli));
  if (format == "json") {
    std::printf("%s\n", i.dump(2).c_str());
    return absl::OkStatus();
  }
  std::string snapshotters;
  for (const auto& s : i["Snapshotters"])
    snapshotters += (snapshotters.empty() ? "" : ", ") + s.get<std::string>();
  auto str = [&](const char* key) {
    return i[key].is_string() ? i[key].get<std::string>() : i[key].dump();
  };
  std::printf("Client:\n Version: %s\n\nServer:\n", str("ClientVersion").c_str());
  std::printf(" Containers: %s\n  Running: %s\n  Paused: %s\n  Stopped: %s\n",
              str("Containers").c_str(), str("ContainersRunning").c_str(),
              str("ContainersPaused").c_str(), str("ContainersStopped").c_str());
  std::printf(" Images: %s\n", str("Images").c_str());
  std::printf(" Server Version: %s\n", str("ServerVersion").c_str());
  std::printf(" Namespace: %s\n", str("Namespace").c_str());
  std::printf(" Snapshotters: %s\n", snapshotters.c_str());
  std::printf(" Cgroup Version: %s\n", str("CgroupVersion").c_str());
  std::printf(" Kernel Version: %s\n", str("KernelVersion").c_str());
  std::printf(" Operating System: %s\n", str("OperatingSystem").c_str());
  std::printf(" Architecture: %s\n", str("Architecture").c_str());
  std::printf(" CPUs: %s\n", str("NCPU").c_str());
  std::printf(" Total Memory: %s\n", HumanSize(i["MemTotal"].get<int64_t>()).c_str());
  return absl::OkStatus();
}

}  // namespace

void AddInfo(CLI::App& parent, Cli& cli) {
  auto format = std::make_shared<std::string>("table");
  CLI::App* cmd = parent.add_subcommand(
      "info", "Show berthd's containers, images and snapshotters, and the host it runs on");
  cmd->add_option("--format", *format, "Output format: table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  cmd->callback([&cli, format] {
    cli.action = [&cli, format] { return Annotate(RunInfo(cli, *format), "info"); };
  });
}

}  // namespace berth::ctr
