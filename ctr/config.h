#pragma once

// bctr's own configuration file (TOML; every key optional, unknown keys are errors):
//   $BERTH_CLIENT_CONFIG, else $XDG_CONFIG_HOME/berth/bctr.toml, else ~/.config/berth/bctr.toml
//
//   [registry."127.0.0.1:5000"]      # one table per registry host[:port]
//   plain_http = true                # speak plain HTTP to it (no TLS) without --plain-http
//   ca_file = "/etc/berth/my-ca.crt" # trust this CA bundle for it, unless --ca-file is given
//
//   [network]                        # CNI networks of `run --net` (ctr/network.h)
//   default = "bridge"               # what --net default means (default "none": loopback only)
//   conf_dir = "/etc/berth/cni/net.d"            # *.conflist, *.conf: networks by name
//   plugin_dirs = ["/usr/lib/cni", "/opt/cni/bin"]
//   state_dir = "/var/lib/berth/cni"             # IPAM leases of the built-in bridge, results
//
//   [volumes]                        # `run -v NAME:/dst` and `bctr volume` (ctr/volumes.h)
//   root = "/var/lib/berth/volumes"
//
// A missing file means no settings.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace berth::ctr {

struct RegistryHostConfig {
  bool plain_http = false;
  std::string ca_file;
};

struct NetworkSettings {
  std::string default_network = "none";
  std::string conf_dir = "/etc/berth/cni/net.d";
  std::vector<std::string> plugin_dirs = {"/usr/lib/cni", "/opt/cni/bin"};
  std::string state_dir = "/var/lib/berth/cni";
};

struct ClientConfig {
  std::map<std::string, RegistryHostConfig> registries;  // by normalized host
  NetworkSettings network;
  std::string volume_root = "/var/lib/berth/volumes";  // ctr/volumes.h
};

std::filesystem::path ClientConfigPath();

// NotFound never: a missing file is an empty config. InvalidArgument names the file and key.
absl::StatusOr<ClientConfig> LoadClientConfig(const std::filesystem::path& path);

}  // namespace berth::ctr
