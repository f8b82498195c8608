#pragma once

// Everything a container process needs between clone and exec, prepared in the parent: argv,
// envp, the candidate paths of the program (PATH from the process's env), user and groups,
// rlimits, capabilities, no_new_privs, the compiled seccomp filter and its stdio. The child
// side (SetupStdio, FinalizeAndExec) only makes syscalls over this data.

#include <sys/types.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "lib/oci/spec.h"
#include "shim/linux/capabilities.h"
#include "shim/linux/seccomp.h"

namespace berth::shim::linux {

// Borrowed fds for the process's stdin, stdout, stderr (-1: /dev/null from the container) or,
// for a terminal, the pty slave as `console` (then in/out/err are ignored).
struct Stdio {
  int in = -1;
  int out = -1;
  int err = -1;
  int console = -1;
  // The shim's end of that pty, for an external runtime that makes its own pty and sends
  // the master back (--console-socket): it dup3()s the received master over this fd number,
  // so the shim's copies and resizes use the runtime's pty. Ignored by the embedded runtime.
  int console_master = -1;
};

struct ProcessPlan {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::vector<char*> argv;              // into args, NULL-terminated
  std::vector<char*> envp;              // into env, NULL-terminated
  std::vector<std::string> candidates;  // absolute paths to try with execve, in order
  // CheckProgram's words when a name without a slash is on no $PATH directory.
  std::string not_in_path;
  std::string cwd;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  bool set_groups = true;
  std::optional<mode_t> umask;
  std::vector<oci::Rlimit> rlimits;
  CapabilityPlan caps;
  bool no_new_privs = false;
  std::optional<SeccompProgram> seccomp;
  Stdio stdio;
  // When the env has no HOME (or an empty one), envp points here and the child fills in
  // "HOME=<dir>" from the container's /etc/passwd before it switches user, as runc does: the
  // home of the process's uid, "/" when there is no entry. Written in the child's own copy.
  bool lookup_home = false;
  mutable std::array<char, 4096 + 6> home_env{};
};

// Errors: InvalidArgument from the seccomp compiler.
absl::StatusOr<std::unique_ptr<ProcessPlan>> PlanProcess(const oci::Process& process,
                                                         const std::optional<oci::Seccomp>& seccomp,
                                                         const Stdio& stdio);

// Child side: new session, stdio (or the console as controlling terminal) on 0, 1, 2.
void SetupStdio(const ProcessPlan& plan, int sync);

// Child side, before the init reports itself ready (runc's create-time check): as root, in the
// container's root and cwd, one of the candidates must be a file it may execute (not a
// directory; an execute bit; not on a noexec mount). A missing program then fails the create
// with the message Docker and containerd users know ("executable file not found in $PATH"),
// not the start; the exec after the user switch can still be refused.
void CheckProgram(const ProcessPlan& plan, int sync);

// Child side: rlimits, cwd, user, capabilities, no_new_privs, seccomp, then execve. Returns
// only through ChildFail.
[[noreturn]] void FinalizeAndExec(const ProcessPlan& plan, int sync);

}  // namespace berth::shim::linux
