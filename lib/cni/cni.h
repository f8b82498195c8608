#pragma once

// A client of CNI plugins (the Container Network Interface, spec 1.0): network configuration
// lists, the plugin protocol (configuration on stdin, CNI_* in the environment, the result or an
// error as JSON on stdout), chaining (each plugin gets the previous one's result as prevResult)
// and the capability arguments a runtime passes (portMappings). What ADD returned is cached per
// attachment, so that DEL can give the plugins the prevResult they expect, as libcni does.
// bctr uses it for `run --net bridge -p`; berth-cri will for pods.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace berth::cni {

// A network configuration list (a .conflist), or a single plugin's .conf as a list of one.
struct NetworkConfig {
  std::string name;
  std::string cni_version;
  nlohmann::json plugins = nlohmann::json::array();  // plugin objects, each with a "type"
  std::string source;                                // the file it came from, for errors
};

// InvalidArgument naming `source` when the JSON is not a network configuration.
absl::StatusOr<NetworkConfig> ParseNetworkConfig(std::string_view json, std::string_view source);

// The networks of dir/*.conflist, *.conf and *.json, in file-name order (a missing directory
// has none). InvalidArgument names a file that does not parse.
absl::StatusOr<std::vector<NetworkConfig>> ListNetworks(const std::filesystem::path& dir);

// The network `name` of ListNetworks(dir) (the first with that name wins). NotFound names the
// network and the directory.
absl::StatusOr<NetworkConfig> FindNetwork(const std::filesystem::path& dir, std::string_view name);

// A published port, as the portmap plugin's portMappings capability takes it.
struct PortMapping {
  uint16_t host_port = 0;
  uint16_t container_port = 0;
  std::string protocol = "tcp";  // tcp | udp | sctp
  std::string host_ip;           // "" for every address
  bool operator==(const PortMapping&) const = default;
};

// Docker's -p syntax: [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTOCOL] (an IPv6 HOST_IP in
// brackets). InvalidArgument naming the value.
absl::StatusOr<PortMapping> ParsePortMapping(std::string_view s);
std::string FormatPortMapping(const PortMapping& p);  // the -p form back
nlohmann::json PortMappingsJson(const std::vector<PortMapping>& ports);
absl::StatusOr<std::vector<PortMapping>> PortMappingsFromJson(const nlohmann::json& j);

// One container's attachment to one network.
struct Attachment {
  std::string container_id;  // CNI_CONTAINERID
  std::string netns;         // CNI_NETNS: a path; may be "" on DEL once the namespace is gone
  std::string ifname = "eth0";
  std::vector<PortMapping> ports;
};

// The stdin of plugin `index` of `net`: the plugin's object with the list's name and
// cniVersion, prevResult when given, and runtimeConfig with the capability arguments the plugin
// declares (portMappings).
nlohmann::json PluginInput(const NetworkConfig& net, size_t index, const Attachment& a,
                           const nlohmann::json* prev_result);

// What ADD gave: the whole result and its first IP address.
struct Result {
  nlohmann::json raw;
  std::string address;  // "10.89.0.2/16"
  std::string gateway;  // "10.89.0.1"

  std::string ip() const { return address.substr(0, address.find('/')); }
};

Result ParseResult(const nlohmann::json& raw);

class Cni {
 public:
  // Plugins are looked up in `plugin_dirs` in order (they are also CNI_PATH, where a plugin
  // finds its IPAM plugin); results are cached under `cache_dir`/results.
  Cni(std::vector<std::filesystem::path> plugin_dirs, std::filesystem::path cache_dir);

  // Runs the list's plugins in order with ADD and caches the last result. On an error the
  // plugins are not undone: the caller runs Del (as for any ADD, per the spec).
  absl::StatusOr<Result> Add(const NetworkConfig& net, const Attachment& a);

  // Runs the list's plugins in reverse order with DEL, with the cached result as prevResult
  // (none when there is no cache), then removes the cache. Plugins treat a DEL of what they do
  // not have as success, so Del may be repeated.
  absl::Status Del(const NetworkConfig& net, const Attachment& a);

  // The cached ADD result of an attachment; NotFound when there is none.
  absl::StatusOr<Result> Cached(std::string_view network, std::string_view container_id,
                                std::string_view ifname = "eth0") const;

 private:
  absl::StatusOr<nlohmann::json> Invoke(std::string_view command, const NetworkConfig& net,
                                        size_t index, const Attachment& a,
                                        const nlohmann::json* prev_result) const;
  std::filesystem::path CachePath(std::string_view network, std::string_view container_id,
                                  std::string_view ifname) const;

  std::vector<std::filesystem::path> plugin_dirs_;
  std::filesystem::path cache_dir_;
};

}  // namespace berth::cni
