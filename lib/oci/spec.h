#pragma once

// The OCI runtime spec (config.json, runtime-spec 1.1) as plain structs. Only the fields berth
// acts on are modelled; unknown fields are ignored by the parser. Optional JSON values that
// change behaviour when absent are std::optional. Parsing and validation live in spec_json.h.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace berth::oci {

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::optional<uint32_t> umask;
  std::vector<uint32_t> additional_gids;
  std::string username;
};

// `type` is an RLIMIT_* name; `resource` its number (filled in by the parser).
struct Rlimit {
  std::string type;
  int resource = -1;
  uint64_t hard = 0;
  uint64_t soft = 0;
};

// Capability names as in the spec ("CAP_CHOWN"); the parser rejects unknown names.
struct Capabilities {
  std::vector<std::string> bounding;
  std::vector<std::string> effective;
  std::vector<std::string> inheritable;
  std::vector<std::string> permitted;
  std::vector<std::string> ambient;
};

struct ConsoleSize {
  uint32_t height = 0;
  uint32_t width = 0;
};

struct Process {
  bool terminal = false;
  std::optional<ConsoleSize> console_size;
  User user;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::optional<int> oom_score_adj;
  std::string apparmor_profile;
  std::string selinux_label;
};

struct Root {
  std::string path;
  bool readonly = false;
};

struct Mount {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

struct Hook {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout;  // seconds
};

struct Hooks {
  std::vector<Hook> prestart;
  std::vector<Hook> create_runtime;
  std::vector<Hook> create_container;
  std::vector<Hook> start_container;
  std::vector<Hook> poststart;
  std::vector<Hook> poststop;

  bool empty() const {
    return prestart.empty() && create_runtime.empty() && create_container.empty() &&
           start_container.empty() && poststart.empty() && poststop.empty();
  }
};

struct IdMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
};

// type: pid, network, mount, ipc, uts, user, cgroup, time. An empty path asks for a new one.
struct Namespace {
  std::string type;
  std::string path;
};

// A device node to create in the container's /dev. type: c, b, u or p.
struct Device {
  std::string type;
  std::string path;
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint32_t> file_mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
};

// One device cgroup rule. type: a, c or b ("" means a); access: a subset of "rwm".
struct DeviceRule {
  bool allow = false;
  std::string type;
  std::optional<int64_t> major;
  std::optional<int64_t> minor;
  std::string access;
};

struct MemoryResources {
  std::optional<int64_t> limit;
  std::optional<int64_t> reservation;
  std::optional<int64_t> swap;
  std::optional<uint64_t> swappiness;
  std::optional<bool> disable_oom_killer;
};

struct CpuResources {
  std::optional<uint64_t> shares;
  std::optional<int64_t> quota;
  std::optional<uint64_t> period;
  std::string cpus;
  std::string mems;
};

struct PidsResources {
  int64_t limit = 0;  // <= 0: unlimited
};

struct BlockIoResources {
  std::optional<uint16_t> weight;
};

struct Resources {
  std::vector<DeviceRule> devices;
  std::optional<MemoryResources> memory;
  std::optional<CpuResources> cpu;
  std::optional<PidsResources> pids;
  std::optional<BlockIoResources> block_io;
  std::map<std::string, std::string> unified;  // cgroup v2 file -> value
};

// Argument condition of a seccomp rule. op: SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT, _MASKED_EQ.
struct SyscallArg {
  uint32_t index = 0;
  uint64_t value = 0;
  uint64_t value_two = 0;
  std::string op;
};

struct Syscall {
  std::vector<std::string> names;
  std::string action;  // SCMP_ACT_*
  std::optional<uint32_t> errno_ret;
  std::vector<SyscallArg> args;
};

struct Seccomp {
  std::string default_action;
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;  // SCMP_ARCH_*
  std::vector<std::string> flags;
  std::vector<Syscall> syscalls;
};

struct Linux {
  std::vector<IdMapping> uid_mappings;
  std::vector<IdMapping> gid_mappings;
  std::map<std::string, std::string> sysctl;
  std::optional<Resources> resources;
  std::string cgroups_path;
  std::vector<Namespace> namespaces;
  std::vector<Device> devices;
  std::optional<Seccomp> seccomp;
  std::string rootfs_propagation;
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::string mount_label;

  // The entry of namespace `type`, or nullptr when the container shares the runtime's.
  const Namespace* FindNamespace(const std::string& type) const {
    for (const Namespace& ns : namespaces) {
      if (ns.type == type)
        return &ns;
    }
    return nullptr;
  }
};

// berth's own annotation: "up" asks the embedded runtime to set the loopback interface of the
// container's new network namespace up, as Docker's containers have it (runc and ctr leave it
// down; bctr sets it).
inline constexpr char kLoopbackAnnotation[] = "berth.io/loopback";

struct Spec {
  std::string oci_version = "1.1.0";
  std::optional<Process> process;
  Root root;
  std::string hostname;
  std::string domainname;
  std::vector<Mount> mounts;
  Hooks hooks;
  std::map<std::string, std::string> annotations;
  Linux linux;
};

}  // namespace berth::oci
