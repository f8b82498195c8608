#include "ctr/commands/commands.h"

namespace berth::ctr {

std::span<const Verb> Verbs() {
  // One line a verb, so that adding one touches one line.
  // clang-format off
  static constexpr Verb kVerbs[] = {
      {"pull", AddPull},
      {"push", AddPush},
      {"images", AddImages},
      {"rmi", AddRmi},
      {"tag", AddTag},
      {"history", AddHistory},
      {"save", AddSave},
      {"load", AddLoad},
      {"commit", AddCommit},
      {"diff", AddDiff},
      {"cp", AddCp},
      {"export", AddExport},
      {"logs", AddLogs},
      {"login", AddLogin},
      {"logout", AddLogout},
      {"version", AddVersion},
      {"run", AddRun},
      {"create", AddCreate},
      {"start", AddStart},
      {"ps", AddPs},
      {"stop", AddStop},
      {"restart", AddRestart},
      {"wait", AddWait},
      {"kill", AddKill},
      {"rm", AddRm},
      {"exec", AddExec},
      {"inspect", AddContainerInspect},
      {"top", AddTop},
      {"port", AddPort},
      {"stats", AddStats},
      {"pause", AddPause},
      {"unpause", AddUnpause},
      {"rename", AddRename},
      {"network", AddNetwork},
      {"namespaces", AddNamespaces},
      {"leases", AddLeases},
      {"content", AddContent},
      {"snapshots", AddSnapshots},
      {"events", AddEvents},
      {"plugins", AddPlugins},
      {"containers", AddContainers},
      {"tasks", AddTasks},
      {"__complete", AddComplete},
      {"__network-hook", AddNetworkHook},
  };
  // clang-format on
  return kVerbs;
}

}  // namespace berth::ctr
