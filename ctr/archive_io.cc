#include "ctr/archive_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include "absl/cleanup/cleanup.h"
#include "fmt/chrono.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

#include "ctr/content_io.h"
#include "ctr/image_record.h"
#include "ctr/lease.h"
#include "ctr/pull.h"
#include "lib/archive/tar.h"
#include "lib/base/status.h"
#include "lib/base/status_macros.h"
#include "lib/registry/digest.h"
#include "lib/registry/reference.h"

namespace berth::ctr {
namespace {

using ojson = nlohmann::ordered_json;

constexpr int64_t kKeepInMemory = 4 << 20;  // manifests, indexes, configs
constexpr int64_t kMaxMetadata = 64 << 20;  // index.json, manifest.json
constexpr char kImageNameAnnotation[] = "io.containerd.image.name";
constexpr char kRefNameAnnotation[] = "org.opencontainers.image.ref.name";

struct Blob {
  registry::Descriptor desc;  // digest and size (media type unknown in the archive)
  std::string body;           // when small enough
  bool has_body = false;
  std::string head;  // first bytes, for sniffing a layer's compression
};

std::string NormalizedName(const std::string& s) {
  absl::StatusOr<registry::Reference> r = registry::ParseReference(s);
  return r.ok() ? r->String() : s;
}

void AbortIngest(Connection& conn, const std::string& ref) {
  content_api::AbortRequest req;
  req.set_ref(ref);
  google::protobuf::Empty empty;
  auto ctx = conn.Context();
  (void)conn.content().Abort(ctx.get(), req, &empty);  // gone already is fine
}

// Reads one archive and puts its blobs into the content store.
class Importer {
 public:
  Importer(Connection& conn, const ImportOptions& opts, std::string what, std::string lease)
      : conn_(conn), opts_(opts), what_(std::move(what)), lease_(std::move(lease)) {}

  absl::Status ReadAll(archive::ReadFn in);
  // The named targets, from index.json or (else) manifest.json.
  absl::StatusOr<std::vector<ImportedImage>> Targets();
  // Checks every target's blobs are there, labels them for GC, and unpacks.
  absl::Status Complete(const std::vector<ImportedImage>& images);
  absl::StatusOr<ImportedImage> IndexImage();

 private:
  absl::Status StoreEntry(archive::TarReader& r, const archive::TarEntry& e);
  absl::Status StoreData(archive::TarReader& r, const archive::TarEntry& e, Blob& b,
                         ContentSink* sink);
  absl::StatusOr<std::vector<ImportedImage>> DockerTargets();
  std::string NameFor(const std::map<std::string, std::string>& annotations) const;
  absl::StatusOr<const Blob*> Find(const std::string& digest, std::string_view what) const;
  absl::StatusOr<std::string> Body(const std::string& digest) const;
  absl::Status Walk(const registry::Descriptor& d, std::set<std::string>& seen);
  absl::StatusOr<registry::Manifest> PlatformManifest(const registry::Descriptor& d);

  Connection& conn_;
  const ImportOptions& opts_;
  std::string what_;
  std::string lease_;
  int next_ref_ = 0;
  std::map<std::string, std::string> meta_;  // index.json, manifest.json, oci-layout
  std::map<std::string, Blob> by_name_;      // entry name → blob
  std::map<std::string, Blob> by_digest_;
};

absl::Status Importer::ReadAll(archive::ReadFn in) {
  archive::TarReader reader(in, what_);
  int entries = 0;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(std::optional<archive::TarEntry> e, reader.Next());
    if (!e)
      break;
    ++entries;
    if (e->type != S_IFREG)
      continue;
    BERTH_RETURN_IF_ERROR(StoreEntry(reader, *e));
  }
  if (entries == 0)
    return InvalidArgument(fmt::format("{}: empty archive", what_));
  return absl::OkStatus();
}

absl::Status Importer::StoreEntry(archive::TarReader& r, const archive::TarEntry& e) {
  const std::string& name = e.name;
  if (name == "index.json" || name == "manifest.json" || name == "oci-layout" ||
      name == "repositories") {
    if (e.size > kMaxMetadata)
      return InvalidArgument(fmt::format("{}: {} is too large ({} bytes)", what_, name, e.size));
    std::string body(static_cast<size_t>(e.size), '\0');
    size_t got = 0;
    while (got < body.size()) {
      BERTH_ASSIGN_OR_RETURN(size_t n, r.Read(body.data() + got, body.size() - got));
      if (n == 0)
        return absl::DataLossError(fmt::format("{}: {} is truncated", what_, name));
      got += n;
    }
    meta_[name] = std::move(body);
    return absl::OkStatus();
  }
  // docker-archive's legacy per-layer metadata is not part of the image.
  if (name.ends_with("/json") || name.ends_with("/VERSION"))
    return absl::OkStatus();
  Blob b;
  b.desc.size = e.size;
  if (name.starts_with("blobs/")) {
    std::string rest = name.substr(6);
    size_t slash = rest.find('/');
    if (slash != std::string::npos)
      b.desc.digest = rest.substr(0, slash) + ":" + rest.substr(slash + 1);
    BERTH_RETURN_IF_ERROR(Annotate(registry::ValidateDigest(b.desc.digest),
                                   fmt::format("{}: blob {:?}", what_, name)));
  }
  const std::string ref = fmt::format("import-{}-{}", lease_, next_ref_++);
  BERTH_ASSIGN_OR_RETURN(std::unique_ptr<ContentSink> sink,
                         ContentSink::Open(conn_, ref, b.desc, {}));
  absl::Status st = StoreData(r, e, b, sink.get());
  if (!st.ok()) {
    sink.reset();
    AbortIngest(conn_, ref);
    return st;
  }
  by_digest_[b.desc.digest] = b;
  by_name_[name] = std::move(b);
  return absl::OkStatus();
}

absl::Status Importer::StoreData(archive::TarReader& r, const archive::TarEntry& e, Blob& b,
                                 ContentSink* sink) {
  if (sink != nullptr)
    BERTH_RETURN_IF_ERROR(sink->Reset());
  registry::Sha256 hash;
  std::string buf(1 << 20, '\0');
  int64_t total = 0;
  b.has_body = e.size <= kKeepInMemory;
  while (true) {
    BERTH_ASSIGN_OR_RETURN(size_t n, r.Read(buf.data(), buf.size()));
    if (n == 0)
      break;
    std::string_view chunk(buf.data(), n);
    hash.Update(chunk);
    if (b.head.size() < 8)
      b.head += chunk.substr(0, 8 - b.head.size());
    if (b.has_body)
      b.body += chunk;
    if (sink != nullptr)
      BERTH_RETURN_IF_ERROR(sink->Write(chunk));
    total += static_cast<int64_t>(n);
  }
  if (total != e.size)
    return absl::DataLossError(
        fmt::format("{}: {:?} is truncated ({} of {} bytes)", what_, e.name, total, e.size));
  std::string digest = hash.Digest();
  if (!b.desc.digest.empty() && digest != b.desc.digest)
    return absl::DataLossError(fmt::format("{}: blob {:?} has digest {}, not the one its name says",
                                           what_, e.name, digest));
  b.desc.digest = digest;
  if (sink != nullptr)
    return sink->Commit(digest, total);
  return absl::OkStatus();
}

std::string Importer::NameFor(const std::map<std::string, std::string>& annotations) const {
  if (auto it = annotations.find(kImageNameAnnotation); it != annotations.end())
    return NormalizedName(it->second);
  auto it = annotations.find(kRefNameAnnotation);
  if (it == annotations.end() || it->second.empty())
    return "";
  const std::string& ref = it->second;
  if (ref.find_first_of("/:@") != std::string::npos)
    return NormalizedName(ref);
  std::string base = opts_.base_name;
  if (base.empty()) {
    std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    base = fmt::format("import-{:%Y-%m-%d}", fmt::gmtime(now));
  }
  return NormalizedName(base + ":" + ref);
}

absl::StatusOr<const Blob*> Importer::Find(const std::string& digest, std::string_view what) const {
  auto it = by_digest_.find(digest);
  if (it == by_digest_.end())
    return absl::NotFoundError(fmt::format("{}: {} {} is not in the archive", what_, what, digest));
  return &it->second;
}

absl::StatusOr<std::string> Importer::Body(const std::string& digest) const {
  BERTH_ASSIGN_OR_RETURN(const Blob* b, Find(digest, "manifest"));
  if (!b->has_body)
    return InvalidArgument(fmt::format("{}: manifest {} is too large", what_, digest));
  return b->body;
}

absl::StatusOr<std::vector<ImportedImage>> Importer::Targets() {
  if (auto it = meta_.find("index.json"); it != meta_.end()) {
    BERTH_ASSIGN_OR_RETURN(registry::Index idx,
                           registry::ParseIndex(it->second, what_ + ": index.json"));
    std::vector<ImportedImage> out;
    for (const registry::Descriptor& m : idx.manifests) {
      std::string name = NameFor(m.annotations);
      if (name.empty())
        continue;
      BERTH_RETURN_IF_ERROR(Find(m.digest, "manifest").status());
      registry::Descriptor target{m.media_type, m.digest, m.size};
      out.push_back({name, target});
    }
    return out;
  }
  if (meta_.count("manifest.json") != 0)
    return DockerTargets();
  return InvalidArgument(
      fmt::format("{}: not an image archive (it has neither index.json nor manifest.json)", what_));
}

absl::StatusOr<std::vector<ImportedImage>> Importer::DockerTargets() {
  ojson doc = ojson::parse(meta_["manifest.json"], nullptr, false);
  if (!doc.is_array())
    return InvalidArgument(fmt::format("{}: manifest.json is not a JSON array", what_));
  std::vector<ImportedImage> out;
  for (const ojson& entry : doc) {
    if (!entry.is_object() || !entry.value("Config", ojson()).is_string() ||
        !entry.value("Layers", ojson()).is_array())
      return InvalidArgument(
          fmt::format("{}: manifest.json: an entry without Config or Layers", what_));
    auto file = [&](const std::string& n) -> absl::StatusOr<const Blob*> {
      auto it = by_name_.find(n);
      if (it == by_name_.end())
        return absl::NotFoundError(
            fmt::format("{}: manifest.json names {:?}, which is not in it", what_, n));
      return &it->second;
    };
    BERTH_ASSIGN_OR_RETURN(const Blob* config, file(entry["Config"].get<std::string>()));
    ojson m = {{"schemaVersion", 2},
               {"mediaType", registry::media::kDockerManifest},
               {"config",
                {{"mediaType", registry::media::kDockerConfig},
                 {"size", config->desc.size},
                 {"digest", config->desc.digest}}},
               {"layers", ojson::array()}};
    for (const ojson& l : entry["Layers"]) {
      if (!l.is_string())
        return InvalidArgument(fmt::format("{}: manifest.json: a layer that is not a name", what_));
      BERTH_ASSIGN_OR_RETURN(const Blob* layer, file(l.get<std::string>()));
      std::string type = "application/vnd.docker.image.rootfs.diff.tar";
      if (layer->head.starts_with("\x1f\x8b"))
        type += ".gzip";
      else if (layer->head.starts_with("\x28\xb5\x2f\xfd"))
        type = "application/vnd.oci.image.layer.v1.tar+zstd";
      m["layers"].push_back(
          {{"mediaType", type}, {"size", layer->desc.size}, {"digest", layer->desc.digest}});
    }
    std::string body = m.dump(3);
    registry::Descriptor d{std::string(registry::media::kDockerManifest),
                           registry::Sha256Digest(body), static_cast<int64_t>(body.size())};
    BERTH_RETURN_IF_ERROR(WriteBlob(conn_, RefKey(d), d, body, {}));
    by_digest_[d.digest] = Blob{d, body, true, ""};
    for (const ojson& tag : entry.value("RepoTags", ojson::array())) {
      if (!tag.is_string())
        continue;
      BERTH_ASSIGN_OR_RETURN(registry::Reference ref,
                             registry::ParseReference(tag.get<std::string>()));
      out.push_back({ref.String(), d});
    }
  }
  return out;
}

absl::Status Importer::Walk(const registry::Descriptor& d, std::set<std::string>& seen) {
  if (!seen.insert(d.digest).second)
    return absl::OkStatus();
  BERTH_ASSIGN_OR_RETURN(std::string body, Body(d.digest));
  std::string type = d.media_type.empty() ? registry::SniffMediaType(body) : d.media_type;
  if (registry::IsIndex(type)) {
    BERTH_ASSIGN_OR_RETURN(registry::Index idx, registry::ParseIndex(body, d.digest));
    BERTH_RETURN_IF_ERROR(SetLabels(conn_, d.digest, IndexGcLabels(idx)));
    for (const registry::Descriptor& child : idx.manifests) {
      if (by_digest_.count(child.digest) != 0)  // other platforms may be left out
        BERTH_RETURN_IF_ERROR(Walk(child, seen));
    }
    return absl::OkStatus();
  }
  BERTH_ASSIGN_OR_RETURN(registry::Manifest m, registry::ParseManifest(body, d.digest));
  BERTH_RETURN_IF_ERROR(Find(m.config.digest, "config").status());
  for (const registry::Descriptor& l : m.layers)
    BERTH_RETURN_IF_ERROR(Find(l.digest, "layer").status());
  return SetLabels(conn_, d.digest, ManifestGcLabels(m));
}

absl::StatusOr<registry::Manifest> Importer::PlatformManifest(const registry::Descriptor& d) {
  BERTH_ASSIGN_OR_RETURN(std::string body, Body(d.digest));
  std::string type = d.media_type.empty() ? registry::SniffMediaType(body) : d.media_type;
  if (registry::IsIndex(type)) {
    BERTH_ASSIGN_OR_RETURN(registry::Index idx, registry::ParseIndex(body, d.digest));
    BERTH_ASSIGN_OR_RETURN(registry::Descriptor m,
                           registry::ChoosePlatform(idx, opts_.platform, what_));
    BERTH_ASSIGN_OR_RETURN(body, Body(m.digest));
  }
  return registry::ParseManifest(body, d.digest);
}

absl::Status Importer::Complete(const std::vector<ImportedImage>& images) {
  std::set<std::string> seen, unpacked;
  for (const ImportedImage& img : images) BERTH_RETURN_IF_ERROR(Walk(img.target, seen));
  if (!opts_.unpack)
    return absl::OkStatus();
  for (const ImportedImage& img : images) {
    if (!unpacked.insert(img.target.digest).second)
      continue;
    BERTH_ASSIGN_OR_RETURN(registry::Manifest m, PlatformManifest(img.target));
    if (opts_.say)
      opts_.say(fmt::format("unpacking {} ({})...", img.name, img.target.digest));
    BERTH_RETURN_IF_ERROR(Unpack(conn_, m, opts_.snapshotter).status());
  }
  return absl::OkStatus();
}

absl::StatusOr<ImportedImage> Importer::IndexImage() {
  auto it = meta_.find("index.json");
  if (it == meta_.end())
    return InvalidArgument(
        fmt::format("{}: --index-name needs an OCI archive (index.json)", what_));
  BERTH_ASSIGN_OR_RETURN(registry::Index idx,
                         registry::ParseIndex(it->second, what_ + ": index.json"));
  registry::Descriptor d{std::string(registry::media::kOciIndex),
                         registry::Sha256Digest(it->second),
                         static_cast<int64_t>(it->second.size())};
  BERTH_RETURN_IF_ERROR(WriteBlob(conn_, RefKey(d), d, it->second, IndexGcLabels(idx)));
  by_digest_[d.digest] = Blob{d, it->second, true, ""};
  return ImportedImage{NormalizedName(opts_.index_name), d};
}

// Deletes the lease at once with a synchronous collection: what a failed import wrote goes.
void DropLease(Connection& conn, const std::string& id) {
  conn.set_lease("");
  leases_api::DeleteRequest req;
  req.set_id(id);
  req.set_sync(true);
  google::protobuf::Empty resp;
  auto ctx = conn.Context();
  (void)conn.leases().Delete(ctx.get(), req, &resp);
}

}  // namespace

std::string FamiliarName(const std::string& name) {
  for (const char* prefix : {"docker.io/library/", "docker.io/"}) {
    if (name.starts_with(prefix))
      return name.substr(std::string_view(prefix).size());
  }
  return name;
}

absl::StatusOr<std::vector<ImportedImage>> ImportArchive(Connection& conn, archive::ReadFn in,
                                                         const std::string& what,
                                                         const ImportOptions& opts) {
  BERTH_ASSIGN_OR_RETURN(ScopedLease lease, ScopedLease::Create(conn));
  auto drop = absl::MakeCleanup([&] { DropLease(conn, lease.id()); });
  Importer imp(conn, opts, what, lease.id());
  BERTH_RETURN_IF_ERROR(imp.ReadAll(in));
  BERTH_ASSIGN_OR_RETURN(std::vector<ImportedImage> images, imp.Targets());
  if (!opts.index_name.empty()) {
    BERTH_ASSIGN_OR_RETURN(ImportedImage whole, imp.IndexImage());
    images.push_back(whole);
  }
  if (images.empty())
    return InvalidArgument(
        fmt::format("{}: no image in the archive has a name (give one with --index-name)", what));
  BERTH_RETURN_IF_ERROR(imp.Complete(images));
  for (const ImportedImage& img : images)
    BERTH_RETURN_IF_ERROR(PutImageRecord(conn, img.name, img.target));
  std::move(drop).Cancel();
  return images;
}

}  // namespace berth::ctr
