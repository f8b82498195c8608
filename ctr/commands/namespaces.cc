// bctr namespaces [ls | create | rm | label]: containerd's namespaces, as ctr has them.

#include <memory>

#include "ctr/commands/commands.h"
#include "ctr/output.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

using Stub = namespaces_api::Namespaces::Stub;

absl::Status RunLs(Cli& cli, const ListFlags& f) {
  namespaces_api::ListNamespacesRequest req;
  namespaces_api::ListNamespacesResponse resp;
  BERTH_RETURN_IF_ERROR(cli.conn().Call(cli.conn().namespaces(), &Stub::List, req, &resp));
  Listing out(f, {"NAME", "LABELS"});
  for (const auto& n : resp.namespaces()) out.Add({n.name(), LabelsCell(n.labels())});
  return out.Print();
}

absl::Status RunCreate(Cli& cli, const std::string& name, const std::vector<std::string>& labels) {
  BERTH_ASSIGN_OR_RETURN(auto parsed, ParseLabelArgs(labels));
  namespaces_api::CreateNamespaceRequest req;
  req.mutable_namespace_()->set_name(name);
  req.mutable_namespace_()->mutable_labels()->insert(parsed.begin(), parsed.end());
  namespaces_api::CreateNamespaceResponse resp;
  return cli.conn().Call(cli.conn().namespaces(), &Stub::Create, req, &resp);
}

absl::Status RunRm(Cli& cli, const std::vector<std::string>& names) {
  absl::Status first;
  for (const std::string& n : names) {
    namespaces_api::DeleteNamespaceRequest req;
    req.set_name(n);
    google::protobuf::Empty resp;
    absl::Status st = cli.conn().Call(cli.conn().namespaces(), &Stub::Delete, req, &resp);
    if (st.ok())
      std::printf("%s\n", n.c_str());
    else if (first.ok())
      first = st;
    else
      std::fprintf(stderr, "bctr: namespaces rm: %s\n", std::string(st.message()).c_str());
  }
  return first;
}

// Sets KEY=VALUE labels (an empty value removes the label), like `ctr namespaces label`.
absl::Status RunLabel(Cli& cli, const std::string& name, const std::vector<std::string>& labels) {
  BERTH_ASSIGN_OR_RETURN(auto parsed, ParseLabelArgs(labels));
  namespaces_api::UpdateNamespaceRequest req;
  req.mutable_namespace_()->set_name(name);
  for (const auto& [k, v] : parsed) {
    if (!v.empty())
      (*req.mutable_namespace_()->mutable_labels())[k] = v;
    req.mutable_update_mask()->add_paths("labels." + k);
  }
  namespaces_api::UpdateNamespaceResponse resp;
  BERTH_RETURN_IF_ERROR(cli.conn().Call(cli.conn().namespaces(), &Stub::Update, req, &resp));
  std::printf("%s\n", LabelsCell(resp.namespace_().labels()).c_str());
  return absl::OkStatus();
}

}  // namespace

void AddNamespaces(CLI::App& parent, Cli& cli) {
  CLI::App* grp = parent.add_subcommand("namespaces", "Manage namespaces")->alias("ns");
  grp->require_subcommand(1);

  auto lf = std::make_shared<ListFlags>();
  CLI::App* ls = grp->add_subcommand("ls", "List namespaces")->alias("list");
  lf->Add(ls, "Only names");
  ls->callback([&cli, lf] {
    cli.action = [&cli, lf] { return Annotate(RunLs(cli, *lf), "namespaces ls"); };
  });

  auto name = std::make_shared<std::string>();
  auto labels = std::make_shared<std::vector<std::string>>();
  CLI::App* create = grp->add_subcommand("create", "Create a namespace");
  create->add_option("name", *name, "Namespace")->required();
  create->add_option("labels", *labels, "KEY=VALUE labels");
  create->callback([&cli, name, labels] {
    cli.action = [&cli, name, labels] {
      return Annotate(RunCreate(cli, *name, *labels), "namespaces create");
    };
  });

  auto names = std::make_shared<std::vector<std::string>>();
  CLI::App* rm = grp->add_subcommand("rm", "Remove empty namespaces")->alias("remove");
  rm->add_option("names", *names, "Namespaces")->required();
  rm->callback([&cli, names] {
    cli.action = [&cli, names] { return Annotate(RunRm(cli, *names), "namespaces rm"); };
  });

  CLI::App* label = grp->add_subcommand("label", "Set or clear (KEY=) labels of a namespace");
  label->add_option("name", *name, "Namespace")->required();
  label->add_option("labels", *labels, "KEY=VALUE labels");
  label->callback([&cli, name, labels] {
    cli.action = [&cli, name, labels] {
      return Annotate(RunLabel(cli, *name, *labels), "namespaces label");
    };
  });
}

}  // namespace berth::ctr
