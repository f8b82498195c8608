// bctr snapshots [ls | info | usage | tree | rm | mounts]: a snapshotter's snapshots, as ctr
// has them.

#include <map>
#include <memory>

#include "nlohmann/json.hpp"

#include "ctr/commands/commands.h"
#include "ctr/output.h"
#include "ctr/progress.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

using Stub = snapshots_api::Snapshots::Stub;

const char* KindName(snapshots_api::Kind k) {
  switch (k) {
    case snapshots_api::VIEW:
      return "View";
    case snapshots_api::ACTIVE:
      return "Active";
    case snapshots_api::COMMITTED:
      return "Committed";
    default:
      return "Unknown";
  }
}

absl::StatusOr<std::vector<snapshots_api::Info>> List(Cli& cli, const std::string& snapshotter,
                                                      const std::vector<std::string>& filters) {
  Connection& conn = cli.conn();
  snapshots_api::ListSnapshotsRequest req;
  req.set_snapshotter(snapshotter);
  for (const std::string& f : filters) req.add_filters(f);
  auto ctx = conn.Context();
  auto reader = conn.snapshots().List(ctx.get(), req);
  std::vector<snapshots_api::Info> out;
  snapshots_api::ListSnapshotsResponse resp;
  while (reader->Read(&resp))
    for (auto& info : *resp.mutable_info()) out.push_back(std::move(info));
  BERTH_RETURN_IF_ERROR(conn.Check(reader->Finish()));
  return out;
}

struct Flags {
  std::string snapshotter = "overlayfs";
  ListFlags list;
  std::vector<std::string> args;  // filters, keys
};

absl::Status RunLs(Cli& cli, const Flags& f) {
  BERTH_ASSIGN_OR_RETURN(auto infos, List(cli, f.snapshotter, f.args));
  Listing out(f.list, {"KEY", "PARENT", "KIND"});
  for (const auto& i : infos) {
    out.Add({i.name(), i.parent().empty() ? "-" : i.parent(), KindName(i.kind())});
  }
  return out.Print();
}

absl::Status RunInfo(Cli& cli, const Flags& f) {
  snapshots_api::StatSnapshotRequest req;
  req.set_snapshotter(f.snapshotter);
  req.set_key(f.args.at(0));
  snapshots_api::StatSnapshotResponse resp;
  BERTH_RETURN_IF_ERROR(cli.conn().Call(cli.conn().snapshots(), &Stub::Stat, req, &resp));
  const auto& i = resp.info();
  nlohmann::json out = {{"Kind", KindName(i.kind())},
                        {"Name", i.name()},
                        {"Parent", i.parent()},
                        {"Labels", LabelsJson(i.labels())},
                        {"Created", TimeString(i.created_at())},
                        {"Updated", TimeString(i.updated_at())}};
  std::printf("%s\n", out.dump(4).c_str());
  return absl::OkStatus();
}

absl::Status RunUsage(Cli& cli, const Flags& f) {
  std::vector<std::string> keys = f.args;
  if (keys.empty()) {
    BERTH_ASSIGN_OR_RETURN(auto infos, List(cli, f.snapshotter, {}));
    for (const auto& i : infos) keys.push_back(i.name());
  }
  Table t({"KEY", "SIZE", "INODES"});
  for (const std::string& k : keys) {
    snapshots_api::UsageRequest req;
    req.set_snapshotter(f.snapshotter);
    req.set_key(k);
    snapshots_api::UsageResponse resp;
    BERTH_RETURN_IF_ERROR(cli.conn().Call(cli.conn().snapshots(), &Stub::Usage, req, &resp));
    t.Add({k, HumanSize(resp.size()), std::to_string(resp.inodes())});
  }
  t.Print();
  return absl::OkStatus();
}

// Parents above their children, indented as ctr's tree.
absl::Status RunTree(Cli& cli, const Flags& f) {
  BERTH_ASSIGN_OR_RETURN(auto infos, List(cli, f.snapshotter, {}));
  std::map<std::string, std::vector<std::string>> children;
  std::map<std::string, bool> known;
  for (const auto& i : infos) known[i.name()] = true;
  for (const auto& i : infos)
    children[known.count(i.parent()) ? i.parent() : ""].push_back(i.name());
  auto print = [&](auto& self, const std::string& key, int depth) -> void {
    for (const std::string& c : children[key]) {
      std::printf("%*s%s\n", depth * 2, "", c.c_str());
      self(self, c, depth + 1);
    }
  };
  print(print, "", 0);
  return absl::OkStatus();
}

absl::Status RunRm(Cli& cli, const Flags& f) {
  absl::Status first;
  for (const std::string& k : f.args) {
    snapshots_api::RemoveSnapshotRequest req;
    req.set_snapshotter(f.snapshotter);
    req.set_key(k);
    google::protobuf::Empty resp;
    absl::Status st = cli.conn().Call(cli.conn().snapshots(), &Stub::Remove, req, &resp);
    if (st.ok())
      std::printf("%s\n", k.c_str());
    else if (first.ok())
      first = st;
    else
      std::fprintf(stderr, "bctr: snapshots rm: %s\n", std::string(st.message()).c_str());
  }
  return first;
}

// The mount command that would mount the snapshot at TARGET, as `ctr snapshots mounts` prints.
absl::Status RunMounts(Cli& cli, const Flags& f) {
  snapshots_api::MountsRequest req;
  req.set_snapshotter(f.snapshotter);
  req.set_key(f.args.at(1));
  snapshots_api::MountsResponse resp;
  BERTH_RETURN_IF_ERROR(cli.conn().Call(cli.conn().snapshots(), &Stub::Mounts, req, &resp));
  for (const auto& m : resp.mounts()) {
    std::string opts;
    for (const std::string& o : m.options()) opts += (opts.empty() ? "" : ",") + o;
    std::printf("mount -t %s %s %s%s\n", m.type().c_str(), m.source().c_str(), f.args[0].c_str(),
                opts.empty() ? "" : (" -o " + opts).c_str());
  }
  return absl::OkStatus();
}

using Runner = absl::Status (*)(Cli&, const Flags&);

// Positional arguments of a verb: `min` to `max` of them (-1: no limit), all into Flags::args.
struct Args {
  const char* name;
  const char* help;
  int min;
  int max;
};

CLI::App* AddVerb(CLI::App* grp, Cli& cli, std::shared_ptr<Flags> f, const char* name,
                  const char* help, Args args, Runner run) {
  CLI::App* cmd = grp->add_subcommand(name, help);
  if (args.max != 0) {
    CLI::Option* o = cmd->add_option(args.name, f->args, args.help);
    o->expected(args.min, args.max < 0 ? CLI::detail::expected_max_vector_size : args.max);
    if (args.min > 0)
      o->required();
  }
  std::string what = std::string("snapshots ") + name;
  cmd->callback([&cli, f, run, what] {
    cli.action = [&cli, f, run, what] { return Annotate(run(cli, *f), what); };
  });
  return cmd;
}

}  // namespace

void AddSnapshots(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<Flags>();
  CLI::App* grp = parent.add_subcommand("snapshots", "Manage snapshots")->alias("snapshot");
  grp->require_subcommand(1);
  grp->add_option("--snapshotter", f->snapshotter, "Snapshotter")->capture_default_str();
  CLI::App* ls =
      AddVerb(grp, cli, f, "ls", "List snapshots", {"filters", "containerd filters", 0, -1}, RunLs);
  ls->alias("list");
  f->list.Add(ls, "Only keys");
  AddVerb(grp, cli, f, "info", "Show a snapshot as JSON", {"key", "Snapshot key", 1, 1}, RunInfo);
  AddVerb(grp, cli, f, "usage", "Disk usage of snapshots (all by default)",
          {"keys", "Snapshot keys", 0, -1}, RunUsage);
  AddVerb(grp, cli, f, "tree", "Snapshots as a tree of parents and children", {}, RunTree);
  AddVerb(grp, cli, f, "rm", "Remove snapshots", {"keys", "Snapshot keys", 1, -1}, RunRm)
      ->alias("remove");
  AddVerb(grp, cli, f, "mounts", "Print the mount command for a snapshot at TARGET",
          {"target_key", "TARGET KEY", 2, 2}, RunMounts);
}

}  // namespace berth::ctr
