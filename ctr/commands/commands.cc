#include "ctr/commands/commands.h"

#include <cstdio>

#include "ctr/stdio.h"

namespace berth::ctr {

absl::Status EachContainer(const std::vector<std::string>& refs, const char* verb,
                           const OneContainer& one) {
  bool failed = false;
  for (const std::string& ref : refs) {
    absl::StatusOr<std::string> line = one(ref);
    if (line.ok()) {
      std::printf("%s\n", line->c_str());
      std::fflush(stdout);
      continue;
    }
    std::fprintf(stderr, "bctr: %s: %s\n", verb, std::string(line.status().message()).c_str());
    failed = true;
  }
  if (failed)
    ExitWithCode(1);
  return absl::OkStatus();
}

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
      {"info", AddInfo},
      {"run", AddRun},
      {"create", AddCreate},
      {"start", AddStart},
      {"ps", AddPs},
      {"stop", AddStop},
      {"restart", AddRestart},
      {"wait", AddWait},
      {"update", AddUpdate},
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
      {"volume", AddVolume},
      {"system", AddSystem},
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
