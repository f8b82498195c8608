// bctr leases [ls | create | rm]: containerd's leases, as ctr has them.

#include <chrono>
#include <memory>

#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"

#include "ctr/commands/commands.h"
#include "ctr/output.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

using Stub = leases_api::Leases::Stub;
constexpr char kExpireLabel[] = "containerd.io/gc.expire";

absl::Status RunLs(Cli& cli, const ListFlags& lf, const std::vector<std::string>& filters) {
  leases_api::ListRequest req;
  for (const std::string& f : filters) req.add_filters(f);
  leases_api::ListResponse resp;
  BERTH_RETURN_IF_ERROR(cli.conn().Call(cli.conn().leases(), &Stub::List, req, &resp));
  Listing out(lf, {"ID", "CREATED", "LABELS"});
  for (const auto& l : resp.leases()) {
    out.Add({l.id(), Ago(l.created_at()), LabelsCell(l.labels())});
  }
  return out.Print();
}

struct CreateFlags {
  std::string id;
  std::string expires;  // a duration ("1h", "30m"); "" for none
  std::vector<std::string> labels;
};

absl::Status RunCreate(Cli& cli, const CreateFlags& f) {
  BERTH_ASSIGN_OR_RETURN(auto labels, ParseLabelArgs(f.labels));
  if (!f.expires.empty()) {
    absl::Duration d;
    if (!absl::ParseDuration(f.expires, &d) || d <= absl::ZeroDuration())
      return InvalidArgument("--expires " + f.expires +
                             ": want a positive duration like 1h or 30m");
    labels[kExpireLabel] =
        absl::FormatTime(absl::RFC3339_sec, absl::Now() + d, absl::UTCTimeZone());
  }
  leases_api::CreateRequest req;
  req.set_id(f.id);
  req.mutable_labels()->insert(labels.begin(), labels.end());
  leases_api::CreateResponse resp;
  BERTH_RETURN_IF_ERROR(cli.conn().Call(cli.conn().leases(), &Stub::Create, req, &resp));
  std::printf("%s\n", resp.lease().id().c_str());
  return absl::OkStatus();
}

absl::Status RunRm(Cli& cli, const std::vector<std::string>& ids, bool sync) {
  absl::Status first;
  for (const std::string& id : ids) {
    leases_api::DeleteRequest req;
    req.set_id(id);
    req.set_sync(sync);
    google::protobuf::Empty resp;
    absl::Status st = cli.conn().Call(cli.conn().leases(), &Stub::Delete, req, &resp);
    if (st.ok())
      std::printf("%s\n", id.c_str());
    else if (first.ok())
      first = st;
    else
      std::fprintf(stderr, "bctr: leases rm: %s\n", std::string(st.message()).c_str());
  }
  return first;
}

}  // namespace

void AddLeases(CLI::App& parent, Cli& cli) {
  CLI::App* grp = parent.add_subcommand("leases", "Manage leases (what they hold is kept from GC)");
  grp->require_subcommand(1);

  auto lf = std::make_shared<ListFlags>();
  auto filters = std::make_shared<std::vector<std::string>>();
  CLI::App* ls = grp->add_subcommand("ls", "List leases")->alias("list");
  lf->Add(ls, "Only ids");
  ls->add_option("filters", *filters, "containerd filters, e.g. id~=^pull");
  ls->callback([&cli, lf, filters] {
    cli.action = [&cli, lf, filters] { return Annotate(RunLs(cli, *lf, *filters), "leases ls"); };
  });

  auto cf = std::make_shared<CreateFlags>();
  CLI::App* create = grp->add_subcommand("create", "Create a lease and print its id");
  create->add_option("--id", cf->id, "Lease id (default: generated)");
  create->add_option("--expires", cf->expires, "Drop the lease after this long, e.g. 24h");
  create->add_option("-l,--label", cf->labels, "KEY=VALUE label");
  create->callback([&cli, cf] {
    cli.action = [&cli, cf] { return Annotate(RunCreate(cli, *cf), "leases create"); };
  });

  auto ids = std::make_shared<std::vector<std::string>>();
  auto sync = std::make_shared<bool>(false);
  CLI::App* rm = grp->add_subcommand("rm", "Delete leases")->alias("delete");
  rm->add_option("ids", *ids, "Lease ids")->required();
  rm->add_flag("--sync", *sync, "Collect garbage before returning");
  rm->callback([&cli, ids, sync] {
    cli.action = [&cli, ids, sync] { return Annotate(RunRm(cli, *ids, *sync), "leases rm"); };
  });
}

}  // namespace berth::ctr
