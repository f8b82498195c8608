#pragma once

// Container networks for `bctr run/create --net NAME -p ...`, as Docker's bridge network: the
// container gets a network namespace of its own, attached by CNI plugins (lib/cni) to the network
// NAME from the conf_dir of bctr.toml's [network] (ctr/config.h), or to the built-in "bridge"
// (bridge berth0, 10.89.0.0/16, NAT to the outside, -p through the portmap plugin, the firewall
// plugin's forwarding rules) when conf_dir names none.
//
// bctr does not attach the container itself (a detached container outlives bctr): it writes two
// OCI hooks into the container's spec, as nerdctl does, and the shim runs them. createRuntime
// runs `bctr __network-hook up` (CNI ADD, after the shim made the namespace, before the
// container's program runs; a failure fails the task's create), poststop `... down` (CNI DEL,
// when the task is deleted, whoever deletes it: bctr, ctr or berthd's restart monitor). The
// network and the ports ride in the spec's annotations, which the hooks get with the state.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

#include "ctr/config.h"
#include "lib/cni/cni.h"
#include "lib/oci/spec.h"

namespace berth::ctr {

inline constexpr char kNetworkAnnotation[] = "berth.io/network";
inline constexpr char kPortsAnnotation[] = "berth.io/ports";  // portMappings JSON
// --add-host's lines ("<address>\t<host>\n" each), which the network hook keeps in the
// container's hosts file when it writes the container's own address there.
inline constexpr char kExtraHostsAnnotation[] = "berth.io/extra-hosts";

// The built-in "bridge" network.
cni::NetworkConfig BuiltinBridge(const NetworkSettings& s);

// The network `name` from s.conf_dir; the built-in bridge for "bridge" when conf_dir has none.
// NotFound names the network and the directory.
absl::StatusOr<cni::NetworkConfig> LoadNetwork(const NetworkSettings& s, std::string_view name);

// Every network --net can name: conf_dir's, then the built-in bridge unless conf_dir has one
// named "bridge".
absl::StatusOr<std::vector<cni::NetworkConfig>> AllNetworks(const NetworkSettings& s);

// The CNI container id of a container: "<namespace>-<id>" (ids repeat across namespaces).
std::string AttachmentId(std::string_view ns, std::string_view id);

// What `--net` and `-p` ask for: "none", "host" or a CNI network's name. "default" is the
// configured default, or "bridge" when ports are published.
std::string ChooseNetwork(const std::string& flag, const NetworkSettings& s, bool publishes);

// True when every name server in a resolv.conf is on the loopback (systemd-resolved's
// 127.0.0.53, a local dnsmasq), which a container in a network namespace of its own cannot
// reach; false when it names none.
bool OnlyLoopbackNameservers(std::string_view resolv_conf);

// The host's file for a container's /etc/resolv.conf: /etc/resolv.conf, or systemd-resolved's
// list of upstream servers when the former names only loopback ones (as Docker); "" when the
// host has none.
std::string ResolvConfSource();

// <state_dir>/hosts, made when missing: the localhost lines every container but the host
// network's gets as its /etc/hosts (read-only, shared), so that "localhost" resolves in images
// that have no /etc/hosts of their own.
absl::StatusOr<std::string> HostsFile(const NetworkSettings& s);

// The lines of every container's /etc/hosts but the host network's: localhost on 127.0.0.1 and
// ::1.
std::string_view LocalhostLines();

// --add-host HOST:ADDRESS (or HOST=ADDRESS, an IPv6 address possibly in brackets), as Docker's:
// "<address>\t<host>\n" for each. InvalidArgument naming the flag.
absl::StatusOr<std::string> ExtraHostsLines(const std::vector<std::string>& add_hosts);

// <state_dir>/hosts.d/<ns>-<id>: the container's own /etc/hosts (on a CNI network, or with
// --add-host), made here with `content`; on a CNI network the hook's `up` rewrites it in place
// (it is bind-mounted by then) with the localhost lines, --add-host's and "<address>
// <hostname>" (as Docker's). Named by the container's label berth.io/hosts-file, it goes with
// the container (meta::RemoveOwnedFiles).
absl::StatusOr<std::string> ContainerHostsFile(const NetworkSettings& s, std::string_view ns,
                                               std::string_view id, std::string_view content);

// The container's /etc/resolv.conf with --dns, --dns-search and --dns-option, as Docker's: the
// host's (`host`, ResolvConfSource's text) with its nameserver, search (and domain) or options
// lines replaced by the flags' when given; --dns-search "." leaves no search line.
// InvalidArgument for a --dns that is not an IP address.
absl::StatusOr<std::string> ResolvConfText(std::string_view host,
                                           const std::vector<std::string>& dns,
                                           const std::vector<std::string>& search,
                                           const std::vector<std::string>& options);

// <state_dir>/resolv.d/<ns>-<id>, made with `content`: the container's own /etc/resolv.conf,
// named by its label berth.io/resolv-file and removed with it.
absl::StatusOr<std::string> ContainerResolvFile(const NetworkSettings& s, std::string_view ns,
                                                std::string_view id, std::string_view content);

// Adds the two hooks (running `program`), the annotations and a read-only bind of the host's
// resolver configuration (ResolvConfSource) to a spec that has its own network namespace.
void AttachNetwork(oci::Spec& spec, const NetworkSettings& s, const std::string& program,
                   std::string_view ns, std::string_view network,
                   const std::vector<cni::PortMapping>& ports);

// The hook's side: `up` (ADD, undone again when it fails) or `down` (DEL), for the container
// in `state_json` (the runtime-spec state the shim writes to the hook's stdin).
absl::Status RunNetworkHook(std::string_view stage, const NetworkSettings& s, std::string_view ns,
                            std::string_view network, std::string_view state_json);

// A container's attachment as `bctr inspect` shows it: the network from its spec's annotations,
// the address from the cached ADD result (empty when the task is not running).
struct ContainerNetwork {
  std::string network;  // "" when none
  std::vector<cni::PortMapping> ports;
  std::string address, gateway;  // "10.89.0.2/16", "10.89.0.1"
};

// The ports a spec publishes (from its annotation; none when it has none or it does not parse).
std::vector<cni::PortMapping> PublishedPorts(const oci::Spec& spec);

// Where a published port listens on the host: "0.0.0.0:8080" (every address), "[::1]:8080".
std::string HostEndpoint(const cni::PortMapping& p);

// docker ps's PORTS column: "0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp".
std::string PortsColumn(const std::vector<cni::PortMapping>& ports);

ContainerNetwork InspectNetwork(const oci::Spec& spec, const NetworkSettings& s,
                                std::string_view ns, std::string_view id);

}  // namespace berth::ctr
