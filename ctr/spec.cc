#include "ctr/spec.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

#include "ctr/network.h"
#include "ctr/text.h"
#include "ctr/volumes.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/cni/cni.h"
#include "lib/oci/default_spec.h"
#include "lib/oci/spec_json.h"
#include "lib/oci/sysctl.h"

namespace berth::ctr {
namespace {

using nlohmann::json;

std::vector<std::string> StringList(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array())
    return out;
  for (const json& v : *it) {
    if (v.is_string())
      out.push_back(v.get<std::string>());
  }
  return out;
}

std::string StringField(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// --net and -p. `network` is ChooseNetwork's answer; a CNI network's existence is checked by
// the caller (it reads files).
absl::Status ApplyNetwork(const SpecInput& in, const std::string& network, oci::Spec& s) {
  const RunFlags& f = *in.flags;
  std::vector<cni::PortMapping> ports;
  for (const std::string& p : f.publish) {
    BERTH_ASSIGN_OR_RETURN(cni::PortMapping m, cni::ParsePortMapping(p));
    ports.push_back(std::move(m));
  }
  // Read-only binds of the container's /etc/hosts and /etc/resolv.conf: its own files when
  // bctr made them (in.hosts_file, in.resolv_file), the host's on the host's network.
  auto bind = [&s](const char* dst, const std::string& src) {
    std::erase_if(s.mounts, [&](const oci::Mount& m) { return m.destination == dst; });
    s.mounts.push_back({dst, "bind", src, {"rbind", "ro", "rprivate"}});
  };
  auto own_or_hosts = [&bind](const char* dst, const std::string& own) {
    if (!own.empty())
      bind(dst, own);
    else if (::access(dst, R_OK) == 0)
      bind(dst, dst);
  };
  BERTH_ASSIGN_OR_RETURN(std::string extra_hosts, ExtraHostsLines(f.add_hosts));
  if (!extra_hosts.empty())
    s.annotations[kExtraHostsAnnotation] = extra_hosts;
  if (network == "host") {
    if (!ports.empty())
      return InvalidArgument(
          "-p: a container on the host's network (--net host) uses the host's ports as they are");
    auto& ns = s.linux.namespaces;
    ns.erase(std::remove_if(ns.begin(), ns.end(),
                            [](const oci::Namespace& n) { return n.type == "network"; }),
             ns.end());
    own_or_hosts("/etc/hosts", in.hosts_file);
    own_or_hosts("/etc/resolv.conf", in.resolv_file);
    return absl::OkStatus();
  }
  // "localhost" resolves and answers, as in Docker
  s.annotations[oci::kLoopbackAnnotation] = "up";
  if (!in.hosts_file.empty())
    bind("/etc/hosts", in.hosts_file);
  if (network == "none") {
    if (!ports.empty())
      return InvalidArgument(
          "-p: the container has no network (--net none); publish ports on a CNI network such as "
          "--net bridge");
    if (!in.resolv_file.empty() || !f.dns.empty() || !f.dns_search.empty() ||
        !f.dns_options.empty())
      return InvalidArgument("--dns: the container has no network (--net none)");
    return absl::OkStatus();
  }
  if (in.hook_program.empty())
    return InvalidArgument(fmt::format("--net {:?}: bctr's own path is unknown", network));
  AttachNetwork(s, in.network, in.hook_program, in.ns, network, ports);
  if (!in.resolv_file.empty())
    bind("/etc/resolv.conf", in.resolv_file);
  return absl::OkStatus();
}

absl::Status ApplySecurityOpts(const RunFlags& f, oci::Spec& s) {
  for (const std::string& opt : f.security_opts) {
    std::string key = opt.substr(0, opt.find_first_of("=:"));
    std::string value = key.size() < opt.size() ? opt.substr(key.size() + 1) : "";
    if (key == "no-new-privileges") {
      s.process->no_new_privileges = value.empty() || value == "true";
    } else if (key == "seccomp" && value == "unconfined") {
      s.linux.seccomp.reset();
    } else if (key == "seccomp" && !value.empty()) {
      std::ifstream in(value);
      if (!in)
        return InvalidArgument(fmt::format("--security-opt seccomp={}: cannot read", value));
      std::stringstream ss;
      ss << in.rdbuf();
      json profile = json::parse(ss.str(), nullptr, false);
      if (profile.is_discarded() || !profile.is_object())
        return InvalidArgument(fmt::format("--security-opt seccomp={}: not a JSON object", value));
      json doc = {{"ociVersion", "1.1.0"},
                  {"root", {{"path", "rootfs"}}},
                  {"process", {{"args", {"sh"}}, {"cwd", "/"}}},
                  {"linux", {{"seccomp", profile}}}};
      BERTH_ASSIGN_OR_RETURN(oci::Spec parsed,
                             oci::ParseSpec(doc.dump(), "--security-opt seccomp=" + value));
      s.linux.seccomp = parsed.linux.seccomp;
    } else {
      return InvalidArgument(fmt::format(
          "--security-opt {:?}: unsupported (want seccomp=unconfined|PATH or no-new-privileges)",
          opt));
    }
  }
  return absl::OkStatus();
}

void ApplyPrivileged(oci::Spec& s) {
  std::vector<std::string> all = AllAvailableCapabilities();
  s.process->capabilities->bounding = all;
  s.process->capabilities->effective = all;
  s.process->capabilities->permitted = all;
  s.linux.seccomp.reset();
  s.linux.masked_paths.clear();
  s.linux.readonly_paths.clear();
  for (oci::Mount& m : s.mounts) {
    if (m.destination == "/sys" || m.destination == "/sys/fs/cgroup")
      std::erase(m.options, "ro");
  }
  oci::DeviceRule allow_all;
  allow_all.allow = true;
  allow_all.type = "a";
  allow_all.access = "rwm";
  s.linux.resources->devices = {allow_all};
}

absl::Status ApplyMounts(const RunFlags& f, oci::Spec& s) {
  std::vector<oci::Mount> extra;
  for (const std::string& v : f.volumes) {
    BERTH_ASSIGN_OR_RETURN(oci::Mount m, ParseVolume(v));
    extra.push_back(std::move(m));
  }
  for (const std::string& v : f.mounts) {
    BERTH_ASSIGN_OR_RETURN(oci::Mount m, ParseMountFlag(v));
    extra.push_back(std::move(m));
  }
  for (const std::string& v : f.tmpfs) {
    BERTH_ASSIGN_OR_RETURN(oci::Mount m, ParseTmpfsFlag(v));
    extra.push_back(std::move(m));
  }
  for (oci::Mount& m : extra) {
    std::erase_if(s.mounts, [&](const oci::Mount& d) { return d.destination == m.destination; });
    s.mounts.push_back(std::move(m));
  }
  return absl::OkStatus();
}

absl::Status ApplyEnv(const RunFlags& f, const ImageConfig& image, oci::Spec& s) {
  std::vector<std::string>& env = s.process->env;
  for (const std::string& e : image.env) SetEnv(env, e);
  for (const std::string& file : f.env_files) {
    BERTH_ASSIGN_OR_RETURN(std::vector<std::string> lines, ReadEnvFile(file));
    for (const std::string& e : lines) SetEnv(env, e);
  }
  for (const std::string& e : f.env) {
    if (e.empty() || e[0] == '=')
      return InvalidArgument(fmt::format("--env {:?}: want KEY=VALUE or KEY", e));
    if (std::optional<std::string> v = ExpandEnv(e))
      SetEnv(env, *v);
  }
  return absl::OkStatus();
}

absl::Status ApplyProcess(const SpecInput& in, oci::Spec& s) {
  const RunFlags& f = *in.flags;
  oci::Process& p = *s.process;
  std::vector<std::string> entry = in.image.entrypoint;
  std::vector<std::string> cmd = f.args.empty() ? in.image.cmd : f.args;
  if (f.entrypoint) {
    entry = f.entrypoint->empty() ? std::vector<std::string>{}
                                  : std::vector<std::string>{*f.entrypoint};
    if (f.args.empty())
      cmd.clear();
  }
  p.args = entry;
  p.args.insert(p.args.end(), cmd.begin(), cmd.end());
  if (p.args.empty())
    return InvalidArgument(
        fmt::format("image {:?}: no command given and the image has none", f.image));
  p.terminal = f.tty;
  p.no_new_privileges = false;  // Docker's default; --security-opt no-new-privileges sets it
  p.cwd = !f.workdir.empty()              ? f.workdir
          : !in.image.working_dir.empty() ? in.image.working_dir
                                          : "/";
  if (!p.cwd.starts_with("/"))
    return InvalidArgument(fmt::format("--workdir {:?}: must be an absolute path", p.cwd));
  std::string user = !f.user.empty() ? f.user : in.image.user;
  std::string home = "/root";
  // The image's user database is read (a temporary mount of its layers) at most once, for -u
  // and --group-add alike.
  std::optional<absl::StatusOr<UserDb>> db;
  UserDbReader read_once;
  if (in.read_user_db) {
    read_once = [&]() -> absl::StatusOr<UserDb> {
      if (!db)
        db = in.read_user_db();
      return *db;
    };
  }
  if (!user.empty()) {
    BERTH_ASSIGN_OR_RETURN(p.user, ResolveUser(user, read_once, &home));
  }
  BERTH_RETURN_IF_ERROR(AddGroups(f.group_add, read_once, p.user));
  BERTH_RETURN_IF_ERROR(ApplyEnv(f, in.image, s));
  SetEnv(p.env, "HOSTNAME=" + s.hostname);
  bool has_home = std::any_of(p.env.begin(), p.env.end(),
                              [](const std::string& e) { return e.starts_with("HOME="); });
  if (!has_home)
    SetEnv(p.env, "HOME=" + home);
  if (f.tty) {
    bool has_term = std::any_of(p.env.begin(), p.env.end(),
                                [](const std::string& e) { return e.starts_with("TERM="); });
    if (!has_term)
      SetEnv(p.env, "TERM=xterm");
  }
  return absl::OkStatus();
}

// --sysctl (checked as the runtime will: oci::ValidateSysctls), --shm-size, --device.
absl::Status ApplyKernelFlags(const RunFlags& f, oci::Spec& s) {
  for (const std::string& kv : f.sysctls) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return InvalidArgument(fmt::format("--sysctl {:?}: want KEY=VALUE", kv));
    s.linux.sysctl[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (absl::Status st = oci::ValidateSysctls(s); !st.ok())
    return InvalidArgument(fmt::format("--sysctl: {}", std::string(st.message())));
  if (!f.shm_size.empty()) {
    absl::StatusOr<int64_t> bytes = ParseMemorySize(f.shm_size);
    if (!bytes.ok() || *bytes <= 0)
      return InvalidArgument(
          fmt::format("--shm-size {:?}: want a positive size, e.g. 64m or 1g", f.shm_size));
    for (oci::Mount& m : s.mounts) {
      if (m.destination != "/dev/shm")
        continue;
      std::erase_if(m.options, [](const std::string& o) { return o.starts_with("size="); });
      m.options.push_back(fmt::format("size={}k", (*bytes + 1023) / 1024));
    }
  }
  for (const std::string& d : f.devices) {
    BERTH_ASSIGN_OR_RETURN(DeviceFlag dev, ParseDeviceFlag(d));
    std::erase_if(s.linux.devices, [&](const oci::Device& o) { return o.path == dev.device.path; });
    s.linux.devices.push_back(std::move(dev.device));
    s.linux.resources->devices.push_back(std::move(dev.rule));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyResources(const RunFlags& f, oci::Spec& s) {
  oci::Resources& r = *s.linux.resources;
  if (!f.memory.empty()) {
    BERTH_ASSIGN_OR_RETURN(int64_t bytes, ParseMemorySize(f.memory));
    if (bytes < 6 * 1024 * 1024)
      return InvalidArgument(fmt::format("--memory {:?}: the minimum is 6m", f.memory));
    r.memory.emplace().limit = bytes;
  }
  if (f.cpus < 0 || std::isnan(f.cpus))
    return InvalidArgument(fmt::format("--cpus {}: must not be negative", f.cpus));
  if (f.cpus > 0) {
    oci::CpuResources& cpu = r.cpu.emplace();
    cpu.period = 100000;
    cpu.quota = static_cast<int64_t>(std::llround(f.cpus * 100000));
    if (*cpu.quota < 1000)
      return InvalidArgument(fmt::format("--cpus {}: the minimum is 0.01", f.cpus));
  }
  if (f.pids_limit != 0)
    r.pids.emplace().limit = f.pids_limit;
  return absl::OkStatus();
}

void RunFlags::Add(CLI::App& cmd, bool run) {
  if (run) {
    cmd.add_flag("-d,--detach", detach, "Run in the background and print the container id");
    cmd.add_flag("--rm", rm, "Remove the container when it exits");
  }
  cmd.add_flag("-i,--interactive", interactive, "Keep stdin open and forward it");
  cmd.add_flag("-t,--tty", tty, "Allocate a pseudo-terminal");
  cmd.add_option("--name", name, "Name of the container (default: a generated one)");
  cmd.add_option("-e,--env", env, "Set an environment variable: KEY=VALUE or KEY")
      ->allow_extra_args(false);
  cmd.add_option("--env-file", env_files, "Read KEY=VALUE lines from a file")
      ->check(CLI::ExistingFile)
      ->allow_extra_args(false);
  cmd.add_option("-v,--volume", volumes, "Bind mount HOST:CONTAINER[:ro]")->allow_extra_args(false);
  cmd.add_option("--mount", mounts,
                 "Mount: type=bind,source=HOST,target=CTR[,readonly] or "
                 "type=tmpfs,target=CTR")
      ->allow_extra_args(false);
  cmd.add_option("--tmpfs", tmpfs,
                 "Mount a tmpfs: CONTAINER[:OPTIONS] (default noexec,nosuid,nodev,mode=1777)")
      ->allow_extra_args(false);
  cmd.add_option("--sysctl", sysctls, "Namespaced kernel parameter: KEY=VALUE")
      ->allow_extra_args(false);
  cmd.add_option("--device", devices, "Host device: HOST[:CONTAINER[:PERMISSIONS]] (rwm)")
      ->allow_extra_args(false);
  cmd.add_option("--group-add", group_add, "Supplementary group (name or number)")
      ->allow_extra_args(false);
  cmd.add_option("--shm-size", shm_size, "Size of /dev/shm (default 64m)");
  cmd.add_option("--ulimit", ulimits, "Resource limit: NAME=SOFT[:HARD], e.g. nofile=1024:2048")
      ->allow_extra_args(false);
  cmd.add_option("-l,--label", labels, "Set a label KEY=VALUE on the container")
      ->allow_extra_args(false);
  cmd.add_option("-w,--workdir", workdir, "Working directory inside the container");
  cmd.add_option("-u,--user", user, "User (name or uid) and optional group: USER[:GROUP]");
  cmd.add_flag("--read-only", read_only, "Mount the root filesystem read-only");
  cmd.add_option("-m,--memory", memory, "Memory limit, e.g. 512m or 1g");
  cmd.add_option("--cpus", cpus, "Number of CPUs (a CFS quota), e.g. 1.5");
  cmd.add_option("--pids-limit", pids_limit, "Maximum number of processes (-1: unlimited)");
  cmd.add_flag("--privileged", privileged, "All capabilities, no seccomp, every device allowed");
  cmd.add_option("--cap-add", cap_add, "Add a capability (e.g. NET_ADMIN, or ALL)")
      ->allow_extra_args(false);
  cmd.add_option("--cap-drop", cap_drop, "Drop a capability (e.g. CHOWN, or ALL)")
      ->allow_extra_args(false);
  cmd.add_option("--security-opt", security_opts,
                 "seccomp=unconfined, seccomp=PROFILE.json or no-new-privileges")
      ->allow_extra_args(false);
  cmd.add_option("--hostname", hostname, "Host name (default: the short container id)");
  cmd.add_option("--net,--network", net,
                 "Network: none (a private loopback only), host, bridge (bctr's built-in CNI "
                 "bridge) or a CNI network of bctr.toml's conf_dir")
      ->capture_default_str();
  cmd.add_option("-p,--publish", publish,
                 "Publish a port: [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp|sctp] (implies --net "
                 "bridge)")
      ->allow_extra_args(false);
  cmd.add_option("--add-host", add_hosts, "Add a line to /etc/hosts: HOST:ADDRESS")
      ->allow_extra_args(false);
  cmd.add_option("--dns", dns, "Name server for /etc/resolv.conf (instead of the host's)")
      ->allow_extra_args(false);
  cmd.add_option("--dns-search", dns_search, "Search domain for /etc/resolv.conf (\".\": none)")
      ->allow_extra_args(false);
  cmd.add_option("--dns-option", dns_options, "Option for /etc/resolv.conf (e.g. ndots:2)")
      ->allow_extra_args(false);
  cmd.add_option("--restart", restart, "Restart policy: no, always, on-failure[:N]")
      ->capture_default_str();
  cmd.add_option("--stop-signal", stop_signal,
                 "Signal that bctr stop sends (default: the image's STOPSIGNAL, else SIGTERM)");
  cmd.add_option_function<int>(
         "--stop-timeout", [this](int t) { stop_timeout = t; },
         "Seconds bctr stop waits before SIGKILL (default 10)")
      ->check(CLI::Range(0, 86400));
  cmd.add_option_function<std::string>(
      "--entrypoint", [this](const std::string& e) { entrypoint = e; },
      "Override the image's entrypoint");
  cmd.add_option("--snapshotter", snapshotter, "Snapshotter of the container's filesystem")
      ->capture_default_str();
  cmd.add_option("--pull", pull,
                 "Pull the image first: missing (when not here), always, or never (fail)")
      ->check(CLI::IsMember({"missing", "always", "never"}))
      ->capture_default_str();
  cmd.add_option("image", image, "Image to run")->required();
  cmd.add_option("command", args, "Command and arguments (default: the image's)");
  cmd.positionals_at_end();
}

absl::StatusOr<ImageConfig> ParseImageConfig(const std::string& blob) {
  json doc = json::parse(blob, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return InvalidArgument("image config: not a JSON object");
  ImageConfig c;
  auto it = doc.find("config");
  if (it == doc.end() || !it->is_object())
    return c;
  c.entrypoint = StringList(*it, "Entrypoint");
  c.cmd = StringList(*it, "Cmd");
  c.env = StringList(*it, "Env");
  c.working_dir = StringField(*it, "WorkingDir");
  c.user = StringField(*it, "User");
  c.stop_signal = StringField(*it, "StopSignal");
  if (auto v = it->find("Volumes"); v != it->end() && v->is_object()) {
    for (const auto& [path, _] : v->items()) {
      std::string p = path;
      while (p.size() > 1 && p.ends_with('/')) p.pop_back();
      if (p.starts_with("/"))
        c.volumes.push_back(p);
    }
  }
  return c;
}

absl::StatusOr<oci::Spec> BuildSpec(const SpecInput& in) {
  const RunFlags& f = *in.flags;
  oci::Spec s = oci::DefaultSpec(in.ns, in.id);
  const std::string network = ChooseNetwork(f.net, in.network, !f.publish.empty());
  s.hostname = !f.hostname.empty() ? f.hostname : in.id.substr(0, 12);
  if (network == "host" && f.hostname.empty()) {
    char buf[256] = {};
    if (::gethostname(buf, sizeof(buf) - 1) == 0)
      s.hostname = buf;
  }
  BERTH_RETURN_IF_ERROR(ApplyNetwork(in, network, s));
  if (f.privileged)
    ApplyPrivileged(s);
  BERTH_ASSIGN_OR_RETURN(
      std::vector<std::string> caps,
      ApplyCapabilities(s.process->capabilities->bounding, f.cap_add, f.cap_drop));
  s.process->capabilities->bounding = caps;
  s.process->capabilities->effective = caps;
  s.process->capabilities->permitted = caps;
  BERTH_RETURN_IF_ERROR(ApplyProcess(in, s));
  BERTH_RETURN_IF_ERROR(ApplySecurityOpts(f, s));
  BERTH_RETURN_IF_ERROR(ApplyResources(f, s));
  BERTH_RETURN_IF_ERROR(ApplyMounts(f, s));
  // As Docker: every VOLUME of the image that no mount covers gets an anonymous volume.
  for (const std::string& dst : in.image.volumes) {
    if (std::none_of(s.mounts.begin(), s.mounts.end(),
                     [&](const oci::Mount& m) { return m.destination == dst; }))
      s.mounts.push_back(VolumePlaceholder({.name = "", .destination = dst}));
  }
  BERTH_RETURN_IF_ERROR(ApplyKernelFlags(f, s));
  for (const std::string& u : f.ulimits) {
    BERTH_ASSIGN_OR_RETURN(oci::Rlimit r, ParseUlimit(u));
    std::vector<oci::Rlimit>& all = s.process->rlimits;
    std::erase_if(all, [&](const oci::Rlimit& o) { return o.type == r.type; });
    all.push_back(std::move(r));
  }
  s.root.readonly = f.read_only;
  return s;
}

}  // namespace berth::ctr
