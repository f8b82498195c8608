#include "shim/linux/namespaces.h"

#include <fcntl.h>
#include <sched.h>

#include <cerrno>
#include <fstream>
#include <thread>
#include <utility>

#include "fmt/format.h"

#include "lib/base/status.h"
#include "shim/linux/sync.h"

namespace berth::shim::linux {

int NamespaceFlag(const std::string& type) {
  if (type == "pid")
    return CLONE_NEWPID;
  if (type == "network")
    return CLONE_NEWNET;
  if (type == "mount")
    return CLONE_NEWNS;
  if (type == "ipc")
    return CLONE_NEWIPC;
  if (type == "uts")
    return CLONE_NEWUTS;
  if (type == "user")
    return CLONE_NEWUSER;
  if (type == "cgroup")
    return CLONE_NEWCGROUP;
  if (type == "time")
    return CLONE_NEWTIME;
  return 0;
}

absl::StatusOr<PreparedNamespaces> PreparedNamespaces::Make() {
  PreparedNamespaces out;
  absl::Status status;
  std::thread([&] {
    if (::unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) != 0) {
      status = ErrnoError(errno, "unshare new network, ipc and uts namespaces");
      return;
    }
    for (auto [fd, name] : {std::pair{&out.net, "net"}, {&out.ipc, "ipc"}, {&out.uts, "uts"}}) {
      std::string path = fmt::format("/proc/thread-self/ns/{}", name);
      fd->reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd->valid()) {
        status = ErrnoError(errno, fmt::format("open {}", path));
        return;
      }
    }
  }).join();
  if (!status.ok())
    return status;
  return out;
}

namespace {

// The prepared namespace of kind `flag`, if `prepared` has it.
UniqueFd* PreparedOf(PreparedNamespaces* prepared, int flag) {
  if (prepared == nullptr)
    return nullptr;
  UniqueFd* fd = flag == CLONE_NEWNET   ? &prepared->net
                 : flag == CLONE_NEWIPC ? &prepared->ipc
                 : flag == CLONE_NEWUTS ? &prepared->uts
                                        : nullptr;
  return fd != nullptr && fd->valid() ? fd : nullptr;
}

}  // namespace

absl::StatusOr<NamespacePlan> PlanNamespaces(const oci::Linux& linux_spec,
                                             PreparedNamespaces* prepared) {
  NamespacePlan plan;
  bool has_mount = false;
  if (linux_spec.FindNamespace("user") != nullptr)
    prepared = nullptr;  // the user namespace must own the others
  for (size_t i = 0; i < linux_spec.namespaces.size(); ++i) {
    const oci::Namespace& ns = linux_spec.namespaces[i];
    int flag = NamespaceFlag(ns.type);
    has_mount = has_mount || flag == CLONE_NEWNS;
    if (ns.path.empty()) {
      plan.new_user = plan.new_user || flag == CLONE_NEWUSER;
      plan.new_uts = plan.new_uts || flag == CLONE_NEWUTS;
      if (UniqueFd* fd = PreparedOf(prepared, flag); fd != nullptr) {
        plan.joins.push_back({.flag = flag,
                              .path = fmt::format("prepared {} namespace", ns.type),
                              .fd = std::move(*fd)});
      } else {
        plan.clone_flags |= static_cast<uint64_t>(flag);
      }
      continue;
    }
    if (flag == 0)
      return InvalidArgument(
          fmt::format("linux.namespaces[{}]: unknown namespace type {:?}", i, ns.type));
    int fd = ::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return ErrnoError(errno, fmt::format("linux.namespaces[{}]: open {}", i, ns.path));
    NamespaceJoin join{.flag = flag, .path = ns.path, .fd = UniqueFd(fd)};
    if (flag == CLONE_NEWPID)
      plan.pid_join = std::move(join);
    else if (flag == CLONE_NEWUSER)
      plan.joins.insert(plan.joins.begin(), std::move(join));
    else
      plan.joins.push_back(std::move(join));
  }
  if (!has_mount)
    return InvalidArgument("linux.namespaces: a mount namespace is required");
  return plan;
}

absl::StatusOr<PidNamespaceForChildren> PidNamespaceForChildren::Enter(const NamespacePlan& plan) {
  PidNamespaceForChildren p;
  if (!plan.pid_join.fd.valid())
    return p;
  p.saved_.reset(::open("/proc/thread-self/ns/pid_for_children", O_RDONLY | O_CLOEXEC));
  if (!p.saved_.valid())
    return ErrnoError(errno, "open /proc/thread-self/ns/pid_for_children");
  if (::setns(plan.pid_join.fd.get(), CLONE_NEWPID) != 0) {
    int err = errno;
    p.saved_.reset();
    return ErrnoError(err, fmt::format("setns {}", plan.pid_join.path));
  }
  return p;
}

PidNamespaceForChildren::~PidNamespaceForChildren() {
  if (saved_.valid())
    (void)::setns(saved_.get(), CLONE_NEWPID);  // back to where it was: always allowed
}

int ExecNamespaceFlags(const oci::Linux& linux_spec) {
  int flags = 0;
  for (const oci::Namespace& ns : linux_spec.namespaces) flags |= NamespaceFlag(ns.type);
  return flags;
}

void JoinNamespaces(const NamespacePlan& plan, int sync) {
  for (const NamespaceJoin& j : plan.joins) {
    if (::setns(j.fd.get(), j.flag) != 0)
      ChildFail(sync, errno, "setns", j.path.c_str());
  }
}

namespace {

absl::Status WriteMap(pid_t pid, const char* file, const std::vector<oci::IdMapping>& maps) {
  if (maps.empty())
    return absl::OkStatus();
  std::string text;
  for (const oci::IdMapping& m : maps)
    text += fmt::format("{} {} {}\n", m.container_id, m.host_id, m.size);
  std::string path = fmt::format("/proc/{}/{}", pid, file);
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out)
    return ErrnoError(errno, fmt::format("write {} ({})", path, text));
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteIdMappings(pid_t pid, const oci::Linux& linux_spec) {
  if (absl::Status s = WriteMap(pid, "uid_map", linux_spec.uid_mappings); !s.ok())
    return s;
  return WriteMap(pid, "gid_map", linux_spec.gid_mappings);
}

}  // namespace berth::shim::linux
