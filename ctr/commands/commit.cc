// bctr commit: a new image from a container's changes, as `docker commit` makes it. The
// layer comes from berthd's Diff service (the parent snapshot viewed read-only against the
// container's snapshot, also seen read-only); the config gets the layer's diff id, a history
// entry and the -c changes; the manifest, the image record and the unpacked snapshot follow,
// all under a lease so that a failure leaves nothing behind.

#include <chrono>
#include <memory>
#include <random>

#include "absl/cleanup/cleanup.h"
#include "fmt/chrono.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

#include "ctr/commands/commands.h"
#include "ctr/content_io.h"
#include "ctr/image_record.h"
#include "ctr/lease.h"
#include "ctr/pull.h"
#include "ctr/rootfs.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/mount/proto.h"
#include "lib/registry/digest.h"

namespace berth::ctr {
namespace {

using ojson = nlohmann::ordered_json;

struct CommitFlags {
  std::string container;
  std::string image;
  std::string message;
  std::string author;
  std::vector<std::string> changes;
  bool pause = true;
};

std::string Now() {
  auto now = std::chrono::system_clock::now();
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z",
                     fmt::gmtime(std::chrono::system_clock::to_time_t(now)));
}

// "CMD [\"sh\"]" or "CMD sh -c x" (shell form) → a JSON array.
absl::StatusOr<ojson> CommandValue(const std::string& v, const std::string& change) {
  if (v.starts_with("[")) {
    ojson j = ojson::parse(v, nullptr, false);
    if (!j.is_array())
      return InvalidArgument(fmt::format("change {:?}: not a JSON array", change));
    for (const ojson& e : j) {
      if (!e.is_string())
        return InvalidArgument(fmt::format("change {:?}: not an array of strings", change));
    }
    return j;
  }
  return ojson::array({"/bin/sh", "-c", v});
}

// Applies one Dockerfile-style change to the image config's "config" object.
absl::Status ApplyChange(ojson& cfg, const std::string& change) {
  size_t sp = change.find_first_of(" \t");
  std::string op = change.substr(0, sp);
  std::string v = sp == std::string::npos ? "" : change.substr(change.find_first_not_of(" \t", sp));
  for (char& ch : op) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (v.empty())
    return InvalidArgument(fmt::format("change {:?}: no value", change));
  if (op == "CMD" || op == "ENTRYPOINT") {
    BERTH_ASSIGN_OR_RETURN(cfg[op == "CMD" ? "Cmd" : "Entrypoint"], CommandValue(v, change));
  } else if (op == "ENV") {
    if (v.find('=') == std::string::npos)
      return InvalidArgument(fmt::format("change {:?}: ENV needs NAME=VALUE", change));
    std::string key = v.substr(0, v.find('=') + 1);
    ojson env = ojson::array();
    for (const ojson& e : cfg.value("Env", ojson::array())) {
      if (!e.is_string() || !e.get<std::string>().starts_with(key))
        env.push_back(e);
    }
    env.push_back(v);
    cfg["Env"] = env;
  } else if (op == "WORKDIR") {
    cfg["WorkingDir"] = v;
  } else if (op == "USER") {
    cfg["User"] = v;
  } else if (op == "LABEL") {
    size_t eq = v.find('=');
    if (eq == std::string::npos)
      return InvalidArgument(fmt::format("change {:?}: LABEL needs KEY=VALUE", change));
    cfg["Labels"][v.substr(0, eq)] = v.substr(eq + 1);
  } else if (op == "EXPOSE") {
    cfg["ExposedPorts"][v.find('/') == std::string::npos ? v + "/tcp" : v] = ojson::object();
  } else if (op == "VOLUME") {
    cfg["Volumes"][v] = ojson::object();
  } else if (op == "STOPSIGNAL") {
    cfg["StopSignal"] = v;
  } else {
    return InvalidArgument(fmt::format(
        "change {:?}: unknown instruction {:?} (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, "
        "EXPOSE, VOLUME, STOPSIGNAL)",
        change, op));
  }
  return absl::OkStatus();
}

// Pauses the container's running task until destroyed.
class PauseGuard {
 public:
  PauseGuard(Connection& conn, std::string id) : conn_(conn), id_(std::move(id)) {}

  ~PauseGuard() {
    if (!paused_)
      return;
    tasks_api::ResumeTaskRequest req;
    req.set_container_id(id_);
    google::protobuf::Empty resp;
    auto ctx = conn_.Context();
    (void)conn_.tasks().Resume(ctx.get(), req, &resp);  // nothing more to do if it fails
  }

  absl::Status Pause() {
    tasks_api::PauseTaskRequest req;
    req.set_container_id(id_);
    google::protobuf::Empty resp;
    auto ctx = conn_.Context();
    BERTH_RETURN_IF_ERROR(conn_.Check(conn_.tasks().Pause(ctx.get(), req, &resp)));
    paused_ = true;
    return absl::OkStatus();
  }

 private:
  Connection& conn_;
  std::string id_;
  bool paused_ = false;
};

// The layer of the container's changes, in the content store. Returns its descriptor and diff id.
absl::StatusOr<std::pair<registry::Descriptor, std::string>> DiffLayer(
    Connection& conn, const ContainerRef& c, const std::string& media_type) {
  snapshots_api::StatSnapshotRequest stat;
  stat.set_snapshotter(c.snapshotter);
  stat.set_key(c.snapshot_key);
  snapshots_api::StatSnapshotResponse info;
  auto sctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.snapshots().Stat(sctx.get(), stat, &info)));
  std::random_device rd;
  std::string view_key = fmt::format("commit-view-{:08x}", rd());
  snapshots_api::ViewSnapshotRequest view;
  view.set_snapshotter(c.snapshotter);
  view.set_key(view_key);
  view.set_parent(info.info().parent());
  snapshots_api::ViewSnapshotResponse lower;
  auto vctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.snapshots().View(vctx.get(), view, &lower)));
  auto remove = absl::MakeCleanup([&] {
    snapshots_api::RemoveSnapshotRequest rm;
    rm.set_snapshotter(c.snapshotter);
    rm.set_key(view_key);
    google::protobuf::Empty e;
    auto rctx = conn.Context();
    (void)conn.snapshots().Remove(rctx.get(), rm, &e);  // the lease covers a failure
  });
  BERTH_ASSIGN_OR_RETURN(std::vector<mount::Mount> upper,
                         SnapshotMounts(conn, c.snapshotter, c.snapshot_key));
  diff_api::DiffRequest req;
  *req.mutable_left() = lower.mounts();
  mount::MountsToProto(ReadOnlyView(std::move(upper)), req.mutable_right());
  req.set_media_type(media_type);
  req.set_ref(fmt::format("commit-{}-{:08x}", c.id, rd()));
  diff_api::DiffResponse resp;
  auto dctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.diff().Diff(dctx.get(), req, &resp)));
  registry::Descriptor layer = FromProto(resp.diff());
  BERTH_ASSIGN_OR_RETURN(Labels labels, BlobLabels(conn, layer.digest));
  std::string diff_id = labels["containerd.io/uncompressed"];
  if (diff_id.empty())
    return Internal(fmt::format("layer {}: no containerd.io/uncompressed label", layer.digest));
  return std::make_pair(layer, diff_id);
}

absl::StatusOr<std::string> NewConfig(const std::string& old, const std::string& diff_id,
                                      const CommitFlags& f) {
  ojson cfg = ojson::parse(old, nullptr, false);
  if (!cfg.is_object())
    return InvalidArgument("the image's config is not a JSON object");
  if (!cfg["config"].is_object())
    cfg["config"] = ojson::object();
  for (const std::string& ch : f.changes) BERTH_RETURN_IF_ERROR(ApplyChange(cfg["config"], ch));
  cfg["rootfs"]["type"] = "layers";
  cfg["rootfs"]["diff_ids"].push_back(diff_id);
  std::string now = Now();
  cfg["created"] = now;
  if (!f.author.empty())
    cfg["author"] = f.author;
  ojson h = {{"created", now}, {"created_by", "bctr commit"}};
  if (!f.author.empty())
    h["author"] = f.author;
  if (!f.message.empty())
    h["comment"] = f.message;
  cfg["history"].push_back(h);
  return cfg.dump();
}

std::string ManifestJson(const registry::Manifest& m) {
  ojson j = {{"schemaVersion", 2}, {"mediaType", m.media_type}};
  j["config"] = {
      {"mediaType", m.config.media_type}, {"digest", m.config.digest}, {"size", m.config.size}};
  j["layers"] = ojson::array();
  for (const registry::Descriptor& l : m.layers)
    j["layers"].push_back({{"mediaType", l.media_type}, {"digest", l.digest}, {"size", l.size}});
  return j.dump(3);
}

absl::Status RunCommit(Cli& cli, const CommitFlags& f) {
  Connection& conn = cli.conn();
  std::string name;
  if (!f.image.empty()) {
    BERTH_ASSIGN_OR_RETURN(registry::Reference ref, ParseImageRef(f.image));
    name = ref.String();
  }
  BERTH_ASSIGN_OR_RETURN(ContainerRef c, LookupContainer(conn, f.container));
  BERTH_ASSIGN_OR_RETURN(images_api::Image base, GetImageRecord(conn, c.image));
  BERTH_ASSIGN_OR_RETURN(ResolvedManifest rm,
                         ResolveManifest(conn, FromProto(base.target()), registry::HostPlatform()));
  BERTH_ASSIGN_OR_RETURN(std::string old_config, ReadBlob(conn, rm.manifest.config.digest));
  const bool docker = rm.desc.media_type == registry::media::kDockerManifest;
  BERTH_ASSIGN_OR_RETURN(ScopedLease lease, ScopedLease::Create(conn));

  std::pair<registry::Descriptor, std::string> layer;
  {
    PauseGuard pause(conn, c.id);
    BERTH_ASSIGN_OR_RETURN(TaskState task, GetTaskState(conn, c.id));
    if (f.pause && task.pid != 0 && !task.paused)
      BERTH_RETURN_IF_ERROR(pause.Pause());
    BERTH_ASSIGN_OR_RETURN(layer,
                           DiffLayer(conn, c,
                                     docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
                                            : "application/vnd.oci.image.layer.v1.tar+gzip"));
  }
  BERTH_ASSIGN_OR_RETURN(std::string config, NewConfig(old_config, layer.second, f));
  registry::Manifest m = rm.manifest;
  m.media_type = rm.desc.media_type;
  m.config = {m.config.media_type, registry::Sha256Digest(config),
              static_cast<int64_t>(config.size())};
  BERTH_RETURN_IF_ERROR(WriteBlob(conn, RefKey(m.config), m.config, config, {}));
  m.layers.push_back(layer.first);
  std::string body = ManifestJson(m);
  registry::Descriptor md{m.media_type, registry::Sha256Digest(body),
                          static_cast<int64_t>(body.size())};
  BERTH_RETURN_IF_ERROR(WriteBlob(conn, RefKey(md), md, body, ManifestGcLabels(m)));
  BERTH_RETURN_IF_ERROR(Unpack(conn, m, c.snapshotter).status());
  BERTH_RETURN_IF_ERROR(PutImageRecord(conn, name.empty() ? md.digest : name, md));
  std::printf("%s\n", md.digest.c_str());
  return absl::OkStatus();
}

}  // namespace

void AddCommit(CLI::App& parent, Cli& cli) {
  auto f = std::make_shared<CommitFlags>();
  CLI::App* cmd = parent.add_subcommand("commit", "Make a new image from a container's changes");
  cmd->add_option("container", f->container, "Container")->required();
  cmd->add_option("image", f->image, "Name of the new image (IMAGE[:TAG])");
  cmd->add_option("-m,--message", f->message, "Commit message");
  cmd->add_option("-a,--author", f->author, "Author");
  cmd->add_option("-c,--change", f->changes,
                  "Dockerfile instruction for the config: CMD, ENTRYPOINT, ENV, WORKDIR, USER, "
                  "LABEL, EXPOSE, VOLUME, STOPSIGNAL")
      ->allow_extra_args(false);
  cmd->add_option("-p,--pause", f->pause, "Pause the container while its changes are read")
      ->capture_default_str();
  cmd->callback(
      [&cli, f] { cli.action = [&cli, f] { return Annotate(RunCommit(cli, *f), "commit"); }; });
}

}  // namespace berth::ctr
