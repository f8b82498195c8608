#pragma once

// The OCI runtime spec of a container made by `bctr run` / `bctr create`, as Docker builds it:
// lib/oci's default spec (Docker's capabilities, mounts, masked paths, seccomp profile), then the
// image config (Entrypoint, Cmd, Env, WorkingDir, User), then the flags. Each flag's value is
// read by ctr/flag_parsers.h, users and groups are resolved by ctr/user_db.h; reading the
// image's /etc/passwd and /etc/group is left to a callback, so all of it is testable without a
// daemon. Errors are InvalidArgument naming the flag and the value.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"

#include "ctr/config.h"
#include "ctr/flag_parsers.h"
#include "ctr/user_db.h"
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
  std::string pull = "missing";  // --pull: missing, always or never
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
  std::vector<std::string> volumes;  // VOLUME: each gets an anonymous volume unless mounted
};

// Parses the image config blob (a missing "config" is an empty ImageConfig).
absl::StatusOr<ImageConfig> ParseImageConfig(const std::string& blob);

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
