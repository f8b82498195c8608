#include "lib/cni/cni.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <system_error>

#include "fmt/format.h"

#include "lib/base/files.h"
#include "lib/base/run_program.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::cni {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string StringField(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

absl::StatusOr<uint16_t> ParsePort(std::string_view s, std::string_view what,
                                   std::string_view whole) {
  unsigned v = 0;
  bool ok = !s.empty() && s.size() <= 5;
  for (char c : s) {
    ok = ok && c >= '0' && c <= '9';
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (!ok || v == 0 || v > 65535)
    return InvalidArgument(fmt::format("-p {:?}: {} {:?} is not a port (1-65535)", whole, what, s));
  return static_cast<uint16_t>(v);
}

}  // namespace

absl::StatusOr<NetworkConfig> ParseNetworkConfig(std::string_view text, std::string_view source) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return InvalidArgument(fmt::format("CNI network config {}: not a JSON object", source));
  NetworkConfig net;
  net.source = source;
  net.name = StringField(j, "name");
  net.cni_version = StringField(j, "cniVersion");
  if (net.name.empty())
    return InvalidArgument(fmt::format("CNI network config {}: no \"name\"", source));
  // The spec's rule; the name is also part of file names (cached results).
  bool valid = std::isalnum(static_cast<unsigned char>(net.name[0])) != 0;
  for (char c : net.name)
    valid = valid &&
            (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '-');
  if (!valid)
    return InvalidArgument(fmt::format(
        "CNI network config {}: name {:?}: want letters, digits, _ . - (a letter or digit first)",
        source, net.name));
  if (j.contains("plugins")) {
    if (!j["plugins"].is_array() || j["plugins"].empty())
      return InvalidArgument(
          fmt::format("CNI network config {}: \"plugins\" must be a non-empty list", source));
    net.plugins = j["plugins"];
  } else {
    net.plugins = json::array({j});  // a single plugin's .conf
  }
  for (size_t i = 0; i < net.plugins.size(); ++i) {
    const json& p = net.plugins[i];
    if (!p.is_object() || StringField(p, "type").empty())
      return InvalidArgument(
          fmt::format("CNI network config {}: plugins[{}] has no \"type\"", source, i));
    std::string type = StringField(p, "type");
    if (type.find('/') != std::string::npos || type == "." || type == "..")
      return InvalidArgument(
          fmt::format("CNI network config {}: plugin type {:?} is not a file name", source, type));
  }
  return net;
}

absl::StatusOr<std::vector<NetworkConfig>> ListNetworks(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".conflist" || ext == ".conf" || ext == ".json"))
      files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<NetworkConfig> out;
  for (const fs::path& f : files) {
    BERTH_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(f));
    BERTH_ASSIGN_OR_RETURN(NetworkConfig net, ParseNetworkConfig(text, f.string()));
    out.push_back(std::move(net));
  }
  return out;
}

absl::StatusOr<NetworkConfig> FindNetwork(const fs::path& dir, std::string_view name) {
  BERTH_ASSIGN_OR_RETURN(std::vector<NetworkConfig> all, ListNetworks(dir));
  for (NetworkConfig& net : all) {
    if (net.name == name)
      return std::move(net);
  }
  return absl::NotFoundError(
      fmt::format("network {:?}: no CNI configuration names it in {}", name, dir.string()));
}

absl::StatusOr<PortMapping> ParsePortMapping(std::string_view s) {
  PortMapping p;
  std::string_view rest = s;
  if (size_t slash = rest.rfind('/'); slash != std::string_view::npos) {
    p.protocol = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (p.protocol != "tcp" && p.protocol != "udp" && p.protocol != "sctp")
      return InvalidArgument(
          fmt::format("-p {:?}: protocol {:?}: want tcp, udp or sctp", s, p.protocol));
  }
  if (rest.starts_with('[')) {  // [IPv6]:host:container
    size_t close = rest.find("]:");
    if (close == std::string_view::npos)
      return InvalidArgument(fmt::format("-p {:?}: an IPv6 address needs ]:", s));
    p.host_ip = rest.substr(1, close - 1);
    rest = rest.substr(close + 2);
  } else if (std::count(rest.begin(), rest.end(), ':') == 2) {
    size_t colon = rest.find(':');
    p.host_ip = rest.substr(0, colon);
    rest = rest.substr(colon + 1);
  }
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos)
    return InvalidArgument(fmt::format(
        "-p {:?}: want [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTOCOL] (bctr picks no host port)",
        s));
  BERTH_ASSIGN_OR_RETURN(p.host_port, ParsePort(rest.substr(0, colon), "host port", s));
  BERTH_ASSIGN_OR_RETURN(p.container_port, ParsePort(rest.substr(colon + 1), "container port", s));
  return p;
}

std::string FormatPortMapping(const PortMapping& p) {
  std::string ip = p.host_ip.find(':') != std::string::npos ? "[" + p.host_ip + "]" : p.host_ip;
  return fmt::format("{}{}{}:{}/{}", ip, ip.empty() ? "" : ":", p.host_port, p.container_port,
                     p.protocol);
}

json PortMappingsJson(const std::vector<PortMapping>& ports) {
  json out = json::array();
  for (const PortMapping& p : ports) {
    json m = {
        {"hostPort", p.host_port}, {"containerPort", p.container_port}, {"protocol", p.protocol}};
    if (!p.host_ip.empty())
      m["hostIP"] = p.host_ip;
    out.push_back(std::move(m));
  }
  return out;
}

absl::StatusOr<std::vector<PortMapping>> PortMappingsFromJson(const json& j) {
  std::vector<PortMapping> out;
  if (!j.is_array())
    return InvalidArgument("port mappings: not a list");
  for (const json& m : j) {
    auto port = [&](const char* key) {
      json v = m.is_object() ? m.value(key, json()) : json();
      return v.is_number_unsigned() && v.get<uint64_t>() >= 1 && v.get<uint64_t>() <= 65535;
    };
    if (!port("hostPort") || !port("containerPort"))
      return InvalidArgument(
          fmt::format("port mapping {}: want hostPort and containerPort", m.dump()));
    PortMapping p;
    p.host_port = m["hostPort"].get<uint16_t>();
    p.container_port = m["containerPort"].get<uint16_t>();
    p.protocol = m.value("protocol", std::string("tcp"));
    p.host_ip = m.value("hostIP", std::string());
    out.push_back(std::move(p));
  }
  return out;
}

json PluginInput(const NetworkConfig& net, size_t index, const Attachment& a,
                 const json* prev_result) {
  json in = net.plugins.at(index);
  in["name"] = net.name;
  in["cniVersion"] = net.cni_version;
  if (prev_result != nullptr)
    in["prevResult"] = *prev_result;
  auto caps = in.find("capabilities");
  if (caps != in.end() && caps->is_object() && caps->value("portMappings", false)) {
    in["runtimeConfig"]["portMappings"] = PortMappingsJson(a.ports);
  }
  in.erase("capabilities");
  return in;
}

Result ParseResult(const json& raw) {
  Result r;
  r.raw = raw;
  auto ips = raw.find("ips");
  if (ips != raw.end() && ips->is_array() && !ips->empty() && (*ips)[0].is_object()) {
    r.address = StringField((*ips)[0], "address");
    r.gateway = StringField((*ips)[0], "gateway");
  }
  return r;
}

Cni::Cni(std::vector<fs::path> plugin_dirs, fs::path cache_dir)
    : plugin_dirs_(std::move(plugin_dirs)), cache_dir_(std::move(cache_dir)) {}

absl::StatusOr<json> Cni::Invoke(std::string_view command, const NetworkConfig& net, size_t index,
                                 const Attachment& a, const json* prev_result) const {
  std::string type = net.plugins.at(index)["type"].get<std::string>();
  std::string what = fmt::format("network {:?}: plugin {} {}", net.name, type, command);
  fs::path program;
  std::string cni_path;
  for (const fs::path& dir : plugin_dirs_) {
    cni_path += (cni_path.empty() ? "" : ":") + dir.string();
    if (program.empty() && ::access((dir / type).c_str(), X_OK) == 0)
      program = dir / type;
  }
  if (program.empty())
    return absl::NotFoundError(fmt::format("{}: no plugin {:?} in {}", what, type,
                                           cni_path.empty() ? "(none)" : cni_path));
  const char* path = std::getenv("PATH");
  ProgramOptions o;
  o.timeout = std::chrono::seconds(60);
  o.input = PluginInput(net, index, a, prev_result).dump();
  o.env = std::vector<std::string>{
      fmt::format("CNI_COMMAND={}", command), fmt::format("CNI_CONTAINERID={}", a.container_id),
      fmt::format("CNI_NETNS={}", a.netns),   fmt::format("CNI_IFNAME={}", a.ifname),
      fmt::format("CNI_PATH={}", cni_path),   fmt::format("PATH={}", path ? path : kDefaultPath)};
  absl::StatusOr<CommandOutput> ran = RunProgram({program.string()}, o);
  if (!ran.ok())
    return Annotate(ran.status(), what);
  const CommandOutput& out = *ran;
  json result = json::parse(out.out, nullptr, false);
  if (out.exit_code != 0) {
    // The spec's error: {"code": N, "msg": "...", "details": "..."} on stdout.
    std::string msg = result.is_object() ? StringField(result, "msg") : std::string();
    std::string details = result.is_object() ? StringField(result, "details") : std::string();
    if (msg.empty())
      msg = !out.err.empty() ? out.err : out.out;
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return Internal(fmt::format("{}: {}{}{}", what, msg, details.empty() ? "" : ": ", details));
  }
  if (command != "ADD")
    return json();
  if (!result.is_object())
    return Internal(fmt::format("{}: the result is not a JSON object: {:.200}", what, out.out));
  return result;
}

fs::path Cni::CachePath(std::string_view network, std::string_view container_id,
                        std::string_view ifname) const {
  return cache_dir_ / "results" / fmt::format("{}-{}-{}", network, container_id, ifname);
}

absl::StatusOr<Result> Cni::Add(const NetworkConfig& net, const Attachment& a) {
  json prev;
  for (size_t i = 0; i < net.plugins.size(); ++i) {
    BERTH_ASSIGN_OR_RETURN(json r, Invoke("ADD", net, i, a, i == 0 ? nullptr : &prev));
    prev = std::move(r);
  }
  json cache = {{"kind", "cniCacheV1"},
                {"containerId", a.container_id},
                {"ifName", a.ifname},
                {"networkName", net.name},
                {"portMappings", PortMappingsJson(a.ports)},
                {"result", prev}};
  BERTH_RETURN_IF_ERROR(ReplaceFile(CachePath(net.name, a.container_id, a.ifname), cache.dump()));
  return ParseResult(prev);
}

absl::Status Cni::Del(const NetworkConfig& net, const Attachment& a) {
  fs::path path = CachePath(net.name, a.container_id, a.ifname);
  json prev;
  bool have_prev = false;
  if (absl::StatusOr<std::string> text = ReadWholeFile(path); text.ok()) {
    json cache = json::parse(*text, nullptr, false);
    if (cache.is_object() && cache.contains("result")) {
      prev = cache["result"];
      have_prev = true;
    }
  }
  for (size_t i = net.plugins.size(); i-- > 0;) {
    BERTH_RETURN_IF_ERROR(Invoke("DEL", net, i, a, have_prev ? &prev : nullptr).status());
  }
  std::error_code ec;
  fs::remove(path, ec);
  return absl::OkStatus();
}

absl::StatusOr<Result> Cni::Cached(std::string_view network, std::string_view container_id,
                                   std::string_view ifname) const {
  fs::path path = CachePath(network, container_id, ifname);
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  if (!text.ok())
    return NotFoundError("network attachment", fmt::format("{}/{}", network, container_id));
  json cache = json::parse(*text, nullptr, false);
  if (!cache.is_object() || !cache.contains("result"))
    return InvalidArgument(fmt::format("{}: not a CNI result cache", path.string()));
  return ParseResult(cache["result"]);
}

}  // namespace berth::cni
