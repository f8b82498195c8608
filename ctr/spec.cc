#include "ctr/spec.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <span>
#include <sstream>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

#include "ctr/network.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/cni/cni.h"
#include "lib/oci/capabilities.h"
#include "lib/oci/default_spec.h"
#include "lib/oci/spec_json.h"
#include "lib/oci/sysctl.h"

namespace berth::ctr {
namespace {

using nlohmann::json;

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::stringstream ss(s);
  while (std::getline(ss, cur, sep)) out.push_back(cur);
  if (!s.empty() && s.back() == sep)
    out.emplace_back();
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::optional<uint32_t> ParseUint32(const std::string& s) {
  if (s.empty() || s.size() > 10 || !std::all_of(s.begin(), s.end(), ::isdigit))
    return std::nullopt;
  uint64_t v = std::stoull(s);
  if (v > 0xffffffffULL)
    return std::nullopt;
  return static_cast<uint32_t>(v);
}

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

// passwd/group line fields, or empty when `key` (a name or number in field 0 or 2) is absent.
std::vector<std::string> FindEntry(const std::string& db, const std::string& key, bool numeric) {
  std::stringstream ss(db);
  std::string line;
  while (std::getline(ss, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    std::vector<std::string> f = Split(line, ':');
    if (f.size() < 3)
      continue;
    if ((numeric ? f[2] : f[0]) == key)
      return f;
  }
  return {};
}

// Supplementary groups of `user` (group lines listing it), as Docker adds them.
std::vector<uint32_t> MemberGroups(const std::string& db, const std::string& user, uint32_t gid) {
  std::vector<uint32_t> out;
  std::stringstream ss(db);
  std::string line;
  while (std::getline(ss, line)) {
    std::vector<std::string> f = Split(line, ':');
    if (f.size() < 4 || user.empty())
      continue;
    std::vector<std::string> members = Split(f[3], ',');
    std::optional<uint32_t> g = ParseUint32(f[2]);
    if (g && *g != gid && std::find(members.begin(), members.end(), user) != members.end())
      out.push_back(*g);
  }
  return out;
}

// Every capability this process may pass on (its bounding set): "all" for --privileged and
// --cap-add ALL, as a host root may lack some (CAP_SYS_RESOURCE in some sandboxes), and asking
// for one outside the bounding set makes capset fail.
std::vector<std::string> AllAvailableCapabilities() {
  uint64_t bounding = ~uint64_t{0};
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("CapBnd:"))
      bounding = std::stoull(line.substr(7), nullptr, 16);
  }
  std::vector<std::string> out;
  std::span<const std::string_view> names = oci::AllCapabilityNames();
  for (size_t i = 0; i < names.size(); ++i) {
    if (!names[i].empty() && i < 64 && (bounding >> i & 1) != 0)
      out.emplace_back(names[i]);
  }
  return out;
}

std::string CapName(const std::string& s) {
  std::string u = Upper(s);
  return u.starts_with("CAP_") || u == "ALL" ? u : "CAP_" + u;
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
  return c;
}

absl::StatusOr<int64_t> ParseMemorySize(const std::string& s) {
  std::string v = Lower(s);
  if (v.size() > 1 && v.back() == 'b' && !std::isdigit(static_cast<unsigned char>(v[v.size() - 2])))
    v.pop_back();
  int64_t mult = 1;
  if (!v.empty() && !std::isdigit(static_cast<unsigned char>(v.back()))) {
    switch (v.back()) {
      case 'b':
        break;
      case 'k':
        mult = 1LL << 10;
        break;
      case 'm':
        mult = 1LL << 20;
        break;
      case 'g':
        mult = 1LL << 30;
        break;
      case 't':
        mult = 1LL << 40;
        break;
      default:
        return InvalidArgument(fmt::format("size {:?}: unknown unit (want b, k, m, g or t)", s));
    }
    v.pop_back();
  }
  char* end = nullptr;
  double n = std::strtod(v.c_str(), &end);
  if (v.empty() || end == nullptr || *end != '\0' || !(n >= 0) || n * mult > 9.2e18)
    return InvalidArgument(fmt::format("size {:?}: not a size like 512m or 1g", s));
  return static_cast<int64_t>(n * static_cast<double>(mult));
}

absl::StatusOr<oci::Mount> ParseVolume(const std::string& s) {
  std::vector<std::string> parts = Split(s, ':');
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty())
    return InvalidArgument(fmt::format("--volume {:?}: want HOST:CONTAINER[:ro]", s));
  if (!parts[0].starts_with("/")) {
    return InvalidArgument(fmt::format(
        "--volume {:?}: the host path must be absolute (named volumes are not supported)", s));
  }
  if (!parts[1].starts_with("/"))
    return InvalidArgument(fmt::format("--volume {:?}: the container path must be absolute", s));
  oci::Mount m{parts[1], "bind", parts[0], {"rbind", "rprivate"}};
  if (parts.size() == 3) {
    for (const std::string& o : Split(parts[2], ',')) {
      if (o == "ro")
        m.options.push_back("ro");
      else if (o != "rw" && o != "z" && o != "Z")
        return InvalidArgument(fmt::format("--volume {:?}: unknown option {:?}", s, o));
    }
  }
  return m;
}

absl::StatusOr<oci::Mount> ParseMountFlag(const std::string& s) {
  std::string type = "volume", src, dst;
  bool ro = false;
  std::string size;
  for (const std::string& kv : Split(s, ',')) {
    size_t eq = kv.find('=');
    std::string k = kv.substr(0, eq);
    std::string v = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (k == "type")
      type = v;
    else if (k == "source" || k == "src")
      src = v;
    else if (k == "target" || k == "dst" || k == "destination")
      dst = v;
    else if (k == "readonly" || k == "ro")
      ro = v.empty() || v == "true" || v == "1";
    else if (k == "tmpfs-size")
      size = v;
    else
      return InvalidArgument(fmt::format("--mount {:?}: unknown key {:?}", s, k));
  }
  if (!dst.starts_with("/"))
    return InvalidArgument(fmt::format("--mount {:?}: target must be an absolute path", s));
  if (type == "bind") {
    if (!src.starts_with("/"))
      return InvalidArgument(fmt::format("--mount {:?}: source must be an absolute path", s));
    oci::Mount m{dst, "bind", src, {"rbind", "rprivate"}};
    if (ro)
      m.options.push_back("ro");
    return m;
  }
  if (type == "tmpfs") {
    oci::Mount m{dst, "tmpfs", "tmpfs", {"nosuid", "nodev", "mode=1777"}};
    if (!size.empty()) {
      BERTH_ASSIGN_OR_RETURN(int64_t bytes, ParseMemorySize(size));
      m.options.push_back(fmt::format("size={}", bytes));
    }
    if (ro)
      m.options.push_back("ro");
    return m;
  }
  return InvalidArgument(
      fmt::format("--mount {:?}: type {:?} is not supported (bind, tmpfs)", s, type));
}

absl::StatusOr<oci::Mount> ParseTmpfsFlag(const std::string& s) {
  const size_t colon = s.find(':');
  const std::string dst = s.substr(0, colon);
  if (!dst.starts_with("/"))
    return InvalidArgument(fmt::format("--tmpfs {:?}: the container path must be absolute", s));
  // Each option either sets one of the flag pairs or one key; a later one wins, as in mount(8).
  std::vector<std::pair<std::string, std::string>> opts = {
      {"exec", "noexec"}, {"suid", "nosuid"}, {"dev", "nodev"}, {"mode", "mode=1777"}};
  auto set = [&](const std::string& key, const std::string& option) {
    auto it = std::find_if(opts.begin(), opts.end(), [&](const auto& o) { return o.first == key; });
    if (it == opts.end())
      opts.emplace_back(key, option);
    else
      it->second = option;
  };
  if (colon != std::string::npos) {
    for (const std::string& o : Split(s.substr(colon + 1), ',')) {
      const size_t eq = o.find('=');
      const std::string key = o.substr(0, eq);
      if (eq == std::string::npos) {
        if (o == "ro" || o == "rw") {
          set("rw", o);
          continue;
        }
        const std::string base = o.starts_with("no") ? o.substr(2) : o;
        if (base == "exec" || base == "suid" || base == "dev") {
          set(base, o);
          continue;
        }
      } else if ((key == "size" || key == "mode" || key == "uid" || key == "gid" ||
                  key == "nr_inodes") &&
                 eq + 1 < o.size()) {
        set(key, o);
        continue;
      }
      return InvalidArgument(fmt::format(
          "--tmpfs {:?}: unknown option {:?} (ro, rw, [no]exec, [no]suid, [no]dev, size=, mode=, "
          "uid=, gid=, nr_inodes=)",
          s, o));
    }
  }
  oci::Mount m{dst, "tmpfs", "tmpfs", {}};
  for (auto& [key, option] : opts)
    if (option != "rw" && option != "exec" && option != "suid" && option != "dev")
      m.options.push_back(option);
  return m;
}

absl::StatusOr<oci::Rlimit> ParseUlimit(const std::string& s) {
  const size_t eq = s.find('=');
  if (eq == std::string::npos || eq == 0)
    return InvalidArgument(fmt::format("--ulimit {:?}: want NAME=SOFT[:HARD]", s));
  oci::Rlimit r;
  r.type = "RLIMIT_" + Upper(s.substr(0, eq));
  std::optional<int> resource = oci::RlimitFromName(r.type);
  if (!resource)
    return InvalidArgument(fmt::format("--ulimit {:?}: unknown limit {:?}", s, s.substr(0, eq)));
  r.resource = *resource;
  auto value = [&](std::string_view v) -> absl::StatusOr<uint64_t> {
    if (v == "-1" || v == "unlimited")
      return RLIM_INFINITY;
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || end != v.data() + v.size())
      return InvalidArgument(fmt::format("--ulimit {:?}: {:?} is not a number", s, v));
    return n;
  };
  const std::string_view values = std::string_view(s).substr(eq + 1);
  const size_t colon = values.find(':');
  BERTH_ASSIGN_OR_RETURN(r.soft, value(values.substr(0, colon)));
  r.hard = r.soft;
  if (colon != std::string_view::npos) {
    BERTH_ASSIGN_OR_RETURN(r.hard, value(values.substr(colon + 1)));
  }
  if (r.soft > r.hard)
    return InvalidArgument(fmt::format("--ulimit {:?}: the soft limit exceeds the hard one", s));
  return r;
}

absl::StatusOr<DeviceFlag> ParseDeviceFlag(const std::string& s) {
  std::vector<std::string> parts = Split(s, ':');
  if (parts.size() > 3 || parts[0].empty())
    return InvalidArgument(fmt::format("--device {:?}: want HOST[:CONTAINER[:PERMISSIONS]]", s));
  // HOST:PERMISSIONS, as Docker reads it, when the second part is no path.
  if (parts.size() == 2 && !parts[1].starts_with("/"))
    parts = {parts[0], parts[0], parts[1]};
  const std::string& host = parts[0];
  const std::string ctr = parts.size() > 1 && !parts[1].empty() ? parts[1] : host;
  const std::string access = parts.size() > 2 ? parts[2] : "rwm";
  if (!host.starts_with("/") || !ctr.starts_with("/"))
    return InvalidArgument(fmt::format("--device {:?}: paths must be absolute", s));
  if (access.empty() || access.find_first_not_of("rwm") != std::string::npos)
    return InvalidArgument(
        fmt::format("--device {:?}: permissions {:?} are not a subset of rwm", s, access));
  struct stat st;
  if (::stat(host.c_str(), &st) != 0)
    return ErrnoError(errno, fmt::format("--device {:?}: {}", s, host));
  if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
    return InvalidArgument(
        fmt::format("--device {:?}: {} is not a character or block device", s, host));
  DeviceFlag out;
  out.device.type = S_ISCHR(st.st_mode) ? "c" : "b";
  out.device.path = ctr;
  out.device.major = major(st.st_rdev);
  out.device.minor = minor(st.st_rdev);
  out.device.file_mode = st.st_mode & 07777;
  out.device.uid = 0;
  out.device.gid = 0;
  out.rule.allow = true;
  out.rule.type = out.device.type;
  out.rule.major = out.device.major;
  out.rule.minor = out.device.minor;
  out.rule.access = access;
  return out;
}

absl::StatusOr<std::vector<std::string>> ApplyCapabilities(std::vector<std::string> base,
                                                           const std::vector<std::string>& add,
                                                           const std::vector<std::string>& drop) {
  std::set<std::string> added;
  for (const std::string& a : add) {
    std::string c = CapName(a);
    if (c == "ALL") {
      for (const std::string& n : AllAvailableCapabilities()) added.insert(n);
      continue;
    }
    if (!oci::CapabilityFromName(c))
      return InvalidArgument(fmt::format("--cap-add {:?}: unknown capability", a));
    added.insert(c);
  }
  for (const std::string& c : added) {
    if (std::find(base.begin(), base.end(), c) == base.end())
      base.push_back(c);
  }
  for (const std::string& d : drop) {
    std::string c = CapName(d);
    if (c == "ALL") {
      std::erase_if(base, [&](const std::string& b) { return !added.contains(b); });
      continue;
    }
    if (!oci::CapabilityFromName(c))
      return InvalidArgument(fmt::format("--cap-drop {:?}: unknown capability", d));
    std::erase(base, c);
  }
  return base;
}

std::optional<std::string> ExpandEnv(const std::string& e) {
  if (e.find('=') != std::string::npos)
    return e;
  const char* v = std::getenv(e.c_str());  // NOLINT(concurrency-mt-unsafe)
  if (v == nullptr)
    return std::nullopt;
  return e + "=" + v;
}

void SetEnv(std::vector<std::string>& list, const std::string& env) {
  std::string key = env.substr(0, env.find('=') + 1);
  for (std::string& e : list) {
    if (e.starts_with(key)) {
      e = env;
      return;
    }
  }
  list.push_back(env);
}

absl::StatusOr<std::vector<std::string>> ReadEnvFile(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return absl::NotFoundError(fmt::format("--env-file {:?}: cannot read", path));
  std::vector<std::string> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#')
      continue;
    line = line.substr(start);
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line[0] == '=')
      return InvalidArgument(fmt::format("--env-file {:?}: line {}: no variable name", path, n));
    if (std::optional<std::string> v = ExpandEnv(line))
      out.push_back(*v);
  }
  return out;
}

absl::StatusOr<oci::User> ResolveUser(const std::string& spec, const UserDbReader& read,
                                      std::string* home) {
  size_t colon = spec.find(':');
  std::string user = spec.substr(0, colon);
  std::string group = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (user.empty())
    return InvalidArgument(fmt::format("user {:?}: want USER[:GROUP]", spec));
  std::optional<uint32_t> uid = ParseUint32(user);
  std::optional<uint32_t> gid = ParseUint32(group);
  oci::User u;
  *home = uid && *uid == 0 ? "/root" : "/";
  UserDb db;
  // Names need the database; a numeric user without a group looks up its primary group there
  // when it can (and gets gid 0 otherwise, as Docker does without /etc/passwd).
  bool need = !uid || (!group.empty() && !gid);
  if (need && !read)
    return InvalidArgument(fmt::format("user {:?}: cannot read the image's user database", spec));
  if (read && (need || group.empty())) {
    BERTH_ASSIGN_OR_RETURN(db, read());
  }
  std::vector<std::string> pw = FindEntry(db.passwd, user, uid.has_value());
  if (!uid && pw.empty())
    return absl::NotFoundError(
        fmt::format("user {:?}: no such user in the image's /etc/passwd", user));
  u.uid = uid ? *uid : ParseUint32(pw[2]).value_or(0);
  u.gid = pw.size() > 3 ? ParseUint32(pw[3]).value_or(0) : 0;
  if (pw.size() > 5 && !pw[5].empty())
    *home = pw[5];
  if (!group.empty()) {
    if (gid) {
      u.gid = *gid;
    } else {
      std::vector<std::string> gr = FindEntry(db.group, group, false);
      if (gr.empty())
        return absl::NotFoundError(
            fmt::format("group {:?}: no such group in the image's /etc/group", group));
      u.gid = ParseUint32(gr[2]).value_or(0);
    }
  }
  if (!pw.empty())
    u.additional_gids = MemberGroups(db.group, pw[0], u.gid);
  return u;
}

namespace {

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

absl::Status AddGroups(const std::vector<std::string>& groups, const UserDbReader& read,
                       oci::User& user) {
  std::optional<UserDb> db;
  for (const std::string& g : groups) {
    std::optional<uint32_t> gid = ParseUint32(g);
    if (!gid) {
      if (g.empty())
        return InvalidArgument("--group-add \"\": want a group name or number");
      if (!read)
        return InvalidArgument(
            fmt::format("--group-add {:?}: cannot read the image's user database", g));
      if (!db) {
        BERTH_ASSIGN_OR_RETURN(db, read());
      }
      std::vector<std::string> gr = FindEntry(db->group, g, false);
      if (gr.size() < 3)
        return absl::NotFoundError(
            fmt::format("--group-add {:?}: no such group in the image's /etc/group", g));
      gid = ParseUint32(gr[2]).value_or(0);
    }
    if (std::find(user.additional_gids.begin(), user.additional_gids.end(), *gid) ==
        user.additional_gids.end())
      user.additional_gids.push_back(*gid);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ParseRestartPolicy(const std::string& s) {
  if (s.empty() || s == "no")
    return std::string();
  if (s == "always" || s == "unless-stopped")
    return std::string("always");
  if (s == "on-failure")
    return s;
  if (s.starts_with("on-failure:")) {
    std::optional<uint32_t> n = ParseUint32(s.substr(11));
    if (n && *n > 0)
      return s;
  }
  return InvalidArgument(
      fmt::format("--restart {:?}: want no, always, unless-stopped or on-failure[:N]", s));
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
