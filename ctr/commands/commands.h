#pragma once

// Every bctr verb: one Add<Verb> per file in this folder, and the one list of top-level verbs
// in commands.cc. A verb adds its subcommand to `parent` (so a verb can appear in two places,
// as `pull` and `images pull` do) and sets cli.action when parsed.

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"

#include "ctr/cli.h"

namespace berth::ctr {

struct Verb {
  const char* name;
  void (*add)(CLI::App& parent, Cli& cli);
};

// The top-level verbs, in the order `bctr --help` shows them.
std::span<const Verb> Verbs();

// A verb on several containers, as Docker's: `one` runs for each ref in turn and the line it
// returns is printed (the ref itself for most verbs); a failure is printed as "bctr: VERB: why"
// and the next ref goes on; bctr exits 1 at the end when any failed.
using OneContainer = std::function<absl::StatusOr<std::string>(const std::string& ref)>;
absl::Status EachContainer(const std::vector<std::string>& refs, const char* verb,
                           const OneContainer& one);

// Docker's prune question on stderr, "WARNING! This will remove WHAT. ... [y/N]", answered
// from stdin: OK for y or yes, else FailedPrecondition (nothing removed). prune.cc.
absl::Status ConfirmPrune(const std::string& what);

// Removes the volumes no container uses (all: named ones too, else only anonymous ones) and
// prints them under "Deleted Volumes:"; the last failure, after trying every one. volume.cc.
absl::Status PruneVolumes(Cli& cli, bool all);

void AddPull(CLI::App& parent, Cli& cli);          // pull.cc
void AddPush(CLI::App& parent, Cli& cli);          // push.cc
void AddImages(CLI::App& parent, Cli& cli);        // images.cc: ls, rm, inspect, tag, pull, push
void AddImagesLs(CLI::App& parent, Cli& cli);      // images.cc
void AddRmi(CLI::App& parent, Cli& cli);           // images.cc: `images rm`, also as `rmi`
void AddInspect(CLI::App& parent, Cli& cli);       // images.cc: `images inspect`
void AddTag(CLI::App& parent, Cli& cli);           // tag.cc
void AddHistory(CLI::App& parent, Cli& cli);       // history.cc, also as `images history`
void AddSave(CLI::App& parent, Cli& cli);          // archive.cc
void AddLoad(CLI::App& parent, Cli& cli);          // archive.cc
void AddCommit(CLI::App& parent, Cli& cli);        // commit.cc
void AddDiff(CLI::App& parent, Cli& cli);          // container_fs.cc
void AddCp(CLI::App& parent, Cli& cli);            // container_fs.cc
void AddExport(CLI::App& parent, Cli& cli);        // container_fs.cc
void AddImagesImport(CLI::App& parent, Cli& cli);  // archive.cc: `images import`
void AddImagesExport(CLI::App& parent, Cli& cli);  // archive.cc: `images export`
void AddLogs(CLI::App& parent, Cli& cli);          // logs.cc
void AddLogin(CLI::App& parent, Cli& cli);         // login.cc
void AddLogout(CLI::App& parent, Cli& cli);        // login.cc
void AddVersion(CLI::App& parent, Cli& cli);       // version.cc
void AddInfo(CLI::App& parent, Cli& cli);          // info.cc
void AddComplete(CLI::App& parent, Cli& cli);      // complete.cc: hidden `__complete`
void AddNetwork(CLI::App& parent, Cli& cli);       // network.cc: ls, inspect
void AddVolume(CLI::App& parent, Cli& cli);        // volume.cc: create, ls, inspect, rm, prune
void AddSystem(CLI::App& parent, Cli& cli);        // prune.cc: `system prune`
void AddNetworkHook(CLI::App& parent, Cli& cli);   // network_hook.cc: hidden `__network-hook`
void AddNamespaces(CLI::App& parent, Cli& cli);    // namespaces.cc: ls, create, rm, label
void AddLeases(CLI::App& parent, Cli& cli);        // leases.cc: ls, create, rm
void AddContent(CLI::App& parent, Cli& cli);       // content.cc: ls, get, rm, label
void AddSnapshots(CLI::App& parent, Cli& cli);   // snapshots.cc: ls, info, usage, tree, rm, mounts
void AddEvents(CLI::App& parent, Cli& cli);      // events.cc
void AddPlugins(CLI::App& parent, Cli& cli);     // plugins.cc: ls
void AddContainers(CLI::App& parent, Cli& cli);  // containers_group.cc: ls, info, rm, label
void AddTasks(CLI::App& parent, Cli& cli);       // tasks_group.cc: ls, ps, kill, pause, rm, ...
void AddRun(CLI::App& parent, Cli& cli);         // run.cc
void AddCreate(CLI::App& parent, Cli& cli);      // run.cc
void AddStart(CLI::App& parent, Cli& cli);       // start.cc
void AddRestart(CLI::App& parent, Cli& cli);     // start.cc
void AddUpdate(CLI::App& parent, Cli& cli);      // update.cc
void AddWait(CLI::App& parent, Cli& cli);        // wait.cc
void AddContainerPrune(CLI::App& parent, Cli& cli);    // prune.cc: `containers prune`
void AddImagePrune(CLI::App& parent, Cli& cli);        // prune.cc: `images prune`
void AddPort(CLI::App& parent, Cli& cli);              // port.cc
void AddPs(CLI::App& parent, Cli& cli);                // ps.cc
void AddStop(CLI::App& parent, Cli& cli);              // stop.cc
void AddKill(CLI::App& parent, Cli& cli);              // stop.cc
void AddRm(CLI::App& parent, Cli& cli);                // rm.cc
void AddExec(CLI::App& parent, Cli& cli);              // exec.cc
void AddContainerInspect(CLI::App& parent, Cli& cli);  // container_inspect.cc: `inspect`
void AddTop(CLI::App& parent, Cli& cli);               // top.cc
void AddStats(CLI::App& parent, Cli& cli);             // stats.cc
void AddPause(CLI::App& parent, Cli& cli);             // pause.cc
void AddUnpause(CLI::App& parent, Cli& cli);           // pause.cc
void AddRename(CLI::App& parent, Cli& cli);            // rename.cc

}  // namespace berth::ctr
