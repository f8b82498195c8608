// The "linux" section of config.json: namespaces, id mappings, devices, resources, seccomp.

#include <array>

#include "fmt/format.h"

#include "lib/oci/parse_internal.h"

namespace berth::oci::internal {
namespace {

constexpr std::array<std::string_view, 8> kNamespaceTypes = {"pid", "network", "mount",  "ipc",
                                                             "uts", "user",    "cgroup", "time"};

void ReadMappings(const json& j, std::string_view key, const std::string& path,
                  std::vector<IdMapping>& out) {
  ForEach(j, key, path, [&](const json& e, const std::string& p) {
    IdMapping m;
    Req(e, "containerID", p, m.container_id);
    Req(e, "hostID", p, m.host_id);
    Req(e, "size", p, m.size);
    out.push_back(m);
  });
}

void ReadNamespaces(const json& j, const std::string& path, std::vector<Namespace>& out) {
  ForEach(j, "namespaces", path, [&](const json& e, const std::string& p) {
    Namespace ns;
    Req(e, "type", p, ns.type);
    Opt(e, "path", p, ns.path);
    if (std::find(kNamespaceTypes.begin(), kNamespaceTypes.end(), ns.type) == kNamespaceTypes.end())
      Fail(Join(p, "type"), fmt::format("unknown namespace type {:?}", ns.type));
    for (const Namespace& seen : out) {
      if (seen.type == ns.type)
        Fail(Join(p, "type"), fmt::format("namespace {:?} given twice", ns.type));
    }
    out.push_back(std::move(ns));
  });
}

void ReadDevices(const json& j, const std::string& path, std::vector<Device>& out) {
  ForEach(j, "devices", path, [&](const json& e, const std::string& p) {
    Device d;
    Req(e, "type", p, d.type);
    Req(e, "path", p, d.path);
    Opt(e, "major", p, d.major);
    Opt(e, "minor", p, d.minor);
    Opt(e, "fileMode", p, d.file_mode);
    Opt(e, "uid", p, d.uid);
    Opt(e, "gid", p, d.gid);
    if (d.type != "c" && d.type != "b" && d.type != "u" && d.type != "p")
      Fail(Join(p, "type"), fmt::format("unknown device type {:?}", d.type));
    if (d.path.empty() || d.path[0] != '/')
      Fail(Join(p, "path"), fmt::format("{:?} is not an absolute path", d.path));
    out.push_back(std::move(d));
  });
}

Seccomp ReadSeccomp(const json& j, const std::string& path) {
  Seccomp s;
  Req(j, "defaultAction", path, s.default_action);
  Opt(j, "defaultErrnoRet", path, s.default_errno_ret);
  Opt(j, "architectures", path, s.architectures);
  Opt(j, "flags", path, s.flags);
  ForEach(j, "syscalls", path, [&](const json& e, const std::string& p) {
    Syscall sc;
    Req(e, "names", p, sc.names);
    Req(e, "action", p, sc.action);
    Opt(e, "errnoRet", p, sc.errno_ret);
    ForEach(e, "args", p, [&](const json& a, const std::string& ap) {
      SyscallArg arg;
      Req(a, "index", ap, arg.index);
      Req(a, "value", ap, arg.value);
      Opt(a, "valueTwo", ap, arg.value_two);
      Req(a, "op", ap, arg.op);
      sc.args.push_back(std::move(arg));
    });
    s.syscalls.push_back(std::move(sc));
  });
  return s;
}

json WriteSeccomp(const Seccomp& s) {
  json j = {{"defaultAction", s.default_action}, {"architectures", s.architectures}};
  if (s.default_errno_ret)
    j["defaultErrnoRet"] = *s.default_errno_ret;
  if (!s.flags.empty())
    j["flags"] = s.flags;
  json calls = json::array();
  for (const Syscall& sc : s.syscalls) {
    json o = {{"names", sc.names}, {"action", sc.action}};
    if (sc.errno_ret)
      o["errnoRet"] = *sc.errno_ret;
    if (!sc.args.empty()) {
      json args = json::array();
      for (const SyscallArg& a : sc.args) {
        args.push_back(
            {{"index", a.index}, {"value", a.value}, {"valueTwo", a.value_two}, {"op", a.op}});
      }
      o["args"] = std::move(args);
    }
    calls.push_back(std::move(o));
  }
  j["syscalls"] = std::move(calls);
  return j;
}

json WriteMappings(const std::vector<IdMapping>& ms) {
  json a = json::array();
  for (const IdMapping& m : ms) {
    a.push_back({{"containerID", m.container_id}, {"hostID", m.host_id}, {"size", m.size}});
  }
  return a;
}

}  // namespace

Resources ReadResources(const json& j, const std::string& path) {
  Resources r;
  ForEach(j, "devices", path, [&](const json& e, const std::string& p) {
    DeviceRule d;
    Req(e, "allow", p, d.allow);
    Opt(e, "type", p, d.type);
    Opt(e, "major", p, d.major);
    Opt(e, "minor", p, d.minor);
    Opt(e, "access", p, d.access);
    r.devices.push_back(std::move(d));
  });
  if (const json* m = Object(j, "memory", path)) {
    std::string p = Join(path, "memory");
    MemoryResources& mem = r.memory.emplace();
    Opt(*m, "limit", p, mem.limit);
    Opt(*m, "reservation", p, mem.reservation);
    Opt(*m, "swap", p, mem.swap);
    Opt(*m, "swappiness", p, mem.swappiness);
    Opt(*m, "disableOOMKiller", p, mem.disable_oom_killer);
  }
  if (const json* c = Object(j, "cpu", path)) {
    std::string p = Join(path, "cpu");
    CpuResources& cpu = r.cpu.emplace();
    Opt(*c, "shares", p, cpu.shares);
    Opt(*c, "quota", p, cpu.quota);
    Opt(*c, "period", p, cpu.period);
    Opt(*c, "cpus", p, cpu.cpus);
    Opt(*c, "mems", p, cpu.mems);
  }
  if (const json* pids = Object(j, "pids", path))
    Req(*pids, "limit", Join(path, "pids"), r.pids.emplace().limit);
  if (const json* b = Object(j, "blockIO", path))
    Opt(*b, "weight", Join(path, "blockIO"), r.block_io.emplace().weight);
  Opt(j, "unified", path, r.unified);
  return r;
}

json WriteResources(const Resources& r) {
  json j = json::object();
  json devs = json::array();
  for (const DeviceRule& d : r.devices) {
    json o = {{"allow", d.allow}, {"access", d.access}};
    if (!d.type.empty())
      o["type"] = d.type;
    if (d.major)
      o["major"] = *d.major;
    if (d.minor)
      o["minor"] = *d.minor;
    devs.push_back(std::move(o));
  }
  j["devices"] = std::move(devs);
  if (r.memory) {
    json m = json::object();
    if (r.memory->limit)
      m["limit"] = *r.memory->limit;
    if (r.memory->reservation)
      m["reservation"] = *r.memory->reservation;
    if (r.memory->swap)
      m["swap"] = *r.memory->swap;
    j["memory"] = std::move(m);
  }
  if (r.cpu) {
    json c = json::object();
    if (r.cpu->shares)
      c["shares"] = *r.cpu->shares;
    if (r.cpu->quota)
      c["quota"] = *r.cpu->quota;
    if (r.cpu->period)
      c["period"] = *r.cpu->period;
    if (!r.cpu->cpus.empty())
      c["cpus"] = r.cpu->cpus;
    if (!r.cpu->mems.empty())
      c["mems"] = r.cpu->mems;
    j["cpu"] = std::move(c);
  }
  if (r.pids)
    j["pids"] = {{"limit", r.pids->limit}};
  if (r.block_io && r.block_io->weight)
    j["blockIO"] = {{"weight", *r.block_io->weight}};
  if (!r.unified.empty())
    j["unified"] = r.unified;
  return j;
}

Linux ReadLinux(const json& j, const std::string& path) {
  Linux l;
  ReadMappings(j, "uidMappings", path, l.uid_mappings);
  ReadMappings(j, "gidMappings", path, l.gid_mappings);
  Opt(j, "sysctl", path, l.sysctl);
  if (const json* r = Object(j, "resources", path))
    l.resources = ReadResources(*r, Join(path, "resources"));
  Opt(j, "cgroupsPath", path, l.cgroups_path);
  ReadNamespaces(j, path, l.namespaces);
  ReadDevices(j, path, l.devices);
  if (const json* s = Object(j, "seccomp", path))
    l.seccomp = ReadSeccomp(*s, Join(path, "seccomp"));
  Opt(j, "rootfsPropagation", path, l.rootfs_propagation);
  Opt(j, "maskedPaths", path, l.masked_paths);
  Opt(j, "readonlyPaths", path, l.readonly_paths);
  Opt(j, "mountLabel", path, l.mount_label);
  return l;
}

json WriteLinux(const Linux& l) {
  json j = json::object();
  if (!l.uid_mappings.empty())
    j["uidMappings"] = WriteMappings(l.uid_mappings);
  if (!l.gid_mappings.empty())
    j["gidMappings"] = WriteMappings(l.gid_mappings);
  if (!l.sysctl.empty())
    j["sysctl"] = l.sysctl;
  if (l.resources)
    j["resources"] = WriteResources(*l.resources);
  if (!l.cgroups_path.empty())
    j["cgroupsPath"] = l.cgroups_path;
  json nss = json::array();
  for (const Namespace& ns : l.namespaces) {
    json o = {{"type", ns.type}};
    if (!ns.path.empty())
      o["path"] = ns.path;
    nss.push_back(std::move(o));
  }
  j["namespaces"] = std::move(nss);
  if (!l.devices.empty()) {
    json devs = json::array();
    for (const Device& d : l.devices) {
      json o = {{"type", d.type}, {"path", d.path}, {"major", d.major}, {"minor", d.minor}};
      if (d.file_mode)
        o["fileMode"] = *d.file_mode;
      if (d.uid)
        o["uid"] = *d.uid;
      if (d.gid)
        o["gid"] = *d.gid;
      devs.push_back(std::move(o));
    }
    j["devices"] = std::move(devs);
  }
  if (l.seccomp)
    j["seccomp"] = WriteSeccomp(*l.seccomp);
  if (!l.rootfs_propagation.empty())
    j["rootfsPropagation"] = l.rootfs_propagation;
  j["maskedPaths"] = l.masked_paths;
  j["readonlyPaths"] = l.readonly_paths;
  return j;
}

}  // namespace berth::oci::internal
