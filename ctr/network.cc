#include "ctr/network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

#include "ctr/container_meta.h"
#include "lib/base/files.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/base/unique_fd.h"
#include "lib/mount/mount.h"
#include "lib/oci/spec_json.h"

namespace berth::ctr {
namespace {

using nlohmann::json;

constexpr char kHookPath[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr int kHookTimeoutSeconds = 60;

namespace fs = std::filesystem;

// The container's network namespace, bind-mounted on a file of the state dir for as long as the
// attachment lives, as the CRI pins a pod's: DEL runs at poststop, after the container's last
// process is gone, and the bridge plugin finds the addresses whose NAT rules it removes only
// inside the namespace.
fs::path NetnsPin(const NetworkSettings& s, std::string_view attachment) {
  return fs::path(s.state_dir) / "netns" / attachment;
}

absl::Status PinNetns(int pid, const fs::path& pin) {
  std::error_code ec;
  fs::create_directories(pin.parent_path(), ec);
  UniqueFd file(::open(pin.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0444));
  if (!file.valid())
    return ErrnoError(errno, fmt::format("create {}", pin.string()));
  std::string ns = fmt::format("/proc/{}/ns/net", pid);
  if (::mount(ns.c_str(), pin.c_str(), nullptr, MS_BIND, nullptr) != 0)
    return ErrnoError(errno, fmt::format("bind {} on {}", ns, pin.string()));
  return absl::OkStatus();
}

void UnpinNetns(const fs::path& pin) {
  (void)mount::Unmount(pin);
  std::error_code ec;
  fs::remove(pin, ec);
}

cni::Cni MakeCni(const NetworkSettings& s) {
  std::vector<std::filesystem::path> dirs(s.plugin_dirs.begin(), s.plugin_dirs.end());
  return cni::Cni(std::move(dirs), s.state_dir);
}

}  // namespace

cni::NetworkConfig BuiltinBridge(const NetworkSettings& s) {
  cni::NetworkConfig net;
  net.name = "bridge";
  net.cni_version = "1.0.0";
  net.source = "bctr's built-in bridge network";
  json ipam = {
      {"type", "host-local"},
      {"ranges",
       json::array({json::array({{{"subnet", "10.89.0.0/16"}, {"gateway", "10.89.0.1"}}})})},
      {"routes", json::array({{{"dst", "0.0.0.0/0"}}})},
      {"dataDir", (std::filesystem::path(s.state_dir) / "ipam").string()}};
  net.plugins = json::array({
      {{"type", "bridge"},
       {"bridge", "berth0"},
       {"isGateway", true},
       {"ipMasq", true},
       {"hairpinMode", true},
       {"ipam", ipam}},
      {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}},
      {{"type", "firewall"}},
  });
  return net;
}

absl::StatusOr<cni::NetworkConfig> LoadNetwork(const NetworkSettings& s, std::string_view name) {
  absl::StatusOr<cni::NetworkConfig> net = cni::FindNetwork(s.conf_dir, name);
  if (absl::IsNotFound(net.status()) && name == "bridge")
    return BuiltinBridge(s);
  return net;
}

absl::StatusOr<std::vector<cni::NetworkConfig>> AllNetworks(const NetworkSettings& s) {
  BERTH_ASSIGN_OR_RETURN(std::vector<cni::NetworkConfig> all, cni::ListNetworks(s.conf_dir));
  if (std::none_of(all.begin(), all.end(),
                   [](const cni::NetworkConfig& n) { return n.name == "bridge"; }))
    all.push_back(BuiltinBridge(s));
  return all;
}

bool OnlyLoopbackNameservers(std::string_view resolv_conf) {
  bool any = false;
  size_t at = 0;
  while (at < resolv_conf.size()) {
    size_t end = resolv_conf.find('\n', at);
    std::string_view line = resolv_conf.substr(at, end == std::string_view::npos ? end : end - at);
    at = end == std::string_view::npos ? resolv_conf.size() : end + 1;
    size_t word = line.find_first_not_of(" \t");
    if (word == std::string_view::npos || !line.substr(word).starts_with("nameserver"))
      continue;
    std::string_view rest = line.substr(word + 10);
    size_t b = rest.find_first_not_of(" \t");
    if (b == 0 || b == std::string_view::npos)
      continue;  // "nameservers...", or no address
    std::string_view addr = rest.substr(b, rest.find_first_of(" \t#", b) - b);
    if (!addr.starts_with("127.") && addr != "::1")
      return false;
    any = true;
  }
  return any;
}

std::string ResolvConfSource() {
  constexpr char kHost[] = "/etc/resolv.conf";
  constexpr char kResolved[] = "/run/systemd/resolve/resolv.conf";
  absl::StatusOr<std::string> text = ReadWholeFile(kHost);
  if (!text.ok())
    return "";
  if (OnlyLoopbackNameservers(*text) && ::access(kResolved, R_OK) == 0)
    return kResolved;
  return kHost;
}

namespace {

constexpr std::string_view kHosts =
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";

// The container's hosts file, rewritten in place: the container sees the bind-mounted inode.
absl::Status WriteContainerHosts(const fs::path& path, std::string_view extra, std::string_view ip,
                                 std::string_view hostname) {
  std::string content = fmt::format("{}{}", kHosts, extra);
  if (!ip.empty() && !hostname.empty())
    content += fmt::format("{}\t{}\n", ip, hostname);
  return RewriteFile(path, content);
}

bool IsIpAddress(const std::string& s) {
  in6_addr buf;
  return ::inet_pton(AF_INET, s.c_str(), &buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), &buf) == 1;
}

// The lines of a resolv.conf, without blank ones and those whose first word is one of `drop`.
std::string WithoutKeywords(std::string_view text, std::initializer_list<std::string_view> drop) {
  std::string out;
  while (!text.empty()) {
    const size_t end = std::min(text.find('\n'), text.size());
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    const size_t b = line.find_first_not_of(" \t");
    if (b == std::string_view::npos)
      continue;
    const std::string_view word = line.substr(b, line.find_first_of(" \t", b) - b);
    if (std::find(drop.begin(), drop.end(), word) == drop.end())
      out += fmt::format("{}\n", line);
  }
  return out;
}

}  // namespace

std::string_view LocalhostLines() {
  return kHosts;
}

absl::StatusOr<std::string> ExtraHostsLines(const std::vector<std::string>& add_hosts) {
  std::string out;
  for (const std::string& a : add_hosts) {
    const size_t sep = a.find_first_of(":=");
    std::string host = a.substr(0, sep);
    std::string ip = sep == std::string::npos ? "" : a.substr(sep + 1);
    if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']')
      ip = ip.substr(1, ip.size() - 2);
    if (sep == std::string::npos || host.empty() ||
        host.find_first_of(" \t\n#") != std::string::npos)
      return InvalidArgument(fmt::format("--add-host {:?}: want HOST:ADDRESS", a));
    if (ip == "host-gateway")
      return InvalidArgument(fmt::format("--add-host {:?}: host-gateway is not supported", a));
    if (!IsIpAddress(ip))
      return InvalidArgument(fmt::format("--add-host {:?}: {:?} is not an IP address", a, ip));
    out += fmt::format("{}\t{}\n", ip, host);
  }
  return out;
}

absl::StatusOr<std::string> ContainerHostsFile(const NetworkSettings& s, std::string_view ns,
                                               std::string_view id, std::string_view content) {
  const fs::path path = meta::HostsFilePath(s.state_dir, ns, id);
  BERTH_RETURN_IF_ERROR(ReplaceFile(path, content, 0644));
  return path.string();
}

absl::StatusOr<std::string> ResolvConfText(std::string_view host,
                                           const std::vector<std::string>& dns,
                                           const std::vector<std::string>& search,
                                           const std::vector<std::string>& options) {
  for (const std::string& d : dns) {
    if (!IsIpAddress(d))
      return InvalidArgument(fmt::format("--dns {:?}: not an IP address", d));
  }
  std::string text(host);
  if (!dns.empty())
    text = WithoutKeywords(text, {"nameserver"});
  if (!search.empty())
    text = WithoutKeywords(text, {"search", "domain"});
  if (!options.empty())
    text = WithoutKeywords(text, {"options"});
  if (!text.empty() && !text.ends_with('\n'))
    text += '\n';
  for (const std::string& d : dns) text += fmt::format("nameserver {}\n", d);
  if (!search.empty() && !(search.size() == 1 && search[0] == "."))
    text += fmt::format("search {}\n", fmt::join(search, " "));
  if (!options.empty())
    text += fmt::format("options {}\n", fmt::join(options, " "));
  return text;
}

absl::StatusOr<std::string> ContainerResolvFile(const NetworkSettings& s, std::string_view ns,
                                                std::string_view id, std::string_view content) {
  const fs::path path = meta::ResolvFilePath(s.state_dir, ns, id);
  BERTH_RETURN_IF_ERROR(ReplaceFile(path, content, 0644));
  return path.string();
}

absl::StatusOr<std::string> HostsFile(const NetworkSettings& s) {
  const fs::path path = fs::path(s.state_dir) / "hosts";
  absl::StatusOr<std::string> now = ReadWholeFile(path);
  if (!now.ok() || *now != kHosts)
    BERTH_RETURN_IF_ERROR(ReplaceFile(path, kHosts, 0644));
  return path.string();
}

std::string AttachmentId(std::string_view ns, std::string_view id) {
  return fmt::format("{}-{}", ns, id);
}

std::string ChooseNetwork(const std::string& flag, const NetworkSettings& s, bool publishes) {
  if (flag != "default")
    return flag;
  if (publishes && (s.default_network == "none" || s.default_network == "host"))
    return "bridge";
  return s.default_network;
}

void AttachNetwork(oci::Spec& spec, const NetworkSettings& s, const std::string& program,
                   std::string_view ns, std::string_view network,
                   const std::vector<cni::PortMapping>& ports) {
  spec.annotations[kNetworkAnnotation] = network;
  if (!ports.empty())
    spec.annotations[kPortsAnnotation] = cni::PortMappingsJson(ports).dump();
  auto hook = [&](const char* stage) {
    oci::Hook h;
    h.path = program;
    h.args = {"bctr",      "__network-hook",     stage,        "--ns",     std::string(ns),
              "--network", std::string(network), "--conf-dir", s.conf_dir, "--state-dir",
              s.state_dir};
    for (const std::string& d : s.plugin_dirs) {
      h.args.push_back("--plugin-dir");
      h.args.push_back(d);
    }
    h.env = {kHookPath};
    h.timeout = kHookTimeoutSeconds;
    return h;
  };
  spec.hooks.create_runtime.push_back(hook("up"));
  spec.hooks.poststop.push_back(hook("down"));
  const std::string resolv = ResolvConfSource();
  if (!resolv.empty())
    spec.mounts.push_back({"/etc/resolv.conf", "bind", resolv, {"rbind", "ro", "rprivate"}});
}

absl::Status RunNetworkHook(std::string_view stage, const NetworkSettings& s, std::string_view ns,
                            std::string_view network, std::string_view state_json) {
  json state = json::parse(state_json, nullptr, false);
  if (!state.is_object() || !state.value("id", json()).is_string())
    return InvalidArgument("network hook: stdin is not the container's state JSON");
  std::string id = state["id"].get<std::string>();
  // The shim names the task around the hook's error; lib/cni's errors name the network.
  BERTH_ASSIGN_OR_RETURN(cni::NetworkConfig net, LoadNetwork(s, network));
  cni::Attachment a;
  a.container_id = AttachmentId(ns, id);
  json annotations = state.value("annotations", json::object());
  if (annotations.is_object() && annotations.value(kPortsAnnotation, json()).is_string()) {
    json ports = json::parse(annotations[kPortsAnnotation].get<std::string>(), nullptr, false);
    BERTH_ASSIGN_OR_RETURN(a.ports, cni::PortMappingsFromJson(ports));
  }
  cni::Cni cni = MakeCni(s);
  const fs::path pin = NetnsPin(s, a.container_id);
  if (stage == "down") {
    std::error_code ec;
    a.netns = fs::exists(pin, ec) ? pin.string() : "";
    absl::Status deleted = cni.Del(net, a);
    UnpinNetns(pin);
    return deleted;
  }
  if (stage != "up")
    return InvalidArgument(fmt::format("network hook: stage {:?}: want up or down", stage));
  const json pid_json = state.value("pid", json());
  const int pid = pid_json.is_number_integer() ? pid_json.get<int>() : 0;
  if (pid <= 0)
    return InvalidArgument(fmt::format("network hook: the state of {:?} has no pid", id));
  if (absl::Status pinned = PinNetns(pid, pin); !pinned.ok()) {
    UnpinNetns(pin);
    return pinned;
  }
  a.netns = pin.string();
  absl::StatusOr<cni::Result> added = cni.Add(net, a);
  if (!added.ok()) {
    (void)cni.Del(net, a);  // undo what the plugins before the failing one did
    UnpinNetns(pin);
    return added.status();
  }
  // "<address> <hostname>" in the container's own hosts file, after --add-host's lines, when it
  // has one (bctr made it: ContainerHostsFile) and a hostname.
  const fs::path hosts = meta::HostsFilePath(s.state_dir, ns, id);
  std::error_code ec;
  if (!fs::is_regular_file(hosts, ec) || !state.value("bundle", json()).is_string())
    return absl::OkStatus();
  absl::StatusOr<oci::Spec> spec = oci::LoadSpec(state["bundle"].get<std::string>());
  if (spec.ok() && !spec->hostname.empty()) {
    auto extra = spec->annotations.find(kExtraHostsAnnotation);
    return WriteContainerHosts(hosts, extra == spec->annotations.end() ? "" : extra->second,
                               added->ip(), spec->hostname);
  }
  return absl::OkStatus();
}

std::vector<cni::PortMapping> PublishedPorts(const oci::Spec& spec) {
  auto p = spec.annotations.find(kPortsAnnotation);
  if (p == spec.annotations.end())
    return {};
  absl::StatusOr<std::vector<cni::PortMapping>> ports =
      cni::PortMappingsFromJson(json::parse(p->second, nullptr, false));
  return ports.ok() ? *ports : std::vector<cni::PortMapping>();
}

std::string HostEndpoint(const cni::PortMapping& p) {
  std::string ip = p.host_ip.empty()                          ? "0.0.0.0"
                   : p.host_ip.find(':') != std::string::npos ? "[" + p.host_ip + "]"
                                                              : p.host_ip;
  return fmt::format("{}:{}", ip, p.host_port);
}

std::string PortsColumn(const std::vector<cni::PortMapping>& ports) {
  std::string out;
  for (const cni::PortMapping& p : ports) {
    out += fmt::format("{}{}->{}/{}", out.empty() ? "" : ", ", HostEndpoint(p), p.container_port,
                       p.protocol);
  }
  return out;
}

ContainerNetwork InspectNetwork(const oci::Spec& spec, const NetworkSettings& s,
                                std::string_view ns, std::string_view id) {
  ContainerNetwork out;
  auto it = spec.annotations.find(kNetworkAnnotation);
  if (it == spec.annotations.end())
    return out;
  out.network = it->second;
  out.ports = PublishedPorts(spec);
  absl::StatusOr<cni::Result> r = MakeCni(s).Cached(out.network, AttachmentId(ns, id));
  if (r.ok()) {
    out.address = r->address;
    out.gateway = r->gateway;
  }
  return out;
}

}  // namespace berth::ctr
