#pragma once

// The OCI runtime spec of a container made by `bctr run` / `bctr create`, as Docker builds it:
// lib/oci's default spec (Docker's capabilities, mounts, masked paths, seccomp profile), then the
// image config (Entrypoint, Cmd, Env, WorkingDir, User), then the flags. Everything here is
// pure: reading the image's /etc/passwd and /etc/group is left to a callback, so the parsing is
// testable without a daemon. Errors are InvalidArgument naming the flag and the value.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"

#include "ctr/config.h"
#include "lib/oci/spec.h"

namespace berth::ctr {

// The flags of `run` and `create` (and the parts `exec` shares).
struct RunFlags {
  std::string name;
  std::vector<std::string> env;
  std::vector<std::string> env_files;
  std::vector<std::string> volumes;  // -v host:ctr[:ro]
  std::vector<std::string> mounts;   // --mount type=bind,src=,dst=[,ro]
  std::vector<std::string> tmpfs;    // --tmpfs /dst[:opts]
  std::vector<std::string> ulimits;  // --ulimit name=soft[:hard]
  std::vector<std::string> sysctls;  // --sysctl key=value
  std::vector<std::string> devices;  // --device host[:ctr[:perms]]
  std::vector<std::string> group_add;
  std::string shm_size;             // --shm-size; default Docker's 64m
  std::vector<std::string> labels;  // --label k=v
  std::vector<std::string> cap_add;
  std::vector<std::string> cap_drop;
  std::vector<std::string> security_opts;
  std::string workdir;
  std::string user;
  std::string memory;
  double cpus = 0;
  int64_t pids_limit = 0;
  std::string hostname;
  std::string net = "default";         // default | none | host | a CNI network (ctr/network.h)
  std::vector<std::string> publish;    // -p [IP:]HOST:CTR[/PROTO]
  std::vector<std::string> add_hosts;  // --add-host HOST:IP
  std::vector<std::string> dns;        // --dns IP
  std::vector<std::string> dns_search;
  std::vector<std::string> dns_options;
  std::string restart = "no";
  std::string stop_signal;          // default: the image's STOPSIGNAL, else SIGTERM
  std::optional<int> stop_timeout;  // seconds; default 10
  std::optional<std::string> entrypoint;
  bool read_only = false;
  bool privileged = false;
  bool interactive = false;
  bool tty = false;
  std::string snapshotter = "overlayfs";
  // run only
  bool detach = false;
  bool rm = false;
  // positionals
  std::string image;
  std::vector<std::string> args;

  // Declares the flags on `cmd` (run: also -d and --rm).
  void Add(CLI::App& cmd, bool run);
};

// What Docker reads from an image's config ("config" in the config blob).
struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;
  std::string working_dir;
  std::string user;
  std::string stop_signal;
};

// Parses the image config blob (a missing "config" is an empty ImageConfig).
absl::StatusOr<ImageConfig> ParseImageConfig(const std::string& blob);

// The image's /etc/passwd and /etc/group (empty when missing).
struct UserDb {
  std::string passwd;
  std::string group;
};

// Reads the image's user database; called only when a user or group is given by name or a
// numeric user needs its primary group.
using UserDbReader = std::function<absl::StatusOr<UserDb>()>;

// "512m", "1g", "100k", "1024" (bytes) → bytes. Suffixes b, k, m, g, t (case-insensitive,
// an optional trailing "b" as in "512mb").
absl::StatusOr<int64_t> ParseMemorySize(const std::string& s);

// -v HOST:CTR[:ro|rw]: a recursive bind mount. HOST must be absolute.
absl::StatusOr<oci::Mount> ParseVolume(const std::string& s);

// --mount type=bind,source=/a,target=/b[,readonly] or type=tmpfs,target=/t[,tmpfs-size=N].
absl::StatusOr<oci::Mount> ParseMountFlag(const std::string& s);
// --tmpfs CONTAINER[:OPTIONS]: a tmpfs with Docker's defaults (noexec, nosuid, nodev, mode 1777),
// OPTIONS (comma-separated: ro, rw, exec, suid, dev and their no- forms, size=, mode=, uid=,
// gid=, nr_inodes=) added or overriding. InvalidArgument naming the flag otherwise.
absl::StatusOr<oci::Mount> ParseTmpfsFlag(const std::string& s);

// --ulimit NAME=SOFT[:HARD] as Docker's (nofile=1024:2048, core=0, memlock=-1): NAME an rlimit
// without RLIMIT_ (any case), -1 or "unlimited" for no limit, HARD = SOFT when not given.
// InvalidArgument naming the flag for an unknown name, a bad number or SOFT > HARD.
absl::StatusOr<oci::Rlimit> ParseUlimit(const std::string& s);

// --device HOST[:CONTAINER[:PERMISSIONS]] as Docker's: the host's character or block device
// node, made at CONTAINER (default HOST) with the host node's mode, and a device cgroup rule
// allowing PERMISSIONS (a subset of "rwm", default all three). InvalidArgument naming the flag.
struct DeviceFlag {
  oci::Device device;
  oci::DeviceRule rule;
};

absl::StatusOr<DeviceFlag> ParseDeviceFlag(const std::string& s);

// Docker's capability arithmetic: ALL (every capability in bctr's bounding set), names with or
// without CAP_, any case. Drops apply
// after adds, except that adding a capability explicitly keeps it when ALL is dropped.
absl::StatusOr<std::vector<std::string>> ApplyCapabilities(std::vector<std::string> base,
                                                           const std::vector<std::string>& add,
                                                           const std::vector<std::string>& drop);

// KEY=VALUE lines; blank lines and lines starting with # are skipped; a bare KEY takes the
// value from bctr's environment (and is dropped when unset), as docker does.
absl::StatusOr<std::vector<std::string>> ReadEnvFile(const std::string& path);

// "-e KEY=V" as is, "-e KEY" from bctr's environment (nullopt when unset).
std::optional<std::string> ExpandEnv(const std::string& e);

// Sets `env` KEY=VALUE into `list`, replacing an entry with the same key.
void SetEnv(std::vector<std::string>& list, const std::string& env);

// "user[:group]" (names or numbers) → uid, gid and supplementary groups, resolved in the
// image's user database like Docker: a numeric user missing from passwd gets gid 0 unless a
// group is given; names must exist. `home` gets the user's home directory ("/" if unknown).
absl::StatusOr<oci::User> ResolveUser(const std::string& spec, const UserDbReader& read,
                                      std::string* home);

// --group-add: each GROUP (a name from the image's /etc/group, or a number) joins the process's
// supplementary groups. NotFound naming a group the image lacks.
absl::Status AddGroups(const std::vector<std::string>& groups, const UserDbReader& read,
                       oci::User& user);

// Parses a --restart value: no, always, unless-stopped, on-failure[:N]. Returns the value of
// containerd's restart policy label ("" for no).
absl::StatusOr<std::string> ParseRestartPolicy(const std::string& s);

// Sets the limits f gives (--memory, --cpus, --pids-limit; each only when given) in
// s.linux.resources, which must be set. InvalidArgument names the flag.
absl::Status ApplyResources(const RunFlags& f, oci::Spec& s);

// The inputs of BuildSpec.
struct SpecInput {
  std::string ns;
  std::string id;
  const RunFlags* flags = nullptr;
  ImageConfig image;
  NetworkSettings network;   // bctr.toml's [network]
  std::string hook_program;  // bctr's own path, for the network hooks
  std::string hosts_file;    // the container's /etc/hosts ("": the host's, on its network)
  std::string resolv_file;   // the container's own /etc/resolv.conf ("": the host's)
  UserDbReader read_user_db;
};

// The container's spec. InvalidArgument for flags that do not parse, or when the image and
// the flags give no command.
absl::StatusOr<oci::Spec> BuildSpec(const SpecInput& in);

}  // namespace berth::ctr
