#include "ctr/container_create.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_join.h"
#include "fmt/format.h"

#include "ctr/config.h"
#include "ctr/container_meta.h"
#include "ctr/content_io.h"
#include "ctr/lease.h"
#include "ctr/network.h"
#include "ctr/output.h"
#include "ctr/progress.h"
#include "ctr/pull.h"
#include "ctr/rootfs.h"
#include "ctr/stdio.h"
#include "ctr/volumes.h"
#include "lib/base/files.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/mount/mount.h"
#include "lib/mount/proto.h"
#include "lib/oci/spec_json.h"

namespace berth::ctr {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<PullResult> PullImage(Cli& cli, const registry::Reference& ref,
                                     const std::string& snapshotter) {
  RegistryFlags rf;
  BERTH_ASSIGN_OR_RETURN(registry::ClientOptions co, rf.Options(ref.domain));
  registry::Client client(std::move(co));
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  Progress progress(stderr, tty, "downloading");
  PullOptions opts;
  opts.snapshotter = snapshotter;
  opts.observer = &progress;
  if (!tty) {
    opts.say = [](const std::string& s) { std::fprintf(stderr, "%s\n", s.c_str()); };
  }
  absl::StatusOr<PullResult> r = Pull(cli.conn(), client, ref, opts);
  progress.Stop();
  return r;
}

// The platform manifest of an image record's target.
absl::StatusOr<registry::Manifest> ImageManifest(Connection& conn, const std::string& name,
                                                 const ::containerd::types::Descriptor& target) {
  BERTH_ASSIGN_OR_RETURN(std::string body, ReadBlob(conn, target.digest()));
  if (registry::IsIndex(target.media_type())) {
    BERTH_ASSIGN_OR_RETURN(registry::Index idx, registry::ParseIndex(body, name));
    BERTH_ASSIGN_OR_RETURN(registry::Descriptor d,
                           registry::ChoosePlatform(idx, registry::HostPlatform(), name));
    BERTH_ASSIGN_OR_RETURN(body, ReadBlob(conn, d.digest));
  }
  return registry::ParseManifest(body, name);
}

// Calls fn with an O_PATH fd of a read-only view of the image's top snapshot `chain_id`,
// mounted in a private temporary directory under the snapshot key `key` for as long as fn runs.
absl::Status WithImageRoot(Connection& conn, const std::string& snapshotter,
                           const std::string& chain_id, const std::string& key,
                           absl::FunctionRef<absl::Status(int root_fd)> fn) {
  snapshots_api::ViewSnapshotRequest req;
  req.set_snapshotter(snapshotter);
  req.set_key(key);
  req.set_parent(chain_id);
  snapshots_api::ViewSnapshotResponse resp;
  auto ctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.snapshots().View(ctx.get(), req, &resp)));
  absl::Cleanup remove = [&] { RemoveSnapshot(conn, snapshotter, key); };
  std::vector<mount::Mount> mounts = mount::MountsFromProto(resp.mounts());
  return mount::WithTempMount(mounts, fs::temp_directory_path() / "bctr-image",
                              [&](const fs::path& root) -> absl::Status {
                                UniqueFd fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
                                if (!fd.valid())
                                  return ErrnoError(errno, fmt::format("open {}", root.string()));
                                return fn(fd.get());
                              });
}

// Reads /etc/passwd and /etc/group from a read-only view of the image's top snapshot.
absl::StatusOr<UserDb> ReadUserDb(Connection& conn, const std::string& snapshotter,
                                  const std::string& chain_id, const std::string& id) {
  UserDb db;
  if (chain_id.empty())
    return db;
  // Through the image's symlinks as the container would see them, never to the host's files.
  auto read = [](int root_fd, const char* path) {
    absl::StatusOr<UniqueFd> fd = OpenInRoot(root_fd, path, /*follow_last=*/true);
    struct stat st;
    if (!fd.ok() || ::fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode))
      return std::string();  // none, or not a file (a fifo would block the read)
    std::ifstream in(fmt::format("/proc/self/fd/{}", fd->get()));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  BERTH_RETURN_IF_ERROR(
      WithImageRoot(conn, snapshotter, chain_id, "bctr-userdb-" + id, [&](int root_fd) {
        db.passwd = read(root_fd, "/etc/passwd");
        db.group = read(root_fd, "/etc/group");
        return absl::OkStatus();
      }));
  return db;
}

// The spec's volume placeholders (ctr/volumes.h) made binds of their volumes' directories: a
// named volume made when missing, an anonymous one made new. A volume that is empty and not
// `nocopy` first gets what the image has at its destination, with the directory's owner and
// mode (as Docker fills a volume on its first mount).
struct ResolvedVolumes {
  std::vector<std::string> names;           // every volume mounted, for kVolumesLabel
  std::vector<std::string> made;            // made here: removed again if the create fails
  std::vector<std::string> anonymous_dirs;  // for meta::kAnonymousVolumesLabel
};

absl::Status ResolveVolumes(Connection& conn, VolumeStore& store, const std::string& snapshotter,
                            const std::string& chain_id, const std::string& id, oci::Spec& spec,
                            ResolvedVolumes& out) {
  std::vector<std::pair<std::string, fs::path>> fill;  // destination, the volume's _data
  for (oci::Mount& m : spec.mounts) {
    std::optional<VolumeMount> v = AsVolumeMount(m);
    if (!v)
      continue;
    absl::StatusOr<Volume> vol = absl::NotFoundError("");
    if (!v->name.empty())
      vol = store.Get(v->name);
    if (absl::IsNotFound(vol.status())) {
      vol = store.Create(v->name);
      if (vol.ok())
        out.made.push_back(vol->name);
      else if (absl::IsAlreadyExists(vol.status()))
        vol = store.Get(v->name);  // made by another bctr meanwhile
    }
    BERTH_RETURN_IF_ERROR(vol.status());
    std::error_code ec;
    if (!v->nocopy && fs::is_empty(vol->mountpoint, ec))
      fill.emplace_back(v->destination, vol->mountpoint);
    m = oci::Mount{v->destination, "bind", vol->mountpoint.string(), {"rbind", "rprivate"}};
    if (v->read_only)
      m.options.push_back("ro");
    if (std::find(out.names.begin(), out.names.end(), vol->name) != out.names.end())
      continue;
    out.names.push_back(vol->name);
    if (vol->anonymous)
      out.anonymous_dirs.push_back(vol->mountpoint.parent_path().string());
  }
  if (fill.empty() || chain_id.empty())
    return absl::OkStatus();
  return WithImageRoot(
      conn, snapshotter, chain_id, "bctr-volumes-" + id, [&](int root_fd) -> absl::Status {
        for (const auto& [destination, data] : fill) {
          absl::StatusOr<UniqueFd> src = OpenInRoot(root_fd, destination, /*follow_last=*/true);
          struct stat st;
          if (!src.ok() || ::fstat(src->get(), &st) != 0 || !S_ISDIR(st.st_mode))
            continue;  // nothing of the image's there
          UniqueFd dst(::open(data.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
          if (!dst.valid() || ::fchown(dst.get(), st.st_uid, st.st_gid) != 0 ||
              ::fchmod(dst.get(), st.st_mode & 07777) != 0)
            return ErrnoError(errno,
                              fmt::format("volume at {}: set up {}", destination, data.string()));
          BERTH_RETURN_IF_ERROR(
              Annotate(CopyTreeContents(src->get(), dst.get()),
                       fmt::format("volume at {}: copy the image's files", destination)));
        }
        return absl::OkStatus();
      });
}

// Docker's init layer: a committed snapshot "<id>-init" above the image's, holding the targets
// of the container's mounts that the image lacks (the network files' empty files, /proc, /dev
// …), so that the container's own snapshot, prepared on it, holds only what the container
// changes: diff and commit show no mount target (a committed image with an empty /etc/hosts
// would break name lookups where nothing is mounted there). Its name, or an error.
absl::StatusOr<std::string> MakeInitLayer(Connection& conn, const std::string& snapshotter,
                                          const std::string& chain_id, const std::string& id,
                                          const oci::Spec& spec) {
  const std::string name = InitLayerName(id);
  const std::string key = name + "-prepare";
  snapshots_api::PrepareSnapshotRequest prep;
  prep.set_snapshotter(snapshotter);
  prep.set_key(key);
  prep.set_parent(chain_id);
  snapshots_api::PrepareSnapshotResponse prepared;
  auto pctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.snapshots().Prepare(pctx.get(), prep, &prepared)));
  absl::Cleanup remove = [&] { RemoveSnapshot(conn, snapshotter, key); };
  std::vector<mount::Mount> mounts = mount::MountsFromProto(prepared.mounts());
  BERTH_RETURN_IF_ERROR(mount::WithTempMount(
      mounts, fs::temp_directory_path() / "bctr-init", [&](const fs::path& root) -> absl::Status {
        UniqueFd fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!fd.valid())
          return ErrnoError(errno, fmt::format("open {}", root.string()));
        for (const oci::Mount& m : spec.mounts) {
          std::error_code ec;
          const bool file = m.type == "bind" && !m.source.empty() &&
                            !fs::is_directory(m.source, ec) && fs::exists(m.source, ec);
          // Best effort: a target that cannot be made here is made (or refused, with its
          // reason) by the shim when it mounts it.
          (void)MakeInRoot(fd.get(), m.destination, file);
        }
        return absl::OkStatus();
      }));
  snapshots_api::CommitSnapshotRequest commit;
  commit.set_snapshotter(snapshotter);
  commit.set_name(name);
  commit.set_key(key);
  (*commit.mutable_labels())[kInitLayerLabel] = id;
  google::protobuf::Empty empty;
  auto cctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.snapshots().Commit(cctx.get(), commit, &empty)));
  std::move(remove).Cancel();
  return name;
}

absl::StatusOr<std::map<std::string, std::string>> ContainerLabels(
    const RunFlags& f, const ImageConfig& image, const std::string& ns, const std::string& id,
    const std::string& log_root, const std::string& name) {
  std::map<std::string, std::string> labels;
  for (const std::string& l : f.labels) {
    size_t eq = l.find('=');
    if (eq == 0 || l.empty())
      return InvalidArgument(fmt::format("--label {:?}: want KEY=VALUE", l));
    labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  labels[kNameLabel] = name;
  // As Docker: --stop-signal, else the image's STOPSIGNAL; checked now, used by bctr stop.
  const std::string& stop_signal = f.stop_signal.empty() ? image.stop_signal : f.stop_signal;
  if (!stop_signal.empty()) {
    BERTH_RETURN_IF_ERROR(Annotate(ParseSignal(stop_signal).status(),
                                   f.stop_signal.empty() ? "image STOPSIGNAL" : "--stop-signal"));
    labels[kStopSignalLabel] = stop_signal;
  }
  if (f.stop_timeout)
    labels[kStopTimeoutLabel] = std::to_string(*f.stop_timeout);
  if (f.detach && f.rm)  // without -d, bctr itself removes it after the exit
    labels[kAutoRemoveLabel] = "true";
  std::string log_uri = LogUri(LogPath(log_root, ns, id));
  labels[kLogUriLabel] = log_uri;
  BERTH_ASSIGN_OR_RETURN(std::string policy, ParseRestartPolicy(f.restart));
  if (!policy.empty()) {
    labels[kRestartStatusLabel] = "running";
    labels[kRestartPolicyLabel] = policy;
    labels[kRestartLogUriLabel] = log_uri;
  }
  return labels;
}

absl::StatusOr<std::string> PickName(Connection& conn, const RunFlags& f) {
  if (!f.name.empty()) {
    BERTH_RETURN_IF_ERROR(ValidateContainerName(f.name));
    BERTH_RETURN_IF_ERROR(CheckNameFree(conn, f.name));
    return f.name;
  }
  for (int i = 0; i < 8; ++i) {
    std::string name = NewContainerName();
    if (i > 3)
      name += fmt::format("_{}", i);
    if (CheckNameFree(conn, name).ok())
      return name;
  }
  return absl::AlreadyExistsError("no free container name found; use --name");
}

// Creates the task with fifos (attached) or the log file (detached).
absl::Status CreateTask(Cli& cli, const ContainerRecord& c, const TaskOptions& opts,
                        ProcessStdio* io) {
  Connection& conn = cli.conn();
  BERTH_ASSIGN_OR_RETURN(std::vector<::containerd::types::Mount> mounts,
                         ContainerRootfsMounts(conn, c));
  tasks_api::CreateTaskRequest req;
  req.set_container_id(c.id());
  for (auto& m : mounts) *req.add_rootfs() = std::move(m);
  req.set_terminal(opts.tty);
  if (io != nullptr) {
    req.set_stdin(io->stdin_path());
    req.set_stdout(io->stdout_path());
    req.set_stderr(io->stderr_path());
  } else {
    std::string path = LogPath(cli.log_root, conn.ns(), c.id());
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    if (ec)
      return ErrnoError(ec.value(), fmt::format("create log directory for {}", path));
    req.set_stdout(LogUri(path));
    req.set_stderr(LogUri(path));
  }
  tasks_api::CreateTaskResponse resp;
  auto ctx = conn.Context();
  // A missing or unrunnable program fails here (the init checks it before it is ready).
  return CommandStartError(Annotate(conn.Check(conn.tasks().Create(ctx.get(), req, &resp)),
                                    fmt::format("container {}", c.id().substr(0, 12))));
}

absl::Status StartProcess(Connection& conn, const std::string& id, const std::string& exec_id) {
  tasks_api::StartRequest req;
  req.set_container_id(id);
  req.set_exec_id(exec_id);
  tasks_api::StartResponse resp;
  auto ctx = conn.Context();
  return CommandStartError(conn.Check(conn.tasks().Start(ctx.get(), req, &resp)));
}

}  // namespace

absl::StatusOr<ResolvedImage> EnsureImage(Cli& cli, const std::string& ref_text,
                                          const std::string& snapshotter, const std::string& pull) {
  Connection& conn = cli.conn();
  absl::StatusOr<registry::Reference> ref = ParseImageRef(ref_text);
  ResolvedImage out;
  out.name = ref.ok() ? ref->String() : ref_text;
  images_api::GetImageRequest get;
  get.set_name(out.name);
  images_api::GetImageResponse got;
  absl::Status st = absl::NotFoundError("");
  if (pull != "always") {
    auto ctx = conn.Context();
    st = conn.Check(conn.images().Get(ctx.get(), get, &got));
  }
  if (absl::IsNotFound(st) && pull == "never") {
    return absl::NotFoundError(
        fmt::format("image {:?}: not here, and --pull=never forbids pulling it", out.name));
  }
  if (absl::IsNotFound(st) && ref.ok()) {
    if (pull != "always")
      std::fprintf(stderr, "Unable to find image '%s' locally\n", ref->String().c_str());
    BERTH_RETURN_IF_ERROR(PullImage(cli, *ref, snapshotter).status());
    auto again = conn.Context();
    st = conn.Check(conn.images().Get(again.get(), get, &got));
  } else if (absl::IsNotFound(st)) {
    return Annotate(ref.status(), fmt::format("image {:?}", ref_text));
  }
  BERTH_RETURN_IF_ERROR(st);
  BERTH_ASSIGN_OR_RETURN(registry::Manifest m, ImageManifest(conn, out.name, got.image().target()));
  BERTH_ASSIGN_OR_RETURN(std::string config, ReadBlob(conn, m.config.digest));
  absl::StatusOr<ImageConfig> parsed = ParseImageConfig(config);
  if (!parsed.ok())
    return Annotate(parsed.status(), out.name);
  out.config = *std::move(parsed);
  BERTH_ASSIGN_OR_RETURN(std::vector<std::string> diff_ids,
                         registry::ConfigDiffIds(config, m.config.digest));
  std::vector<std::string> chain = ChainIds(diff_ids);
  if (chain.empty())
    return out;
  out.chain_id = chain.back();
  BERTH_ASSIGN_OR_RETURN(bool exists, SnapshotExists(conn, snapshotter, out.chain_id));
  if (!exists) {
    BERTH_ASSIGN_OR_RETURN(ScopedLease lease, ScopedLease::Create(conn));
    absl::StatusOr<std::string> top = Unpack(conn, m, snapshotter);
    if (!top.ok())
      return Annotate(top.status(), "unpack " + out.name);
    out.chain_id = *top;
  }
  return out;
}

absl::StatusOr<ContainerRecord> CreateContainer(Cli& cli, const RunFlags& f) {
  Connection& conn = cli.conn();
  if (f.rm && f.restart != "no" && !f.restart.empty())
    return InvalidArgument("--restart and --rm cannot be used together");
  BERTH_ASSIGN_OR_RETURN(std::string policy, ParseRestartPolicy(f.restart));
  (void)policy;
  BERTH_ASSIGN_OR_RETURN(std::string name, PickName(conn, f));
  BERTH_ASSIGN_OR_RETURN(ClientConfig config, LoadClientConfig(ClientConfigPath()));
  const std::string network = ChooseNetwork(f.net, config.network, !f.publish.empty());
  if (network != "none" && network != "host")
    BERTH_RETURN_IF_ERROR(LoadNetwork(config.network, network).status());
  BERTH_ASSIGN_OR_RETURN(ResolvedImage image, EnsureImage(cli, f.image, f.snapshotter, f.pull));
  const std::string id = NewContainerId();
  SpecInput in;
  in.ns = conn.ns();
  in.id = id;
  in.flags = &f;
  in.network = config.network;
  std::error_code ec;
  in.hook_program = fs::read_symlink("/proc/self/exe", ec).string();
  // A CNI network's container gets a hosts file of its own (its address and hostname go in it
  // at its network's attachment), and so does one with --add-host; the others share the
  // localhost lines, or the host's file on its network. --dns and the like: a resolv.conf of
  // its own (BuildSpec refuses them without a network).
  BERTH_ASSIGN_OR_RETURN(std::string extra_hosts, ExtraHostsLines(f.add_hosts));
  const bool cni = network != "none" && network != "host";
  const bool own_hosts = cni || !extra_hosts.empty();
  const bool own_resolv =
      network != "none" && !(f.dns.empty() && f.dns_search.empty() && f.dns_options.empty());
  absl::Cleanup undo_files = [&] {  // ours only: not the shared localhost lines
    if (own_hosts && !in.hosts_file.empty())
      fs::remove(in.hosts_file, ec);
    if (!in.resolv_file.empty())
      fs::remove(in.resolv_file, ec);
  };
  if (own_hosts) {
    std::string base = network == "host" ? ReadWholeFile("/etc/hosts").value_or("")
                                         : std::string(LocalhostLines());
    if (!base.empty() && !base.ends_with('\n'))
      base += '\n';
    BERTH_ASSIGN_OR_RETURN(in.hosts_file,
                           ContainerHostsFile(config.network, conn.ns(), id, base + extra_hosts));
  } else if (network != "host") {
    BERTH_ASSIGN_OR_RETURN(in.hosts_file, HostsFile(config.network));
  }
  if (own_resolv) {
    const std::string source = ResolvConfSource();
    const std::string host = source.empty() ? "" : ReadWholeFile(source).value_or("");
    BERTH_ASSIGN_OR_RETURN(std::string text,
                           ResolvConfText(host, f.dns, f.dns_search, f.dns_options));
    BERTH_ASSIGN_OR_RETURN(in.resolv_file,
                           ContainerResolvFile(config.network, conn.ns(), id, text));
  }
  in.image = image.config;
  in.read_user_db = [&] { return ReadUserDb(conn, f.snapshotter, image.chain_id, id); };
  BERTH_ASSIGN_OR_RETURN(oci::Spec spec, BuildSpec(in));
  if (f.tty) {
    if (auto size = TerminalSize())
      spec.process->console_size = oci::ConsoleSize{size->second, size->first};
  }
  VolumeStore volumes(config.volume_root, conn.ns());
  ResolvedVolumes resolved;
  absl::Cleanup undo_volumes = [&] {
    for (const std::string& v : resolved.made) (void)volumes.Remove(v);
  };
  BERTH_RETURN_IF_ERROR(
      ResolveVolumes(conn, volumes, f.snapshotter, image.chain_id, id, spec, resolved));
  BERTH_ASSIGN_OR_RETURN(auto labels,
                         ContainerLabels(f, image.config, conn.ns(), id, cli.log_root, name));
  // Only bctr names a container's volumes: what they say decides what `rm -v` deletes.
  labels.erase(kVolumesLabel);
  labels.erase(meta::kAnonymousVolumesLabel);
  if (!resolved.names.empty())
    labels[kVolumesLabel] = absl::StrJoin(resolved.names, ",");
  if (!resolved.anonymous_dirs.empty())
    labels[meta::kAnonymousVolumesLabel] = absl::StrJoin(resolved.anonymous_dirs, "\n");
  if (own_hosts)
    labels[kHostsFileLabel] = in.hosts_file;
  if (own_resolv)
    labels[meta::kResolvFileLabel] = in.resolv_file;

  BERTH_ASSIGN_OR_RETURN(ScopedLease lease, ScopedLease::Create(conn));
  absl::StatusOr<std::string> init = MakeInitLayer(conn, f.snapshotter, image.chain_id, id, spec);
  if (!init.ok())
    return Annotate(init.status(),
                    fmt::format("container {}: make its init layer", id.substr(0, 12)));
  absl::Cleanup undo_init = [&] { RemoveSnapshot(conn, f.snapshotter, *init); };
  snapshots_api::PrepareSnapshotRequest prep;
  prep.set_snapshotter(f.snapshotter);
  prep.set_key(id);
  prep.set_parent(*init);
  snapshots_api::PrepareSnapshotResponse prepared;
  auto pctx = conn.Context();
  BERTH_RETURN_IF_ERROR(Annotate(conn.Check(conn.snapshots().Prepare(pctx.get(), prep, &prepared)),
                                 fmt::format("container {}: prepare snapshot", id.substr(0, 12))));
  absl::Cleanup undo = [&] { RemoveSnapshot(conn, f.snapshotter, id); };

  ContainerRecord c;
  c.set_id(id);
  c.mutable_labels()->insert(labels.begin(), labels.end());
  c.set_image(image.name);
  c.mutable_runtime()->set_name(kRuntimeName);
  c.mutable_spec()->set_type_url(kSpecTypeUrl);
  c.mutable_spec()->set_value(oci::SpecToJson(spec, false));
  c.set_snapshotter(f.snapshotter);
  c.set_snapshot_key(id);
  containers_api::CreateContainerRequest req;
  *req.mutable_container() = c;
  containers_api::CreateContainerResponse resp;
  auto ctx = conn.Context();
  BERTH_RETURN_IF_ERROR(conn.Check(conn.containers().Create(ctx.get(), req, &resp)));
  std::move(undo).Cancel();
  std::move(undo_init).Cancel();
  std::move(undo_files).Cancel();
  std::move(undo_volumes).Cancel();
  return resp.container();
}

absl::StatusOr<oci::Spec> ContainerSpec(const ContainerRecord& c) {
  return oci::ParseSpec(c.spec().value(), fmt::format("container {} spec", c.id().substr(0, 12)));
}

absl::StatusOr<int> StartTask(Cli& cli, const ContainerRecord& c, const TaskOptions& opts) {
  Connection& conn = cli.conn();
  BERTH_ASSIGN_OR_RETURN(TaskInfo state, GetTaskInfo(conn, c.id()));
  if (state.exists && state.status != "stopped") {
    return FailedPrecondition(
        fmt::format("container {:?}: already has a {} task", ContainerName(c), state.status));
  }
  if (state.exists)
    BERTH_RETURN_IF_ERROR(DeleteTask(conn, c.id()).status());
  if (!opts.attach) {
    BERTH_RETURN_IF_ERROR(CreateTask(cli, c, opts, nullptr));
    BERTH_RETURN_IF_ERROR(StartProcess(conn, c.id(), ""));
    return 0;
  }
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<ProcessStdio> io,
                         ProcessStdio::Create(c.id(), opts.interactive, opts.tty));
  std::atomic<bool> started{false};
  SignalProxy proxy([&](int sig) {
    if (sig == SIGWINCH) {
      if (!opts.tty || !started)
        return;
      if (auto size = TerminalSize()) {
        tasks_api::ResizePtyRequest req;
        req.set_container_id(c.id());
        req.set_width(size->first);
        req.set_height(size->second);
        google::protobuf::Empty resp;
        auto ctx = conn.Context();
        (void)conn.tasks().ResizePty(ctx.get(), req, &resp);
      }
      return;
    }
    if (!started)
      ExitWithCode(128 + sig);
    (void)KillTask(conn, c.id(), sig);
  });
  BERTH_RETURN_IF_ERROR(CreateTask(cli, c, opts, io.get()));
  io->StartOutput();
  std::optional<RawTerminal> raw;
  if (opts.tty && opts.interactive)
    raw.emplace();
  absl::Status st = StartProcess(conn, c.id(), "");
  if (!st.ok()) {
    if (raw)
      raw->Restore();
    (void)DeleteTask(conn, c.id());
    return st;
  }
  started = true;
  io->StartInput([&conn, id = c.id()] {
    tasks_api::CloseIORequest req;
    req.set_container_id(id);
    req.set_stdin(true);
    google::protobuf::Empty resp;
    auto ctx = conn.Context();
    (void)conn.tasks().CloseIO(ctx.get(), req, &resp);
  });
  if (opts.tty) {
    if (auto size = TerminalSize()) {
      tasks_api::ResizePtyRequest req;
      req.set_container_id(c.id());
      req.set_width(size->first);
      req.set_height(size->second);
      google::protobuf::Empty resp;
      auto ctx = conn.Context();
      (void)conn.tasks().ResizePty(ctx.get(), req, &resp);
    }
  }
  absl::StatusOr<uint32_t> code = WaitTask(conn, c.id(), -1);
  io->WaitOutput(std::chrono::seconds(2));
  if (raw)
    raw->Restore();
  BERTH_RETURN_IF_ERROR(code.status());
  BERTH_RETURN_IF_ERROR(DeleteTask(conn, c.id()).status());
  if (opts.remove) {
    BERTH_RETURN_IF_ERROR(RemoveContainer(conn, c));
    BERTH_RETURN_IF_ERROR(
        meta::RemoveAnonymousVolumes({c.labels().begin(), c.labels().end()}, conn.ns()));
  } else {
    BERTH_RETURN_IF_ERROR(SetContainerLabels(conn, c.id(),
                                             {{kExitStatusLabel, std::to_string(*code)},
                                              {kFinishedAtLabel, std::to_string(NowSeconds())}}));
  }
  return static_cast<int>(*code);
}

}  // namespace berth::ctr
