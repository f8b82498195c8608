// bctr content [ls | get | rm | label]: the blobs in berthd's content store, as ctr has them.

#include <unistd.h>

#include <memory>

#include "ctr/commands/commands.h"
#include "ctr/content_io.h"
#include "ctr/output.h"
#include "ctr/progress.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"

namespace berth::ctr {
namespace {

using Stub = content_api::Content::Stub;

absl::Status RunLs(Cli& cli, const ListFlags& lf, const std::vector<std::string>& filters) {
  Connection& conn = cli.conn();
  content_api::ListContentRequest req;
  for (const std::string& f : filters) req.add_filters(f);
  auto ctx = conn.Context();
  auto reader = conn.content().List(ctx.get(), req);
  Listing out(lf, {"DIGEST", "SIZE", "AGE", "LABELS"});
  content_api::ListContentResponse resp;
  while (reader->Read(&resp)) {
    for (const auto& info : resp.info()) {
      out.Add({info.digest(), HumanSize(info.size()), Ago(info.created_at()),
               LabelsCell(info.labels())});
    }
  }
  BERTH_RETURN_IF_ERROR(conn.Check(reader->Finish()));
  return out.Print();
}

absl::Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return ErrnoError(errno, "writing to stdout");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// Streams the blob to stdout.
absl::Status RunGet(Cli& cli, const std::string& digest) {
  ContentSource src(cli.conn(), digest);
  for (;;) {
    BERTH_ASSIGN_OR_RETURN(std::string chunk, src.Read(1 << 20));
    if (chunk.empty())
      return absl::OkStatus();
    BERTH_RETURN_IF_ERROR(WriteAll(STDOUT_FILENO, chunk));
  }
}

absl::Status RunRm(Cli& cli, const std::vector<std::string>& digests) {
  absl::Status first;
  for (const std::string& d : digests) {
    content_api::DeleteContentRequest req;
    req.set_digest(d);
    google::protobuf::Empty resp;
    absl::Status st = cli.conn().Call(cli.conn().content(), &Stub::Delete, req, &resp);
    if (st.ok())
      std::printf("%s\n", d.c_str());
    else if (first.ok())
      first = st;
    else
      std::fprintf(stderr, "bctr: content rm: %s\n", std::string(st.message()).c_str());
  }
  return first;
}

// KEY=VALUE sets a label, KEY= removes it; the others stay.
absl::Status RunLabel(Cli& cli, const std::string& digest, const std::vector<std::string>& args) {
  BERTH_ASSIGN_OR_RETURN(auto labels, ParseLabelArgs(args));
  content_api::UpdateRequest req;
  req.mutable_info()->set_digest(digest);
  for (const auto& [k, v] : labels) {
    if (!v.empty())
      (*req.mutable_info()->mutable_labels())[k] = v;
    req.mutable_update_mask()->add_paths("labels." + k);
  }
  content_api::UpdateResponse resp;
  BERTH_RETURN_IF_ERROR(cli.conn().Call(cli.conn().content(), &Stub::Update, req, &resp));
  std::printf("%s\n", LabelsCell(resp.info().labels()).c_str());
  return absl::OkStatus();
}

}  // namespace

void AddContent(CLI::App& parent, Cli& cli) {
  CLI::App* grp = parent.add_subcommand("content", "Manage the blobs in the content store");
  grp->require_subcommand(1);

  auto lf = std::make_shared<ListFlags>();
  auto filters = std::make_shared<std::vector<std::string>>();
  CLI::App* ls = grp->add_subcommand("ls", "List blobs")->alias("list");
  lf->Add(ls, "Only digests");
  ls->add_option("filters", *filters, "containerd filters, e.g. labels.\"a\"==b");
  ls->callback([&cli, lf, filters] {
    cli.action = [&cli, lf, filters] { return Annotate(RunLs(cli, *lf, *filters), "content ls"); };
  });

  auto digest = std::make_shared<std::string>();
  CLI::App* get = grp->add_subcommand("get", "Write a blob to stdout");
  get->add_option("digest", *digest, "sha256:...")->required();
  get->callback([&cli, digest] {
    cli.action = [&cli, digest] { return Annotate(RunGet(cli, *digest), "content get"); };
  });

  auto digests = std::make_shared<std::vector<std::string>>();
  CLI::App* rm = grp->add_subcommand("rm", "Delete blobs")->alias("delete");
  rm->add_option("digests", *digests, "sha256:...")->required();
  rm->callback([&cli, digests] {
    cli.action = [&cli, digests] { return Annotate(RunRm(cli, *digests), "content rm"); };
  });

  auto labels = std::make_shared<std::vector<std::string>>();
  CLI::App* label =
      grp->add_subcommand("label", "Set (KEY=VALUE) or clear (KEY=) labels of a blob");
  label->add_option("digest", *digest, "sha256:...")->required();
  label->add_option("labels", *labels, "KEY=VALUE labels");
  label->callback([&cli, digest, labels] {
    cli.action = [&cli, digest, labels] {
      return Annotate(RunLabel(cli, *digest, *labels), "content label");
    };
  });
}

}  // namespace berth::ctr
