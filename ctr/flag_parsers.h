#pragma once

// The values of `bctr run`'s flags as Docker reads them, each to its piece of an OCI spec
// (sizes, mounts, rlimits, devices, capabilities, environment, restart policy). Pure functions
// but for ReadEnvFile and AllAvailableCapabilities, which read a file; errors are
// InvalidArgument naming the flag and the value.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "lib/oci/spec.h"

namespace berth::ctr {

// "512m", "1g", "100k", "1024" (bytes) → bytes. Suffixes b, k, m, g, t (case-insensitive,
// an optional trailing "b" as in "512mb").
absl::StatusOr<int64_t> ParseMemorySize(const std::string& s);

// -v HOST:CTR[:ro|rw]: a recursive bind mount (HOST absolute); -v NAME:CTR[:ro|rw|nocopy] a
// named volume and -v CTR an anonymous one, both as ctr/volumes.h's placeholders (type
// "volume") until bctr resolves them.
absl::StatusOr<oci::Mount> ParseVolume(const std::string& s);

// --mount type=bind,source=/a,target=/b[,readonly], type=volume[,source=NAME],target=/b
// [,readonly][,volume-nocopy] (a placeholder, as -v's) or type=tmpfs,target=/t[,tmpfs-size=N].
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

// Every capability this process may pass on (its bounding set): what "ALL" means for
// --privileged and --cap-add ALL.
std::vector<std::string> AllAvailableCapabilities();

// Parses a --restart value: no, always, unless-stopped, on-failure[:N]. Returns the value of
// containerd's restart policy label ("" for no).
absl::StatusOr<std::string> ParseRestartPolicy(const std::string& s);

}  // namespace berth::ctr
