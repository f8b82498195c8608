#include "lib/oci/default_spec.h"

#include <sys/resource.h>

#include "fmt/format.h"

namespace berth::oci {
namespace {

std::vector<Mount> DefaultMounts() {
  return {
      {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {"/dev/pts",
       "devpts",
       "devpts",
       {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
      {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
      {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
      {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
      {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}},
  };
}

std::vector<DeviceRule> DefaultDeviceRules() {
  auto rule = [](bool allow, std::string type, std::optional<int64_t> major,
                 std::optional<int64_t> minor, std::string access) {
    DeviceRule r;
    r.allow = allow;
    r.type = std::move(type);
    r.major = major;
    r.minor = minor;
    r.access = std::move(access);
    return r;
  };
  auto c = [&](int64_t major, std::optional<int64_t> minor) {
    return rule(true, "c", major, minor, "rwm");
  };
  return {
      rule(false, "", std::nullopt, std::nullopt, "rwm"),
      rule(true, "c", std::nullopt, std::nullopt, "m"),
      rule(true, "b", std::nullopt, std::nullopt, "m"),
      c(1, 3),               // null
      c(1, 8),               // random
      c(1, 7),               // full
      c(5, 0),               // tty
      c(1, 5),               // zero
      c(1, 9),               // urandom
      c(5, 1),               // console
      c(136, std::nullopt),  // pts/*
      c(5, 2),               // ptmx
      c(10, 200),            // tun
  };
}

}  // namespace

std::vector<std::string> DefaultCapabilities() {
  return {"CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
          "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
          "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
          "CAP_KILL",    "CAP_AUDIT_WRITE"};
}

Spec DefaultSpec(std::string_view ns, std::string_view id) {
  Spec s;
  Process& p = s.process.emplace();
  p.args = {"sh"};
  p.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  p.cwd = "/";
  std::vector<std::string> caps = DefaultCapabilities();
  p.capabilities = Capabilities{
      .bounding = caps, .effective = caps, .inheritable = {}, .permitted = caps, .ambient = {}};
  p.rlimits = {{.type = "RLIMIT_NOFILE", .resource = RLIMIT_NOFILE, .hard = 1024, .soft = 1024}};
  p.no_new_privileges = true;
  s.root = {.path = "rootfs", .readonly = false};
  s.mounts = DefaultMounts();
  s.linux.masked_paths = {"/proc/acpi",
                          "/proc/asound",
                          "/proc/kcore",
                          "/proc/keys",
                          "/proc/latency_stats",
                          "/proc/timer_list",
                          "/proc/timer_stats",
                          "/proc/sched_debug",
                          "/sys/firmware",
                          "/proc/scsi",
                          "/sys/devices/virtual/powercap"};
  s.linux.readonly_paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                            "/proc/sysrq-trigger"};
  s.linux.namespaces = {{"pid", ""}, {"ipc", ""}, {"uts", ""}, {"mount", ""}, {"network", ""}};
  s.linux.resources.emplace().devices = DefaultDeviceRules();
  s.linux.cgroups_path = fmt::format("/{}/{}", ns, id);
  s.linux.seccomp = DefaultSeccompProfile();
  return s;
}

}  // namespace berth::oci
