#include "shim/linux/seccomp.h"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "absl/cleanup/cleanup.h"
#include "fmt/format.h"

#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/base/unique_fd.h"
#include "shim/linux/sync.h"

namespace berth::shim::linux {
namespace {

constexpr const char* kPath = "linux.seccomp";

absl::StatusOr<uint32_t> Action(const std::string& name, std::optional<uint32_t> errno_ret,
                                const std::string& field) {
  if (name == "SCMP_ACT_ALLOW")
    return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_ERRNO")
    return SCMP_ACT_ERRNO(errno_ret.value_or(EPERM));
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD")
    return SCMP_ACT_KILL_THREAD;
  if (name == "SCMP_ACT_KILL_PROCESS")
    return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP")
    return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_TRACE")
    return SCMP_ACT_TRACE(errno_ret.value_or(EPERM));
  if (name == "SCMP_ACT_LOG")
    return SCMP_ACT_LOG;
  return InvalidArgument(fmt::format("{}: unsupported action {:?}", field, name));
}

absl::StatusOr<scmp_compare> Op(const std::string& name, const std::string& field) {
  constexpr std::pair<const char*, scmp_compare> kOps[] = {
      {"SCMP_CMP_NE", SCMP_CMP_NE},
      {"SCMP_CMP_LT", SCMP_CMP_LT},
      {"SCMP_CMP_LE", SCMP_CMP_LE},
      {"SCMP_CMP_EQ", SCMP_CMP_EQ},
      {"SCMP_CMP_GE", SCMP_CMP_GE},
      {"SCMP_CMP_GT", SCMP_CMP_GT},
      {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
  for (const auto& [n, op] : kOps) {
    if (name == n)
      return op;
  }
  return InvalidArgument(fmt::format("{}: unknown operator {:?}", field, name));
}

absl::Status AddArchitectures(scmp_filter_ctx ctx, const oci::Seccomp& p) {
  for (size_t i = 0; i < p.architectures.size(); ++i) {
    std::string name = p.architectures[i];
    std::string lower = name.rfind("SCMP_ARCH_", 0) == 0 ? name.substr(10) : name;
    for (char& c : lower) c = static_cast<char>(std::tolower(c));
    uint32_t arch = seccomp_arch_resolve_name(lower.c_str());
    if (arch == 0)
      return InvalidArgument(
          fmt::format("{}.architectures[{}]: unknown architecture {:?}", kPath, i, name));
    int r = seccomp_arch_add(ctx, arch);
    if (r != 0 && r != -EEXIST)
      return ErrnoError(-r, fmt::format("{}.architectures[{}]: add {}", kPath, i, name));
  }
  return absl::OkStatus();
}

// One rule when each argument index appears once (AND); otherwise one rule per condition (OR
// across the same index), as runc does.
absl::Status AddRule(scmp_filter_ctx ctx, uint32_t action, int nr,
                     const std::vector<struct scmp_arg_cmp>& cmps, bool distinct,
                     const std::string& field) {
  int r = 0;
  if (distinct) {
    r = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(cmps.size()),
                               cmps.empty() ? nullptr : cmps.data());
  } else {
    for (const struct scmp_arg_cmp& c : cmps) {
      r = seccomp_rule_add_array(ctx, action, nr, 1, &c);
      if (r != 0)
        break;
    }
  }
  if (r != 0)
    return ErrnoError(-r, fmt::format("{}: add rule", field));
  return absl::OkStatus();
}

absl::Status AddSyscall(scmp_filter_ctx ctx, const oci::Syscall& sc, uint32_t default_action,
                        size_t i) {
  std::string field = fmt::format("{}.syscalls[{}]", kPath, i);
  BERTH_ASSIGN_OR_RETURN(uint32_t action, Action(sc.action, sc.errno_ret, field + ".action"));
  std::vector<struct scmp_arg_cmp> cmps;
  uint64_t seen = 0;
  bool distinct = true;
  for (size_t a = 0; a < sc.args.size(); ++a) {
    const oci::SyscallArg& arg = sc.args[a];
    std::string af = fmt::format("{}.args[{}]", field, a);
    BERTH_ASSIGN_OR_RETURN(scmp_compare op, Op(arg.op, af + ".op"));
    if (arg.index > 5)
      return InvalidArgument(fmt::format("{}.index: {} is not an argument index", af, arg.index));
    distinct = distinct && ((seen >> arg.index) & 1) == 0;
    seen |= uint64_t{1} << arg.index;
    cmps.push_back({arg.index, op, arg.value, arg.value_two});
  }
  for (size_t n = 0; n < sc.names.size(); ++n) {
    int nr = seccomp_syscall_resolve_name(sc.names[n].c_str());
    if (nr == __NR_SCMP_ERROR)
      return InvalidArgument(
          fmt::format("{}.names[{}]: unknown syscall {:?}", field, n, sc.names[n]));
    if (action == default_action)
      continue;
    BERTH_RETURN_IF_ERROR(AddRule(ctx, action, nr, cmps, distinct, field));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<struct sock_filter>> Export(scmp_filter_ctx ctx) {
  UniqueFd mem(::memfd_create("berth-seccomp", MFD_CLOEXEC));
  if (!mem.valid())
    return ErrnoError(errno, "memfd_create");
  if (int r = seccomp_export_bpf(ctx, mem.get()); r != 0)
    return ErrnoError(-r, "seccomp_export_bpf");
  off_t size = ::lseek(mem.get(), 0, SEEK_END);
  if (size < 0 || size % sizeof(struct sock_filter) != 0)
    return Internal("seccomp: exported program has a bad size");
  std::vector<struct sock_filter> filter(static_cast<size_t>(size) / sizeof(struct sock_filter));
  if (::pread(mem.get(), filter.data(), static_cast<size_t>(size), 0) != size)
    return ErrnoError(errno, "seccomp: read exported program");
  return filter;
}

}  // namespace

absl::StatusOr<SeccompProgram> CompileSeccomp(const oci::Seccomp& profile) {
  BERTH_ASSIGN_OR_RETURN(uint32_t def, Action(profile.default_action, profile.default_errno_ret,
                                              std::string(kPath) + ".defaultAction"));
  scmp_filter_ctx ctx = seccomp_init(def);
  if (ctx == nullptr)
    return Internal("seccomp_init failed");
  absl::Cleanup release = [ctx] { seccomp_release(ctx); };
  if (int r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0); r != 0)
    return ErrnoError(-r, "seccomp: clear no_new_privs attribute");
  BERTH_RETURN_IF_ERROR(AddArchitectures(ctx, profile));
  for (size_t i = 0; i < profile.syscalls.size(); ++i)
    BERTH_RETURN_IF_ERROR(AddSyscall(ctx, profile.syscalls[i], def, i));
  SeccompProgram prog;
  BERTH_ASSIGN_OR_RETURN(prog.filter, Export(ctx));
  for (const std::string& f : profile.flags) {
    if (f == "SECCOMP_FILTER_FLAG_LOG")
      prog.flags |= SECCOMP_FILTER_FLAG_LOG;
    else if (f == "SECCOMP_FILTER_FLAG_SPEC_ALLOW")
      prog.flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    else if (f != "SECCOMP_FILTER_FLAG_TSYNC")
      return InvalidArgument(fmt::format("{}.flags: unknown flag {:?}", kPath, f));
  }
  return prog;
}

void LoadSeccomp(const SeccompProgram& program, int sync) {
  struct sock_fprog fprog = {};
  fprog.len = static_cast<unsigned short>(program.filter.size());
  fprog.filter = const_cast<struct sock_filter*>(program.filter.data());
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, program.flags, &fprog) != 0)
    ChildFail(sync, errno, "seccomp", "load filter");
}

}  // namespace berth::shim::linux
