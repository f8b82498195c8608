// bctr images [ls | rm | inspect | tag | pull | push], and rmi.

#include <chrono>
#include <memory>

#include "fmt/format.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"

#include "ctr/commands/commands.h"
#include "ctr/content_io.h"
#include "ctr/output.h"
#include "ctr/progress.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/registry/reference.h"

namespace berth::ctr {
namespace {

using google::protobuf::util::TimeUtil;
using nlohmann::json;

// A name as the user typed it, normalized when it parses as a reference ("busybox" →
// "docker.io/library/busybox:latest"); other names (imported ones) are kept as they are.
std::string ImageName(const std::string& s) {
  absl::StatusOr<registry::Reference> r = registry::ParseReference(s);
  return r.ok() ? r->String() : s;
}

// Size of the image for this host's platform: manifest + config + layers (compressed), as
// stored. -1 when some of it is not in the content store.
int64_t ImageSize(Connection& conn, const ::containerd::types::Descriptor& target) {
  absl::StatusOr<std::string> body = ReadBlob(conn, target.digest());
  if (!body.ok())
    return -1;
  int64_t size = target.size();
  std::string manifest = *body;
  if (registry::IsIndex(target.media_type())) {
    absl::StatusOr<registry::Index> idx = registry::ParseIndex(*body, target.digest());
    if (!idx.ok())
      return -1;
    absl::StatusOr<registry::Descriptor> d =
        registry::ChoosePlatform(*idx, registry::HostPlatform(), target.digest());
    if (!d.ok())
      return -1;
    absl::StatusOr<std::string> mb = ReadBlob(conn, d->digest);
    if (!mb.ok())
      return -1;
    manifest = *mb;
    size += d->size;
  }
  absl::StatusOr<registry::Manifest> m = registry::ParseManifest(manifest, target.digest());
  if (!m.ok())
    return -1;
  size += m->config.size;
  for (const registry::Descriptor& l : m->layers) size += l.size;
  return size;
}

json TimeJson(const google::protobuf::Timestamp& t) {
  return TimeUtil::ToString(t);
}

struct LsFlags {
  bool quiet = false;
  std::string format = "table";
  std::vector<std::string> filters;
};

absl::Status RunLs(Cli& cli, const LsFlags& f) {
  images_api::ListImagesRequest req;
  for (const std::string& flt : f.filters) req.add_filters(flt);
  images_api::ListImagesResponse resp;
  Connection& conn = cli.conn();
  auto ctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.images().List(ctx.get(), req, &resp)));
  if (f.quiet) {
    for (const auto& img : resp.images()) std::printf("%s\n", img.name().c_str());
    return absl::OkStatus();
  }
  if (f.format == "json") {
    json out = json::array();
    for (const auto& img : resp.images()) {
      out.push_back({{"name", img.name()},
                     {"mediaType", img.target().media_type()},
                     {"digest", img.target().digest()},
                     {"size", ImageSize(conn, img.target())},
                     {"createdAt", TimeJson(img.created_at())},
                     {"updatedAt", TimeJson(img.updated_at())},
                     {"labels", json(std::map<std::string, std::string>(img.labels().begin(),
                                                                        img.labels().end()))}});
    }
    std::printf("%s\n", out.dump(2).c_str());
    return absl::OkStatus();
  }
  if (IsTemplateFormat(f.format)) {
    std::vector<json> rows;
    for (const auto& img : resp.images()) {
      // Repository and tag as docker images shows them, from a name in reference form (a
      // digest is not a tag); any other name is all repository.
      const std::string& name = img.name();
      absl::StatusOr<registry::Reference> ref = registry::ParseReference(name);
      const bool reference = ref.ok() && ref->String() == name;
      const int64_t size = ImageSize(conn, img.target());
      rows.push_back({{"Repository", reference ? ref->Name() : name},
                      {"Tag", reference && !ref->tag.empty() ? ref->tag : "<none>"},
                      {"Name", name},
                      {"Digest", img.target().digest()},
                      {"Size", size < 0 ? "-" : HumanSize(size)},
                      {"CreatedSince", Ago(img.created_at())},
                      {"CreatedAt", TimeJson(img.created_at())}});
    }
    return PrintTemplate(f.format, rows, {{"CreatedSince", "CREATED"}});
  }
  size_t width = 4;
  for (const auto& img : resp.images()) width = std::max(width, img.name().size());
  std::printf("%-*s  %-19s  %10s  %s\n", static_cast<int>(width), "NAME", "DIGEST", "SIZE",
              "CREATED");
  for (const auto& img : resp.images()) {
    int64_t size = ImageSize(conn, img.target());
    std::string digest = img.target().digest().substr(0, 19);  // "sha256:" + 12 hex
    std::printf("%-*s  %-19s  %10s  %s\n", static_cast<int>(width), img.name().c_str(),
                digest.c_str(), size < 0 ? "-" : HumanSize(size).c_str(),
                Ago(img.created_at()).c_str());
  }
  return absl::OkStatus();
}

absl::Status RunRm(Cli& cli, const std::vector<std::string>& names, bool sync) {
  Connection& conn = cli.conn();
  std::vector<std::string> failed;
  absl::Status last;
  for (const std::string& n : names) {
    images_api::DeleteImageRequest req;
    req.set_name(ImageName(n));
    req.set_sync(sync);
    google::protobuf::Empty resp;
    auto ctx = conn.Context();
    absl::Status st = conn.Check(conn.images().Delete(ctx.get(), req, &resp));
    if (st.ok()) {
      std::printf("%s\n", req.name().c_str());
      continue;
    }
    failed.emplace_back(st.message());
    last = st;
  }
  if (failed.empty())
    return absl::OkStatus();
  std::string msg;
  for (const std::string& m : failed) msg += (msg.empty() ? "" : "; ") + m;
  return absl::Status(last.code(), msg);
}

absl::Status RunInspect(Cli& cli, const std::string& name) {
  Connection& conn = cli.conn();
  images_api::GetImageRequest req;
  req.set_name(ImageName(name));
  images_api::GetImageResponse resp;
  auto ctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.images().Get(ctx.get(), req, &resp)));
  const auto& img = resp.image();
  json out = {{"name", img.name()},
              {"target",
               {{"mediaType", img.target().media_type()},
                {"digest", img.target().digest()},
                {"size", img.target().size()}}},
              {"createdAt", TimeJson(img.created_at())},
              {"updatedAt", TimeJson(img.updated_at())},
              {"labels",
               json(std::map<std::string, std::string>(img.labels().begin(), img.labels().end()))}};
  BERTH_ASSIGN_OR_RETURN(std::string body, ReadBlob(conn, img.target().digest()));
  json doc = json::parse(body, nullptr, false);
  std::string manifest_body = body;
  if (registry::IsIndex(img.target().media_type())) {
    out["index"] = doc;
    BERTH_ASSIGN_OR_RETURN(registry::Index idx, registry::ParseIndex(body, img.name()));
    BERTH_ASSIGN_OR_RETURN(registry::Descriptor d,
                           registry::ChoosePlatform(idx, registry::HostPlatform(), img.name()));
    BERTH_ASSIGN_OR_RETURN(manifest_body, ReadBlob(conn, d.digest));
  }
  out["manifest"] = json::parse(manifest_body, nullptr, false);
  BERTH_ASSIGN_OR_RETURN(registry::Manifest m, registry::ParseManifest(manifest_body, img.name()));
  BERTH_ASSIGN_OR_RETURN(std::string config, ReadBlob(conn, m.config.digest));
  out["config"] = json::parse(config, nullptr, false);
  out["size"] = ImageSize(conn, img.target());
  std::printf("%s\n", out.dump(2).c_str());
  return absl::OkStatus();
}

}  // namespace

void AddImagesLs(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<LsFlags>();
  CLI::App* cmd = parent.add_subcommand("ls", "List images")->alias("list");
  cmd->add_flag("-q,--quiet", f->quiet, "Only names");
  cmd->add_option("--format", f->format,
                  "Output format: table, json, or a Go template ({{.Repository}}, {{.Tag}}, "
                  "{{.Name}}, {{.Digest}}, {{.Size}}, {{.CreatedSince}}, {{.CreatedAt}})")
      ->check(CheckFormat)
      ->capture_default_str();
  cmd->add_option("filters", f->filters, "containerd filters, e.g. name~=busybox");
  cmd->callback(
      [&cli, f] { cli.action = [&cli, f] { return Annotate(RunLs(cli, *f), "images ls"); }; });
}

void AddRmi(CLI::App& parent, Cli& cli) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto sync = std::make_shared<bool>(false);
  bool top = parent.get_parent() == nullptr;
  CLI::App* cmd = parent.add_subcommand(top ? "rmi" : "rm", "Remove images");
  if (!top)
    cmd->alias("remove");
  cmd->add_option("images", *names, "Images to remove")->required();
  cmd->add_flag("--sync", *sync, "Wait for garbage collection of what they held");
  cmd->callback([&cli, names, sync] {
    cli.action = [&cli, names, sync] { return Annotate(RunRm(cli, *names, *sync), "rmi"); };
  });
}

void AddInspect(CLI::App& parent, Cli& cli) {
  auto name = std::make_shared<std::string>();
  CLI::App* cmd = parent.add_subcommand("inspect", "Show an image's record, manifest and config");
  cmd->add_option("image", *name, "Image")->required();
  cmd->callback([&cli, name] {
    cli.action = [&cli, name] { return Annotate(RunInspect(cli, *name), "images inspect"); };
  });
}

void AddImages(CLI::App& parent, Cli& cli) {
  CLI::App* cmd =
      parent.add_subcommand("images", "Manage images (without a verb: list them)")->alias("image");
  cmd->require_subcommand(0, 1);
  AddImagesLs(*cmd, cli);
  AddRmi(*cmd, cli);
  AddInspect(*cmd, cli);
  AddTag(*cmd, cli);
  AddPull(*cmd, cli);
  AddPush(*cmd, cli);
  AddImagesImport(*cmd, cli);
  AddImagesExport(*cmd, cli);
  AddImagePrune(*cmd, cli);
  AddHistory(*cmd, cli);
  // `bctr images [-q] [--format json]` alone lists, as `docker images` does.
  auto f = std::make_shared<LsFlags>();
  cmd->add_flag("-q,--quiet", f->quiet, "Only names (when listing)");
  cmd->add_option("--format", f->format,
                  "Output format when listing: table, json or a Go template (images ls)")
      ->check(CheckFormat);
  cmd->callback([&cli, f] {
    if (!cli.action) {
      cli.action = [&cli, f] { return Annotate(RunLs(cli, *f), "images"); };
    }
  });
}

}  // namespace berth::ctr
