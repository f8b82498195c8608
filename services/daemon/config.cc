#include "services/daemon/config.h"

#include "fmt/format.h"

#include "lib/base/log.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::daemon {
namespace {

absl::Status CheckAbsolute(const config::Section& s, const std::string& key,
                           const std::string& value) {
  if (value.empty() || value[0] != '/') {
    return InvalidArgument(
        fmt::format("{}: {}: must be an absolute path, got {:?}", s.file(), s.Path(key), value));
  }
  return absl::OkStatus();
}

absl::Status CheckRange(const config::Section& s, const std::string& key, int64_t v, int64_t lo,
                        int64_t hi) {
  if (v < lo || v > hi) {
    return InvalidArgument(
        fmt::format("{}: {}: {} is out of range [{}, {}]", s.file(), s.Path(key), v, lo, hi));
  }
  return absl::OkStatus();
}

absl::Status ReadTopLevel(config::Section& top, Config& c) {
  BERTH_ASSIGN_OR_RETURN(int64_t version, top.Int("version", 1));
  if (version != 1) {
    return InvalidArgument(
        fmt::format("{}: version: {} is not supported (use 1)", top.file(), version));
  }
  BERTH_ASSIGN_OR_RETURN(c.root, top.String("root", c.root));
  BERTH_RETURN_IF_ERROR(CheckAbsolute(top, "root", c.root));
  BERTH_ASSIGN_OR_RETURN(c.state, top.String("state", c.state));
  BERTH_RETURN_IF_ERROR(CheckAbsolute(top, "state", c.state));
  BERTH_ASSIGN_OR_RETURN(auto disabled, top.StringList("disabled_plugins", {}));
  c.disabled_plugins = {disabled.begin(), disabled.end()};
  BERTH_ASSIGN_OR_RETURN(auto required, top.StringList("required_plugins", {}));
  c.required_plugins = {required.begin(), required.end()};
  return absl::OkStatus();
}

absl::Status ReadGrpc(config::Section& top, Config& c) {
  BERTH_ASSIGN_OR_RETURN(config::Section g, top.Table("grpc"));
  BERTH_ASSIGN_OR_RETURN(c.address, g.String("address", c.address));
  BERTH_RETURN_IF_ERROR(CheckAbsolute(g, "address", c.address));
  BERTH_ASSIGN_OR_RETURN(c.uid, g.Int("uid", c.uid));
  BERTH_RETURN_IF_ERROR(CheckRange(g, "uid", c.uid, 0, 0xfffffffe));
  BERTH_ASSIGN_OR_RETURN(c.gid, g.Int("gid", c.gid));
  BERTH_RETURN_IF_ERROR(CheckRange(g, "gid", c.gid, 0, 0xfffffffe));
  BERTH_ASSIGN_OR_RETURN(c.max_recv_message_size,
                         g.Int("max_recv_message_size", c.max_recv_message_size));
  BERTH_RETURN_IF_ERROR(
      CheckRange(g, "max_recv_message_size", c.max_recv_message_size, 4096, 1LL << 30));
  BERTH_ASSIGN_OR_RETURN(c.max_send_message_size,
                         g.Int("max_send_message_size", c.max_send_message_size));
  BERTH_RETURN_IF_ERROR(
      CheckRange(g, "max_send_message_size", c.max_send_message_size, 4096, 1LL << 30));
  return g.CheckAllRead();
}

absl::Status ReadDebug(config::Section& top, Config& c) {
  BERTH_ASSIGN_OR_RETURN(config::Section d, top.Table("debug"));
  BERTH_ASSIGN_OR_RETURN(c.log_level, d.String("level", c.log_level));
  if (absl::Status s = ParseLogLevel(c.log_level).status(); !s.ok()) {
    return InvalidArgument(
        fmt::format("{}: {}: {}", d.file(), d.Path("level"), std::string(s.message())));
  }
  return d.CheckAllRead();
}

}  // namespace

absl::StatusOr<Config> ParseConfig(const std::string& text, const std::string& name) {
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<config::Document> doc,
                         config::Document::Parse(text, name));
  Config c;
  c.document = std::move(doc);
  config::Section& top = c.document->root();
  BERTH_RETURN_IF_ERROR(ReadTopLevel(top, c));
  BERTH_RETURN_IF_ERROR(ReadGrpc(top, c));
  BERTH_RETURN_IF_ERROR(ReadDebug(top, c));
  // Each plugin checks its own table when it loads; the registry rejects unknown plugin names.
  BERTH_ASSIGN_OR_RETURN(c.plugins, top.Table("plugins"));
  BERTH_RETURN_IF_ERROR(top.CheckAllRead());
  return c;
}

absl::StatusOr<Config> LoadConfig(const std::string& path, bool explicit_path) {
  absl::StatusOr<std::string> text = config::ReadTextFile(path);
  if (absl::IsNotFound(text.status()) && !explicit_path)
    return ParseConfig("", path);
  if (!text.ok())
    return text.status();
  return ParseConfig(*text, path);
}

const char* DefaultConfigText() {
  return R"toml(# berthd configuration. Every key is shown with its default value.
version = 1

# Persistent data: metadata database, content store, snapshots.
root = "/var/lib/berth"
# Volatile state: sockets, task bundles. Lost at reboot.
state = "/run/berth"

# Plugins (type.id, as `ctr plugins ls` shows them) not to load, and plugins whose failure to
# load stops berthd.
disabled_plugins = []
required_plugins = []

[grpc]
# The API socket, created with mode 0660 and owned by uid:gid.
address = "/run/berth/berthd.sock"
uid = 0
gid = 0
max_recv_message_size = 16777216
max_send_message_size = 16777216

[debug]
# trace, debug, info, warn, error, fatal or off.
level = "info"

# Per-plugin settings go in tables named after the plugin:
# [plugins."io.containerd.metadata.v1.sqlite"]

[plugins."io.containerd.differ.v1.walking"]
# Create the character and block device nodes that layers carry, as containerd and Docker
# do (only possible as root). When false, applying a layer with a device node fails.
allow_device_nodes = true

[plugins."io.containerd.grpc.v1.tasks"]
# Open the stdio fifos that clients such as ctr make as soon as they appear, in the
# directories that earlier tasks' fifos were made in (when nobody but berthd's user may write
# there), so that the clients' own opens of them return without waiting for the task's create.
preopen_fifos = true

[plugins."io.containerd.runtime.v2.task"]
# berth-shims started ahead of their tasks, so that a task's create does not wait for a shim
# to start (0 to 64; 0 turns them off).
spare_shims = 1

[plugins."io.containerd.internal.v1.restart"]
# How often the restart monitor checks the containers that carry a restart policy, besides
# reacting to their exits.
interval = "10s"
)toml";
}

}  // namespace berth::daemon
