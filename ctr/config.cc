#include "ctr/config.h"

#include <cstdlib>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/config/section.h"
#include "lib/registry/reference.h"

namespace berth::ctr {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read at start-up
  return v ? v : "";
}

}  // namespace

std::filesystem::path ClientConfigPath() {
  if (std::string p = Env("BERTH_CLIENT_CONFIG"); !p.empty())
    return p;
  std::filesystem::path base = Env("XDG_CONFIG_HOME");
  if (base.empty())
    base = std::filesystem::path(Env("HOME")) / ".config";
  return base / "berth" / "bctr.toml";
}

absl::StatusOr<ClientConfig> LoadClientConfig(const std::filesystem::path& path) {
  ClientConfig out;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return out;
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<config::Document> doc,
                         config::Document::Load(path.string()));
  config::Section& root = doc->root();
  BERTH_ASSIGN_OR_RETURN(config::Section registries, root.Table("registry"));
  for (const std::string& key : registries.Keys()) {
    absl::StatusOr<std::string> host = registry::NormalizeHost(key);
    if (!host.ok())
      return InvalidArgument(fmt::format("{}: {}: {}", path.string(), registries.Path(key),
                                         std::string(host.status().message())));
    BERTH_ASSIGN_OR_RETURN(config::Section s, registries.Table(key));
    RegistryHostConfig h;
    BERTH_ASSIGN_OR_RETURN(h.plain_http, s.Bool("plain_http", false));
    BERTH_ASSIGN_OR_RETURN(h.ca_file, s.String("ca_file", ""));
    BERTH_RETURN_IF_ERROR(s.CheckAllRead());
    out.registries[*host] = h;
  }
  BERTH_RETURN_IF_ERROR(registries.CheckAllRead());
  BERTH_ASSIGN_OR_RETURN(config::Section net, root.Table("network"));
  NetworkSettings& n = out.network;
  BERTH_ASSIGN_OR_RETURN(n.default_network, net.String("default", n.default_network));
  BERTH_ASSIGN_OR_RETURN(n.conf_dir, net.String("conf_dir", n.conf_dir));
  BERTH_ASSIGN_OR_RETURN(n.plugin_dirs, net.StringList("plugin_dirs", n.plugin_dirs));
  BERTH_ASSIGN_OR_RETURN(n.state_dir, net.String("state_dir", n.state_dir));
  BERTH_RETURN_IF_ERROR(net.CheckAllRead());
  BERTH_ASSIGN_OR_RETURN(config::Section volumes, root.Table("volumes"));
  BERTH_ASSIGN_OR_RETURN(out.volume_root, volumes.String("root", out.volume_root));
  BERTH_RETURN_IF_ERROR(volumes.CheckAllRead());
  BERTH_RETURN_IF_ERROR(root.CheckAllRead());
  return out;
}

}  // namespace berth::ctr
