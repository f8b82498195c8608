// bctr inspect CONTAINER...: containers as JSON (docker inspect's main fields). An argument
// that names no container but an image falls back to `images inspect`'s view.

#include <sys/resource.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>

#include "fmt/format.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"

#include "ctr/commands/commands.h"
#include "ctr/config.h"
#include "ctr/container_create.h"
#include "ctr/containers.h"
#include "ctr/network.h"
#include "ctr/volumes.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/oci/spec_json.h"

namespace berth::ctr {
namespace {

using google::protobuf::util::TimeUtil;
using nlohmann::json;

json StateJson(const TaskInfo& t) {
  json s = {{"Status", StatusWord(t)},
            {"Running", t.exists && (t.status == "running" || t.status == "paused")},
            {"Paused", t.status == "paused"},
            {"Pid", t.status == "stopped" ? 0 : t.pid},
            {"ExitCode", t.exit_status}};
  if (t.exited_at > 0) {
    google::protobuf::Timestamp ts;
    ts.set_seconds(t.exited_at);
    s["FinishedAt"] = TimeUtil::ToString(ts);
  }
  return s;
}

// Docker's {"Name": "on-failure", "MaximumRetryCount": 3} from containerd's policy label
// ("always", "on-failure:3"; none is "no").
json RestartPolicyJson(const std::map<std::string, std::string>& labels) {
  std::string name = "no";
  int retries = 0;
  if (auto it = labels.find(kRestartPolicyLabel); it != labels.end() && !it->second.empty()) {
    name = it->second;
    if (size_t colon = name.find(':'); colon != std::string::npos) {
      retries = std::atoi(name.c_str() + colon + 1);
      name.resize(colon);
    }
  }
  return {{"Name", name}, {"MaximumRetryCount", retries}};
}

// Binds and volumes (a bind of a volume's _data that the container's labels name), as docker
// inspect's Mounts.
json MountsJson(const oci::Spec& spec, const std::map<std::string, std::string>& labels) {
  const std::vector<std::string> volumes = ContainerVolumes(labels);
  json out = json::array();
  for (const oci::Mount& m : spec.mounts) {
    if (m.type != "bind" || m.destination == "/etc/hosts" || m.destination == "/etc/resolv.conf")
      continue;  // what bctr binds itself is not a volume (docker inspect shows neither)
    bool ro = std::find(m.options.begin(), m.options.end(), "ro") != m.options.end();
    const std::filesystem::path source(m.source);
    auto volume =
        std::find(volumes.begin(), volumes.end(), source.parent_path().filename().string());
    if (source.filename() == "_data" && volume != volumes.end()) {
      out.push_back({{"Type", "volume"},
                     {"Name", *volume},
                     {"Source", m.source},
                     {"Destination", m.destination},
                     {"Driver", "local"},
                     {"RW", !ro}});
      continue;
    }
    out.push_back(
        {{"Type", "bind"}, {"Source", m.source}, {"Destination", m.destination}, {"RW", !ro}});
  }
  return out;
}

// HostConfig's Tmpfs (--tmpfs, --mount type=tmpfs), ShmSize, Sysctls, Ulimits and Devices (the
// container's side: the spec does not keep the host's path), from the spec.
void AddKernelSettings(const oci::Spec& spec, json& host) {
  json tmpfs = json::object();
  for (const oci::Mount& m : spec.mounts) {
    if (m.type != "tmpfs")
      continue;
    if (m.destination == "/dev/shm") {
      for (const std::string& o : m.options) {
        if (o.starts_with("size=") && o.ends_with("k"))
          host["ShmSize"] = std::strtoll(o.c_str() + 5, nullptr, 10) * 1024;
      }
    } else if (m.destination != "/dev") {
      std::string options;
      for (const std::string& o : m.options) options += (options.empty() ? "" : ",") + o;
      tmpfs[m.destination] = options;
    }
  }
  host["Tmpfs"] = tmpfs;
  host["Sysctls"] = spec.linux.sysctl;
  json ulimits = json::array();
  if (spec.process) {
    for (const oci::Rlimit& r : spec.process->rlimits) {
      std::string name = r.type.starts_with("RLIMIT_") ? r.type.substr(7) : r.type;
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      auto value = [](uint64_t v) { return v == RLIM_INFINITY ? json(-1) : json(v); };
      ulimits.push_back({{"Name", name}, {"Soft", value(r.soft)}, {"Hard", value(r.hard)}});
    }
  }
  host["Ulimits"] = ulimits;
  json devices = json::array();
  for (const oci::Device& d : spec.linux.devices) {
    std::string access;
    if (spec.linux.resources) {
      for (const oci::DeviceRule& r : spec.linux.resources->devices) {
        if (r.allow && r.type == d.type && r.major == d.major && r.minor == d.minor)
          access = r.access;
      }
    }
    devices.push_back({{"PathInContainer", d.path}, {"CgroupPermissions", access}});
  }
  host["Devices"] = devices;
}

// docker inspect's NetworkSettings, and HostConfig's NetworkMode and PortBindings.
void AddNetwork(const oci::Spec& spec, const std::string& ns, const std::string& id, json& host,
                json& out) {
  absl::StatusOr<ClientConfig> config = LoadClientConfig(ClientConfigPath());
  ContainerNetwork n =
      InspectNetwork(spec, config.ok() ? config->network : NetworkSettings(), ns, id);
  bool own_netns = std::any_of(spec.linux.namespaces.begin(), spec.linux.namespaces.end(),
                               [](const oci::Namespace& x) { return x.type == "network"; });
  host["NetworkMode"] = !n.network.empty() ? n.network : own_netns ? "none" : "host";
  json ports = json::object();
  for (const cni::PortMapping& p : n.ports) {
    ports[fmt::format("{}/{}", p.container_port, p.protocol)].push_back(
        {{"HostIp", p.host_ip.empty() ? "0.0.0.0" : p.host_ip},
         {"HostPort", std::to_string(p.host_port)}});
  }
  host["PortBindings"] = ports;
  std::string ip = n.address.substr(0, n.address.find('/'));
  int prefix = n.address.find('/') != std::string::npos
                   ? std::atoi(n.address.substr(n.address.find('/') + 1).c_str())
                   : 0;
  json settings = {{"IPAddress", ip},
                   {"IPPrefixLen", prefix},
                   {"Gateway", n.gateway},
                   {"Ports", ports},
                   {"Networks", json::object()}};
  if (!n.network.empty())
    settings["Networks"][n.network] = {
        {"IPAddress", ip}, {"IPPrefixLen", prefix}, {"Gateway", n.gateway}};
  out["NetworkSettings"] = settings;
}

absl::StatusOr<json> InspectOne(Cli& cli, const std::string& ref) {
  Connection& conn = cli.conn();
  BERTH_ASSIGN_OR_RETURN(ContainerRecord c, FindContainer(conn, ref));
  BERTH_ASSIGN_OR_RETURN(TaskInfo task, GetTaskInfo(conn, c.id()));
  TaskInfo t = ContainerState(c, task);
  BERTH_ASSIGN_OR_RETURN(oci::Spec spec, ContainerSpec(c));
  std::map<std::string, std::string> labels(c.labels().begin(), c.labels().end());
  json config = {{"Hostname", spec.hostname}, {"Image", c.image()}, {"Labels", labels}};
  if (spec.process) {
    const oci::Process& p = *spec.process;
    config["Cmd"] = p.args;
    config["Env"] = p.env;
    config["WorkingDir"] = p.cwd;
    config["User"] = fmt::format("{}:{}", p.user.uid, p.user.gid);
    config["Tty"] = p.terminal;
  }
  json host = json::object();
  if (spec.linux.resources) {
    const oci::Resources& r = *spec.linux.resources;
    host["Memory"] = r.memory && r.memory->limit ? *r.memory->limit : 0;
    host["PidsLimit"] = r.pids ? r.pids->limit : 0;
    host["CpuQuota"] = r.cpu && r.cpu->quota ? *r.cpu->quota : 0;
    host["CpuPeriod"] = r.cpu && r.cpu->period ? *r.cpu->period : 0;
  }
  host["ReadonlyRootfs"] = spec.root.readonly;
  host["RestartPolicy"] = RestartPolicyJson(labels);
  host["AutoRemove"] = labels.contains(kAutoRemoveLabel);
  if (auto it = labels.find(kStopSignalLabel); it != labels.end())
    config["StopSignal"] = it->second;
  if (auto it = labels.find(kStopTimeoutLabel); it != labels.end())
    config["StopTimeout"] = std::atoi(it->second.c_str());
  if (spec.process && spec.process->capabilities)
    host["Capabilities"] = spec.process->capabilities->bounding;
  // --add-host's lines ("<address>\t<host>"), as Docker shows them: "<host>:<address>".
  json extra_hosts = json::array();
  if (auto it = spec.annotations.find(kExtraHostsAnnotation); it != spec.annotations.end()) {
    std::istringstream lines(it->second);
    for (std::string line; std::getline(lines, line);) {
      if (size_t tab = line.find('\t'); tab != std::string::npos)
        extra_hosts.push_back(fmt::format("{}:{}", line.substr(tab + 1), line.substr(0, tab)));
    }
  }
  host["ExtraHosts"] = extra_hosts;
  AddKernelSettings(spec, host);
  json out = {{"Id", c.id()},
              {"Name", ContainerName(c)},
              {"Image", c.image()},
              {"Created", TimeUtil::ToString(c.created_at())},
              {"State", StateJson(t)},
              {"Config", config},
              {"HostConfig", host},
              {"Mounts", MountsJson(spec, labels)},
              {"Labels", labels},
              {"LogPath", LogPath(cli.log_root, conn.ns(), c.id())},
              {"Snapshotter", c.snapshotter()},
              {"SnapshotKey", c.snapshot_key()},
              {"Runtime", c.runtime().name()},
              {"Spec", json::parse(c.spec().value(), nullptr, false)}};
  AddNetwork(spec, conn.ns(), c.id(), out["HostConfig"], out);
  return out;
}

absl::Status RunInspectContainers(Cli& cli, const std::vector<std::string>& refs) {
  json out = json::array();
  for (const std::string& ref : refs) {
    BERTH_ASSIGN_OR_RETURN(json one, InspectOne(cli, ref));
    out.push_back(std::move(one));
  }
  std::printf("%s\n", out.dump(2).c_str());
  return absl::OkStatus();
}

}  // namespace

void AddContainerInspect(CLI::App& parent, Cli& cli) {
  auto refs = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = parent.add_subcommand("inspect", "Show containers as JSON");
  cmd->add_option("containers", *refs, "Containers (name, id or id prefix)")->required();
  cmd->callback([&cli, refs] {
    cli.action = [&cli, refs] { return Annotate(RunInspectContainers(cli, *refs), "inspect"); };
  });
}

}  // namespace berth::ctr
